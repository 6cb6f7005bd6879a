// The sandbox over real sockets: SandboxServer on 127.0.0.1:0 in-process, a stand-in callback
// receiver (another HttpServer) that checks the signature and decrypts with MsgCrypt, so the
// callbacks are proven byte-correct; faults through HTTP. No timing assertions.
#include "tests/sandbox/server.h"

#include "adapters/wecom/crypto.h"
#include "daemon/net/http_client.h"
#include "daemon/net/http_test_support.h"
#include "tests/sandbox/callbacks.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <mutex>
#include <set>
#include <thread>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using adapters::wecom::MsgCrypt;

const char* kCorp = "wwsrvtest01";
const char* kToken = "CallbackTok9";
const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

std::string fixture_json(const std::string& callback_url) {
  return json{{"corp", {{"corp_id", kCorp}}},
              {"apps", {{{"agent_id", 1000002}, {"secret", "s3cret"}, {"token", kToken}, {"aes_key", kAesKey},
                         {"callback_url", callback_url}}}},
              {"members", {{{"userid", "Alice"}}, {{"userid", "Bob"}}}},
              {"internal_groups", {{{"chat_id", "wrmgmt"}, {"owner", "Alice"}, {"members", {"Alice", "Bob"}},
                                    {"robots", {{{"key", "rk-1"}}}}}}}}
      .dump();
}

// The sandbox in-process with its own io thread.
class RunningSandbox {
 public:
  explicit RunningSandbox(const std::string& callback_url, Settings settings = {})
      : sandbox_(parse_fixture(fixture_json(callback_url)).value(), clock_, settings),
        server_(ioc_, sandbox_, "127.0.0.1:0", registry_) {
    auto ep = server_.start();
    if (!ep) throw std::runtime_error(ep.error().message);
    port_ = ep->port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~RunningSandbox() {
    auto done = asio::co_spawn(ioc_, server_.stop(0ms), asio::use_future);
    done.wait_for(10s);
    ioc_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  json post(const std::string& path, const std::string& body, unsigned* status = nullptr) {
    auto r = net::http_request(http::Verb::post, url(path), body, {}, 60s);
    REQUIRE(r.has_value());
    if (status) *status = r->status;
    return r->body.empty() ? json() : json::parse(r->body);
  }
  json get(const std::string& path) {
    auto r = net::http_request(http::Verb::get, url(path), {}, {}, 10s);
    REQUIRE(r.has_value());
    return json::parse(r->body);
  }

 private:
  SystemClock clock_;
  Sandbox sandbox_;
  asio::io_context ioc_;
  metrics::Registry registry_;
  SandboxServer server_;
  unsigned short port_ = 0;
  std::thread thread_;
};

// What the stand-in receiver saw: decrypted plaintexts (or the verification failure).
struct Receiver {
  std::mutex mu;
  std::vector<std::string> plaintexts;
  std::vector<std::string> failures;
  int fail_first = 0;        // answer 500 to this many deliveries first
  int slow_first = 0;        // or sleep 2 s (past the sandbox's timeout) on this many first
  bool wrong_echo = false;   // answer the URL verification with the wrong text
  std::string reply_xml;     // answer messages with this passive reply (encrypted), if set
  bool bad_reply_signature = false;
  int calls = 0;
};

awaitable<http::Response> receive(Receiver* rx, http::Request req) {
  auto crypt = MsgCrypt::create(kToken, kAesKey, kCorp).value();
  Target t = parse_target(req.target());
  auto sig = t.param("msg_signature").value_or("");
  auto ts = t.param("timestamp").value_or("");
  auto nonce = t.param("nonce").value_or("");
  int call = 0;
  {
    std::lock_guard lock(rx->mu);
    call = ++rx->calls;
  }
  std::string encrypted;
  if (req.method() == http::Verb::get) {
    encrypted = t.param("echostr").value_or("");
  } else {
    pugi::xml_document doc;
    if (!doc.load_buffer(req.body().data(), req.body().size())) {
      std::lock_guard lock(rx->mu);
      rx->failures.push_back("envelope is not XML");
      co_return http::make_response(req, http::Status::bad_request, "");
    }
    auto xml = doc.child("xml");
    encrypted = xml.child_value("Encrypt");
    if (std::string(xml.child_value("ToUserName")) != kCorp || std::string(xml.child_value("AgentID")) != "1000002") {
      std::lock_guard lock(rx->mu);
      rx->failures.push_back("envelope ToUserName/AgentID");
    }
  }
  auto plain = crypt.verify_and_decrypt(sig, ts, nonce, encrypted);
  bool wrong_echo = false;
  {
    // Never hold the lock across a co_await: the next delivery runs on this same io thread.
    std::lock_guard lock(rx->mu);
    if (plain) rx->plaintexts.push_back(*plain);
    else rx->failures.push_back(plain.error().code);
    wrong_echo = rx->wrong_echo;
  }
  if (!plain) co_return http::make_response(req, http::Status::forbidden, "");
  if (req.method() == http::Verb::get)
    co_return http::make_response(req, http::Status::ok, wrong_echo ? "wrong" : *plain);
  if (call <= rx->fail_first) co_return http::make_response(req, http::Status::internal_server_error, "");
  std::string reply_xml;
  bool bad_signature = false;
  {
    std::lock_guard lock(rx->mu);
    reply_xml = rx->reply_xml;
    bad_signature = rx->bad_reply_signature;
  }
  if (!reply_xml.empty()) {
    std::string envelope = adapters::wecom::xml_reply_envelope(crypt, reply_xml, ts, nonce);
    if (bad_signature) envelope.replace(envelope.find("<MsgSignature>") + 23, 4, "0000");
    co_return http::make_response(req, http::Status::ok, envelope, "text/xml");
  }
  if (call <= rx->slow_first) {
    asio::steady_timer timer(co_await asio::this_coro::executor, 2s);
    co_await timer.async_wait(use_tuple);
  }
  co_return http::make_response(req, http::Status::ok, "");
}

net::Route receiver_route(Receiver* rx) {
  net::Route r;
  r.path = "/wecom/callback/app";
  r.label = "receiver";
  r.handler = [rx](http::Request req) { return receive(rx, std::move(req)); };
  return r;
}

TEST_CASE("sandbox callback reaches the receiver signed and encrypted like WeCom", "[sandbox][callbacks][integration]") {
  Receiver rx;
  net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
  RunningSandbox sb(receiver.url("/wecom/callback/app?existing=1"));
  auto rec = sb.post("/_sandbox/callbacks/app", R"({"from_user":"Bob","text":"第一题选 2 ]]> <b>"})");
  INFO(rec.dump());
  CHECK(rec["delivered"] == true);
  REQUIRE(rec["attempts"].size() == 1);
  CHECK(rec["attempts"][0]["status"] == 200);
  std::lock_guard lock(rx.mu);
  CHECK(rx.failures.empty());
  REQUIRE(rx.plaintexts.size() == 1);
  const auto& xml = rx.plaintexts[0];
  CHECK(xml == rec["plaintext"].get<std::string>());
  pugi::xml_document doc;
  REQUIRE(doc.load_string(xml.c_str()));
  auto m = doc.child("xml");
  CHECK(std::string(m.child_value("ToUserName")) == kCorp);
  CHECK(std::string(m.child_value("FromUserName")) == "Bob");
  CHECK(std::string(m.child_value("MsgType")) == "text");
  // "]]>" in the text splits the CDATA section in two; the joined sections give the text back.
  std::string content;
  for (auto n : m.child("Content").children()) content += n.value();
  CHECK(content == "第一题选 2 ]]> <b>");
  CHECK(std::string(m.child_value("MsgId")) == rec["msg_id"].get<std::string>());
  CHECK(std::string(m.child_value("AgentID")) == "1000002");
  auto listed = sb.get("/_sandbox/callbacks")["callbacks"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["msg_id"] == rec["msg_id"]);
}

TEST_CASE("sandbox callback retries with the same plaintext after 500 and timeouts", "[sandbox][callbacks][integration]") {
  struct Case {
    const char* label;
    int fail_first;
    int slow_first;
    int attempts;
    std::size_t expect_attempts;
    bool delivered;
  };
  auto c = GENERATE(values<Case>({
      {"500 once", 1, 0, 4, 2, true},
      {"500 three times", 3, 0, 4, 4, true},
      {"500 four times: gives up", 4, 0, 4, 4, false},
      {"timeout once", 0, 1, 4, 2, true},
      {"configured: 2 attempts", 5, 0, 2, 2, false},
  }));
  CAPTURE(c.label);
  Receiver rx;
  rx.fail_first = c.fail_first;
  rx.slow_first = c.slow_first;
  net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
  RunningSandbox sb(receiver.url("/wecom/callback/app"));
  json req = {{"from_user", "Alice"}, {"text", "重试"}, {"attempts", c.attempts}, {"retry_delay_ms", 0},
              {"timeout_ms", 500}};
  auto rec = sb.post("/_sandbox/callbacks/app", req.dump());
  INFO(rec.dump());
  CHECK(rec["delivered"] == c.delivered);
  REQUIRE(rec["attempts"].size() == c.expect_attempts);
  if (c.fail_first > 0) CHECK(rec["attempts"][0]["status"] == 500);
  if (c.slow_first > 0) {
    CHECK(rec["attempts"][0]["status"] == 0);
    CHECK(rec["attempts"][0]["error"].get<std::string>().rfind("http.timeout", 0) == 0);
  }
  std::set<std::string> targets;
  for (const auto& a : rec["attempts"]) targets.insert(a["target"].get<std::string>());
  CHECK(targets.size() == c.expect_attempts);  // fresh timestamp/nonce/signature per attempt
  std::lock_guard lock(rx.mu);
  CHECK(rx.failures.empty());
  REQUIRE(rx.plaintexts.size() == c.expect_attempts);
  for (const auto& p : rx.plaintexts) CHECK(p == rx.plaintexts.front());  // same MsgId, CreateTime, content
}

TEST_CASE("sandbox callback with raw plaintext_xml is delivered unchanged", "[sandbox][callbacks][integration]") {
  Receiver rx;
  net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
  RunningSandbox sb(receiver.url("/wecom/callback/app"));
  const std::string event =
      "<xml><ToUserName><![CDATA[wwsrvtest01]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
      "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]>"
      "</Event></xml>";
  auto rec = sb.post("/_sandbox/callbacks/app", json{{"plaintext_xml", event}}.dump());
  CHECK(rec["delivered"] == true);
  std::lock_guard lock(rx.mu);
  REQUIRE(rx.plaintexts.size() == 1);
  CHECK(rx.plaintexts[0] == event);
}

TEST_CASE("sandbox URL verification sends an encrypted echostr and checks the answer", "[sandbox][callbacks][integration]") {
  auto wrong = GENERATE(false, true);
  CAPTURE(wrong);
  Receiver rx;
  rx.wrong_echo = wrong;
  net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
  RunningSandbox sb(receiver.url("/wecom/callback/app"));
  auto rec = sb.post("/_sandbox/callbacks/verify", "{}");
  INFO(rec.dump());
  CHECK(rec["kind"] == "verify");
  CHECK(rec["delivered"] == !wrong);
  REQUIRE(rec["attempts"].size() == 1);
  CHECK(rec["attempts"][0]["status"] == 200);
  std::lock_guard lock(rx.mu);
  CHECK(rx.failures.empty());
  REQUIRE(rx.plaintexts.size() == 1);
  CHECK(rx.plaintexts[0] == rec["plaintext"].get<std::string>());
  CHECK(rx.plaintexts[0].find_first_not_of("0123456789") == std::string::npos);
}

TEST_CASE("sandbox callback to an unreachable receiver records every failed attempt", "[sandbox][callbacks][integration]") {
  RunningSandbox sb("http://127.0.0.1:9/nothing");
  auto rec = sb.post("/_sandbox/callbacks/app", R"({"from_user":"Bob","text":"x","retry_delay_ms":0})");
  CHECK(rec["delivered"] == false);
  REQUIRE(rec["attempts"].size() == 4);
  for (const auto& a : rec["attempts"]) CHECK(a["status"] == 0);
}

TEST_CASE("sandbox serves WeCom endpoints and injected faults over HTTP", "[sandbox][faults][integration]") {
  RunningSandbox sb("");
  auto fixture = sb.get("/_sandbox/fixture");
  REQUIRE(fixture["robots"].size() == 1);
  const std::string key = fixture["robots"][0]["key"];
  CHECK(fixture["robots"][0]["chat_id"] == "wrmgmt");
  CHECK(fixture["apps"][0]["corp_id"] == kCorp);
  CHECK(fixture["apps"][0]["secret"] == "s3cret");
  const std::string send = "/cgi-bin/webhook/send?key=" + key;
  const std::string body = R"({"msgtype":"text","text":{"content":"hello"}})";
  CHECK(sb.post(send, body)["errcode"] == 0);

  struct Case {
    const char* label;
    json fault;
    unsigned status;
    int errcode;
  };
  const std::vector<Case> cases = {
      {"busy", {{"errcode", -1}}, 200, -1},
      {"rate limit", {{"errcode", 45009}}, 200, 45009},
      {"expired token", {{"errcode", 42001}}, 200, 42001},
      {"http 502", {{"http_status", 502}}, 502, 0},
      {"latency then errcode", {{"errcode", -1}, {"latency_ms", 50}}, 200, -1},
      {"latency only", {{"latency_ms", 50}}, 200, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    json f = c.fault;
    f["path"] = "/cgi-bin/webhook/send";
    f["count"] = 1;
    unsigned st = 0;
    sb.post("/_sandbox/faults", f.dump(), &st);
    REQUIRE(st == 200);
    auto r = net::http_request(http::Verb::post, sb.url(send), body, {}, 10s);
    REQUIRE(r.has_value());
    CHECK(r->status == c.status);
    if (c.status == 200) CHECK(json::parse(r->body)["errcode"] == c.errcode);
    CHECK(sb.post(send, body)["errcode"] == 0);  // count 1: gone after one use
  }
  auto recs = sb.get("/_sandbox/requests?path=/cgi-bin/webhook/send")["requests"];
  CHECK(recs.size() == 1 + 2 * cases.size());

  // A dropped connection: no answer at all, the client sees a transport error; recorded as status 0.
  unsigned st = 0;
  sb.post("/_sandbox/faults", json{{"path", "/cgi-bin/webhook/send"}, {"drop_connection", true}, {"count", 1}}.dump(), &st);
  REQUIRE(st == 200);
  auto dropped = net::http_request(http::Verb::post, sb.url(send), body, {}, 10s);
  CHECK_FALSE(dropped.has_value());
  CHECK(sb.post(send, body)["errcode"] == 0);  // the server goes on serving
  auto after = sb.get("/_sandbox/requests?path=/cgi-bin/webhook/send")["requests"];
  REQUIRE(after.size() == recs.size() + 2);
  CHECK(after[recs.size()]["http_status"] == 0);
  CHECK(after[recs.size()]["detail"]["dropped"] == true);
}

}  // namespace
}  // namespace yuer::sandbox

namespace yuer::sandbox {
namespace {

TEST_CASE("sandbox serves the chat view at / and its files under /web/", "[sandbox][web][integration]") {
  RunningSandbox sb("");
  auto page = net::http_request(http::Verb::get, sb.url("/"), {}, {}, 10s);
  REQUIRE(page.has_value());
  CHECK(page->status == 200);
  CHECK(page->body.find("企业微信沙箱") != std::string::npos);
  CHECK(page->body.find("/web/app.js") != std::string::npos);
  auto js = net::http_request(http::Verb::get, sb.url("/web/app.js"), {}, {}, 10s);
  REQUIRE(js.has_value());
  CHECK(js->status == 200);
  CHECK(js->body.find("/_sandbox/messages") != std::string::npos);
  auto missing = net::http_request(http::Verb::get, sb.url("/web/nope.js"), {}, {}, 10s);
  REQUIRE(missing.has_value());
  CHECK(missing->status == 404);
  auto post = net::http_request(http::Verb::post, sb.url("/"), "x", {}, 10s);
  REQUIRE(post.has_value());
  CHECK(post->status == 405);
}

TEST_CASE("sandbox callbacks emitted by a module are delivered after the request, encrypted", "[sandbox][callbacks][integration]") {
  Receiver rx;
  net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
  RunningSandbox sb(receiver.url("/wecom/callback/app"));
  for (int i = 0; i < 3; ++i) {
    unsigned status = 0;
    sb.post("/_sandbox/cards/click", json{{"userid", "Bob"}, {"task_id", "t" + std::to_string(i)}, {"event_key", "ok"}}.dump(),
            &status);
    REQUIRE(status == 200);
  }
  // Delivery is asynchronous: wait (bounded) until all three are recorded.
  json listed;
  for (int i = 0; i < 200; ++i) {
    listed = sb.get("/_sandbox/callbacks")["callbacks"];
    if (listed.size() == 3) break;
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(listed.size() == 3);
  std::lock_guard lock(rx.mu);
  CHECK(rx.failures.empty());
  REQUIRE(rx.plaintexts.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(listed[i]["label"] == "template_card_event");
    CHECK(listed[i]["delivered"] == true);
    // In emission order (one URL, one strand).
    CHECK(rx.plaintexts[i].find("<TaskId><![CDATA[t" + std::to_string(i) + "]]></TaskId>") != std::string::npos);
  }
}

TEST_CASE("sandbox checks passive replies and shows good ones to the member", "[sandbox][callbacks][integration]") {
  struct Case {
    const char* name;
    bool bad_signature;
    bool shown;
  };
  for (const auto& c : {Case{"good reply", false, true}, Case{"tampered signature", true, false}}) {
    CAPTURE(c.name);
    Receiver rx;
    rx.reply_xml = "<xml><ToUserName><![CDATA[Bob]]></ToUserName><FromUserName><![CDATA[" + std::string(kCorp) +
                   "]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                   "<Content><![CDATA[收到，第 1 题请回复数字]]></Content></xml>";
    rx.bad_reply_signature = c.bad_signature;
    net::testing::TestServer receiver(net::ServerSettings{}, {receiver_route(&rx)});
    RunningSandbox sb(receiver.url("/wecom/callback/app"));
    auto rec = sb.post("/_sandbox/callbacks/app", R"({"from_user":"Bob","text":"开始"})");
    CHECK(rec["delivered"] == true);
    auto messages = sb.get("/_sandbox/messages?userid=Bob")["messages"];
    if (c.shown) {
      CHECK(rec["reply_error"] == "");
      CHECK(rec["reply"].get<std::string>() == rx.reply_xml);
      REQUIRE(messages.size() == 1);
      CHECK(messages[0]["msgtype"] == "text");
      CHECK(messages[0]["message"]["content"] == "收到，第 1 题请回复数字");
    } else {
      CHECK(rec["reply"] == "");
      CHECK(rec["reply_error"].get<std::string>().find("crypto.bad_signature") != std::string::npos);
      CHECK(messages.empty());
    }
  }
}

}  // namespace
}  // namespace yuer::sandbox
