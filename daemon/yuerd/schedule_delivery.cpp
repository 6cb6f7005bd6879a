#include "daemon/yuerd/schedule_delivery.h"

namespace yuer::yuerd {

boost::asio::awaitable<Result<std::int64_t>> ScheduleDelivery::deliver(scheduler::DeliveryRequest r) {
  if (r.route == "group_task") {
    if (!group_tasks_) co_return Error{"outbox.unknown_route", "没有配置客户群群发（[group_task] 与 [wecom.app]）"};
    // A named argument, not a temporary inside the co_await expression: GCC 12 frees such a
    // temporary's strings twice (found by the demo under ASan; STYLE C2).
    store::NewGroupPost post{r.target, r.content, r.idempotency_key, 0};
    auto done = co_await group_tasks_->enqueue(std::move(post));
    if (!done) co_return done.error();
    group_tasks_->poke();
    co_return done->id;
  }
  outbox::EnqueueRequest q;
  q.route = r.route;
  q.target = r.target;
  q.kind = r.markdown ? model::ContentKind::kMarkdown : model::ContentKind::kText;
  q.content = std::move(r.content);
  q.idempotency_key = std::move(r.idempotency_key);
  auto done = co_await dispatcher_.enqueue(std::move(q));
  if (!done) co_return done.error();
  co_return done->ids.empty() ? std::int64_t{0} : done->ids.front();
}

}  // namespace yuer::yuerd
