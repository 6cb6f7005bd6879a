#include "daemon/inbox/group_commit_inbox.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace yuer::inbox {
namespace {

namespace net = boost::asio;

// An unexpected exception (a bug) reaches every waiter of its batch as that exception, so each
// HTTP session ends the way STYLE D3 says bugs end a task; an expected store failure is a value.
using Signature = void(std::exception_ptr, Result<model::Accepted>);
using Handler = net::any_completion_handler<Signature>;

// Metric handles live in the registry, which outlives the inbox; safe from any thread.
struct Meters {
  metrics::Histogram* commit_seconds;
  metrics::Histogram* batch_events;
  metrics::Counter* batches;
  metrics::Counter* failures;
};

std::vector<double> batch_size_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}; }

struct CommitOutcome {
  std::vector<store::InsertResult> results;
  std::optional<Error> error;  // "store.unavailable" when the store threw StoreError
};

// Runs on the store executor. Named, arguments by value (STYLE C2/D4): the events are moved into
// this frame, and only values come back.
net::awaitable<CommitOutcome> commit_batch(store::InboxStore* store, std::vector<model::InboundEvent> events,
                                           Meters meters) {
  CommitOutcome out;
  const auto start = std::chrono::steady_clock::now();
  try {
    out.results = store->insert_inbox(events);
  } catch (const store::StoreError& e) {
    out.error = fail("store.unavailable", fmt::format("inbox commit failed ({}): {}", e.code(), e.what()));
  }
  meters.commit_seconds->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (out.error) {
    meters.failures->inc();
  } else {
    meters.batches->inc();
    meters.batch_events->observe(static_cast<double>(events.size()));
  }
  co_return out;
}

// Completes one waiter through a post, never inline: the loop must not run a session's
// code (which could throw through the loop or accept() again) in the middle of a batch.
struct Completion {
  Handler handler;
  std::exception_ptr bug;
  Result<model::Accepted> result;
  void operator()() { std::move(handler)(bug, std::move(result)); }
};

// Everything the commit loop needs; shared between the inbox and a running loop.
struct State {
  State(net::any_io_executor io_ex, net::thread_pool& pool, store::InboxStore& s, Meters m, Settings st)
      : io(std::move(io_ex)), store_pool(pool), store(s), meters(m), settings(st) {}

  net::any_io_executor io;
  net::thread_pool& store_pool;
  store::InboxStore& store;
  Meters meters;
  Settings settings;
  // Read by pending() and the gauge on other threads; the rest is io-thread state only.
  std::shared_ptr<std::atomic<std::size_t>> pending = std::make_shared<std::atomic<std::size_t>>(0);
  std::vector<model::InboundEvent> queued_events;
  std::vector<Handler> queued_handlers;  // parallel to queued_events
  bool committing = false;               // a commit_loop is running
};

// accept() runs on the io executor, so that is where its waiter resumes.
void complete(Handler handler, std::exception_ptr bug, Result<model::Accepted> result, const net::any_io_executor& io) {
  net::post(io, Completion{std::move(handler), std::move(bug), std::move(result)});
}

// One batch per iteration, at most one in flight; it ends when nothing is queued. Holding `impl`
// keeps the queue alive across the hop even if the inbox is destroyed right after its last
// accept() completed.
net::awaitable<void> commit_loop(std::shared_ptr<State> impl) {
  // co_spawn dispatches, so without this yield the loop would start inside the first accept()
  // and commit it alone; after it, every accept() made in this turn of the io loop is queued.
  co_await net::post(impl->io, net::use_awaitable);
  while (!impl->queued_events.empty()) {
    std::vector<model::InboundEvent> events;
    std::vector<Handler> handlers;
    const std::size_t n = std::min(impl->queued_events.size(), std::max<std::size_t>(impl->settings.max_batch, 1));
    if (n == impl->queued_events.size()) {
      events.swap(impl->queued_events);
      handlers.swap(impl->queued_handlers);
    } else {
      // Never move-assign a Handler: Boost 1.81's any_completion_handler::operator=(&&) wraps
      // `other` as an lvalue and recurses until the stack overflows (fixed in 1.82). So no
      // erase(); the tail is move-constructed into a new queue instead.
      const auto split = static_cast<std::ptrdiff_t>(n);
      auto& qe = impl->queued_events;
      auto& qh = impl->queued_handlers;
      events.assign(std::make_move_iterator(qe.begin()), std::make_move_iterator(qe.begin() + split));
      handlers.assign(std::make_move_iterator(qh.begin()), std::make_move_iterator(qh.begin() + split));
      std::vector<model::InboundEvent> rest_events(std::make_move_iterator(qe.begin() + split),
                                                   std::make_move_iterator(qe.end()));
      std::vector<Handler> rest_handlers(std::make_move_iterator(qh.begin() + split), std::make_move_iterator(qh.end()));
      qe.swap(rest_events);
      qh.swap(rest_handlers);
    }

    CommitOutcome outcome;
    std::exception_ptr bug;
    try {
      outcome = co_await net::co_spawn(impl->store_pool.get_executor(),
                                       commit_batch(&impl->store, std::move(events), impl->meters), net::use_awaitable);
      if (!outcome.error && outcome.results.size() != handlers.size())
        throw std::logic_error(fmt::format("insert_inbox returned {} results for {} events", outcome.results.size(),
                                           handlers.size()));
    } catch (const std::exception& e) {
      spdlog::error("inbox commit raised an exception events={}: {}", handlers.size(), e.what());
      bug = std::current_exception();
    } catch (...) {
      spdlog::error("inbox commit raised an unknown exception events={}", handlers.size());
      bug = std::current_exception();
    }
    if (outcome.error)
      spdlog::warn("inbox commit failed events={} error={}", handlers.size(), outcome.error->message);

    impl->pending->fetch_sub(handlers.size(), std::memory_order_relaxed);
    for (std::size_t i = 0; i < handlers.size(); ++i) {
      if (bug) {
        complete(std::move(handlers[i]), bug, model::Accepted{}, impl->io);
      } else if (outcome.error) {
        complete(std::move(handlers[i]), nullptr, *outcome.error, impl->io);
      } else {
        const auto& r = outcome.results[i];
        complete(std::move(handlers[i]), nullptr, model::Accepted{r.id, r.duplicate}, impl->io);
      }
    }
  }
  impl->committing = false;
}

// Called once the loop ends. It only ends by an exception if posting itself failed (memory);
// waiters would then hang, so the daemon must stop (STYLE D3: a failed core loop exits).
void loop_ended(std::exception_ptr e) {
  if (!e) return;
  spdlog::critical("inbox commit loop failed; stopping");
  std::rethrow_exception(e);
}

// The async_initiate initiation: runs on the io thread inside accept()'s co_await.
struct Enqueue {
  std::shared_ptr<State> impl;
  template <class CompletionHandler>
  void operator()(CompletionHandler&& handler, model::InboundEvent event) const {
    impl->queued_events.push_back(std::move(event));
    impl->queued_handlers.emplace_back(std::forward<CompletionHandler>(handler));
    impl->pending->fetch_add(1, std::memory_order_relaxed);
    if (!impl->committing) {
      impl->committing = true;
      net::co_spawn(impl->io, commit_loop(impl), loop_ended);
    }
  }
};

}  // namespace

struct GroupCommitInbox::Impl : State {
  using State::State;
};

GroupCommitInbox::GroupCommitInbox(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool,
                                   store::InboxStore& store, metrics::Registry& metrics, Settings settings) {
  Meters meters{
      &metrics.histogram("yuer_store_commit_seconds", "Inbox store commit latency, one transaction per batch",
                         metrics::latency_buckets()),
      &metrics.histogram("yuer_store_commit_batch_events", "Events per committed inbox batch", batch_size_buckets()),
      &metrics.counter("yuer_store_commit_batches_total", "Inbox batches committed"),
      &metrics.counter("yuer_store_commit_failures_total",
                       "Inbox batches whose commit failed (none of their events was acknowledged)"),
  };
  impl_ = std::make_shared<Impl>(std::move(io), store_pool, store, meters, settings);
  // The gauge holds only the counter, so scraping stays safe after this object is gone.
  metrics.gauge("yuer_inbox_pending", "Inbound events waiting for or inside a commit",
                [pending = impl_->pending] { return static_cast<double>(pending->load(std::memory_order_relaxed)); });
}

GroupCommitInbox::~GroupCommitInbox() {
  if (const auto n = pending(); n != 0)
    spdlog::error("inbox destroyed with {} events still pending (accept() calls must complete first)", n);
}

boost::asio::awaitable<Result<model::Accepted>> GroupCommitInbox::accept(model::InboundEvent event) {
  return net::async_initiate<const net::use_awaitable_t<>, Signature>(Enqueue{impl_}, net::use_awaitable,
                                                                        std::move(event));
}

std::size_t GroupCommitInbox::pending() const { return impl_->pending->load(std::memory_order_relaxed); }

}  // namespace yuer::inbox
