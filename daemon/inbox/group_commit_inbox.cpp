#include "daemon/inbox/group_commit_inbox.h"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iterator>
#include <mutex>
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

// Runs on the store thread.
CommitOutcome commit_batch(store::InboxStore& store, const std::vector<model::InboundEvent>& events,
                           const Meters& meters) {
  CommitOutcome out;
  const auto start = std::chrono::steady_clock::now();
  try {
    out.results = store.insert_inbox(events);
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
  return out;
}

// One accept() waiting for its batch: the type-erased handler and the executor it resumes on
// (the awaiting coroutine's), which counts as outstanding work until the completion ran, so the
// waiter's io_context does not run out of work while its event is being committed.
struct Waiter {
  Handler handler;
  net::any_io_executor executor;
};

// Completes one waiter, inside a post to its executor, never inline: the store thread must not
// run a session's code. It also carries the committed event back, so that its strings (allocated
// by the io thread that parsed the callback) are freed there too: freeing them on the store
// thread made every allocation cross threads, which is the allocator's slow path.
struct Completion {
  Handler handler;
  std::exception_ptr bug;
  Result<model::Accepted> result;
  model::InboundEvent event;
  void operator()() { std::move(handler)(bug, std::move(result)); }
};

// The completions of one batch that resume on the same executor (an io thread), run by a single
// post there: one hand-off per io thread and batch instead of one per event, so the io thread's
// queue lock is taken and the thread woken once for all of them. They run in queue order.
struct CompletionGroup {
  net::any_io_executor executor;  // tracked: counts as outstanding work until the group has run
  std::vector<Completion> completions;
  void operator()() {
    for (auto& c : completions) c();
  }
};

// Moves each waiter's completion into the group of its executor (few executors: a linear search).
// `batch` is the number of events in the batch (room reserved, so no completion is moved twice).
void add_completion(std::vector<CompletionGroup>& groups, std::size_t batch, Waiter& w, model::InboundEvent event,
                    std::exception_ptr bug, Result<model::Accepted> result) {
  auto it = std::find_if(groups.begin(), groups.end(), [&](const CompletionGroup& g) { return g.executor == w.executor; });
  if (it == groups.end()) {
    groups.push_back(CompletionGroup{std::move(w.executor), {}});
    it = std::prev(groups.end());
    it->completions.reserve(batch);
  }
  it->completions.push_back(Completion{std::move(w.handler), std::move(bug), std::move(result), std::move(event)});
}

// Everything the commits need; shared between the inbox and a batch in progress.
struct State {
  State(net::any_io_executor io_ex, net::thread_pool& pool, store::InboxStore& s, Meters m, Settings st)
      : io(std::move(io_ex)), store_pool(pool), store(s), meters(m), settings(st) {}

  net::any_io_executor io;  // for handlers without an executor of their own
  net::thread_pool& store_pool;
  store::InboxStore& store;
  Meters meters;
  Settings settings;
  // Read by pending() and the gauge on other threads.
  std::shared_ptr<std::atomic<std::size_t>> pending = std::make_shared<std::atomic<std::size_t>>(0);
  std::mutex mu;  // guards the queue and `committing`; accept() may run on several io threads
  std::vector<model::InboundEvent> queued_events;
  std::vector<Waiter> queued_waiters;  // parallel to queued_events
  bool committing = false;             // a batch is queued on or running on the store thread
};

// Takes the next batch (at most max_batch events, oldest first) out of the queue. Requires: the
// lock is held and the queue is not empty.
void take_batch(State& st, std::vector<model::InboundEvent>& events, std::vector<Waiter>& waiters) {
  auto& qe = st.queued_events;
  auto& qw = st.queued_waiters;
  const std::size_t n = std::min(qe.size(), std::max<std::size_t>(st.settings.max_batch, 1));
  if (n == qe.size()) {
    events.swap(qe);
    waiters.swap(qw);
    return;
  }
  // Never move-assign a Handler: Boost 1.81's any_completion_handler::operator=(&&) wraps
  // `other` as an lvalue and recurses until the stack overflows (fixed in 1.82). So no
  // erase(); the tail is move-constructed into a new queue instead.
  const auto split = static_cast<std::ptrdiff_t>(n);
  events.assign(std::make_move_iterator(qe.begin()), std::make_move_iterator(qe.begin() + split));
  waiters.reserve(n);
  for (auto it = qw.begin(); it != qw.begin() + split; ++it) waiters.push_back(std::move(*it));
  std::vector<model::InboundEvent> rest_events(std::make_move_iterator(qe.begin() + split),
                                               std::make_move_iterator(qe.end()));
  std::vector<Waiter> rest_waiters;
  rest_waiters.reserve(qw.size() - n);
  for (auto it = qw.begin() + split; it != qw.end(); ++it) rest_waiters.push_back(std::move(*it));
  qe.swap(rest_events);
  qw.swap(rest_waiters);
}

// One batch, on the store thread: take what is queued, commit it in one transaction, complete
// its waiters, then post itself again for the next batch (so other store work can run between
// batches) until the queue is empty. At most one batch is in flight.
void run_batch(std::shared_ptr<State> impl) {
  std::vector<model::InboundEvent> events;
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(impl->mu);
    if (impl->queued_events.empty()) {
      impl->committing = false;
      return;
    }
    take_batch(*impl, events, waiters);
  }

  CommitOutcome outcome;
  std::exception_ptr bug;
  try {
    outcome = commit_batch(impl->store, events, impl->meters);
    if (!outcome.error && outcome.results.size() != waiters.size())
      throw std::logic_error(fmt::format("insert_inbox returned {} results for {} events", outcome.results.size(),
                                         waiters.size()));
  } catch (const std::exception& e) {
    spdlog::error("inbox commit raised an exception events={}: {}", waiters.size(), e.what());
    bug = std::current_exception();
  } catch (...) {
    spdlog::error("inbox commit raised an unknown exception events={}", waiters.size());
    bug = std::current_exception();
  }
  if (outcome.error) spdlog::warn("inbox commit failed events={} error={}", waiters.size(), outcome.error->message);

  impl->pending->fetch_sub(waiters.size(), std::memory_order_relaxed);
  std::vector<CompletionGroup> groups;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (bug) {
      add_completion(groups, waiters.size(), waiters[i], std::move(events[i]), bug, model::Accepted{});
    } else if (outcome.error) {
      add_completion(groups, waiters.size(), waiters[i], std::move(events[i]), nullptr, *outcome.error);
    } else {
      const auto& r = outcome.results[i];
      add_completion(groups, waiters.size(), waiters[i], std::move(events[i]), nullptr, model::Accepted{r.id, r.duplicate});
    }
  }
  for (auto& g : groups) {
    auto ex = g.executor;
    net::post(ex, std::move(g));
  }
  auto& pool = impl->store_pool;  // read before impl is moved into the handler
  net::post(pool, [impl = std::move(impl)]() mutable { run_batch(std::move(impl)); });
}

// The async_initiate initiation: runs on the calling io thread inside accept()'s co_await.
struct Enqueue {
  std::shared_ptr<State> impl;
  template <class CompletionHandler>
  void operator()(CompletionHandler&& handler, model::InboundEvent event) const {
    auto ex = net::prefer(net::get_associated_executor(handler, impl->io), net::execution::outstanding_work.tracked);
    bool start = false;
    net::any_io_executor here = ex;
    {
      std::lock_guard lock(impl->mu);
      impl->queued_events.push_back(std::move(event));
      impl->queued_waiters.push_back(Waiter{Handler(std::forward<CompletionHandler>(handler)), std::move(ex)});
      impl->pending->fetch_add(1, std::memory_order_relaxed);
      if (!impl->committing) start = impl->committing = true;
    }
    // The first batch starts after the rest of this turn of the caller's io loop, so every
    // accept() made in it joins the batch (a post straight to the store thread would often commit
    // the first event alone); later batches take whatever queued up during the commit before.
    if (start)
      net::post(here, [impl = impl] { net::post(impl->store_pool, [impl] { run_batch(impl); }); });
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
