#include "daemon/yuerd/survey_notices.h"

#include "daemon/scheduler/planner.h"
#include "daemon/survey_service/reports.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <utility>

namespace yuer::yuerd {
namespace {

namespace asio = boost::asio;
using boost::asio::awaitable;
namespace ss = survey_service;

constexpr const char* kRemindMark = "notice:remind";
constexpr const char* kReportMark = "notice:report";
constexpr std::int64_t kKfWindowMs = 48LL * 3600 * 1000;

std::int64_t unix_ms(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(c.now().time_since_epoch()).count();
}

// What one occurrence needs from the store, read in one hop.
struct RoundView {
  store::SurveyRound round;
  std::vector<survey::CoverageRow> rows;
  std::map<std::string, std::string> links;  // township → kf url
  std::vector<store::SurveyConversationRow> conversations;
};
struct Snapshot {
  std::vector<RoundView> rounds;
  std::vector<store::ChatGroup> groups;
  std::map<std::string, int> levels;  // unit code → level
};

awaitable<Snapshot> read_snapshot(store::SurveyStore* surveys, store::OrgStore* org, store::GroupStore* groups,
                                  std::string kind, survey::Thresholds th, std::int64_t conversations_since) {
  Snapshot s;
  auto units = org->units("");
  for (const auto& u : units) s.levels[u.code] = u.level;
  for (auto& r : surveys->rounds(true)) {
    RoundView v;
    v.rows = ss::round_coverage(*surveys, units, r.id, th);
    if (kind == "parent") {
      for (const auto& l : surveys->kf_links(r.id)) v.links[l.unit_code] = l.url;
      if (conversations_since > 0) v.conversations = surveys->conversations(r.id, "kf", conversations_since);
    }
    v.round = std::move(r);
    s.rounds.push_back(std::move(v));
  }
  s.groups = groups->groups(kind, "");
  co_return s;
}

awaitable<std::int64_t> read_mark(store::SurveyStore* s, std::string name) { co_return s->cursor(name); }
awaitable<void> write_mark(store::SurveyStore* s, std::string name, std::int64_t v) {
  s->set_cursor(name, v);
  co_return;
}

bool live(const store::ChatGroup& g) { return g.state != "dismissed"; }

}  // namespace

SurveyNotices::SurveyNotices(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool,
                             store::SurveyStore& surveys, store::OrgStore& org, store::GroupStore& groups,
                             scheduler::Zone zone, const Clock& clock, scheduler::Delivery& delivery,
                             outbox::Dispatcher& dispatcher, std::string open_kfid, SurveyReportSettings settings)
    : io_(io),
      store_pool_(store_pool),
      surveys_(surveys),
      org_(org),
      groups_(groups),
      zone_(std::move(zone)),
      clock_(clock),
      delivery_(delivery),
      dispatcher_(dispatcher),
      open_kfid_(std::move(open_kfid)),
      settings_(std::move(settings)),
      timer_(io) {}

void SurveyNotices::stop() {
  stopping_ = true;
  timer_.cancel();
}

void SurveyNotices::poke() {
  poked_ = true;
  timer_.cancel();
}

awaitable<void> SurveyNotices::run() {
  spdlog::info("survey notices: reminders {}, daily reports {}, zone {}", settings_.reminders ? "on" : "off",
               settings_.reports ? "on" : "off", zone_.name());
  while (!stopping_) {
    bool ok = false;
    try {
      ok = co_await tick();
    } catch (const std::exception& e) {  // StoreError, or the outbox refusing a write
      spdlog::error("survey notices: tick failed: {}; tried again", e.what());
    }
    if (stopping_) break;
    if (std::exchange(poked_, false) && ok) continue;
    timer_.expires_after(std::chrono::milliseconds(ok ? settings_.poll_ms : 2000));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

awaitable<bool> SurveyNotices::tick() {
  struct Job {
    const char* name;
    const std::optional<scheduler::Schedule>* schedule;
    std::int64_t* mark;
  };
  const Job jobs[] = {{kRemindMark, &settings_.reminders, &remind_mark_}, {kReportMark, &settings_.reports, &report_mark_}};
  for (const auto& job : jobs) {
    if (!*job.schedule) continue;
    const scheduler::Schedule& s = **job.schedule;
    const std::int64_t now = unix_ms(clock_);
    if (*job.mark < 0) {
      *job.mark = co_await asio::co_spawn(store_pool_, read_mark(&surveys_, job.name), asio::use_awaitable);
      if (*job.mark == 0) {  // first start: from now on, nothing from the past
        co_await asio::co_spawn(store_pool_, write_mark(&surveys_, job.name, now), asio::use_awaitable);
        *job.mark = now;
      }
    }
    for (;;) {
      auto n = scheduler::next_nominal(s, zone_, *job.mark);
      if (!n) break;
      const std::int64_t at = scheduler::shift_out_of_quiet(s.quiet, zone_, *n);
      const std::int64_t t = unix_ms(clock_);
      if (at > t) break;
      if (t - at > settings_.catch_up_s * 1000) {
        spdlog::warn("survey notices: {} occurrence at {} ms skipped ({} s late, catch_up_s {})", job.name, at,
                     (t - at) / 1000, settings_.catch_up_s);
      } else {
        const bool done = job.mark == &remind_mark_ ? co_await remind(*n, t) : co_await report(*n, at);
        if (!done) co_return false;
      }
      co_await asio::co_spawn(store_pool_, write_mark(&surveys_, job.name, *n), asio::use_awaitable);
      *job.mark = *n;
    }
  }
  co_return true;
}

awaitable<bool> SurveyNotices::remind(std::int64_t nominal_ms, std::int64_t now_ms) {
  survey::Thresholds th{settings_.township_percent, settings_.county_percent};
  const std::int64_t since = settings_.kf_nudge && !open_kfid_.empty() ? now_ms - kKfWindowMs : 0;
  Snapshot snap = co_await asio::co_spawn(store_pool_, read_snapshot(&surveys_, &org_, &groups_, "parent", th, since),
                                          asio::use_awaitable);
  int notices = 0, nudges = 0;
  for (const auto& v : snap.rounds) {
    for (const auto& g : snap.groups) {
      if (!live(g)) continue;
      auto lv = snap.levels.find(g.unit_code);
      const std::string township = ss::township_of(g.unit_code, lv == snap.levels.end() ? 0 : lv->second);
      const survey::CoverageRow* row = ss::find_row(v.rows, township);
      if (!row || row->eligible == 0 || row->responded >= row->eligible) continue;
      std::string address;
      const std::string route = scheduler::resolve_route("auto", g, address);
      if (route.empty()) continue;
      auto link = v.links.find(township);
      scheduler::DeliveryRequest req;
      req.route = route;
      req.target = address;
      req.content = ss::reminder_notice(row->name, row->responded, row->eligible,
                                        link == v.links.end() ? "" : link->second);
      req.idempotency_key = fmt::format("survey:remind:{}:{}:g{}:{}", v.round.id, township, g.id, nominal_ms);
      auto done = co_await delivery_.deliver(std::move(req));
      if (!done) {
        if (done.error().code == "outbox.store") co_return false;
        spdlog::warn("survey notices: round {} group {}: reminder refused: {}", v.round.id, g.id, done.error().message);
        continue;
      }
      ++notices;
    }
    // kf nudges: parents who started and did not finish, while their 48 h window is open.
    if (since == 0) continue;
    for (const auto& c : v.conversations) {
      if (!ss::nudge_due(c, now_ms, settings_.nudge_margin_s * 1000)) continue;
      outbox::EnqueueRequest e;
      e.route = "kf";
      e.target = open_kfid_ + "/" + c.user_id;
      e.content = ss::nudge_text();
      e.idempotency_key = fmt::format("survey:nudge:{}:{}:{}", v.round.id, c.user_id, c.updated_ms);
      e.expire_at_ms = std::min(c.updated_ms + kKfWindowMs, now_ms + settings_.nudge_expire_s * 1000);
      auto done = co_await dispatcher_.enqueue(std::move(e));
      if (!done) {
        if (done.error().code == "outbox.store") co_return false;
        spdlog::warn("survey notices: round {}: a nudge was refused: {}", v.round.id, done.error().message);
        continue;
      }
      if (!done->duplicate) ++nudges;
    }
  }
  queued_ += static_cast<std::uint64_t>(notices + nudges);
  spdlog::info("survey notices: reminder occurrence {}: {} group notices, {} kf nudges", nominal_ms, notices, nudges);
  co_return true;
}

awaitable<bool> SurveyNotices::report(std::int64_t nominal_ms, std::int64_t at_ms) {
  survey::Thresholds th{settings_.township_percent, settings_.county_percent};
  Snapshot snap = co_await asio::co_spawn(store_pool_, read_snapshot(&surveys_, &org_, &groups_, "management", th, 0),
                                          asio::use_awaitable);
  const auto lt = zone_.to_local(at_ms);
  const std::string date = scheduler::format_date(scheduler::days_from_civil(lt.year, lt.month, lt.day));
  int sent = 0;
  for (const auto& g : snap.groups) {
    if (!live(g)) continue;
    std::vector<std::string> parts;
    for (const auto& v : snap.rounds) {
      const auto* own = ss::find_row(v.rows, g.unit_code);
      if (!own || own->eligible == 0) continue;
      parts.push_back(ss::coverage_report("喂养调查进度日报", v.round, date, v.rows, g.unit_code, th));
    }
    if (parts.empty()) continue;
    std::string address;
    const std::string route = scheduler::resolve_route("auto", g, address);
    if (route.empty()) continue;
    scheduler::DeliveryRequest req;
    req.route = route;
    req.target = address;
    req.content = ss::bot_reply(ss::BotCommand::kProgress, parts);
    req.idempotency_key = fmt::format("survey:report:g{}:{}", g.id, date);
    auto done = co_await delivery_.deliver(std::move(req));
    if (!done) {
      if (done.error().code == "outbox.store") co_return false;
      spdlog::warn("survey notices: management group {}: report refused: {}", g.id, done.error().message);
      continue;
    }
    ++sent;
  }
  queued_ += static_cast<std::uint64_t>(sent);
  spdlog::info("survey notices: report occurrence {} ({}): {} management groups", nominal_ms, date, sent);
  co_return true;
}

}  // namespace yuer::yuerd
