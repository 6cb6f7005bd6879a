// CallbackEndpoint with a recording Inbox: what is acknowledged, what is stored, what is refused.
#include "adapters/wecom/callback_endpoint.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace yuer;
using namespace yuer::adapters::wecom;

namespace {

constexpr const char* kToken = "QDG6eK";
constexpr const char* kKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
constexpr const char* kCorp = "wx5823bf96d3bd56c7";

// Records every accepted event; fails while `fail_next` > 0, like a full disk.
class RecordingInbox final : public model::Inbox {
 public:
  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override {
    if (fail_next > 0) {
      --fail_next;
      co_return fail("store.unavailable", "store.full: disk full");
    }
    for (std::size_t i = 0; i < events.size(); ++i)
      if (events[i].dedupe_key == event.dedupe_key) co_return model::Accepted{static_cast<std::int64_t>(i + 1), true};
    events.push_back(std::move(event));
    co_return model::Accepted{static_cast<std::int64_t>(events.size()), false};
  }
  std::vector<model::InboundEvent> events;
  int fail_next = 0;
};

struct Harness {
  ManualClock clock{1409659813};
  metrics::Registry metrics;
  RecordingInbox inbox;
  std::unique_ptr<CallbackEndpoint> endpoint;
  MsgCrypt crypt = MsgCrypt::create(kToken, kKey, kCorp).value();

  Harness() {
    ReceiverConfig c{"app", "app", EnvelopeFormat::kXml, kToken, kKey, kCorp, 300, 1000};
    endpoint = CallbackEndpoint::create(c, inbox, clock, metrics).value();
  }

  http::Response send(http::Verb verb, const std::string& target, const std::string& body = {}) {
    http::Request req{verb, target, 11};
    req.body() = body;
    req.prepare_payload();
    boost::asio::io_context ioc;
    auto fut = boost::asio::co_spawn(ioc, endpoint->handle(std::move(req)), boost::asio::use_future);
    ioc.run();
    return fut.get();
  }

  std::pair<std::string, std::string> signed_post(const std::string& plain, const std::string& nonce) {
    std::string ts = std::to_string(clock.unix_seconds());
    std::string enc = crypt.encrypt(plain);
    return {"/wecom/callback/app?msg_signature=" + crypt.signature(ts, nonce, enc) + "&timestamp=" + ts +
                "&nonce=" + nonce,
            "<xml><ToUserName><![CDATA[" + std::string(kCorp) + "]]></ToUserName><Encrypt><![CDATA[" + enc +
                "]]></Encrypt></xml>"};
  }
};

const std::string kText =
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>";

}  // namespace

TEST_CASE("official V1 GET and POST vectors pass through the endpoint", "[adapters][wecom][callback]") {
  Harness h;
  h.clock.set_unix_seconds(1409659589);
  auto get = h.send(http::Verb::get,
                    "/wecom/callback/app?msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589"
                    "&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPc"
                    "s8TgAE7OaBO%2BFZXvnaqQ%3D%3D");
  CHECK(get.result_int() == 200);
  CHECK(get.body() == "1616140317555161061");

  h.clock.set_unix_seconds(1409659813);
  const std::string encrypt =
      "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
      "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
      "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3L"
      "AVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3K"
      "DYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
  auto post = h.send(http::Verb::post,
                     "/wecom/callback/app?msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813"
                     "&nonce=1372623149",
                     "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[" + encrypt +
                         "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>");
  CHECK(post.result_int() == 200);
  CHECK(post.body().empty());
  REQUIRE(h.inbox.events.size() == 1);
  const auto& e = h.inbox.events[0];
  CHECK(e.payload == kText);
  CHECK(e.dedupe_key == "msg:4561255354251345929");
  CHECK(e.kind == "text");
  CHECK(e.from_user == "mycreate");
  CHECK(e.created_at == 1409659813);
  CHECK(e.receiver == "app");
}

TEST_CASE("a store failure answers 503 and the retry is then stored", "[adapters][wecom][callback]") {
  Harness h;
  h.inbox.fail_next = 1;
  auto [target, body] = h.signed_post(kText, "1");
  CHECK(h.send(http::Verb::post, target, body).result_int() == 503);
  CHECK(h.inbox.events.empty());
  // The same signed request again is not mistaken for an acknowledged replay.
  CHECK(h.send(http::Verb::post, target, body).result_int() == 200);
  CHECK(h.inbox.events.size() == 1);
  // And once acknowledged, a replay is answered without reaching the inbox.
  h.inbox.fail_next = 1;
  CHECK(h.send(http::Verb::post, target, body).result_int() == 200);
  CHECK(h.inbox.fail_next == 1);
  CHECK(h.metrics.render().find("result=\"replay\"} 1") != std::string::npos);
}

TEST_CASE("refusals by status and reason", "[adapters][wecom][callback]") {
  Harness h;
  auto [target, body] = h.signed_post(kText, "1");
  struct Case {
    const char* label;
    http::Verb verb;
    std::string target;
    std::string body;
    unsigned status;
    const char* code;
  };
  std::vector<Case> cases = {
      {"PUT", http::Verb::put, target, body, 405, "callback.bad_method"},
      {"no query", http::Verb::post, "/wecom/callback/app", body, 400, "callback.bad_query"},
      {"short signature", http::Verb::post, "/wecom/callback/app?msg_signature=ab&timestamp=1&nonce=1", body, 400,
       "callback.bad_query"},
      {"timestamp not a number", http::Verb::post,
       "/wecom/callback/app?msg_signature=" + std::string(40, 'a') + "&timestamp=12x&nonce=1", body, 400,
       "callback.bad_query"},
      {"empty body", http::Verb::post, target, "", 400, "callback.bad_envelope"},
      {"GET without echostr", http::Verb::get, target, "", 400, "callback.bad_query"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto rsp = h.send(c.verb, c.target, c.body);
    CHECK(rsp.result_int() == c.status);
    CHECK(rsp.body().find(c.code) != std::string::npos);
  }
  CHECK(h.inbox.events.empty());
}

TEST_CASE("signed but unparseable payloads are refused, not stored", "[adapters][wecom][callback]") {
  struct Case {
    const char* label;
    std::string plain;
    const char* code;
  };
  const Case cases[] = {
      {"no MsgType", "<xml><Content>no MsgType</Content></xml>", "callback.bad_payload"},
      {"overlong UTF-8 in Content", "<xml><MsgType>text</MsgType><Content>\xc0\x80</Content><MsgId>1</MsgId></xml>",
       "callback.not_utf8"},
      {"Latin-1 byte in Content", "<xml><MsgType>text</MsgType><Content>caf\xe9</Content><MsgId>2</MsgId></xml>",
       "callback.not_utf8"},
  };
  Harness h;
  int nonce = 7;
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto [target, body] = h.signed_post(c.plain, std::to_string(nonce++));
    auto rsp = h.send(http::Verb::post, target, body);
    CHECK(rsp.result_int() == 400);
    CHECK(rsp.body().find(c.code) != std::string::npos);
  }
  CHECK(h.inbox.events.empty());
  CHECK(h.metrics.render().find("yuer_callback_rejects_total{receiver=\"app\",reason=\"not_utf8\"} 2") !=
        std::string::npos);
}

TEST_CASE("rekey swaps secrets, bad new secrets keep the old ones", "[adapters][wecom][callback]") {
  Harness h;
  CHECK_FALSE(h.endpoint->rekey("tok", "short").has_value());
  auto [target, body] = h.signed_post(kText, "1");
  CHECK(h.send(http::Verb::post, target, body).result_int() == 200);
  const std::string new_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
  REQUIRE(h.endpoint->rekey("NewToken", new_key).has_value());
  auto [t2, b2] = h.signed_post(kText, "2");  // still signed with the old secrets
  CHECK(h.send(http::Verb::post, t2, b2).result_int() == 403);
  h.crypt = MsgCrypt::create("NewToken", new_key, kCorp).value();
  auto [t3, b3] = h.signed_post(kText, "3");
  CHECK(h.send(http::Verb::post, t3, b3).result_int() == 200);
}

// parse_query splits plain targets itself and leaves anything with '%' or '+' (or other bytes)
// to Boost.URL; both ways must read the same parameters.
TEST_CASE("query parameters read the same with and without percent-encoding", "[adapters][wecom][callback]") {
  Harness h;
  const std::string ts = std::to_string(h.clock.unix_seconds());
  const std::string enc = h.crypt.encrypt(kText);
  const std::string body = "<xml><ToUserName><![CDATA[" + std::string(kCorp) + "]]></ToUserName><Encrypt><![CDATA[" +
                           enc + "]]></Encrypt></xml>";
  auto sig = [&](const std::string& nonce) { return h.crypt.signature(ts, nonce, enc); };
  struct Case {
    const char* label;
    std::string target;
    unsigned status;
  };
  std::vector<Case> cases = {
      {"plain", "/wecom/callback/app?msg_signature=" + sig("n1") + "&timestamp=" + ts + "&nonce=n1", 200},
      {"percent-encoded key and value", "/wecom/callback/app?msg_%73ignature=" + sig("n2") + "&timestamp=" + ts +
                                            "&nonce=%6E2",
       200},
      {"unknown and empty parameters", "/wecom/callback/app?&x&msg_signature=" + sig("n3") + "&y=1=2&timestamp=" +
                                           ts + "&&nonce=n3&",
       200},
      {"last of a repeated key counts", "/wecom/callback/app?nonce=zz&msg_signature=" + sig("n4") +
                                            "&timestamp=" + ts + "&nonce=n4",
       200},
      {"'+' is form-decoded to a space", "/wecom/callback/app?msg_signature=" + sig("a b") + "&timestamp=" + ts +
                                             "&nonce=a+b",
       200},
      {"key without '='", "/wecom/callback/app?msg_signature=" + sig("n5") + "&timestamp=" + ts + "&nonce", 400},
      {"bad percent-escape", "/wecom/callback/app?msg_signature=" + sig("n6") + "&timestamp=" + ts + "&nonce=%zz",
       400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    CHECK(h.send(http::Verb::post, c.target, body).result_int() == c.status);
  }
  // All 200s carried the same MsgId: one stored event, the rest duplicates.
  CHECK(h.inbox.events.size() == 1);
}

namespace {

// A thread-safe recording inbox (the daemon's GroupCommitInbox is; RecordingInbox above is not).
class LockedInbox final : public model::Inbox {
 public:
  boost::asio::awaitable<Result<model::Accepted>> accept(model::InboundEvent event) override {
    std::lock_guard lock(mu);
    ++calls;
    for (std::size_t i = 0; i < events.size(); ++i)
      if (events[i].dedupe_key == event.dedupe_key) co_return model::Accepted{static_cast<std::int64_t>(i + 1), true};
    events.push_back(std::move(event));
    co_return model::Accepted{static_cast<std::int64_t>(events.size()), false};
  }
  std::mutex mu;
  std::vector<model::InboundEvent> events;
  int calls = 0;
};

std::string text_with_msgid(int id) {
  return "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[u]]></FromUserName>"
         "<CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 " +
         std::to_string(id) + "]]></Content><MsgId>" + std::to_string(id) + "</MsgId><AgentID>218</AgentID></xml>";
}

// Sends every request of `requests` through `endpoint` in one coroutine, recording statuses.
boost::asio::awaitable<void> send_all(CallbackEndpoint* endpoint, std::vector<std::pair<std::string, std::string>> requests,
                                      std::vector<unsigned>* statuses) {
  for (auto& [target, body] : requests) {
    http::Request req{http::Verb::post, target, 11};
    req.body() = body;
    req.prepare_payload();
    auto res = co_await endpoint->handle(std::move(req));
    statuses->push_back(res.result_int());
  }
}

}  // namespace

// The endpoint runs on every io thread of the server at once. Each of 4 threads sends the same
// 200 signed requests (so every request races its copies on the other threads) plus 50 of its
// own, while the main thread rekeys with the same secrets (SIGHUP). Run under ASan/UBSan (and
// TSan when built so).
TEST_CASE("the endpoint serves several threads at once, each event stored once", "[adapters][wecom][callback]") {
  ManualClock clock{1409659813};
  metrics::Registry metrics;
  LockedInbox inbox;
  ReceiverConfig c{"app", "app", EnvelopeFormat::kXml, kToken, kKey, kCorp, 300, 100000};
  auto endpoint = CallbackEndpoint::create(c, inbox, clock, metrics).value();
  MsgCrypt crypt = MsgCrypt::create(kToken, kKey, kCorp).value();
  auto sign = [&](int msgid, const std::string& nonce) {
    std::string ts = std::to_string(clock.unix_seconds());
    std::string enc = crypt.encrypt(text_with_msgid(msgid));
    return std::pair<std::string, std::string>{
        "/wecom/callback/app?msg_signature=" + crypt.signature(ts, nonce, enc) + "&timestamp=" + ts + "&nonce=" + nonce,
        "<xml><ToUserName><![CDATA[" + std::string(kCorp) + "]]></ToUserName><Encrypt><![CDATA[" + enc +
            "]]></Encrypt></xml>"};
  };
  constexpr int kThreads = 4;
  constexpr int kShared = 200;
  constexpr int kOwn = 50;
  std::vector<std::pair<std::string, std::string>> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(sign(i, "s" + std::to_string(i)));

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<std::vector<unsigned>> statuses(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    auto requests = shared;
    for (int i = 0; i < kOwn; ++i) requests.push_back(sign(1000 + t * kOwn + i, "o" + std::to_string(t * kOwn + i)));
    // Each coroutine sends a share of the requests, so several are in flight per thread.
    for (int part = 0; part < 4; ++part) {
      std::vector<std::pair<std::string, std::string>> mine;
      for (std::size_t i = part; i < requests.size(); i += 4) mine.push_back(requests[i]);
      boost::asio::co_spawn(*contexts.back(), send_all(endpoint.get(), std::move(mine), &statuses[t]),
                            boost::asio::detached);
    }
  }
  std::vector<std::thread> threads;
  for (auto& ctx : contexts) threads.emplace_back([ctx = ctx.get()] { ctx->run(); });
  for (int i = 0; i < 20; ++i) REQUIRE(endpoint->rekey(kToken, kKey).has_value());
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    REQUIRE(statuses[t].size() == kShared + kOwn);
    for (auto s : statuses[t]) CHECK(s == 200);
  }
  // Each distinct MsgId once; the copies were acknowledged as duplicates or replays.
  CHECK(inbox.events.size() == kShared + kThreads * kOwn);
  std::set<std::string> keys;
  for (const auto& e : inbox.events) keys.insert(e.dedupe_key);
  CHECK(keys.size() == inbox.events.size());
  auto& stored = metrics.counter("yuer_callback_accepted_total", "", {{"receiver", "app"}, {"result", "stored"}});
  auto& dup = metrics.counter("yuer_callback_accepted_total", "", {{"receiver", "app"}, {"result", "duplicate"}});
  auto& replay = metrics.counter("yuer_callback_accepted_total", "", {{"receiver", "app"}, {"result", "replay"}});
  CHECK(stored.value() == kShared + kThreads * kOwn);
  CHECK(stored.value() + dup.value() + replay.value() == static_cast<std::uint64_t>(kThreads * (kShared + kOwn)));
}
