// Dispatcher: the durable outbox's engine. Enqueue writes rows first (split to the route's size
// limit); the dispatcher then delivers them through the routes' OutboundChannels: one message at
// a time per target (order kept), targets in parallel up to max_in_flight, each target and route
// paced under the channel's limits, transient failures retried with exponential backoff and
// jitter, permanent ones ended `failed` with the channel's Chinese reason.
// Durability: a row is marked `sending` (committed) before its attempt and its result is committed
// after; a crash between the two leaves it `sending`, and the next start sends it again. That is
// the only duplicate window: at most max_in_flight messages, each only if WeCom accepted it in the
// instant before the crash. Everything runs on the io thread; store calls hop to the store pool.
// A channel may answer kWaitForEvent (a kf parent's window is closed): the row then waits at the
// head of its target's queue, with its reason and no attempt counted, until the channel reports
// the target ready again (OutboundChannel::set_target_ready) or the row's expire_at passes.
#pragma once

#include "daemon/base/clock.h"
#include "daemon/base/metrics.h"
#include "daemon/base/result.h"
#include "daemon/model/outbound_channel.h"
#include "daemon/outbox/rate_window.h"
#include "daemon/store/outbox_store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace yuer::outbox {

// daemon/net is not a dependency of the outbox (STYLE D1): the Asio names it needs, spelled here.
using boost::asio::awaitable;
using boost::asio::use_awaitable;
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

struct Settings {
  std::size_t max_in_flight = 64;                 // attempts running at once, over all routes
  std::chrono::milliseconds backoff_base{2000};   // first retry delay (before jitter)
  std::chrono::milliseconds backoff_max{600000};  // cap of the exponential delay
  int max_attempts = 20;                          // transient failures in a row before `failed`
};

struct EnqueueRequest {
  std::string route;
  std::string target;
  model::ContentKind kind = model::ContentKind::kText;
  std::string content;
  std::string idempotency_key;  // unique; parts get "<key>#<i>/<n>"
  std::int64_t expire_at_ms = 0;  // 0: never
};

struct Enqueued {
  std::vector<std::int64_t> ids;  // one per part
  bool duplicate = false;         // the key was enqueued before; ids are the existing rows
};

class Dispatcher {
 public:
  // `store` is used only on `store_pool`'s thread. Everything passed must outlive the dispatcher.
  Dispatcher(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::OutboxStore& store,
             const Clock& clock, metrics::Registry& metrics, Settings settings);
  ~Dispatcher();

  // Registers a route's channel. Requires: before run(); one channel per route name.
  void add_channel(model::OutboundChannel& channel);

  // Recovers rows left `sending` by a crash (they are sent again), loads the open rows, and
  // delivers until stop(); then waits for attempts in flight to end. Throws StoreError (and
  // rethrows any exception from a delivery): the caller ends the daemon (STYLE D3).
  awaitable<void> run();
  // Stops starting attempts; run() returns once those in flight have ended. Call on the io thread.
  void stop();
  // Re-examines the queues now (tests that move a ManualClock call it after advancing).
  void poke();

  // Splits and stores the message (one transaction) and schedules it. Fails with
  // Error{"outbox.unknown_route"|"outbox.unknown_target"|"outbox.empty"|"outbox.bad_key"}.
  // Throws StoreError. Call on the io thread.
  awaitable<Result<Enqueued>> enqueue(EnqueueRequest request);
  // The same for many messages (e.g. one lesson to every group) in ONE transaction: all are
  // stored or none. Fails on the first refused request (nothing stored); results in order.
  awaitable<Result<std::vector<Enqueued>>> enqueue_batch(std::vector<EnqueueRequest> requests);
  // Admin: a failed/expired/cancelled (or waiting) row is queued again for now.
  awaitable<Result<void>> retry(std::int64_t id);
  // Admin: a queued row is cancelled. Fails when it is sending or finished.
  awaitable<Result<void>> cancel(std::int64_t id);

  // How long a failed store write waits before it is tried again.
  static constexpr std::chrono::milliseconds kStoreRetry{1000};

  // Rows found `sending` at start and sent again (possible duplicates), since this process started.
  std::uint64_t resent_after_crash() const { return resent_after_crash_; }
  std::size_t in_flight() const { return in_flight_; }
  // Open rows of `route` known to the dispatcher (queued or sending).
  std::size_t depth(const std::string& route) const;

 private:
  struct Pending {
    model::OutboxItem item;
    std::int64_t next_attempt_ms = 0;
    std::int64_t expire_at_ms = 0;
    std::int64_t created_ms = 0;
    bool waiting = false;     // the channel answered kWaitForEvent; re-examined when woken
    std::string last_reason;  // of the last attempt (shown again when the row expires)
  };
  struct TargetQueue {
    std::deque<Pending> items;
    RollingLimit limit;
    bool limit_set = false;  // limit holds the channel's per-target windows
    bool busy = false;
    std::uint64_t wakes = 0;  // set_target_ready calls, so one during an attempt is not lost
  };
  struct RouteState {
    model::OutboundChannel* channel = nullptr;
    model::ChannelLimits limits;
    std::unordered_map<std::string, TargetQueue> targets;
    RollingLimit route_limit;
    std::multiset<std::int64_t> created;  // created_ms of open rows, for the oldest-age gauge
    std::atomic<std::int64_t> depth{0};
    std::atomic<std::int64_t> oldest_ms{0};
    metrics::Counter* delivered = nullptr;
    metrics::Counter* retried = nullptr;
    metrics::Counter* failed = nullptr;
    metrics::Counter* expired = nullptr;
    metrics::Counter* waited = nullptr;
  };
  struct Ready {
    std::int64_t at_ms;
    std::string route;
    std::string target;
    bool operator>(const Ready& o) const { return at_ms > o.at_ms; }
  };
  struct Batch;

  std::int64_t now_ms() const;
  void add_pending(RouteState& r, Pending p);
  void remove_pending(RouteState& r, std::int64_t created_ms);
  void schedule(const std::string& route, const std::string& target);
  // When the head of `q` may start, never before `now`.
  std::int64_t eligible_at(RouteState& r, TargetQueue& q, std::int64_t now);
  void launch_ready();
  // The channel says `target` may be sent to again: a waiting head is tried now.
  void wake_target(const std::string& route, const std::string& target);
  awaitable<void> deliver(std::string route, std::string target);
  void delivery_done(std::string route, std::string target, std::exception_ptr e);
  std::chrono::milliseconds backoff(int attempts);
  // Group commit: adds to the next batch and returns once it is committed.
  awaitable<void> commit(std::vector<std::int64_t> marks, std::vector<store::AttemptResult> finishes);
  // Writes one batch; a StoreError (disk full, read-only, busy) is retried every
  // kStoreRetry until the store takes it (sending pauses meanwhile: every attempt starts with a
  // commit), unless the dispatcher is stopping. Other exceptions propagate.
  awaitable<void> write_until_stored(std::unique_ptr<Batch> batch);

  boost::asio::any_io_executor io_;
  boost::asio::thread_pool& store_pool_;
  store::OutboxStore& store_;
  const Clock& clock_;
  metrics::Registry& metrics_;
  Settings settings_;
  std::map<std::string, std::unique_ptr<RouteState>> routes_;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready_;
  boost::asio::steady_timer wake_;
  boost::asio::steady_timer idle_wake_;    // run() waiting for in-flight attempts at stop
  boost::asio::steady_timer commit_wake_;  // waiters of a batch in commit
  std::unique_ptr<Batch> pending_batch_;
  std::uint64_t pending_gen_ = 1;
  std::uint64_t done_gen_ = 0;
  bool committing_ = false;
  std::exception_ptr commit_error_;
  std::exception_ptr failure_;
  bool running_ = false;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;
  std::uint64_t resent_after_crash_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  metrics::Counter* resent_counter_ = nullptr;
  metrics::Counter* store_failures_ = nullptr;
};

}  // namespace yuer::outbox
