// 智能机器人 module: the JSON callback on an @-mention (receiveid "", signature), passive replies
// verified and delivered or refused, stream refresh, response_url once within 1 h, card clicks
// sent once. Unit tests drive delivery by hand; one test runs the sandbox over HTTP with a robot.
#include "tests/sandbox/aibot.h"

#include "adapters/wecom/crypto.h"
#include "daemon/net/http_client.h"
#include "daemon/net/http_test_support.h"
#include "tests/sandbox/callbacks.h"
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"
#include "tests/sandbox/server.h"

#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

namespace yuer::sandbox {
namespace {

using adapters::wecom::MsgCrypt;
using nlohmann::json;
using namespace std::chrono_literals;

const char* kBotToken = "BotTok77";
const char* kBotKey = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";

std::string fixture_json(const std::string& bot_url) {
  return json{{"corp", {{"corp_id", "wwbot0001"}}},
              {"apps", {{{"agent_id", 1000002}, {"secret", "s"}, {"token", "AppTok"},
                         {"aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}}}},
              {"members", {{{"userid", "Alice"}}, {{"userid", "Bob"}}, {{"userid", "Carol"}}}},
              {"internal_groups", {{{"chat_id", "wrmgmt1"}, {"owner", "Alice"}, {"members", {"Alice", "Bob"}}},
                                   {{"chat_id", "wrother"}, {"owner", "Alice"}, {"members", {"Alice"}}}}},
              {"aibots", {{{"aibotid", "aib1"}, {"name", "育儿助手"}, {"token", kBotToken}, {"aes_key", kBotKey},
                           {"callback_url", bot_url}, {"chat_ids", {"wrmgmt1"}}},
                          {{"aibotid", "bad"}, {"token", "t"}, {"aes_key", "short"}}}},
              {"aibot_response_base", "http://sandbox.test"}}
      .dump();
}

MsgCrypt bot_crypt() { return MsgCrypt::create(kBotToken, kBotKey, "").value(); }

struct Env : testing::SandboxEnv {
  Env() : SandboxEnv(fixture_json("http://127.0.0.1:9/bot")) {}

  ApiReply control(const std::string& path, const json& body) {
    return sb().handle({"POST", "/_sandbox/aibot/" + path, body.dump()});
  }
  json mention(const std::string& text = "今天的课是什么？", const std::string& from = "Bob") {
    auto r = control("mention", {{"chat_id", "wrmgmt1"}, {"from_userid", from}, {"text", text}});
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  CallbackJob one_job() {
    auto jobs = sb().take_callbacks();
    REQUIRE(jobs.size() == 1);
    return jobs[0];
  }
  // The robot's HTTP answer to `job`: one attempt with `status` and `body`, sent with `nonce`.
  void answer(const CallbackJob& job, unsigned status, const std::string& body, const std::string& nonce = "4242") {
    CallbackRecord rec;
    rec.kind = "json";
    rec.label = job.label;
    rec.url = job.url;
    rec.plaintext = job.plaintext;
    CallbackAttempt a;
    a.number = 1;
    a.status = status;
    a.body = body;
    a.target = "/bot?msg_signature=x&timestamp=1700000000&nonce=" + nonce;
    rec.attempts.push_back(a);
    rec.delivered = status == 200;
    sb().record_callback(rec, job.on_done);
  }
  json turn(std::size_t i = 0) {
    auto st = json::parse(sb().handle({"GET", "/_sandbox/state", ""}).body);
    REQUIRE(st["aibot"]["turns"].size() > i);
    return st["aibot"]["turns"][i];
  }
  std::string response_path(const json& m) {
    const std::string url = m["response_url"];
    REQUIRE(url.rfind("http://sandbox.test/cgi-bin/aibot/response?response_code=", 0) == 0);
    return url.substr(std::string("http://sandbox.test").size());
  }
};

std::string reply(const json& plaintext, const std::string& nonce = "4242", const std::string& ts = "1700000001") {
  return adapters::wecom::json_reply_envelope(bot_crypt(), plaintext.dump(), ts, nonce);
}

TEST_CASE("aibot mention sends a JSON callback that decrypts with receiveid empty", "[sandbox][aibot][callbacks]") {
  Env env;
  auto m = env.mention();
  auto job = env.one_job();
  CHECK(job.kind == CallbackJob::Kind::kJson);
  CHECK(job.url == "http://127.0.0.1:9/bot");
  CHECK(job.label == "aibot_text");
  CHECK(job.policy.attempts == 4);
  // Signed and enveloped as the server does it, opened as the robot would.
  auto signed_cb = sign_json_callback(bot_crypt(), job.plaintext, "1700000000", "998877");
  Target q = parse_target("/bot?" + signed_cb.query);
  CHECK(q.param("timestamp") == "1700000000");
  CHECK(q.param("nonce") == "998877");
  auto envelope = json::parse(signed_cb.body);
  REQUIRE(envelope.size() == 1);
  const std::string enc = envelope["encrypt"];
  auto plain = bot_crypt().verify_and_decrypt(q.param("msg_signature").value(), "1700000000", "998877", enc);
  REQUIRE(plain.has_value());
  // With the corp id as receiveid the same text is refused: the aibot plaintext has none.
  auto as_corp = MsgCrypt::create(kBotToken, kBotKey, "wwbot0001").value();
  CHECK(!as_corp.verify_and_decrypt(q.param("msg_signature").value(), "1700000000", "998877", enc).has_value());
  auto p = json::parse(*plain);
  CHECK(p["msgid"] == m["msgid"]);
  CHECK(!p["msgid"].get<std::string>().empty());
  CHECK(p["aibotid"] == "aib1");
  CHECK(p["chatid"] == "wrmgmt1");
  CHECK(p["chattype"] == "group");
  CHECK(p["from"]["userid"] == "Bob");
  CHECK(p["response_url"] == m["response_url"]);
  CHECK(p["msgtype"] == "text");
  CHECK(p["text"]["content"] == "@育儿助手 今天的课是什么？");
  CHECK(env.turn()["status"] == "pending");
}

TEST_CASE("aibot mention checks robot, chat and member", "[sandbox][aibot][control]") {
  Env env;
  struct Case {
    const char* label;
    json body;
    unsigned status;
  };
  auto c = GENERATE(values<Case>({
      {"ok", {{"chat_id", "wrmgmt1"}, {"from_userid", "Alice"}, {"text", "hi"}}, 200},
      {"unknown robot", {{"aibotid", "nope"}, {"from_userid", "Alice"}, {"text", "hi"}}, 404},
      {"robot with a bad key is skipped", {{"aibotid", "bad"}, {"from_userid", "Alice"}, {"text", "hi"}}, 404},
      {"robot not in that chat", {{"chat_id", "wrother"}, {"from_userid", "Alice"}, {"text", "hi"}}, 404},
      {"not a member", {{"chat_id", "wrmgmt1"}, {"from_userid", "Nobody"}, {"text", "hi"}}, 404},
      {"not in the group", {{"chat_id", "wrmgmt1"}, {"from_userid", "Carol"}, {"text", "hi"}}, 409},
      {"no text", {{"chat_id", "wrmgmt1"}, {"from_userid", "Alice"}}, 400},
  }));
  CAPTURE(c.label);
  CHECK(env.control("mention", c.body).status == c.status);
  auto st = json::parse(env.sb().handle({"GET", "/_sandbox/state", ""}).body);
  CHECK(st["aibot"]["fixture_errors"].size() == 1);
}

TEST_CASE("aibot passive replies are verified, decrypted and delivered or refused", "[sandbox][aibot]") {
  const json stream_done = {{"msgtype", "stream"}, {"stream", {{"id", "s1"}, {"finish", true}, {"content", "**今天**：绘本"}}}};
  const json card = {{"msgtype", "template_card"},
                     {"template_card", {{"card_type", "text_notice"}, {"main_title", {{"title", "课程"}}}}}};
  struct Case {
    const char* label;
    unsigned status;
    std::string body;
    const char* turn_status;
    std::vector<std::string> delivered;  // msgtypes, in order
  };
  const std::string good = reply(stream_done);
  std::string tampered = good;
  tampered[tampered.find("\"encrypt\":\"") + 12] ^= 1;
  auto c = GENERATE_COPY(values<Case>({
      {"empty body", 200, "", "empty", {}},
      {"stream, finished", 200, good, "delivered", {"stream"}},
      {"timestamp as a string", 200, [&] {
         auto j = json::parse(good);
         j["timestamp"] = "1700000001";
         return j.dump();
       }(), "delivered", {"stream"}},
      {"template card", 200, reply(card), "delivered", {"template_card"}},
      {"stream with card", 200,
       reply({{"msgtype", "stream_with_template_card"}, {"stream", stream_done["stream"]}, {"template_card", card["template_card"]}}),
       "delivered", {"template_card", "stream"}},
      {"text is only for enter_chat", 200, reply({{"msgtype", "text"}, {"text", {{"content", "hi"}}}}), "error", {}},
      {"markdown is not passive", 200, reply({{"msgtype", "markdown"}, {"markdown", {{"content", "hi"}}}}), "error", {}},
      {"nonce not the callback's", 200, reply(stream_done, "1111"), "error", {}},
      {"tampered ciphertext", 200, tampered, "error", {}},
      {"signed with another key", 200,
       adapters::wecom::json_reply_envelope(MsgCrypt::create(kBotToken, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "").value(),
                                            stream_done.dump(), "1700000001", "4242"),
       "error", {}},
      {"not JSON", 200, "ok", "error", {}},
      {"missing nonce", 200, json{{"encrypt", "x"}, {"msgsignature", "y"}, {"timestamp", 1}}.dump(), "error", {}},
      {"HTTP 500", 500, "", "undelivered", {}},
  }));
  CAPTURE(c.label);
  Env env;
  env.mention();
  env.answer(env.one_job(), c.status, c.body);
  auto t = env.turn();
  INFO(t.dump());
  CHECK(t["status"] == c.turn_status);
  CHECK(t["errors"].empty() == (std::string(c.turn_status) == "delivered" || std::string(c.turn_status) == "empty"));
  auto ds = env.sb().deliveries();
  REQUIRE(ds.size() == c.delivered.size());
  for (std::size_t i = 0; i < ds.size(); ++i) {
    CHECK(ds[i].channel == "aibot");
    CHECK(ds[i].chat_id == "wrmgmt1");
    CHECK(ds[i].msgtype == c.delivered[i]);
  }
  if (!ds.empty() && ds.back().msgtype == "stream") CHECK(ds.back().message["content"] == "**今天**：绘本");
  CHECK(env.sb().take_callbacks().empty());  // nothing more to say
}

TEST_CASE("aibot stream is refreshed until finish, at most 6 minutes", "[sandbox][aibot]") {
  Env env;
  env.mention();
  auto job = env.one_job();
  env.answer(job, 200, reply({{"msgtype", "stream"}, {"stream", {{"id", "s9"}, {"finish", false}, {"content", "思考中"}}}}));
  CHECK(env.turn()["status"] == "streaming");
  auto refresh = env.one_job();
  CHECK(refresh.label == "aibot_stream_refresh");
  auto p = json::parse(refresh.plaintext);
  CHECK(p["msgtype"] == "stream");
  CHECK(p["stream"]["id"] == "s9");
  CHECK(p["chatid"] == "wrmgmt1");
  CHECK(p["msgid"] != json::parse(job.plaintext)["msgid"]);
  // A different stream id is refused.
  SECTION("finish") {
    env.answer(refresh, 200, reply({{"msgtype", "stream"}, {"stream", {{"id", "s9"}, {"finish", true}, {"content", "答案"}}}}));
    CHECK(env.turn()["status"] == "delivered");
    auto ds = env.sb().deliveries();
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].message["content"] == "答案");
  }
  SECTION("another stream id") {
    env.answer(refresh, 200, reply({{"msgtype", "stream"}, {"stream", {{"id", "other"}, {"finish", true}}}}));
    CHECK(env.turn()["status"] == "error");
    CHECK(env.sb().deliveries().empty());
  }
  SECTION("6 minutes pass") {
    env.base.advance(6min);
    env.answer(refresh, 200, reply({{"msgtype", "stream"}, {"stream", {{"id", "s9"}, {"finish", false}, {"content", "还在想"}}}}));
    CHECK(env.turn()["status"] == "stream_expired");
    CHECK(env.sb().take_callbacks().empty());
    auto ds = env.sb().deliveries();
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].message["content"] == "还在想");
    CHECK(ds[0].message["finish"] == false);
  }
}

TEST_CASE("aibot response_url accepts one reply within an hour", "[sandbox][aibot]") {
  Env env;
  auto m = env.mention();
  env.sb().take_callbacks();
  const std::string path = env.response_path(m);
  const std::string md = json{{"msgtype", "markdown"}, {"markdown", {{"content", "# 今日课程\n绘本"}}}}.dump();
  CHECK(env.sb().handle({"GET", path, ""}).errcode == 43002);
  CHECK(env.sb().handle({"POST", path, json{{"msgtype", "markdown"}, {"markdown", {{"content", std::string(20481, 'a')}}}}.dump()})
            .errcode == 40058);
  CHECK(env.sb().handle({"POST", path, json{{"msgtype", "template_card"},
                                          {"template_card", {{"card_type", "text_notice"}}}}.dump()})
            .errcode == 40058);  // cards only in single chats
  CHECK(env.sb().handle({"POST", path, json{{"msgtype", "text"}, {"text", {{"content", "x"}}}}.dump()}).errcode == 40008);
  CHECK(env.sb().handle({"POST", path, md}).errcode == 0);
  CHECK(env.sb().handle({"POST", path, md}).errcode == 40058);  // once only
  CHECK(env.sb().handle({"POST", "/cgi-bin/aibot/response?response_code=nope", md}).errcode == 40058);
  auto ds = env.sb().deliveries();
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].channel == "aibot");
  CHECK(ds[0].chat_id == "wrmgmt1");
  CHECK(ds[0].msgtype == "markdown");
  CHECK(ds[0].message["content"] == "# 今日课程\n绘本");
  CHECK(ds[0].message["quote_of"] == m["msgid"]);
  CHECK(env.turn()["response_url_used"] == true);

  auto late = env.mention("再问一次");
  env.base.advance(std::chrono::seconds(3599));
  const std::string late_path = env.response_path(late);
  env.base.advance(1s);
  CHECK(env.sb().handle({"POST", late_path, md}).errcode == 40058);  // expired after 1 h
}

TEST_CASE("aibot template card click is sent once and accepts a card update", "[sandbox][aibot]") {
  Env env;
  env.mention();
  const json card = {{"card_type", "button_interaction"}, {"task_id", "task-1"}, {"main_title", {{"title", "来吗"}}}};
  env.answer(env.one_job(), 200, reply({{"msgtype", "template_card"}, {"template_card", card}}));
  CHECK(env.control("click", {{"task_id", "nope"}}).status == 404);
  auto r = env.control("click", {{"task_id", "task-1"}, {"event_key", "yes"}, {"from_userid", "Alice"}});
  REQUIRE(r.status == 200);
  auto job = env.one_job();
  CHECK(job.label == "aibot_template_card_event");
  CHECK(job.policy.attempts == 1);  // no retry (DOC 101027)
  auto p = json::parse(job.plaintext);
  CHECK(p["msgtype"] == "event");
  CHECK(p["from"]["userid"] == "Alice");
  CHECK(p["from"]["corpid"] == "wwbot0001");
  CHECK(p["event"]["eventtype"] == "template_card_event");
  CHECK(p["event"]["template_card_event"]["task_id"] == "task-1");
  CHECK(p["event"]["template_card_event"]["event_key"] == "yes");
  CHECK(p.contains("response_url"));
  json update = card;
  update["main_title"]["title"] = "已报名";
  SECTION("update with the same task_id") {
    env.answer(job, 200, reply({{"response_type", "update_template_card"}, {"template_card", update}}));
    CHECK(env.turn(1)["status"] == "delivered");
    auto ds = env.sb().deliveries();
    REQUIRE(ds.size() == 2);
    CHECK(ds[1].msgtype == "update_template_card");
  }
  SECTION("update with another task_id") {
    update["task_id"] = "task-2";
    env.answer(job, 200, reply({{"response_type", "update_template_card"}, {"template_card", update}}));
    CHECK(env.turn(1)["status"] == "error");
  }
}

TEST_CASE("aibot reset ignores answers to callbacks sent before it", "[sandbox][aibot][control]") {
  Env env;
  env.mention();
  auto job = env.one_job();
  env.sb().handle({"POST", "/_sandbox/reset", ""});
  env.answer(job, 200, reply({{"msgtype", "stream"}, {"stream", {{"id", "s"}, {"finish", true}}}}));
  CHECK(env.sb().deliveries().empty());
  auto st = json::parse(env.sb().handle({"GET", "/_sandbox/state", ""}).body);
  CHECK(st["aibot"]["turns"].empty());
  CHECK(json::parse(env.sb().handle({"POST", "/_sandbox/aibot/config", R"({"response_base":"http://127.0.0.1:5/"})"}).body)
            ["response_base"] == "http://127.0.0.1:5");
}

// --- over HTTP: a robot that answers with a passive reply ---

struct Robot {
  std::mutex mu;
  std::vector<std::string> plaintexts;
  std::vector<std::string> failures;
};

awaitable<http::Response> robot_receive(Robot* robot, http::Request req) {
  Target t = parse_target(req.target());
  auto sig = t.param("msg_signature").value_or("");
  auto ts = t.param("timestamp").value_or("");
  auto nonce = t.param("nonce").value_or("");
  auto body = json::parse(req.body(), nullptr, false);
  auto crypt = bot_crypt();
  auto plain = body.is_object() && body.contains("encrypt")
                   ? crypt.verify_and_decrypt(sig, ts, nonce, body["encrypt"].get<std::string>())
                   : Result<std::string>(fail("robot.bad_body", "no encrypt"));
  std::lock_guard lock(robot->mu);
  if (!plain) {
    robot->failures.push_back(plain.error().code);
    co_return http::make_response(req, http::Status::forbidden, "");
  }
  robot->plaintexts.push_back(*plain);
  auto msg = json::parse(*plain);
  json answer = {{"msgtype", "stream"},
                 {"stream", {{"id", "http-1"}, {"finish", true}, {"content", "收到：" + msg["text"]["content"].get<std::string>()}}}};
  co_return http::make_response(req, http::Status::ok, adapters::wecom::json_reply_envelope(crypt, answer.dump(), ts, nonce),
                                "application/json");
}

// The sandbox in-process on 127.0.0.1:0 with its io thread; stopped (and joined) on scope exit.
class Running {
 public:
  explicit Running(const std::string& bot_url)
      : sandbox_(parse_fixture(fixture_json(bot_url)).value(), clock_), server_(ioc_, sandbox_, "127.0.0.1:0", registry_) {
    auto ep = server_.start();
    if (!ep) throw std::runtime_error(ep.error().message);
    base = "http://127.0.0.1:" + std::to_string(ep->port());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Running() {
    auto done = asio::co_spawn(ioc_, server_.stop(0ms), asio::use_future);
    done.wait_for(10s);
    ioc_.stop();
    thread_.join();
  }
  json request(http::Verb verb, const std::string& path_or_url, const std::string& body = {}) {
    const std::string url = path_or_url.rfind("http", 0) == 0 ? path_or_url : base + path_or_url;
    auto r = net::http_request(verb, url, body, {}, 10s);
    REQUIRE(r.has_value());
    return r->body.empty() ? json() : json::parse(r->body);
  }
  std::string base;

 private:
  SystemClock clock_;
  Sandbox sandbox_;
  asio::io_context ioc_;
  metrics::Registry registry_;
  SandboxServer server_;
  std::thread thread_;
};

TEST_CASE("aibot over HTTP: the robot's passive reply reaches the group", "[sandbox][aibot][integration]") {
  Robot robot;
  net::Route route;
  route.path = "/bot";
  route.label = "robot";
  route.handler = [r = &robot](http::Request req) { return robot_receive(r, std::move(req)); };
  net::testing::TestServer receiver(net::ServerSettings{}, {route});
  Running sb(receiver.url("/bot"));
  sb.request(http::Verb::post, "/_sandbox/aibot/config", json{{"response_base", sb.base}}.dump());
  auto m = sb.request(http::Verb::post, "/_sandbox/aibot/mention",
                      json{{"chat_id", "wrmgmt1"}, {"from_userid", "Alice"}, {"text", "几点上课"}}.dump());
  REQUIRE(m.contains("response_url"));
  // Delivery happens on a worker after the control answer: wait for it (bounded; no timing asserted).
  json turn;
  for (int i = 0; i < 200; ++i) {
    turn = sb.request(http::Verb::get, "/_sandbox/state")["aibot"]["turns"][0];
    if (turn["status"] != "pending") break;
    std::this_thread::sleep_for(50ms);
  }
  INFO(turn.dump());
  CHECK(turn["status"] == "delivered");
  auto list = sb.request(http::Verb::get, "/_sandbox/messages?chat_id=wrmgmt1")["messages"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["channel"] == "aibot");
  CHECK(list[0]["msgtype"] == "stream");
  CHECK(list[0]["message"]["content"] == "收到：@育儿助手 几点上课");
  // The response_url points back at this sandbox and works once over HTTP.
  const std::string url = m["response_url"];
  REQUIRE(url.rfind(sb.base + "/cgi-bin/aibot/response?response_code=", 0) == 0);
  const std::string md = json{{"msgtype", "markdown"}, {"markdown", {{"content", "补充：带水杯"}}}}.dump();
  CHECK(sb.request(http::Verb::post, url, md)["errcode"] == 0);
  CHECK(sb.request(http::Verb::post, url, md)["errcode"] == 40058);
  std::lock_guard lock(robot.mu);
  CHECK(robot.failures.empty());
  CHECK(robot.plaintexts.size() == 1);
}

}  // namespace
}  // namespace yuer::sandbox
