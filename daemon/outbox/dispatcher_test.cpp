// The dispatcher with a real SQLite outbox store, a ManualClock and a recording channel (the
// outbound seam's fake: it records what was sent, when, and answers from a script).
#include "daemon/outbox/dispatcher.h"

#include "daemon/store/outbox_store.h"
#include "tests/support/process.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <thread>

namespace yuer::outbox {
namespace {

using model::OutboxState;
using model::SendOutcome;
using namespace std::chrono_literals;

struct Sent {
  std::string target;
  std::string content;
  std::int64_t at_ms;
};

class RecordingChannel final : public model::OutboundChannel {
 public:
  RecordingChannel(const Clock& clock, model::ChannelLimits limits, std::string route = "fake")
      : clock_(clock), limits_(std::move(limits)), route_(std::move(route)) {}
  std::string route() const override { return route_; }
  model::ChannelLimits limits() const override { return limits_; }
  bool knows_target(const std::string& target) const override { return target != "nobody"; }
  awaitable<SendOutcome> send(model::OutboxItem item) override {
    ++attempts[item.content];
    if (on_send) on_send(item);
    if (auto it = script.find(item.content); it != script.end() && !it->second.empty()) {
      auto o = it->second.front();
      it->second.erase(it->second.begin());
      if (o.kind != model::OutcomeKind::kDelivered) co_return o;
    }
    sent.push_back({item.target, item.content,
                    std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count()});
    co_return SendOutcome::delivered("msg" + std::to_string(item.id));
  }

  void set_target_ready(TargetReady r) override { ready = std::move(r); }

  std::vector<Sent> sent;
  TargetReady ready;
  std::map<std::string, int> attempts;
  std::map<std::string, std::vector<SendOutcome>> script;  // by content: outcomes before success
  std::function<void(const model::OutboxItem&)> on_send;   // called at the start of every attempt

 private:
  const Clock& clock_;
  model::ChannelLimits limits_;
  std::string route_;
};

model::ChannelLimits test_limits() {
  model::ChannelLimits l;
  l.per_target = {{3, 60000ms}};
  l.text_max_bytes = 100;
  return l;
}

struct Harness {
  test::TempDir dir;
  ManualClock clock;
  metrics::Registry registry;
  boost::asio::io_context ioc;
  boost::asio::thread_pool pool{1};
  std::unique_ptr<store::OutboxStore> store;
  RecordingChannel channel{clock, test_limits()};
  std::unique_ptr<Dispatcher> dispatcher;
  std::future<void> running;

  explicit Harness(Settings settings = {}) {
    store::Settings s;
    s.path = dir.path() + "/outbox.db";
    s.synchronous = "normal";
    store = open_sqlite_outbox_store(s).value();
    settings.backoff_base = 1000ms;
    settings.backoff_max = 8000ms;
    dispatcher = std::make_unique<Dispatcher>(ioc.get_executor(), pool, *store, clock, registry, settings);
    dispatcher->add_channel(channel);
  }
  ~Harness() {
    if (running.valid()) {
      dispatcher->stop();
      run_until([&] { return running.wait_for(0ms) == std::future_status::ready; });
    }
    pool.join();
  }

  void start() {
    running = boost::asio::co_spawn(ioc, dispatcher->run(), boost::asio::use_future);
    settle();
  }

  // Runs the io loop until `done` or 10 s pass (store calls hop to the pool thread).
  bool run_until(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      ioc.restart();
      ioc.run_for(2ms);
    }
    return true;
  }
  // Runs until nothing is in flight and the loop had a moment to start what is due.
  void settle() {
    for (int i = 0; i < 3; ++i) {
      run_until([&] { return dispatcher->in_flight() == 0; });
      ioc.restart();
      ioc.run_for(10ms);
    }
    run_until([&] { return dispatcher->in_flight() == 0; });
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    dispatcher->poke();
    settle();
  }

  Result<Enqueued> enqueue(std::string target, std::string content, std::string key = {},
                           std::int64_t expire_at_ms = 0) {
    EnqueueRequest r;
    r.route = "fake";
    r.target = std::move(target);
    r.content = std::move(content);
    r.idempotency_key = key.empty() ? r.target + ":" + r.content : key;
    r.expire_at_ms = expire_at_ms;
    return enqueue_request(std::move(r));
  }
  Result<Enqueued> enqueue_request(EnqueueRequest r) {
    auto f = boost::asio::co_spawn(ioc, dispatcher->enqueue(std::move(r)), boost::asio::use_future);
    REQUIRE(run_until([&] { return f.wait_for(0ms) == std::future_status::ready; }));
    return f.get();
  }
  store::OutboxRow row(std::int64_t id) { return *store->get(id); }
};

std::vector<std::string> contents_for(const RecordingChannel& c, const std::string& target) {
  std::vector<std::string> out;
  for (const auto& s : c.sent)
    if (s.target == target) out.push_back(s.content);
  return out;
}

TEST_CASE("dispatcher: order per target, targets in parallel, pacing per target", "[outbox][dispatcher]") {
  Harness h;
  h.start();
  for (int i = 1; i <= 7; ++i) REQUIRE(h.enqueue("A", "a" + std::to_string(i)).has_value());
  for (int i = 1; i <= 2; ++i) REQUIRE(h.enqueue("B", "b" + std::to_string(i)).has_value());
  h.settle();
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"a1", "a2", "a3"});
  CHECK(contents_for(h.channel, "B") == std::vector<std::string>{"b1", "b2"});
  h.advance(59s);
  CHECK(contents_for(h.channel, "A").size() == 3);
  h.advance(1s);
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"a1", "a2", "a3", "a4", "a5", "a6"});
  h.advance(60s);
  CHECK(contents_for(h.channel, "A").size() == 7);
  CHECK(h.dispatcher->depth("fake") == 0);
  CHECK(h.row(1).state == OutboxState::kSent);
  CHECK(h.row(1).remote_id == "msg1");
  CHECK(h.registry.render().find("yuer_outbox_sends_total{route=\"fake\",result=\"delivered\"} 9") != std::string::npos);
}

TEST_CASE("dispatcher: transient errors back off and keep the target's order", "[outbox][dispatcher]") {
  Harness h;
  h.channel.script["first"] = {SendOutcome::retry(0ms, -1, "busy"), SendOutcome::retry(0ms, -1, "busy")};
  h.start();
  auto first = h.enqueue("A", "first").value();
  h.enqueue("A", "second").value();
  h.settle();
  CHECK(h.channel.attempts["first"] == 1);
  CHECK(h.channel.sent.empty());  // "second" waits behind "first"
  auto waiting = h.row(first.ids[0]);
  CHECK(waiting.state == OutboxState::kQueued);
  CHECK(waiting.item.attempts == 1);
  CHECK(waiting.last_errcode == -1);
  h.advance(1s);  // first backoff is 0.5-1 s
  CHECK(h.channel.attempts["first"] == 2);
  h.advance(2s);  // second backoff is 1-2 s
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"first"});
  // Failed attempts count against the per-target window too (conservative): 3 in this minute.
  h.advance(60s);
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"first", "second"});
  CHECK(h.row(first.ids[0]).item.attempts == 3);
  CHECK(h.row(first.ids[0]).state == OutboxState::kSent);
}

TEST_CASE("dispatcher: permanent errors end failed with the reason, the next message goes", "[outbox][dispatcher]") {
  Harness h;
  h.channel.script["bad"] = {SendOutcome::permanent(93000, "机器人已被移出群聊")};
  h.start();
  auto bad = h.enqueue("A", "bad").value();
  h.enqueue("A", "good").value();
  h.settle();
  auto row = h.row(bad.ids[0]);
  CHECK(row.state == OutboxState::kFailed);
  CHECK(row.last_errcode == 93000);
  CHECK(row.last_reason == "机器人已被移出群聊");
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"good"});
}

TEST_CASE("dispatcher: too many transient failures end failed", "[outbox][dispatcher]") {
  Settings s;
  s.max_attempts = 3;
  Harness h(s);
  h.channel.script["x"] = std::vector<SendOutcome>(5, SendOutcome::retry(0ms, 45009, "频率限制"));
  h.start();
  auto id = h.enqueue("A", "x").value().ids[0];
  for (int i = 0; i < 4; ++i) h.advance(10s);
  CHECK(h.channel.attempts["x"] == 3);
  auto row = h.row(id);
  CHECK(row.state == OutboxState::kFailed);
  CHECK(row.last_reason.find("重试 3 次") != std::string::npos);
}

TEST_CASE("dispatcher: rows left sending by a crash are sent again and counted", "[outbox][dispatcher][crash]") {
  Harness h;
  auto ids = h.store->enqueue({{{0, "fake", "A", model::ContentKind::kText, "one", "k1", 1, 1, 0}, 0},
                               {{0, "fake", "A", model::ContentKind::kText, "two", "k2", 1, 1, 0}, 0}},
                              1000);
  h.store->mark_sending({ids[0].id}, 1000);  // the crash happened during this attempt
  h.start();
  h.settle();
  CHECK(h.dispatcher->resent_after_crash() == 1);
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"one", "two"});
  CHECK(h.row(ids[0].id).resends == 1);
  CHECK(h.row(ids[0].id).item.attempts == 2);
  CHECK(h.row(ids[1].id).resends == 0);
}

TEST_CASE("dispatcher: long content is split into numbered parts sent in order", "[outbox][dispatcher][split]") {
  Harness h;
  h.start();
  std::string text;
  for (int i = 0; i < 10; ++i) text += "第" + std::to_string(i) + "段：按需喂养。\n\n";
  auto e = h.enqueue("A", text, "lesson-1").value();
  REQUIRE(e.ids.size() > 1);
  h.advance(60s);
  h.advance(60s);
  auto got = contents_for(h.channel, "A");
  REQUIRE(got.size() == e.ids.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].size() <= 100);
    CHECK(got[i].rfind("(" + std::to_string(i + 1) + "/", 0) == 0);
  }
  CHECK(h.row(e.ids[0]).item.idempotency_key == "lesson-1#1/" + std::to_string(e.ids.size()));
}

TEST_CASE("dispatcher: a template card is never split, and a route without cards refuses it", "[outbox][dispatcher][split]") {
  model::ChannelLimits with_cards = test_limits();
  with_cards.card_max_bytes = 300;
  ManualClock card_clock;
  RecordingChannel cards{card_clock, with_cards, "cards"};  // outlives the dispatcher in `h`
  Harness h;
  h.dispatcher->add_channel(cards);
  h.start();
  const std::string card = R"({"card_type":"button_interaction","task_id":"t1","main_title":{"title":")" +
                           std::string(150, 'x') + R"("}})";  // longer than text_max_bytes (100)
  auto request = [&](std::string route, std::string content, std::string key) {
    EnqueueRequest r;
    r.route = std::move(route);
    r.target = "A";
    r.kind = model::ContentKind::kTemplateCard;
    r.content = std::move(content);
    r.idempotency_key = std::move(key);
    return h.enqueue_request(std::move(r));
  };
  auto whole = request("cards", card, "card-1");
  REQUIRE(whole.has_value());
  CHECK(whole->ids.size() == 1u);
  h.settle();
  REQUIRE(contents_for(cards, "A") == std::vector<std::string>{card});
  CHECK(h.row(whole->ids[0]).item.kind == model::ContentKind::kTemplateCard);
  CHECK(h.row(whole->ids[0]).item.idempotency_key == "card-1");
  auto big = request("cards", card + std::string(200, ' '), "card-2");
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code == "outbox.too_long");
  auto none = request("fake", card, "card-3");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == "outbox.unsupported_kind");
  CHECK(h.channel.sent.empty());
}

TEST_CASE("dispatcher: refusals, duplicates and expiry", "[outbox][dispatcher]") {
  Harness h;
  h.start();
  auto unknown = h.enqueue("nobody", "x");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == "outbox.unknown_target");
  REQUIRE_FALSE(h.enqueue("A", "").has_value());

  auto first = h.enqueue("A", "same", "key-1").value();
  auto again = h.enqueue("A", "same", "key-1").value();
  CHECK_FALSE(first.duplicate);
  CHECK(again.duplicate);
  CHECK(again.ids == first.ids);

  const std::int64_t past = h.clock.unix_seconds() * 1000 - 1;
  auto old = h.enqueue("B", "stale", "key-2", past).value();
  h.settle();
  CHECK(h.row(old.ids[0]).state == OutboxState::kExpired);
  CHECK(contents_for(h.channel, "B").empty());
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"same"});
}

TEST_CASE("dispatcher: admin cancel and retry", "[outbox][dispatcher][admin]") {
  Harness h;
  h.channel.script["p"] = {SendOutcome::permanent(40058, "参数无效")};
  h.start();
  for (int i = 1; i <= 3; ++i) h.enqueue("A", "m" + std::to_string(i)).value();
  auto waiting = h.enqueue("A", "m4").value().ids[0];  // 4th: waits for the per-target window
  auto failed = h.enqueue("C", "p").value().ids[0];
  h.settle();
  auto run = [&](awaitable<Result<void>> a) {
    auto f = boost::asio::co_spawn(h.ioc, std::move(a), boost::asio::use_future);
    REQUIRE(h.run_until([&] { return f.wait_for(0ms) == std::future_status::ready; }));
    return f.get();
  };
  CHECK(run(h.dispatcher->cancel(waiting)).has_value());
  CHECK(h.row(waiting).state == OutboxState::kCancelled);
  CHECK_FALSE(run(h.dispatcher->cancel(1)).has_value());  // already sent
  CHECK(h.row(failed).state == OutboxState::kFailed);
  h.channel.script["p"].clear();
  CHECK(run(h.dispatcher->retry(failed)).has_value());
  h.settle();
  CHECK(h.row(failed).state == OutboxState::kSent);
  h.advance(60s);
  CHECK(contents_for(h.channel, "A").size() == 3);
}

}  // namespace
}  // namespace yuer::outbox

namespace yuer::outbox {

TEST_CASE("dispatcher: a waiting message keeps its place, counts no attempt, goes when its target is ready",
          "[outbox][dispatcher]") {
  Harness h;
  h.channel.script["w1"] = {SendOutcome::wait(95002, "窗口已关闭"), SendOutcome::wait(95002, "窗口已关闭")};
  h.start();
  REQUIRE(h.channel.ready);
  auto w1 = h.enqueue("A", "w1").value();
  h.enqueue("A", "w2").value();
  h.enqueue("B", "b1").value();
  h.settle();
  CHECK(h.channel.attempts["w1"] == 1);
  CHECK(contents_for(h.channel, "A").empty());   // w2 waits behind w1
  CHECK(contents_for(h.channel, "B").size() == 1);  // other targets go on
  auto row = h.row(w1.ids[0]);
  CHECK(row.state == OutboxState::kQueued);
  CHECK(row.item.attempts == 0);
  CHECK(row.last_errcode == 95002);
  CHECK(row.last_reason == "窗口已关闭");

  h.advance(std::chrono::hours(24));  // no polling while waiting
  CHECK(h.channel.attempts["w1"] == 1);

  h.channel.ready("A");  // still closed: waits again
  h.settle();
  CHECK(h.channel.attempts["w1"] == 2);
  CHECK(contents_for(h.channel, "A").empty());

  h.channel.ready("nobody-waits-here");  // unknown targets are ignored
  h.channel.ready("A");
  h.settle();
  CHECK(contents_for(h.channel, "A") == std::vector<std::string>{"w1", "w2"});
  CHECK(h.row(w1.ids[0]).state == OutboxState::kSent);
  CHECK(h.row(w1.ids[0]).item.attempts == 1);
  CHECK(h.registry.render().find("yuer_outbox_sends_total{route=\"fake\",result=\"wait\"} 2") != std::string::npos);
}

TEST_CASE("dispatcher: a waiting message expires at its expire_at with the reason it waited for",
          "[outbox][dispatcher]") {
  Harness h;
  h.channel.script["late"] = {SendOutcome::wait(0, "家长 48 小时内没有再发消息")};
  h.start();
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(h.clock.now().time_since_epoch()).count();
  auto late = h.enqueue("A", "late", {}, now + 5000).value();
  h.settle();
  CHECK(h.row(late.ids[0]).state == OutboxState::kQueued);
  h.advance(4s);
  CHECK(h.row(late.ids[0]).state == OutboxState::kQueued);
  CHECK(h.channel.attempts["late"] == 1);
  h.advance(1s);
  auto row = h.row(late.ids[0]);
  CHECK(row.state == OutboxState::kExpired);
  CHECK(row.last_reason == "超过有效期，未发送：家长 48 小时内没有再发消息");
  CHECK(row.item.attempts == 0);
  CHECK(h.channel.attempts["late"] == 1);
  CHECK(h.channel.sent.empty());
}

}  // namespace yuer::outbox

namespace yuer::outbox {

// Issue 7 (survey e2e flake): the kf route answered "wait" (the parent's window had not moved
// yet), and KfSync's wake for that parent reached the dispatcher while the wait result was being
// committed. The wake was counted but the head was left waiting anyway: the parent, who waits for
// our answer, never wrote again, and the reply stayed queued for good.
TEST_CASE("dispatcher: a wake that arrives while a wait result is committed is not lost", "[outbox][dispatcher][wake]") {
  Harness h;
  h.channel.script["r1"] = {SendOutcome::wait(0, "家长还没有给客服发过消息")};
  int posted = 0;
  // The wake is posted to the io thread during the attempt: it runs after send() has answered,
  // while deliver() waits for the store to commit the result (the store hop lets it run).
  h.channel.on_send = [&](const model::OutboxItem& item) {
    if (item.content != "r1" || posted > 0) return;
    ++posted;
    boost::asio::post(h.ioc, [&] { h.channel.ready("P"); });
  };
  h.start();
  auto r1 = h.enqueue("P", "r1").value();
  h.settle();
  CHECK(posted == 1);
  CHECK(h.channel.attempts["r1"] == 2);  // tried again at once, without another wake
  CHECK(contents_for(h.channel, "P") == std::vector<std::string>{"r1"});
  CHECK(h.row(r1.ids[0]).state == OutboxState::kSent);
}

}  // namespace yuer::outbox
