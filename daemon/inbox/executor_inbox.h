// ExecutorInbox: an Inbox adapter for an inner Inbox that must be called on one executor, such as
// the kf doorbell (it starts kf syncs, which live on the main io thread), when the callback
// endpoints run on several io threads. accept() runs the inner accept() on `executor` and resumes
// the caller on its own executor (one post each way).
#pragma once

#include "daemon/model/inbox.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace yuer::inbox {

namespace executor_inbox_detail {
// A named coroutine (no capturing lambda coroutine, STYLE C2); arguments by value.
inline boost::asio::awaitable<Result<model::Accepted>> call_accept(model::Inbox* inner, model::InboundEvent event) {
  co_return co_await inner->accept(std::move(event));
}
}  // namespace executor_inbox_detail

class ExecutorInbox final : public model::Inbox {
 public:
  // `inner` must outlive this object; `executor` must keep running until every accept() completed.
  ExecutorInbox(model::Inbox& inner, boost::asio::any_io_executor executor)
      : inner_(inner), executor_(std::move(executor)) {}

  // Thread-safe as far as hopping goes: call from any io thread.
  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override {
    co_return co_await boost::asio::co_spawn(executor_, executor_inbox_detail::call_accept(&inner_, std::move(event)),
                                             boost::asio::use_awaitable);
  }

 private:
  model::Inbox& inner_;
  boost::asio::any_io_executor executor_;
};

}  // namespace yuer::inbox
