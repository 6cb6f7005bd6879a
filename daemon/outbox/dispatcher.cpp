#include "daemon/outbox/dispatcher.h"

#include "daemon/outbox/split.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace yuer::outbox {
namespace {

using model::OutboxState;
using model::OutcomeKind;

// "Until woken" for a waiting row without an expiry (far, but safe to add to).
constexpr std::int64_t kNeverMs = std::int64_t{1} << 60;

struct Loaded {
  std::vector<store::RecentSend> recent;
  std::vector<std::int64_t> requeued;
  std::vector<store::OutboxRow> rows;
};

// Store calls: named coroutines with by-value arguments, run on the store pool (STYLE C2, D4).
awaitable<Loaded> recover_rows(store::OutboxStore* s, std::int64_t now, std::int64_t since) {
  Loaded l;
  l.recent = s->recent_sends(since);
  l.requeued = s->requeue_sending(now);
  l.rows = s->load_open();
  co_return l;
}

awaitable<std::vector<store::EnqueueResult>> insert_rows(store::OutboxStore* s, std::vector<store::NewOutboxItem> items,
                                                         std::int64_t now) {
  co_return s->enqueue(items, now);
}

awaitable<void> write_batch(store::OutboxStore* s, std::vector<std::int64_t> marks,
                            std::vector<store::AttemptResult> finishes, std::int64_t now) {
  // Results first: a row finished and marked again in one batch cannot happen (one attempt per
  // target at a time), but finishing first keeps the order of events even so.
  if (!finishes.empty()) s->finish(finishes, now);
  if (!marks.empty()) s->mark_sending(marks, now);
  co_return;
}

awaitable<std::optional<store::OutboxRow>> get_row(store::OutboxStore* s, std::int64_t id) { co_return s->get(id); }
awaitable<bool> retry_row(store::OutboxStore* s, std::int64_t id, std::int64_t now) { co_return s->retry(id, now); }
awaitable<bool> cancel_row(store::OutboxStore* s, std::int64_t id, std::int64_t now) { co_return s->cancel(id, now); }

}  // namespace

struct Dispatcher::Batch {
  std::vector<std::int64_t> marks;
  std::vector<store::AttemptResult> finishes;
};

Dispatcher::Dispatcher(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool,
                       store::OutboxStore& store, const Clock& clock, metrics::Registry& metrics, Settings settings)
    : io_(io),
      store_pool_(store_pool),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      settings_(settings),
      wake_(io),
      idle_wake_(io),
      commit_wake_(io),
      pending_batch_(std::make_unique<Batch>()) {
  // Set once: re-arming a timer would cancel its other waiters (see commit()).
  commit_wake_.expires_at(boost::asio::steady_timer::time_point::max());
  idle_wake_.expires_at(boost::asio::steady_timer::time_point::max());
  resent_counter_ = &metrics_.counter("yuer_outbox_resent_after_crash_total",
                                      "Rows found sending at start and sent again (possible duplicates)");
  store_failures_ = &metrics_.counter("yuer_outbox_store_write_failures_total",
                                      "Outbox writes the store refused (disk full, read-only); sending waits and retries");
}

Dispatcher::~Dispatcher() = default;

std::int64_t Dispatcher::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
}

void Dispatcher::add_channel(model::OutboundChannel& channel) {
  auto r = std::make_unique<RouteState>();
  r->channel = &channel;
  r->limits = channel.limits();
  r->route_limit = RollingLimit(r->limits.per_route);
  const std::string name = channel.route();
  const char* sends = "yuer_outbox_sends_total";
  const char* help = "Outbox delivery attempts by route and result";
  r->delivered = &metrics_.counter(sends, help, {{"route", name}, {"result", "delivered"}});
  r->retried = &metrics_.counter(sends, help, {{"route", name}, {"result", "retry"}});
  r->failed = &metrics_.counter(sends, help, {{"route", name}, {"result", "failed"}});
  r->expired = &metrics_.counter(sends, help, {{"route", name}, {"result", "expired"}});
  r->waited = &metrics_.counter(sends, help, {{"route", name}, {"result", "wait"}});
  RouteState* raw = r.get();
  metrics_.gauge("yuer_outbox_queue_depth", "Open outbox rows (queued or sending) per route", {{"route", name}},
                 [raw] { return static_cast<double>(raw->depth.load()); });
  metrics_.gauge("yuer_outbox_oldest_age_seconds", "Age of the oldest open outbox row per route (0 when none)",
                 {{"route", name}}, [raw, this] {
                   std::int64_t oldest = raw->oldest_ms.load();
                   return oldest == 0 ? 0.0 : std::max<double>(0.0, static_cast<double>(now_ms() - oldest) / 1000.0);
                 });
  routes_[name] = std::move(r);
  channel.set_target_ready([this, name](const std::string& target) { wake_target(name, target); });
}

void Dispatcher::wake_target(const std::string& route, const std::string& target) {
  auto rit = routes_.find(route);
  if (rit == routes_.end()) return;
  auto qit = rit->second->targets.find(target);
  if (qit == rit->second->targets.end()) return;
  TargetQueue& q = qit->second;
  ++q.wakes;
  if (q.busy || q.items.empty() || !q.items.front().waiting) return;
  q.items.front().waiting = false;
  q.items.front().next_attempt_ms = now_ms();
  schedule(route, target);
  wake_.cancel();
}

std::size_t Dispatcher::depth(const std::string& route) const {
  auto it = routes_.find(route);
  return it == routes_.end() ? 0 : static_cast<std::size_t>(it->second->depth.load());
}

void Dispatcher::add_pending(RouteState& r, Pending p) {
  r.created.insert(p.created_ms);
  r.depth.store(static_cast<std::int64_t>(r.created.size()));
  r.oldest_ms.store(*r.created.begin());
  auto& q = r.targets[p.item.target];
  if (!q.limit_set) q.limit = RollingLimit(r.limits.per_target), q.limit_set = true;
  q.items.push_back(std::move(p));
}

void Dispatcher::remove_pending(RouteState& r, std::int64_t created_ms) {
  if (auto it = r.created.find(created_ms); it != r.created.end()) r.created.erase(it);
  r.depth.store(static_cast<std::int64_t>(r.created.size()));
  r.oldest_ms.store(r.created.empty() ? 0 : *r.created.begin());
}

std::int64_t Dispatcher::eligible_at(RouteState& r, TargetQueue& q, std::int64_t now) {
  const Pending& head = q.items.front();
  std::int64_t at = std::max(now, head.next_attempt_ms);
  // Due only after it expires (a long backoff, a wait): it is expired then, not tried early.
  if (head.expire_at_ms > 0 && head.expire_at_ms <= at) return std::max(now, head.expire_at_ms);
  at = std::max(at, q.limit.next_allowed(at));
  at = std::max(at, r.route_limit.next_allowed(at));
  return at;
}

void Dispatcher::schedule(const std::string& route, const std::string& target) {
  auto rit = routes_.find(route);
  if (rit == routes_.end()) return;
  auto& q = rit->second->targets[target];
  if (q.busy || q.items.empty()) return;
  ready_.push({eligible_at(*rit->second, q, now_ms()), route, target});
}

void Dispatcher::poke() { wake_.cancel(); }

void Dispatcher::launch_ready() {
  const std::int64_t now = now_ms();
  while (!stopping_ && in_flight_ < settings_.max_in_flight && !ready_.empty() && ready_.top().at_ms <= now) {
    Ready e = ready_.top();
    ready_.pop();
    auto rit = routes_.find(e.route);
    if (rit == routes_.end()) continue;
    RouteState& r = *rit->second;
    auto qit = r.targets.find(e.target);
    if (qit == r.targets.end() || qit->second.busy || qit->second.items.empty()) continue;
    TargetQueue& q = qit->second;
    // Stale entries (a target scheduled twice, a route window filled since) are re-timed. The
    // same `now` as the loop's: a clock that ticked meanwhile must not push every entry back.
    std::int64_t at = eligible_at(r, q, now);
    if (at > now) {
      ready_.push({at, e.route, e.target});
      continue;
    }
    q.busy = true;
    ++in_flight_;
    const Pending& head = q.items.front();
    if (!(head.expire_at_ms > 0 && head.expire_at_ms <= now)) {
      q.limit.record(now);
      r.route_limit.record(now);
    }
    boost::asio::co_spawn(io_, deliver(e.route, e.target),
                  [this, route = e.route, target = e.target](std::exception_ptr ex) {
                    delivery_done(route, target, ex);
                  });
  }
}

void Dispatcher::delivery_done(std::string route, std::string target, std::exception_ptr e) {
  --in_flight_;
  if (e && !failure_) failure_ = e;
  if (e) stopping_ = true;
  auto rit = routes_.find(route);
  if (rit != routes_.end()) {
    rit->second->targets[target].busy = false;
    if (!stopping_) schedule(route, target);
  }
  wake_.cancel();
  idle_wake_.cancel();
}

std::chrono::milliseconds Dispatcher::backoff(int attempts) {
  // Exponential with "equal jitter": half fixed, half random, so retries of many targets spread.
  double base = static_cast<double>(settings_.backoff_base.count());
  double d = std::min(base * std::pow(2.0, std::max(0, attempts - 1)), static_cast<double>(settings_.backoff_max.count()));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(d * jitter(rng_)));
}

awaitable<void> Dispatcher::commit(std::vector<std::int64_t> marks, std::vector<store::AttemptResult> finishes) {
  auto& b = *pending_batch_;
  b.marks.insert(b.marks.end(), marks.begin(), marks.end());
  for (auto& f : finishes) b.finishes.push_back(std::move(f));
  const std::uint64_t mine = pending_gen_;
  while (done_gen_ < mine) {
    if (commit_error_) std::rethrow_exception(commit_error_);
    if (!committing_) {
      committing_ = true;
      auto batch = std::move(pending_batch_);
      pending_batch_ = std::make_unique<Batch>();
      const std::uint64_t gen = pending_gen_++;
      try {
        co_await write_until_stored(std::move(batch));
      } catch (...) {
        commit_error_ = std::current_exception();
      }
      done_gen_ = gen;
      committing_ = false;
      commit_wake_.cancel();
      if (commit_error_) std::rethrow_exception(commit_error_);
    } else {
      co_await commit_wake_.async_wait(use_tuple);
    }
  }
}

awaitable<void> Dispatcher::write_until_stored(std::unique_ptr<Batch> batch) {
  // Results and marks are written separately, so a retry never applies a result twice (a
  // result's "attempts - uncounted" is not idempotent; marking is: only queued rows are marked).
  bool finished = batch->finishes.empty();
  bool marked = batch->marks.empty();
  int failures = 0;
  boost::asio::steady_timer pause(io_);
  while (!finished || !marked) {
    try {
      if (!finished) {
        std::vector<std::int64_t> none;
        co_await boost::asio::co_spawn(store_pool_, write_batch(&store_, std::move(none), batch->finishes, now_ms()),
                                       use_awaitable);
        finished = true;
      }
      if (!marked) {
        std::vector<store::AttemptResult> none;
        co_await boost::asio::co_spawn(store_pool_, write_batch(&store_, batch->marks, std::move(none), now_ms()),
                                       use_awaitable);
        marked = true;
      }
    } catch (const store::StoreError& e) {
      if (stopping_) throw;
      if (failures++ == 0)
        spdlog::error("outbox: store write failed ({}): {}; sending paused, retrying every {} ms", e.code(), e.what(),
                      kStoreRetry.count());
      store_failures_->inc();
    }
    if (finished && marked) break;
    pause.expires_after(kStoreRetry);
    co_await pause.async_wait(use_tuple);
  }
  if (failures > 0) spdlog::warn("outbox: store writable again after {} failed write(s); sending resumes", failures);
}

awaitable<void> Dispatcher::deliver(std::string route, std::string target) {
  RouteState* r = routes_.at(route).get();
  Pending head = r->targets[target].items.front();
  const std::int64_t id = head.item.id;

  store::AttemptResult result;
  result.id = id;
  bool waits = false;
  // Wakes (set_target_ready) counted from the attempt's start until memory is updated below: a
  // wake that arrives while the attempt's result is being committed is not lost either (the head
  // would otherwise wait for a next wake that may never come: a kf parent who waits for our
  // answer writes nothing).
  const std::uint64_t wakes_before = r->targets[target].wakes;
  if (head.expire_at_ms > 0 && head.expire_at_ms <= now_ms()) {
    result.state = OutboxState::kExpired;
    result.reason = "超过有效期，未发送";
    if (!head.last_reason.empty()) result.reason += "：" + head.last_reason;
    // Named vectors, not braced lists, in co_await calls (GCC 12 coroutine bug: "array used as
    // initializer").
    std::vector<store::AttemptResult> finished(1, result);
    co_await commit(std::vector<std::int64_t>(), std::move(finished));
    r->expired->inc();
  } else {
    std::vector<std::int64_t> marks(1, id);
    co_await commit(std::move(marks), std::vector<store::AttemptResult>());
    model::OutboxItem item = head.item;
    auto outcome = co_await r->channel->send(std::move(item));
    waits = outcome.kind == OutcomeKind::kWaitForEvent;
    const int attempts = head.item.attempts + 1;
    result.errcode = outcome.errcode;
    result.reason = outcome.reason;
    result.remote_id = outcome.remote_id;
    switch (outcome.kind) {
      case OutcomeKind::kDelivered:
        result.state = OutboxState::kSent;
        result.reason.clear();
        r->delivered->inc();
        break;
      case OutcomeKind::kPermanent:
        result.state = OutboxState::kFailed;
        r->failed->inc();
        break;
      case OutcomeKind::kWaitForEvent:
        // Stored with next_attempt 0: after a restart it is examined once more, which is harmless.
        result.state = OutboxState::kQueued;
        result.uncount_attempt = true;
        r->waited->inc();
        break;
      case OutcomeKind::kRetryAfter:
      case OutcomeKind::kRefreshTokenAndRetry:
        if (attempts >= settings_.max_attempts) {
          result.state = OutboxState::kFailed;
          result.reason = fmt::format("重试 {} 次仍未成功：{}", attempts, outcome.reason);
          r->failed->inc();
        } else {
          result.state = OutboxState::kQueued;
          result.next_attempt_ms = now_ms() + std::max(outcome.retry_after, backoff(attempts)).count();
          r->retried->inc();
        }
        break;
    }
    std::vector<store::AttemptResult> finished(1, result);
    co_await commit(std::vector<std::int64_t>(), std::move(finished));
    spdlog::debug("outbox send route={} item={} attempt={} outcome={} errcode={}", route, id, attempts,
                  model::to_string(outcome.kind), outcome.errcode);
    if (result.state == OutboxState::kFailed)
      spdlog::warn("outbox failed route={} item={} errcode={} reason={}", route, id, result.errcode, result.reason);
  }

  // The io thread is ours again: update memory. The head is still `id` (only deliver pops it).
  auto& q = r->targets[target];
  if (q.items.empty() || q.items.front().item.id != id) co_return;
  if (result.state == OutboxState::kQueued) {
    Pending& p = q.items.front();
    p.last_reason = result.reason;
    if (waits) {
      const bool woken = q.wakes != wakes_before;
      p.waiting = !woken;
      p.next_attempt_ms = woken ? now_ms() : (p.expire_at_ms > 0 ? p.expire_at_ms : kNeverMs);
    } else {
      p.item.attempts += 1;
      p.next_attempt_ms = result.next_attempt_ms;
    }
  } else {
    remove_pending(*r, q.items.front().created_ms);
    q.items.pop_front();
  }
}

awaitable<void> Dispatcher::run() {
  running_ = true;
  std::int64_t longest = 0;
  for (auto& [name, r] : routes_)
    for (const auto* list : {&r->limits.per_target, &r->limits.per_route})
      for (const auto& w : *list) longest = std::max<std::int64_t>(longest, w.period.count());
  Loaded loaded =
      co_await boost::asio::co_spawn(store_pool_, recover_rows(&store_, now_ms(), now_ms() - longest), use_awaitable);
  // Rate windows survive a restart: WeCom counted these sends whatever happened to us.
  for (const auto& s : loaded.recent) {
    auto rit = routes_.find(s.route);
    if (rit == routes_.end()) continue;
    auto& q = rit->second->targets[s.target];
    if (!q.limit_set) q.limit = RollingLimit(rit->second->limits.per_target), q.limit_set = true;
    q.limit.record(s.at_ms);
    rit->second->route_limit.record(s.at_ms);
  }
  resent_after_crash_ = loaded.requeued.size();
  resent_counter_->inc(resent_after_crash_);
  if (!loaded.requeued.empty())
    spdlog::warn("outbox: {} message(s) were being sent when yuerd stopped; sending them again (possible duplicates)",
                 loaded.requeued.size());
  std::size_t unknown = 0;
  for (auto& row : loaded.rows) {
    auto rit = routes_.find(row.item.route);
    if (rit == routes_.end()) {
      ++unknown;  // a route not configured now: left queued in the store
      continue;
    }
    add_pending(*rit->second, Pending{row.item, row.next_attempt_ms, row.expire_at_ms, row.created_ms, false, row.last_reason});
  }
  if (unknown) spdlog::warn("outbox: {} open row(s) belong to routes not configured; left queued", unknown);
  for (auto& [name, r] : routes_)
    for (auto& [target, q] : r->targets) schedule(name, target);
  spdlog::info("outbox running rows={} routes={}", loaded.rows.size() - unknown, routes_.size());

  while (!stopping_) {
    launch_ready();
    if (stopping_) break;
    auto wait = std::chrono::milliseconds(60000);
    if (!ready_.empty() && in_flight_ < settings_.max_in_flight)
      wait = std::chrono::milliseconds(std::clamp<std::int64_t>(ready_.top().at_ms - now_ms(), 0, 60000));
    wake_.expires_after(wait);
    co_await wake_.async_wait(use_tuple);
  }
  while (in_flight_ > 0) co_await idle_wake_.async_wait(use_tuple);
  running_ = false;
  if (failure_) std::rethrow_exception(failure_);
}

void Dispatcher::stop() {
  stopping_ = true;
  wake_.cancel();
}

awaitable<Result<Enqueued>> Dispatcher::enqueue(EnqueueRequest request) {
  std::vector<EnqueueRequest> one;
  one.push_back(std::move(request));
  auto r = co_await enqueue_batch(std::move(one));
  if (!r) co_return r.error();
  co_return std::move(r->front());
}

awaitable<Result<std::vector<Enqueued>>> Dispatcher::enqueue_batch(std::vector<EnqueueRequest> requests) {
  std::vector<store::NewOutboxItem> items;
  std::vector<std::size_t> first_item;  // per request: index of its first part in `items`
  for (auto& request : requests) {
    auto rit = routes_.find(request.route);
    if (rit == routes_.end())
      co_return fail("outbox.unknown_route", fmt::format("没有配置发送渠道 {}", request.route));
    RouteState& r = *rit->second;
    if (!r.channel->knows_target(request.target))
      co_return fail("outbox.unknown_target", fmt::format("渠道 {} 没有目标 {}（未配置）", request.route, request.target));
    if (request.content.empty()) co_return fail("outbox.empty", "消息内容为空");
    if (request.idempotency_key.empty() || request.idempotency_key.size() > 200)
      co_return fail("outbox.bad_key", "idempotency key must be 1 to 200 bytes");
    std::vector<std::string> parts;
    if (request.kind == model::ContentKind::kTemplateCard) {
      // A card is one wire object: never split.
      if (r.limits.card_max_bytes == 0)
        co_return fail("outbox.unsupported_kind", fmt::format("渠道 {} 不能发送模板卡片", request.route));
      if (request.content.size() > r.limits.card_max_bytes)
        co_return fail("outbox.too_long", fmt::format("模板卡片超过 {} 字节", r.limits.card_max_bytes));
      parts.push_back(request.content);
    } else {
      const std::size_t limit =
          request.kind == model::ContentKind::kText ? r.limits.text_max_bytes : r.limits.markdown_max_bytes;
      parts = split_content(request.content, limit);
    }
    first_item.push_back(items.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      store::NewOutboxItem n;
      n.item.route = request.route;
      n.item.target = request.target;
      n.item.kind = request.kind;
      n.item.content = std::move(parts[i]);
      n.item.part = static_cast<int>(i + 1);
      n.item.parts = static_cast<int>(parts.size());
      n.item.idempotency_key = parts.size() == 1 ? request.idempotency_key
                                                 : fmt::format("{}#{}/{}", request.idempotency_key, i + 1, parts.size());
      n.expire_at_ms = request.expire_at_ms;
      items.push_back(std::move(n));
    }
  }
  first_item.push_back(items.size());
  const std::int64_t now = now_ms();
  auto results = co_await boost::asio::co_spawn(store_pool_, insert_rows(&store_, items, now), use_awaitable);
  std::vector<Enqueued> out(requests.size());
  for (std::size_t q = 0; q < requests.size(); ++q) {
    auto& rr = *routes_.at(requests[q].route);
    for (std::size_t i = first_item[q]; i < first_item[q + 1]; ++i) {
      out[q].ids.push_back(results[i].id);
      if (results[i].duplicate) {
        out[q].duplicate = true;
        continue;
      }
      items[i].item.id = results[i].id;
      add_pending(rr, Pending{items[i].item, 0, items[i].expire_at_ms, now, false, {}});
    }
    schedule(requests[q].route, requests[q].target);
  }
  wake_.cancel();
  co_return out;
}

awaitable<Result<void>> Dispatcher::retry(std::int64_t id) {
  auto row = co_await boost::asio::co_spawn(store_pool_, get_row(&store_, id), use_awaitable);
  if (!row) co_return fail("outbox.not_found", fmt::format("没有编号为 {} 的消息", id));
  auto rit = routes_.find(row->item.route);
  if (rit == routes_.end()) co_return fail("outbox.unknown_route", "该消息的发送渠道未配置");
  const std::int64_t now = now_ms();
  if (row->state == OutboxState::kQueued) {
    // Waiting for a backoff: try now.
    for (auto& p : rit->second->targets[row->item.target].items)
      if (p.item.id == id) p.next_attempt_ms = now;
  } else {
    bool ok = co_await boost::asio::co_spawn(store_pool_, retry_row(&store_, id, now), use_awaitable);
    if (!ok)
      co_return fail("outbox.bad_state", fmt::format("消息 {} 状态为 {}，不能重试", id, model::to_string(row->state)));
    // Back into the target's queue in id order, so the order per target holds.
    auto& q = rit->second->targets[row->item.target];
    if (!q.limit_set) q.limit = RollingLimit(rit->second->limits.per_target), q.limit_set = true;
    Pending p{row->item, now, row->expire_at_ms, row->created_ms, false, row->last_reason};
    auto pos = std::find_if(q.items.begin() + (q.busy && !q.items.empty() ? 1 : 0), q.items.end(),
                            [id](const Pending& x) { return x.item.id > id; });
    rit->second->created.insert(p.created_ms);
    rit->second->depth.store(static_cast<std::int64_t>(rit->second->created.size()));
    rit->second->oldest_ms.store(*rit->second->created.begin());
    q.items.insert(pos, std::move(p));
  }
  schedule(row->item.route, row->item.target);
  wake_.cancel();
  co_return Result<void>{};
}

awaitable<Result<void>> Dispatcher::cancel(std::int64_t id) {
  auto row = co_await boost::asio::co_spawn(store_pool_, get_row(&store_, id), use_awaitable);
  if (!row) co_return fail("outbox.not_found", fmt::format("没有编号为 {} 的消息", id));
  auto rit = routes_.find(row->item.route);
  if (rit != routes_.end()) {
    auto& q = rit->second->targets[row->item.target];
    if (q.busy && !q.items.empty() && q.items.front().item.id == id)
      co_return fail("outbox.bad_state", fmt::format("消息 {} 正在发送，不能取消", id));
  }
  bool ok = co_await boost::asio::co_spawn(store_pool_, cancel_row(&store_, id, now_ms()), use_awaitable);
  if (!ok) co_return fail("outbox.bad_state", fmt::format("消息 {} 状态为 {}，不能取消", id, model::to_string(row->state)));
  if (rit != routes_.end()) {
    auto& q = rit->second->targets[row->item.target];
    for (auto it = q.items.begin(); it != q.items.end(); ++it)
      if (it->item.id == id && !(q.busy && it == q.items.begin())) {
        remove_pending(*rit->second, it->created_ms);
        q.items.erase(it);
        break;
      }
  }
  co_return Result<void>{};
}

}  // namespace yuer::outbox
