#include "daemon/scheduler/scheduler.h"

#include "daemon/base/steerable_clock.h"
#include "daemon/lessons/markdown.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace yuer::scheduler {
namespace {

using boost::asio::use_awaitable;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
constexpr std::size_t kMaxDuePerTick = 20000;
constexpr std::size_t kMaxPreview = 200000;

template <class F>
awaitable<std::invoke_result_t<F&>> call_store(F f) {
  co_return f();
}

std::string local_text(const Zone& z, std::int64_t ms) {
  const auto t = z.to_local(ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute);
}

std::string new_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("s-{:012x}", rng() & 0xffffffffffffULL);
}

}  // namespace

std::optional<std::int64_t> next_occurrence(const Schedule& s, const Zone& zone, std::int64_t watermark_ms,
                                            std::int64_t last_at_ms) {
  std::int64_t after = watermark_ms;
  for (int i = 0; i < 10000; ++i) {
    auto n = next_nominal(s, zone, after);
    if (!n) return std::nullopt;
    const std::int64_t at = shift_out_of_quiet(s.quiet, zone, *n);
    if (at > last_at_ms) return at;
    after = *n;
  }
  return std::nullopt;
}

Scheduler::Scheduler(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool,
                     store::ScheduleStore& schedules, store::GroupStore& groups, store::OrgStore& org,
                     const lessons::Library& library, const lessons::Templates* templates, Zone zone,
                     const Clock& clock, metrics::Registry& metrics, Delivery& delivery, Settings settings)
    : io_(io),
      store_pool_(store_pool),
      schedules_(schedules),
      groups_(groups),
      org_(org),
      library_(library),
      templates_(templates),
      zone_(std::move(zone)),
      clock_(clock),
      delivery_(delivery),
      settings_(std::move(settings)),
      wake_(io) {
  const std::string help = "Schedule occurrences handled, by result";
  done_ = &metrics.counter("yuer_schedule_occurrences_total", help, {{"result", "done"}});
  skipped_ = &metrics.counter("yuer_schedule_occurrences_total", help, {{"result", "skipped"}});
  empty_ = &metrics.counter("yuer_schedule_occurrences_total", help, {{"result", "empty"}});
  enqueued_ = &metrics.counter("yuer_schedule_pushes_total", "Scheduled pushes handed to the outbox, by result",
                               {{"result", "enqueued"}});
  failed_ = &metrics.counter("yuer_schedule_pushes_total", "Scheduled pushes handed to the outbox, by result",
                             {{"result", "failed"}});
}

template <class F>
auto Scheduler::on_store(F f) -> awaitable<decltype(f())> {
  co_return co_await boost::asio::co_spawn(store_pool_, call_store(std::move(f)), use_awaitable);
}

std::int64_t Scheduler::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
}

void Scheduler::stop() {
  stopping_ = true;
  wake_.cancel();
}

void Scheduler::poke() {
  poked_ = true;
  wake_.cancel();
}

awaitable<void> Scheduler::run() {
  const std::int64_t now = now_ms();
  // Config schedules: definition replaced at every start, state and watermark kept; a new one starts
  // from now (nothing before it is caught up).
  auto& cfg = settings_.config_schedules;
  co_await on_store([&] {
    for (const auto& s : cfg) {
      store::ScheduleRow row{s.id, s.name, s.state, schedule_to_json(s).dump(), "config", now, 0, now, now};
      const bool fresh = !schedules_.schedule(s.id).has_value();
      schedules_.put_schedule(row, fresh, now);
    }
    // A config schedule no longer in the config stops (kept, paused, so its history stays).
    for (const auto& row : schedules_.schedules())
      if (row.source == "config" && row.state == "active" &&
          std::none_of(cfg.begin(), cfg.end(), [&](const Schedule& s) { return s.id == row.id; })) {
        schedules_.set_state(row.id, "paused", now);
        spdlog::warn("schedule {} is no longer in the config: paused", row.id);
      }
    return 0;
  });
  spdlog::info("scheduler running: {} config schedules, zone {}, catch-up {} s", cfg.size(), zone_.name(),
               settings_.catch_up.count() / 1000);
  co_await flush_planned();
  while (!stopping_) {
    co_await tick();
    if (stopping_) break;
    if (std::exchange(poked_, false)) continue;
    // Sleep until the next occurrence in clock time, converted to real time by the clock's rate.
    std::int64_t wait = settings_.poll.count();
    auto rows = co_await load_schedules();
    const std::int64_t t = now_ms();
    for (const auto& [row, s] : rows) {
      if (row.state != "active") continue;
      if (auto n = next_occurrence(s, zone_, row.watermark_ms, row.last_at_ms)) {
        const double rate = clock_rate(clock_);
        const std::int64_t delta = std::max<std::int64_t>(*n - t, 0);
        if (rate > 0) wait = std::min<std::int64_t>(wait, static_cast<std::int64_t>(static_cast<double>(delta) / rate));
      }
    }
    if (std::exchange(poked_, false)) continue;
    wake_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(wait, 1)));
    co_await wake_.async_wait(use_tuple);
  }
  spdlog::info("scheduler stopped");
}

awaitable<std::vector<std::pair<store::ScheduleRow, Schedule>>> Scheduler::load_schedules() {
  auto rows = co_await on_store([&] { return schedules_.schedules(); });
  std::vector<std::pair<store::ScheduleRow, Schedule>> out;
  for (auto& row : rows) {
    auto j = nlohmann::json::parse(row.spec, nullptr, false);
    auto s = schedule_from_json(j);
    if (!s) {
      spdlog::error("schedule {} has an unreadable definition: {}", row.id, s.error().message);
      continue;
    }
    s->id = row.id;
    s->state = row.state;
    s->source = row.source;
    out.emplace_back(std::move(row), std::move(*s));
  }
  co_return out;
}

std::vector<Scheduler::Due> Scheduler::due(const std::vector<std::pair<store::ScheduleRow, Schedule>>& rows,
                                           std::int64_t until_ms, std::size_t limit) const {
  std::vector<Due> out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& [row, s] = rows[i];
    if (row.state != "active") continue;
    std::int64_t after = row.watermark_ms;
    std::int64_t last_at = row.last_at_ms;
    while (out.size() < limit) {
      auto n = next_nominal(s, zone_, after);
      if (!n || *n > until_ms) break;
      const std::int64_t at = shift_out_of_quiet(s.quiet, zone_, *n);
      if (at > until_ms) break;
      const bool merged = at <= last_at;
      out.push_back({at, *n, i, merged});
      if (!merged) last_at = at;
      after = *n;
    }
  }
  std::sort(out.begin(), out.end(), [&](const Due& a, const Due& b) {
    if (a.at_ms != b.at_ms) return a.at_ms < b.at_ms;
    if (rows[a.schedule].first.id != rows[b.schedule].first.id) return rows[a.schedule].first.id < rows[b.schedule].first.id;
    return a.nominal_ms < b.nominal_ms;
  });
  return out;
}

awaitable<World> Scheduler::load_world(bool with_families) {
  World w = co_await on_store([&] {
    World out;
    out.groups = groups_.groups("", "");
    for (const auto& g : out.groups)
      if (g.kind == "parent" && !g.chat_id.empty()) out.children[g.id] = schedules_.group_children(g.chat_id);
    out.states = states_from_history(schedules_.all_history());
    if (with_families) {
      store::FamilyQuery q;
      q.limit = 10000;
      for (;;) {
        auto page = org_.families(q);
        for (auto& f : page)
          if (!f.external_userid.empty()) out.families.push_back(std::move(f));
        if (page.size() < 10000) break;
        q.after_child_id = page.back().child_id;
      }
    }
    return out;
  });
  co_return w;
}

awaitable<void> Scheduler::tick() {
  const std::int64_t now = now_ms();
  auto rows = co_await load_schedules();
  auto list = due(rows, now, kMaxDuePerTick);
  if (!list.empty()) {
    const bool kf = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.second.route == "kf"; });
    World world = co_await load_world(kf);
    for (const auto& d : list) {
      const auto& [row, s] = rows[d.schedule];
      store::OccurrenceCommit c;
      c.occurrence = {s.id, d.nominal_ms, d.at_ms, "done", 0, "", now};
      if (d.merged) {
        c.occurrence.state = "merged";
        c.occurrence.reason = "免打扰时段顺延后与上一次推送重合，合并为一次";
      } else if (now - d.at_ms > settings_.catch_up.count()) {
        c.occurrence.state = "skipped";
        c.occurrence.reason = fmt::format("停机期间错过，超过补发时限 {} 小时，未补发", settings_.catch_up.count() / 3600000);
        skipped_->inc();
        spdlog::warn("schedule {} occurrence {} skipped: missed by {} s (catch-up window {} s)", s.id,
                     local_text(zone_, d.at_ms), (now - d.at_ms) / 1000, settings_.catch_up.count() / 1000);
      } else {
        int quota = 0;
        c.pushes = plan_occurrence(s, d.nominal_ms, d.at_ms, zone_, library_, settings_.plan, world, quota);
        c.occurrence.pushes = static_cast<int>(c.pushes.size());
        if (quota) c.occurrence.reason = fmt::format("{} 个群当天客户群群发已达 {} 次，本次不发", quota, settings_.plan.group_task_per_day);
        if (c.pushes.empty()) {
          c.occurrence.state = "empty";
          empty_->inc();
        } else {
          done_->inc();
        }
        if (now - d.at_ms > settings_.poll.count() * 60)
          spdlog::info("schedule {} occurrence {} caught up late ({} s)", s.id, local_text(zone_, d.at_ms),
                       (now - d.at_ms) / 1000);
        spdlog::info("schedule {} occurrence {}: {} pushes", s.id, local_text(zone_, d.at_ms), c.pushes.size());
      }
      co_await on_store([&] {
        schedules_.commit_occurrence(c);
        return 0;
      });
    }
  }
  co_await flush_planned();
}

Result<DeliveryRequest> Scheduler::render(const store::SchedulePush& p, const Schedule* s) const {
  DeliveryRequest r;
  r.route = p.route;
  r.target = p.address;
  r.idempotency_key = p.idempotency_key;
  const bool markdown_route = p.route == "robot" || p.route == "appchat";
  std::string md;
  if (!p.lesson_id.empty()) {
    const auto* l = library_.find(p.lesson_id);
    if (!l) return Error{"scheduler.unknown_lesson", "课程 " + p.lesson_id + " 已不在课程库中"};
    if (templates_) {
      auto t = templates_->render_lesson(library_, *l);
      if (!t) return t.error();
      md = *t;
    } else {
      md = "**" + l->title + "**\n\n" + l->body + "\n\n" + library_.source_line(*l);
    }
  } else {
    if (!s || !templates_) return Error{"scheduler.no_template", "没有可用的消息模板"};
    auto t = templates_->render(s->content.ref, {{"date", p.local_date}, {"unit", p.unit_code}});
    if (!t) return t.error();
    md = *t;
  }
  r.markdown = markdown_route;
  r.content = markdown_route ? md : lessons::to_plain_text(md);
  return r;
}

awaitable<void> Scheduler::flush_planned() {
  auto planned = co_await on_store([&] { return schedules_.planned(); });
  if (planned.empty()) co_return;
  auto rows = co_await load_schedules();
  for (const auto& p : planned) {
    if (stopping_) break;
    const Schedule* s = nullptr;
    for (const auto& r : rows)
      if (r.first.id == p.schedule_id) s = &r.second;
    auto req = render(p, s);
    std::string state = "enqueued", reason;
    std::int64_t id = 0;
    if (!req) {
      state = "failed";
      reason = req.error().message;
    } else {
      auto done = co_await delivery_.deliver(std::move(*req));
      if (done) id = *done;
      else {
        state = "failed";
        reason = done.error().message;
      }
    }
    (state == "enqueued" ? enqueued_ : failed_)->inc();
    if (state == "failed") spdlog::warn("scheduled push {} ({}) not enqueued: {}", p.id, p.schedule_id, reason);
    const std::int64_t now = now_ms();
    co_await on_store([&] {
      schedules_.mark_push(p.id, state, id, reason, now);
      return 0;
    });
  }
}

ScheduleView Scheduler::view(const store::ScheduleRow& row, const Schedule& s) const {
  ScheduleView v{s, std::nullopt, row.last_at_ms};
  if (row.state == "active") v.next_at_ms = next_occurrence(s, zone_, std::max(row.watermark_ms, now_ms()), row.last_at_ms);
  return v;
}

awaitable<Result<ScheduleView>> Scheduler::add(Schedule s) {
  if (s.content.kind == "lesson" && !library_.find(s.content.ref))
    co_return Error{"scheduler.invalid", "content.ref：课程库中没有课程 " + s.content.ref};
  if (s.content.kind == "template") {
    if (!templates_) co_return Error{"scheduler.invalid", "content.ref：没有加载消息模板"};
    auto probe = templates_->render(s.content.ref, nlohmann::json::object());
    if (!probe && probe.error().code == "templates.unknown")
      co_return Error{"scheduler.invalid", "content.ref：没有消息模板 " + s.content.ref};
  }
  if (s.id.empty()) s.id = new_id();
  s.source = "api";
  const std::int64_t now = now_ms();
  store::ScheduleRow row{s.id, s.name, s.state, schedule_to_json(s).dump(), "api", now, 0, now, now};
  const bool exists = co_await on_store([&] {
    if (schedules_.schedule(row.id)) return true;
    schedules_.put_schedule(row, true, now);
    return false;
  });
  if (exists) co_return Error{"scheduler.exists", "已有编号为 " + s.id + " 的定时推送"};
  spdlog::info("schedule {} added ({} {})", s.id, s.content.kind, s.time.kind);
  poke();
  co_return view(row, s);
}

awaitable<std::vector<ScheduleView>> Scheduler::list(std::string unit_prefix) {
  auto rows = co_await load_schedules();
  std::vector<ScheduleView> out;
  for (const auto& [row, s] : rows) {
    // A schedule concerns a unit when one of its unit prefixes and the unit are on one line of the tree.
    bool in = unit_prefix.empty() || s.audience.units.empty();
    for (const auto& u : s.audience.units) in = in || u.starts_with(unit_prefix) || unit_prefix.starts_with(u);
    if (in) out.push_back(view(row, s));
  }
  co_return out;
}

awaitable<Result<ScheduleView>> Scheduler::set_state(std::string id, std::string state) {
  const std::int64_t now = now_ms();
  auto row = co_await on_store([&]() -> std::optional<store::ScheduleRow> {
    auto r = schedules_.schedule(id);
    if (!r) return std::nullopt;
    if (r->state != state) {
      schedules_.set_state(id, state, now);
      // Resumed: occurrences that fell while paused are not sent; the watermark moves to now.
      if (state == "active") {
        store::OccurrenceCommit c;
        c.occurrence = {id, now, 0, "skipped", 0, "暂停期间的推送不补发", now};
        schedules_.commit_occurrence(c);
      }
    }
    return schedules_.schedule(id);
  });
  if (!row) co_return Error{"scheduler.not_found", "没有编号为 " + id + " 的定时推送"};
  auto s = schedule_from_json(nlohmann::json::parse(row->spec, nullptr, false));
  if (!s) co_return s.error();
  s->id = row->id;
  s->state = row->state;
  s->source = row->source;
  spdlog::info("schedule {} {}", id, state);
  poke();
  co_return view(*row, *s);
}

awaitable<Result<std::vector<PreviewItem>>> Scheduler::preview(std::int64_t from_days, std::int64_t to_days,
                                                              std::string schedule_id, std::string unit_prefix) {
  const std::int64_t now = now_ms();
  int y, m, d;
  civil_from_days(to_days + 1, y, m, d);
  const std::int64_t until = zone_.to_unix_ms({y, m, d, 0, 0, 0}) - 1;
  auto rows = co_await load_schedules();
  const bool kf = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.second.route == "kf"; });
  World world = co_await load_world(kf);
  auto list = due(rows, until, kMaxPreview);
  std::map<std::int64_t, const store::ChatGroup*> groups;
  for (const auto& g : world.groups) groups[g.id] = &g;
  std::vector<PreviewItem> out;
  for (const auto& dd : list) {
    const auto& s = rows[dd.schedule].second;
    if (dd.merged) continue;
    // What tick() will do: an occurrence already older than the catch-up window is skipped.
    if (now - dd.at_ms > settings_.catch_up.count()) continue;
    int quota = 0;
    auto pushes = plan_occurrence(s, dd.nominal_ms, dd.at_ms, zone_, library_, settings_.plan, world, quota);
    const auto lt = zone_.to_local(dd.at_ms);
    const std::int64_t day = days_from_civil(lt.year, lt.month, lt.day);
    if (day < from_days || day > to_days) continue;
    if (!schedule_id.empty() && s.id != schedule_id) continue;
    for (auto& p : pushes) {
      if (!p.unit_code.starts_with(unit_prefix)) continue;
      PreviewItem it;
      it.at_ms = p.at_ms;
      it.at_local = local_text(zone_, p.at_ms);
      it.schedule_id = p.schedule_id;
      it.chat_id = p.chat_id;
      it.unit = p.unit_code;
      it.lesson_id = p.lesson_id;
      if (const auto* l = library_.find(p.lesson_id)) it.lesson_title = l->title;
      it.route = p.route;
      it.target = p.target;
      if (p.target.starts_with("g:"))
        if (auto g = groups.find(std::stoll(p.target.substr(2))); g != groups.end()) it.group_name = g->second->name;
      out.push_back(std::move(it));
      if (out.size() > kMaxPreview)
        co_return Error{"scheduler.too_many", fmt::format("预览超过 {} 条，请缩短日期范围", kMaxPreview)};
    }
  }
  co_return out;
}

awaitable<std::vector<store::SchedulePush>> Scheduler::pushes(store::PushQuery q) {
  co_return co_await on_store([&] { return schedules_.pushes(q); });
}

}  // namespace yuer::scheduler
