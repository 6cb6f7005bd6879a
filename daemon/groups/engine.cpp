#include "daemon/groups/engine.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace yuer::groups {
namespace {

using boost::asio::use_awaitable;
using model::OutcomeKind;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

template <class F>
awaitable<std::invoke_result_t<F&, store::GroupStore&, store::OrgStore&>> call_store(store::GroupStore* g,
                                                                                      store::OrgStore* o, F f) {
  co_return f(*g, *o);
}

std::string unit_name(store::OrgStore& org, const std::string& code) {
  auto units = org.units(code);
  for (const auto& u : units)
    if (u.code == code) return u.name;
  return code;
}

}  // namespace

Engine::Engine(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::GroupStore& groups,
               store::OrgStore& org, model::CustomerGroupApi& api, const Clock& clock, metrics::Registry& metrics,
               Settings settings, Notify notify)
    : io_(io),
      store_pool_(store_pool),
      groups_(groups),
      org_(org),
      api_(api),
      clock_(clock),
      settings_(std::move(settings)),
      notify_(std::move(notify)),
      wake_(io) {
  const char* help = "Parent-group member lists read from WeCom (groupchat/get), by cause";
  reads_ = &metrics.counter("yuer_group_reads_total", help, {{"result", "read"}});
  skipped_ = &metrics.counter("yuer_group_reads_total", help, {{"result", "up_to_date"}});
  read_failures_ = &metrics.counter("yuer_group_reads_total", help, {{"result", "failed"}});
  gaps_ = &metrics.counter("yuer_group_event_gaps_total",
                           "change_external_chat events whose LastMemVer was not the stored version (lost or reordered)");
  alerts_ = &metrics.counter("yuer_group_alerts_total", "Groups above their hard cap and townships without room");
  join_updates_ = &metrics.counter("yuer_join_way_updates_total", "Join ways created or changed in WeCom");
  adopted_ = &metrics.counter("yuer_groups_adopted_total", "New customer groups adopted as parent groups");
}

template <class F>
auto Engine::on_store(F f)
    -> awaitable<decltype(f(std::declval<store::GroupStore&>(), std::declval<store::OrgStore&>()))> {
  co_return co_await boost::asio::co_spawn(store_pool_, call_store(&groups_, &org_, std::move(f)), use_awaitable);
}

std::int64_t Engine::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
}

void Engine::stop() {
  stopping_ = true;
  wake_.cancel();
}

void Engine::on_change(Change change) {
  if (stopping_ || change.chat_id.empty()) return;
  // Coalesce: the first event of a burst sets the time; later ones do not push it back.
  due_.try_emplace(change.chat_id, now_ms() + settings_.refresh_delay.count());
  if (!change.cur_mem_ver.empty()) pending_versions_[change.chat_id] = {change.last_mem_ver, change.cur_mem_ver};
  wake_.cancel();
}

awaitable<void> Engine::run() {
  spdlog::info("groups running: soft_cap={} hard_cap={} headroom={} create_mode={}", settings_.caps.soft,
               settings_.caps.hard, settings_.caps.headroom, settings_.create_mode);
  while (!stopping_) {
    const std::int64_t now = now_ms();
    if (now >= next_reconcile_ms_) {
      co_await reconcile();
      next_reconcile_ms_ = now_ms() + settings_.reconcile_every.count();
    }
    std::int64_t next = next_reconcile_ms_;
    for (auto it = due_.begin(); it != due_.end() && !stopping_;) {
      if (it->second > now_ms()) {
        next = std::min(next, it->second);
        ++it;
        continue;
      }
      std::string chat = it->first;
      due_.erase(it);
      if (!co_await refresh(chat, true)) due_[chat] = now_ms() + settings_.retry_after.count();
      it = due_.begin();
    }
    if (stopping_) break;
    const std::int64_t wait = std::clamp<std::int64_t>(next - now_ms(), 0, 60000);
    wake_.expires_after(std::chrono::milliseconds(wait));
    co_await wake_.async_wait(use_tuple);
  }
}

awaitable<void> Engine::reconcile() {
  auto parents = co_await on_store([](store::GroupStore& g, store::OrgStore&) { return g.groups("parent", ""); });
  std::set<std::string> known, owners, townships;
  for (const auto& g : parents) {
    if (g.state == "dismissed") continue;
    if (!g.chat_id.empty()) known.insert(g.chat_id);
    if (!g.owner.empty()) owners.insert(g.owner);
    townships.insert(g.unit_code);
  }
  // New groups of the coordinators (created by hand or by a join way) are adopted.
  if (!owners.empty()) {
    auto listed = co_await api_.list(std::vector<std::string>(owners.begin(), owners.end()));
    if (listed.outcome.kind == OutcomeKind::kDelivered) {
      for (const auto& chat : listed.chat_ids)
        if (!known.contains(chat)) known.insert(chat);
    } else {
      spdlog::warn("groups: groupchat/list failed: {}", listed.outcome.reason);
    }
  }
  for (const auto& chat : known) {
    if (stopping_) co_return;
    pending_versions_.erase(chat);
    if (!co_await refresh(chat, true)) due_[chat] = now_ms() + settings_.retry_after.count();
  }
  for (const auto& t : townships) co_await rotate(t);
}

awaitable<bool> Engine::refresh(std::string chat_id, bool adopt) {
  auto stored = co_await on_store([&](store::GroupStore& g, store::OrgStore&) { return g.group_by_chat(chat_id); });
  // An event's versions: skip what is already reflected, count what reveals a gap.
  if (auto v = pending_versions_.find(chat_id); v != pending_versions_.end()) {
    auto [last, cur] = v->second;
    pending_versions_.erase(v);
    if (stored && !stored->member_version.empty()) {
      if (cur == stored->member_version) {
        skipped_->inc();
        co_return true;
      }
      if (!last.empty() && last != stored->member_version) gaps_->inc();
    }
  }
  if (stored && stored->kind != "parent") co_return true;
  auto answer = co_await api_.get(chat_id);
  if (answer.gone) {
    if (stored && stored->state != "dismissed") {
      auto g = *stored;
      g.state = "dismissed";
      const std::int64_t now = now_ms();
      co_await on_store([&](store::GroupStore& s, store::OrgStore&) { return s.put_group(g, now); });
      spdlog::info("groups: group {} dismissed in WeCom", g.id);
      co_await rotate(g.unit_code);
    }
    co_return true;
  }
  if (answer.outcome.kind != OutcomeKind::kDelivered) {
    read_failures_->inc();
    spdlog::warn("groups: groupchat/get failed: {}", answer.outcome.reason);
    co_return false;
  }
  reads_->inc();
  const auto& info = answer.group;
  std::optional<store::ChatGroup> group = stored;
  if (!group) {
    if (!adopt) co_return true;
    // Adopt a new group of a coordinator whose parent groups are all in one township, when it was
    // created after yuer asked that township for one, or is a room WeCom created for its join way
    // (create_mode "auto": named <township><room_suffix><n>). Other groups a coordinator owns are
    // not the programme's.
    const auto found = co_await on_store([&](store::GroupStore& s, store::OrgStore& o) {
      std::set<std::string> units;
      for (const auto& g : s.groups("parent", ""))
        if (g.owner == info.owner) units.insert(g.unit_code);
      std::tuple<std::string, std::int64_t, std::string> out;
      if (units.size() != 1) return out;
      const std::string t = *units.begin();
      auto way = s.join_way(t);
      return std::make_tuple(t, way ? way->asked_ms : std::int64_t{0}, unit_name(o, t));
    });
    const auto& [township, asked_ms, township_name] = found;
    if (township.empty()) co_return true;
    // Ten minutes of slack between WeCom's and yuer's clocks.
    const bool after_ask = asked_ms > 0 && info.create_time * 1000 >= asked_ms - 600000;
    const bool auto_room = settings_.create_mode == "auto" && info.name.starts_with(township_name + settings_.room_suffix);
    if (!after_ask && !auto_room) co_return true;
    store::ChatGroup g;
    g.kind = "parent";
    g.unit_code = township;
    g.name = info.name.empty() ? "家长群" : info.name;
    g.chat_id = chat_id;
    g.route = "group_task";
    g.owner = info.owner;
    const std::int64_t now = now_ms();
    auto id = co_await on_store([&](store::GroupStore& s, store::OrgStore&) { return s.put_group(g, now); });
    if (!id) co_return true;
    g.id = *id;
    adopted_->inc();
    spdlog::info("groups: adopted new customer group as parent group {} of township {}", g.id, township);
    group = g;
  }
  auto g = *group;
  const Caps caps = caps_of(g, settings_.caps);
  const int before = g.members;
  const std::string old_state = g.state;
  const int count = static_cast<int>(info.members.size());
  const std::string state = next_state(g.state == "dismissed" ? "open" : g.state, count, caps);
  std::vector<store::GroupMember> members;
  members.reserve(info.members.size());
  for (const auto& m : info.members) members.push_back({m.userid, m.type, m.join_time, m.state});
  const std::int64_t now = now_ms();
  co_await on_store([&](store::GroupStore& s, store::OrgStore&) {
    s.write_members(g.id, members, info.member_version, state, now);
    return 0;
  });
  g.members = count;
  g.member_version = info.member_version;
  g.state = state;
  if (state != old_state && state == "warned")
    co_await tell(g,
                  fmt::format("「{}」已有{}人，接近上限（提醒线{}人，上限{}人）。请留意，满{}人后将停止接收新家庭。", g.name,
                              count, caps.soft, caps.hard, caps.hard),
                  fmt::format("groups:soft:{}:{}", g.id, now / 1000));
  if (state != old_state && state == "closed")
    co_await tell(g,
                  fmt::format("「{}」已满{}人（上限{}人），不再接收新家庭；入群二维码已换到本镇其他有空位的群。",
                              g.name, count, caps.hard),
                  fmt::format("groups:closed:{}:{}", g.id, now / 1000));
  if (count > caps.hard && before <= caps.hard) {
    alerts_->inc();
    store::GroupAlert a{0, g.chat_id, g.unit_code, "over_hard_cap", count, now};
    co_await on_store([&](store::GroupStore& s, store::OrgStore&) { return s.add_alert(a); });
    spdlog::warn("groups: group {} has {} members, above its hard cap {}", g.id, count, caps.hard);
    co_await tell(g,
                  fmt::format("「{}」现有{}人，超过上限{}人。请不要再邀请新家庭入群，必要时请把新入群的家庭转到本镇其他群。",
                              g.name, count, caps.hard),
                  fmt::format("groups:over:{}:{}", g.id, now / 1000));
  }
  co_await rotate(g.unit_code);
  co_return true;
}

awaitable<void> Engine::rotate(std::string township) {
  auto [groups, way, name] = co_await on_store([&](store::GroupStore& s, store::OrgStore& o) {
    return std::make_tuple(s.groups("parent", township), s.join_way(township), unit_name(o, township));
  });
  std::erase_if(groups, [&](const store::ChatGroup& g) { return g.unit_code != township; });
  if (groups.empty()) co_return;
  const auto list = join_list(groups, settings_.caps);
  const std::int64_t now = now_ms();
  store::JoinWayRow row = way.value_or(store::JoinWayRow{township, "", township_state(township), "", {}, 0, 0});
  bool changed = false;
  if (!list.empty() && (row.config_id.empty() || row.chat_ids != list)) {
    model::JoinWaySpec spec;
    spec.remark = name.substr(0, 90);  // ≤ 30 characters (Chinese: 3 bytes each)
    spec.state = row.state;
    spec.chat_ids = list;
    spec.auto_create_room = settings_.create_mode == "auto";
    spec.room_base_name = name + settings_.room_suffix;
    spec.room_base_id = static_cast<std::int64_t>(groups.size()) + 1;
    if (row.config_id.empty()) {
      auto added = co_await api_.add_join_way(spec);
      if (added.outcome.kind != OutcomeKind::kDelivered) {
        spdlog::warn("groups: add_join_way for township {} failed: {}", township, added.outcome.reason);
        due_.try_emplace(list.front(), now + settings_.retry_after.count());
        co_return;
      }
      row.config_id = added.config_id;
    } else {
      auto updated = co_await api_.update_join_way(row.config_id, spec);
      if (updated.kind != OutcomeKind::kDelivered) {
        spdlog::warn("groups: update_join_way for township {} failed: {}", township, updated.reason);
        due_.try_emplace(list.front(), now + settings_.retry_after.count());
        co_return;
      }
    }
    auto got = co_await api_.get_join_way(row.config_id);
    if (got.outcome.kind == OutcomeKind::kDelivered) row.qr_code = got.qr_code;
    row.chat_ids = list;
    join_updates_->inc();
    changed = true;
    spdlog::info("groups: join way of township {} lists {} group(s)", township, list.size());
  } else if (list.empty() && !row.chat_ids.empty()) {
    // No group has room. WeCom needs at least one chat in a join way, and deleting it would kill
    // the QR coordinators have shared, so WeCom keeps the last list; yuer records that it lists
    // none (and has asked for a new group, below) — the no_room alert says a person must act.
    row.chat_ids.clear();
    changed = true;
    spdlog::warn("groups: township {} has no parent group with room", township);
    alerts_->inc();
    store::GroupAlert a{0, "", township, "no_room", 0, now};
    co_await on_store([&](store::GroupStore& s, store::OrgStore&) { return s.add_alert(a); });
  }
  // Ask for the next group before the room runs out.
  const int room = room_left(groups, settings_.caps);
  if (settings_.create_mode == "ask" && room < settings_.ask_below &&
      (row.asked_ms == 0 || now - row.asked_ms >= settings_.ask_every.count())) {
    row.asked_ms = now;
    changed = true;
    const std::string text = fmt::format(
        "{}的家长群只剩约{}个空位{}。请新建一个家长群（您做群主），建好后无需其他操作：助手会自动把新群加入入群二维码。",
        name, std::max(room, 0), list.empty() ? "，新家庭已无法通过二维码入群" : "");
    const std::string key = fmt::format("groups:ask:{}:{}", township, now / 1000);
    std::set<std::string> owners;
    for (const auto& g : groups)
      if (!g.owner.empty() && g.state != "dismissed") owners.insert(g.owner);
    for (const auto& o : owners) co_await notify_("app", o, text, key + ":" + o);
    co_await tell_township(township, text, key);
  }
  if (changed || !way) co_await on_store([&](store::GroupStore& s, store::OrgStore&) {
    s.put_join_way(row, now);
    return 0;
  });
}

awaitable<void> Engine::tell(store::ChatGroup g, std::string text, std::string key) {
  if (!g.owner.empty()) co_await notify_("app", g.owner, text, key + ":owner");
  co_await tell_township(g.unit_code, text, key);
}

awaitable<void> Engine::tell_township(std::string township, std::string text, std::string key) {
  auto mgmt = co_await on_store([&](store::GroupStore& s, store::OrgStore&) { return s.groups("management", township); });
  for (const auto& m : mgmt) {
    if (m.unit_code != township) continue;
    if (m.route == "robot" && !m.robot.empty()) co_await notify_("robot", m.robot, text, key + ":m" + std::to_string(m.id));
    else if (m.route == "appchat" && !m.chat_id.empty())
      co_await notify_("appchat", m.chat_id, text, key + ":m" + std::to_string(m.id));
  }
}

}  // namespace yuer::groups
