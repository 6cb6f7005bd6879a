// The customer-group task route (route "group_task"). Posts for parents' customer groups wait in
// the store; once the oldest post of a group has waited `batch_delay`, everything queued for the
// groups of one owner is merged — per group, the texts in order, up to the 4000-byte mass-message
// limit — and groups whose merged text is the same share ONE add_msg_template task, so a day's
// content costs each group one unit of its monthly quota. The owner is told in WeCom what waits and
// why (through `Notify`, the outbox's app route), reminded at most every `remind_every` (WeCom
// allows 3 reminders per task per 24 h), and the task is cancelled when nobody confirms it within
// `give_up_after` (its posts end `expired`). WeCom's per-group results end each post sent or failed
// with a Chinese reason. The monthly quota (as many mass messages per group as the month has days,
// Asia/Shanghai calendar) is counted before a task is created: a group whose quota is used up
// waits for the next month.
// Crash safety: a task row is committed (`creating`) before WeCom is asked; a restart that finds one
// looks for it in WeCom's task list (same text, created since) and adopts it, or gives its posts
// back to the queue. Everything runs on the io thread; store calls hop to the store pool.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/model/group_task_api.h"
#include "daemon/store/group_task_store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace yuer::group_task {

using boost::asio::awaitable;

struct Settings {
  std::chrono::milliseconds batch_delay{600000};     // a post waits this long for others to merge with
  std::chrono::milliseconds check_every{300000};     // how often a waiting task is looked at
  std::chrono::milliseconds first_check{60000};      // first look after creation (WeCom: 41063 before)
  std::chrono::milliseconds remind_after{7200000};   // first reminder this long after creation
  std::chrono::milliseconds remind_every{28800000};  // then at most this often (WeCom: ≤ 3 per 24 h)
  std::chrono::milliseconds give_up_after{259200000};  // unconfirmed this long: cancelled, posts expired
  std::chrono::milliseconds retry_after{60000};      // a transient failure is tried again after this
  std::size_t text_max_bytes = 4000;                 // add_msg_template text.content (reference §8.6)
};

// Tells `owner` (a member) something in WeCom, at most once per `key`. Must not throw.
using Notify = std::function<awaitable<void>(std::string owner, std::string text, std::string key)>;

// The first instant (unix ms) of the Asia/Shanghai calendar month after the one holding `ms`, and
// that month's name ("YYYY-MM") and length in days — the quota's unit (China has no DST: UTC+8).
std::string shanghai_month(std::int64_t ms);
int days_in_shanghai_month(std::int64_t ms);
std::int64_t next_shanghai_month_start_ms(std::int64_t ms);

// Joins the texts (in order) with a blank line while the result stays within `max_bytes`; returns
// how many were taken (at least one when the first fits; 0 when even the first is too long).
std::size_t merge_texts(const std::vector<std::string>& texts, std::size_t max_bytes, std::string& out);

class Engine {
 public:
  // `store` is used only on `store_pool`'s thread. Everything passed must outlive the engine.
  Engine(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::GroupTaskStore& store,
         model::GroupTaskApi& api, const Clock& clock, metrics::Registry& metrics, Settings settings, Notify notify);

  // Recovers tasks left `creating`, then plans and follows tasks until stop(). Throws StoreError.
  awaitable<void> run();
  void stop();
  // Looks at the queue and the tasks now (after an enqueue; tests after moving a ManualClock).
  void poke();

  // Validates and stores a post (one group, plain text ≤ text_max_bytes). Fails with
  // Error{"group_task.empty"|"group_task.too_long"|"group_task.bad_chat"}. Throws StoreError.
  awaitable<Result<store::EnqueueResult>> enqueue(store::NewGroupPost post);
  // Tasks for the admin API and supervisors (open ones: waiting for an owner's confirmation).
  awaitable<std::vector<store::GroupTask>> tasks(store::GroupTaskQuery query);
  awaitable<std::optional<store::GroupPost>> post(std::int64_t id);

 private:
  template <class F>
  auto on_store(F f) -> awaitable<decltype(f(std::declval<store::GroupTaskStore&>()))>;
  std::int64_t now_ms() const;
  awaitable<void> recover();
  awaitable<void> plan();
  awaitable<void> follow(store::GroupTask task);
  awaitable<void> create(store::NewGroupTask task, std::int64_t id);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::GroupTaskStore& store_;
  model::GroupTaskApi& api_;
  const Clock& clock_;
  Settings settings_;
  Notify notify_;
  boost::asio::steady_timer wake_;
  bool stopping_ = false;
  bool poked_ = false;
  std::int64_t next_due_ms_ = 0;  // earliest instant something is due (for the wake timer)
  metrics::Counter* created_ = nullptr;
  metrics::Counter* reminded_ = nullptr;
  metrics::Counter* posts_sent_ = nullptr;
  metrics::Counter* posts_failed_ = nullptr;
  metrics::Counter* posts_expired_ = nullptr;
};

}  // namespace yuer::group_task
