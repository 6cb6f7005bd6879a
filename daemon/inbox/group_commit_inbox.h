// GroupCommitInbox: the Inbox implementation. accept() calls from many connections are gathered
// into one batch per store transaction (group commit), so the store keeps up under load while no
// event is acknowledged before its batch is committed.
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
  std::size_t max_batch = 2048;  // events per transaction at most
};

class GroupCommitInbox final : public model::Inbox {
 public:
  // `io` is the io thread's executor (accept() is called there and completes there);
  // `store_pool` runs the store calls. `store`, `store_pool` and `metrics` must outlive this object.
  GroupCommitInbox(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& store,
                   metrics::Registry& metrics, Settings settings = {});
  ~GroupCommitInbox() override;

  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override;

  // Events waiting for or inside a commit right now.
  std::size_t pending() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yuer::inbox
