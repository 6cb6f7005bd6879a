// The groups engine: keeps every parent group (a WeCom customer group) under its caps and every
// township's 「加入群聊」 join way pointing at groups with room.
//
// Member counts come from groupchat/get (WeCom's events carry no totals, reference §8.3). A
// change_external_chat event only marks its group for a re-read after `refresh_delay` (so a burst
// of joins costs one read); an event whose CurMemVer equals the stored member_version is already
// reflected and skipped, one whose LastMemVer differs reveals a lost or out-of-order event (counted)
// — the re-read makes either right. Every `reconcile_every`, and at start, all parent groups are
// read again and their owners' group lists searched for new groups, so lost events and downtime
// are recovered without any event.
// On a count: the cap policy (policy.h) moves the group between open / warned / closed; crossing
// the soft cap tells the owner and the township's management group, the hard cap closes the group
// (the join way drops it), above the hard cap an alert is raised. A township whose room runs low
// asks its coordinators to create the next group (create_mode "ask", at most every `ask_every`), or
// lets WeCom create rooms named `<township><room_suffix>N` (create_mode "auto"); a customer group a
// township's coordinator creates after that request (or such a room) is adopted as that township's
// parent group with the same caps.
// Everything runs on the io thread; store calls hop to the store pool.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/groups/policy.h"
#include "daemon/model/customer_group_api.h"
#include "daemon/store/group_store.h"
#include "daemon/store/org_store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace yuer::groups {

using boost::asio::awaitable;

struct Settings {
  Caps caps;
  std::string create_mode = "ask";    // "ask" | "auto"
  std::string room_suffix = "育儿群";  // auto-created rooms: <township name><suffix><n>
  int ask_below = 50;                 // ask for a new group when the township's room is below this
  std::chrono::milliseconds ask_every{6 * 3600 * 1000};
  std::chrono::milliseconds refresh_delay{1000};
  std::chrono::milliseconds reconcile_every{600000};
  std::chrono::milliseconds retry_after{30000};
};

// A change_external_chat event, as far as the engine cares.
struct Change {
  std::string chat_id;
  std::string change_type;  // create | update | dismiss
  std::string last_mem_ver, cur_mem_ver;
};

// Sends `text` through outbox route `route` to `target`, at most once per `key`. Must not throw.
using Notify = std::function<awaitable<void>(std::string route, std::string target, std::string text, std::string key)>;

class Engine {
 public:
  // `groups` and `org` are used only on `store_pool`'s thread. Everything passed must outlive the engine.
  Engine(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::GroupStore& groups,
         store::OrgStore& org, model::CustomerGroupApi& api, const Clock& clock, metrics::Registry& metrics,
         Settings settings, Notify notify);

  // Reconciles at start, then follows events and reconciles periodically until stop(). Throws StoreError.
  awaitable<void> run();
  void stop();
  // A committed change_external_chat event (io thread).
  void on_change(Change change);
  // Admin: read every group again now and wait for it (also after `groups add`).
  awaitable<void> reconcile();
  const Settings& settings() const { return settings_; }

 private:
  template <class F>
  auto on_store(F f) -> awaitable<decltype(f(std::declval<store::GroupStore&>(), std::declval<store::OrgStore&>()))>;
  std::int64_t now_ms() const;
  // Reads the group from WeCom and applies the policy. false: WeCom could not answer (retry later).
  awaitable<bool> refresh(std::string chat_id, bool adopt);
  awaitable<void> rotate(std::string township);
  awaitable<void> tell(store::ChatGroup g, std::string text, std::string key);
  awaitable<void> tell_township(std::string township, std::string text, std::string key);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::GroupStore& groups_;
  store::OrgStore& org_;
  model::CustomerGroupApi& api_;
  const Clock& clock_;
  Settings settings_;
  Notify notify_;
  boost::asio::steady_timer wake_;
  bool stopping_ = false;
  std::map<std::string, std::int64_t> due_;  // chat id → when to re-read it (unix ms)
  // The last event's (LastMemVer, CurMemVer) per chat id, until the chat is read.
  std::map<std::string, std::pair<std::string, std::string>> pending_versions_;
  std::int64_t next_reconcile_ms_ = 0;
  metrics::Counter* reads_ = nullptr;
  metrics::Counter* skipped_ = nullptr;
  metrics::Counter* gaps_ = nullptr;
  metrics::Counter* read_failures_ = nullptr;
  metrics::Counter* alerts_ = nullptr;
  metrics::Counter* join_updates_ = nullptr;
  metrics::Counter* adopted_ = nullptr;
};

}  // namespace yuer::groups
