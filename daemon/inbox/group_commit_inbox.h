// GroupCommitInbox: the Inbox implementation. accept() calls from many connections are gathered
// into one batch per store transaction (group commit), so the store keeps up under load while no
// event is acknowledged before its batch is committed. Invariant: at most one store transaction
// is in flight; events arriving meanwhile wait for the next one. accept() may be called from
// several io threads at once (the queue has a mutex); the batches run on the store thread.
#pragma once

#include "daemon/base/metrics.h"
#include "daemon/model/inbox.h"
#include "daemon/store/store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <memory>

namespace yuer::inbox {

struct Settings {
  std::size_t max_batch = 2048;  // events per transaction at most (0 is treated as 1)
};

class GroupCommitInbox final : public model::Inbox {
 public:
  // `io` is the executor a waiter resumes on when its completion handler has none of its own
  // (a coroutine resumes on its own executor); `store_pool` runs the batches and the store calls; `store` is touched only from it. Registers in `metrics`:
  // yuer_store_commit_seconds, yuer_store_commit_batch_events (histograms),
  // yuer_store_commit_batches_total, yuer_store_commit_failures_total (counters) and the gauge
  // yuer_inbox_pending (which stays safe to scrape after this object is gone).
  // Lifetime: `store`, `store_pool` and `metrics` must outlive this object, and `store_pool` must
  // keep running until every accept() has completed.
  GroupCommitInbox(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& store,
                   metrics::Registry& metrics, Settings settings = {});
  // Requires: pending() == 0: no event waits for or is inside a commit, which holds once every
  // accept() has completed (the daemon stops the HTTP server and waits for in-flight requests
  // first). A commit runs only while some event is pending, so nothing refers to `store` or
  // `store_pool` any more; waiters whose completion is already posted hold no reference to this
  // object. A violation is logged; the queue then stays alive until its last commit ends, which
  // still needs `store` and `store_pool`.
  ~GroupCommitInbox() override;

  // Queues `event` for the next batch and completes after that batch's transaction committed:
  // with the row id (and duplicate=true with the existing row's id for a repeated (receiver,
  // dedupe_key), also within one batch). When the store throws StoreError, every event of that
  // batch fails with Error{"store.unavailable", message naming the StoreError code} and none is
  // stored; the next batch tries again. Any other exception from the store is rethrown here, in
  // every accept() of its batch. Not cancellable: once queued, the event's commit runs to its end.
  // Thread-safe: call on any io thread; completes on the awaiting coroutine's executor (which
  // keeps outstanding work until then).
  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override;

  // Events waiting for or inside a commit right now. Safe to call from any thread.
  std::size_t pending() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yuer::inbox
