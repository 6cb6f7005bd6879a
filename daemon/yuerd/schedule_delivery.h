// ScheduleDelivery: the scheduler's Delivery seam wired to the real routes — the outbox dispatcher
// (robot, appchat, kf) and the customer-group task engine (group_task). Call on the io thread.
#pragma once

#include "daemon/group_task/engine.h"
#include "daemon/outbox/dispatcher.h"
#include "daemon/scheduler/scheduler.h"

namespace yuer::yuerd {

class ScheduleDelivery final : public scheduler::Delivery {
 public:
  // `dispatcher` must outlive this; `group_tasks` may be null (route group_task is then refused).
  ScheduleDelivery(outbox::Dispatcher& dispatcher, group_task::Engine* group_tasks)
      : dispatcher_(dispatcher), group_tasks_(group_tasks) {}
  boost::asio::awaitable<Result<std::int64_t>> deliver(scheduler::DeliveryRequest request) override;

 private:
  outbox::Dispatcher& dispatcher_;
  group_task::Engine* group_tasks_;
};

}  // namespace yuer::yuerd
