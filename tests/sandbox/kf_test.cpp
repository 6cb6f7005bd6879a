// 微信客服 module without sockets: sync_msg paging and cursors, the doorbell callback, send_msg's
// 48-hour window and 5-message rule, send_msg_on_event, msg_send_fail. Time from a ManualClock.
#include "tests/sandbox/kf.h"

#include "adapters/wecom/crypto.h"
#include "tests/sandbox/callbacks.h"
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

const char* kFixture = R"({
  "corp": {"corp_id": "wwkf0001", "name": "测试县"},
  "apps": [
    {"agent_id": 1000002, "secret": "kf-secret", "token": "KfTok", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
     "callback_url": "http://127.0.0.1:9/wecom/callback/app"},
    {"agent_id": 1000003, "secret": "other-secret", "token": "T2", "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"}
  ],
  "members": [{"userid": "Alice", "name": "甲"}],
  "kf_accounts": [{"open_kfid": "wkA", "name": "育儿小助手", "avatar": "https://example.invalid/a.png"},
                  {"open_kfid": "wkB", "name": "客服B", "manage_privilege": false},
                  {"open_kfid": "wkC", "name": "客服C", "console_welcome": true}],
  "kf": {"agent_id": 1000002}
})";

// Tokens that outlive the days these tests move the clock by.
Settings long_tokens() {
  Settings s;
  s.token_lifetime = std::chrono::hours(24 * 30);
  return s;
}

struct Env : testing::SandboxEnv {
  std::string tok;

  Env() : SandboxEnv(kFixture, long_tokens()) { tok = token("kf-secret"); }
  json call(const std::string& path, const json& body) {
    return post_json("/cgi-bin/kf/" + path + "?access_token=" + tok, body);
  }
  int code(const std::string& path, const json& body) { return call(path, body).at("errcode").get<int>(); }
  ApiReply control(const std::string& path, const json& body) { return post("/_sandbox/kf/" + path, body.dump()); }
  json write(const json& body) {
    auto r = control("write", body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  json send_text(const std::string& user, const std::string& text, const std::string& kfid = "wkA") {
    return call("send_msg", {{"touser", user}, {"open_kfid", kfid}, {"msgtype", "text"}, {"text", {{"content", text}}}});
  }
};

TEST_CASE("kf account/list pages with offset and limit", "[sandbox][kf]") {
  Env env;
  struct Case {
    json body;
    int errcode;
    std::size_t count;
  };
  auto c = GENERATE(values<Case>({
      {json::object(), 0, 3},
      {{{"offset", 0}, {"limit", 2}}, 0, 2},
      {{{"offset", 2}, {"limit", 2}}, 0, 1},
      {{{"offset", 3}, {"limit", 100}}, 0, 0},
      {{{"limit", 0}}, 40058, 0},
      {{{"limit", 101}}, 40058, 0},
      {{{"offset", -1}}, 40058, 0},
  }));
  CAPTURE(c.body.dump());
  auto r = env.call("account/list", c.body);
  REQUIRE(r["errcode"] == c.errcode);
  if (c.errcode == 0) {
    REQUIRE(r["account_list"].size() == c.count);
    if (c.count == 3) {
      CHECK(r["account_list"][0]["open_kfid"] == "wkA");
      CHECK(r["account_list"][0]["name"] == "育儿小助手");
      CHECK(r["account_list"][0]["avatar"] == "https://example.invalid/a.png");
      CHECK(r["account_list"][0]["manage_privilege"] == true);
      CHECK(r["account_list"][1]["manage_privilege"] == false);
    }
  }
  // The old documentation's GET without a body still answers.
  auto g = json::parse(env.sb().handle({"GET", "/cgi-bin/kf/account/list?access_token=" + env.tok, ""}).body);
  CHECK(g["account_list"].size() == 3);
}

TEST_CASE("kf APIs check the token and the kf app", "[sandbox][kf]") {
  Env env;
  auto other = json::parse(env.sb().handle({"GET", "/cgi-bin/gettoken?corpid=wwkf0001&corpsecret=other-secret", ""}).body);
  const std::string body = json{{"offset", 0}}.dump();
  CHECK(env.sb().handle({"POST", "/cgi-bin/kf/account/list", body}).errcode == 41001);
  CHECK(env.sb().handle({"POST", "/cgi-bin/kf/account/list?access_token=nope", body}).errcode == 40014);
  // Only the app configured for 微信客服 may call (fixture "kf": {"agent_id"}).
  CHECK(env.sb().handle({"POST", "/cgi-bin/kf/account/list?access_token=" + other["access_token"].get<std::string>(), body})
            .errcode == 48002);
  CHECK(env.sb().handle({"GET", "/cgi-bin/kf/sync_msg?access_token=" + env.tok, ""}).errcode == 43002);
  CHECK(env.sb().handle({"POST", "/cgi-bin/kf/sync_msg?access_token=" + env.tok, ""}).errcode == 44002);
  CHECK(env.sb().handle({"POST", "/cgi-bin/kf/sync_msg?access_token=" + env.tok, "{"}).errcode == 40058);
}

TEST_CASE("kf add_contact_way validates the scene and returns a kf link", "[sandbox][kf]") {
  Env env;
  struct Case {
    const char* open_kfid;
    std::string scene;
    int errcode;
  };
  auto c = GENERATE(values<Case>({
      {"wkA", "", 0},
      {"wkA", "grade3_class-2", 0},
      {"wkA", std::string(32, 'x'), 0},
      {"wkA", std::string(33, 'x'), 40058},
      {"wkA", "has space", 40058},
      {"wkA", "中文", 40058},
      {"wkZ", "s", 95004},
      {"", "s", 95000},
  }));
  CAPTURE(c.open_kfid, c.scene);
  json body = {{"open_kfid", c.open_kfid}};
  if (!c.scene.empty()) body["scene"] = c.scene;
  auto r = env.call("add_contact_way", body);
  REQUIRE(r["errcode"] == c.errcode);
  if (c.errcode == 0) {
    const std::string url = r["url"];
    CHECK(url.rfind("https://work.weixin.qq.com/kf/kfc", 0) == 0);
    CHECK((url.find("?enc_scene=ENC") != std::string::npos) == !c.scene.empty());
  }
}

TEST_CASE("kf doorbell callback decrypts with the app's key and carries a sync token", "[sandbox][kf][callbacks]") {
  Env env;
  auto w = env.write({{"open_kfid", "wkA"}, {"external_userid", "wmParent1"}, {"text", "老师好"}});
  auto jobs = env.sb().take_callbacks();
  REQUIRE(jobs.size() == 1);
  const auto& job = jobs[0];
  CHECK(job.kind == CallbackJob::Kind::kMessage);
  CHECK(job.url == "http://127.0.0.1:9/wecom/callback/app");
  CHECK(job.label == "kf_msg_or_event");
  CHECK(job.agent_id == 1000002);
  // Sign as the sandbox does on the wire, then open it as the daemon would.
  auto sender = adapters::wecom::MsgCrypt::create(job.token, job.aes_key, job.corp_id).value();
  auto signed_cb = sign_app_callback(sender, job.corp_id, job.agent_id, job.plaintext, "1700000000", "12345");
  auto receiver = adapters::wecom::MsgCrypt::create("KfTok", kAesKey, "wwkf0001").value();
  const auto enc_at = signed_cb.body.find("<Encrypt><![CDATA[") + 18;
  const std::string encrypted = signed_cb.body.substr(enc_at, signed_cb.body.find("]]>", enc_at) - enc_at);
  Target q = parse_target("/x?" + signed_cb.query);
  auto plain = receiver.verify_and_decrypt(q.param("msg_signature").value(), "1700000000", "12345", encrypted);
  REQUIRE(plain.has_value());
  CHECK(*plain == job.plaintext);
  CHECK(plain->find("<ToUserName><![CDATA[wwkf0001]]></ToUserName>") != std::string::npos);
  CHECK(plain->find("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>") != std::string::npos);
  CHECK(plain->find("<Token><![CDATA[" + w["sync_token"].get<std::string>() + "]]></Token>") != std::string::npos);
  CHECK(plain->find("<OpenKfId><![CDATA[wkA]]></OpenKfId>") != std::string::npos);
  // The doorbell has no content: the message comes from sync_msg with that token.
  CHECK(plain->find("老师好") == std::string::npos);
  auto r = env.call("sync_msg", {{"token", w["sync_token"]}, {"open_kfid", "wkA"}});
  REQUIRE(r["errcode"] == 0);
  REQUIRE(r["msg_list"].size() == 1);
  const auto& m = r["msg_list"][0];
  CHECK(m["msgid"] == w["msgid"]);
  CHECK(m["open_kfid"] == "wkA");
  CHECK(m["external_userid"] == "wmParent1");
  CHECK(m["send_time"] == 1'700'000'000);
  CHECK(m["origin"] == 3);
  CHECK(m["msgtype"] == "text");
  CHECK(m["text"]["content"] == "老师好");
}

TEST_CASE("kf sync_msg pages by cursor with has_more", "[sandbox][kf]") {
  Env env;
  for (int i = 0; i < 5; ++i) env.write({{"external_userid", "wmP"}, {"text", "m" + std::to_string(i)}});
  env.write({{"open_kfid", "wkB"}, {"external_userid", "wmQ"}, {"text", "other account"}});
  std::vector<std::string> seen;
  std::string cursor;
  std::string first_cursor;
  const std::vector<std::pair<std::size_t, int>> pages = {{2, 1}, {2, 1}, {1, 0}, {0, 0}};
  for (const auto& [count, has_more] : pages) {
    json body = {{"limit", 2}, {"open_kfid", "wkA"}};
    if (!cursor.empty()) body["cursor"] = cursor;
    auto r = env.call("sync_msg", body);
    REQUIRE(r["errcode"] == 0);
    CHECK(r["msg_list"].size() == count);
    CHECK(r["has_more"] == has_more);
    for (const auto& m : r["msg_list"]) seen.push_back(m["text"]["content"]);
    cursor = r["next_cursor"];
    CHECK(!cursor.empty());
    CHECK(cursor.size() <= 64);
    if (first_cursor.empty()) first_cursor = cursor;
  }
  CHECK(seen == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"});
  // A persisted cursor replays from where it pointed.
  auto again = env.call("sync_msg", {{"cursor", first_cursor}, {"open_kfid", "wkA"}});
  REQUIRE(again["msg_list"].size() == 3);
  CHECK(again["msg_list"][0]["text"]["content"] == "m2");
  // New messages appear after the last cursor.
  env.write({{"external_userid", "wmP"}, {"text", "m5"}});
  auto more = env.call("sync_msg", {{"cursor", cursor}, {"open_kfid", "wkA"}});
  REQUIRE(more["msg_list"].size() == 1);
  CHECK(more["msg_list"][0]["text"]["content"] == "m5");
  // Without open_kfid every account's messages come back.
  CHECK(env.call("sync_msg", json::object())["msg_list"].size() == 7);
}

TEST_CASE("kf sync_msg rejects bad cursors, tokens, limits and voice formats", "[sandbox][kf]") {
  Env env;
  auto w = env.write({{"external_userid", "wmP"}, {"text", "x"}});
  struct Case {
    const char* label;
    json body;
    int errcode;
  };
  // The generator is built once, so the live token (new per run) replaces "TOKEN" below.
  auto c = GENERATE(values<Case>({
      {"no parameters", json::object(), 0},
      {"token", {{"token", "TOKEN"}}, 0},
      {"unknown token", {{"token", "ENCnope"}}, 95007},
      {"unknown cursor", {{"cursor", "nope"}}, 40058},
      {"limit 1000", {{"limit", 1000}}, 0},
      {"limit 1001", {{"limit", 1001}}, 40058},
      {"voice_format 1", {{"voice_format", 1}}, 0},
      {"voice_format 2", {{"voice_format", 2}}, 40058},
      {"unknown open_kfid", {{"open_kfid", "wkZ"}}, 95004},
  }));
  CAPTURE(c.label);
  json body = c.body;
  if (body.contains("token") && body["token"] == "TOKEN") body["token"] = w["sync_token"];
  CHECK(env.code("sync_msg", body) == c.errcode);
}

TEST_CASE("kf sync token is valid 10 minutes and history 3 days", "[sandbox][kf][limits]") {
  Env env;
  auto w = env.write({{"external_userid", "wmP"}, {"text", "x"}});
  env.base.advance(599s);
  CHECK(env.code("sync_msg", {{"token", w["sync_token"]}}) == 0);
  env.base.advance(1s);
  CHECK(env.code("sync_msg", {{"token", w["sync_token"]}}) == 95007);
  CHECK(env.call("sync_msg", json::object())["msg_list"].size() == 1);
  env.base.advance(std::chrono::seconds(3 * 24 * 3600 - 600));
  CHECK(env.call("sync_msg", json::object())["msg_list"].size() == 1);
  env.base.advance(1s);
  CHECK(env.call("sync_msg", json::object())["msg_list"].empty());
}

TEST_CASE("kf sync_msg can answer an empty page with has_more 1", "[sandbox][kf]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "x"}});
  REQUIRE(env.control("empty_pages", {{"count", 1}}).status == 200);
  auto r = env.call("sync_msg", json::object());
  CHECK(r["msg_list"].empty());
  CHECK(r["has_more"] == 1);
  auto next = env.call("sync_msg", {{"cursor", r["next_cursor"]}});
  CHECK(next["msg_list"].size() == 1);
  CHECK(next["has_more"] == 0);
}

TEST_CASE("kf send_msg: 48-hour window and 5 messages per customer message", "[sandbox][kf][limits]") {
  enum class Op { kWrite, kSend, kAdvance, kState };
  struct Step {
    const char* label;
    Op op;
    std::int64_t arg;
    int errcode;
  };
  const std::vector<Step> steps = {
      {"never wrote", Op::kSend, 0, 95031},
      {"parent writes", Op::kWrite, 0, 0},
      {"1st", Op::kSend, 0, 0},
      {"2nd", Op::kSend, 0, 0},
      {"3rd", Op::kSend, 0, 0},
      {"4th", Op::kSend, 0, 0},
      {"5th", Op::kSend, 0, 0},
      {"6th refused", Op::kSend, 0, 95001},
      {"parent writes again", Op::kWrite, 0, 0},
      {"allowance reset", Op::kSend, 0, 0},
      {"47:59:59 later", Op::kAdvance, 48 * 3600 - 1, 0},
      {"still inside 48 h", Op::kSend, 0, 0},
      {"48 h reached", Op::kAdvance, 1, 0},
      {"outside 48 h", Op::kSend, 0, 95002},
      {"parent writes after 2 days", Op::kWrite, 0, 0},
      {"window reopened", Op::kSend, 0, 0},
      {"human receptionist takes over", Op::kState, 3, 0},
      {"state 3 refuses", Op::kSend, 0, 95018},
      {"smart assistant", Op::kState, 1, 0},
      {"state 1 accepts", Op::kSend, 0, 0},
  };
  Env env;
  std::size_t accepted = 0;
  for (const auto& s : steps) {
    CAPTURE(s.label);
    switch (s.op) {
      case Op::kWrite: env.write({{"external_userid", "wmP"}, {"text", s.label}}); break;
      case Op::kAdvance: env.base.advance(std::chrono::seconds(s.arg)); break;
      case Op::kState:
        REQUIRE(env.control("session", {{"external_userid", "wmP"}, {"service_state", s.arg}}).status == 200);
        break;
      case Op::kSend: {
        auto r = env.send_text("wmP", s.label);
        CHECK(r["errcode"] == s.errcode);
        if (s.errcode == 0) {
          ++accepted;
          CHECK(!r["msgid"].get<std::string>().empty());
        }
        break;
      }
    }
  }
  auto ds = env.sb().deliveries();
  REQUIRE(ds.size() == accepted);
  CHECK(ds[0].channel == "kf");
  CHECK(ds[0].userid == "wmP");
  CHECK(ds[0].msgtype == "text");
  CHECK(ds[0].message["content"] == "1st");
  // API messages are never returned by sync_msg (DOC 94670): only the parent's 3 texts are there.
  CHECK(env.call("sync_msg", json::object())["msg_list"].size() == 3);
}

TEST_CASE("kf send_msg validates the message", "[sandbox][kf]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "hi"}});
  auto menu = [](json list) {
    return json{{"msgtype", "msgmenu"}, {"msgmenu", {{"head_content", "满意吗？"}, {"list", list}}}};
  };
  json click = {{"type", "click"}, {"click", {{"id", "101"}, {"content", "满意"}}}};
  json eleven = json::array();
  for (int i = 0; i < 11; ++i) eleven.push_back(click);
  struct Case {
    const char* label;
    json body;
    int errcode;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"text", {{"msgtype", "text"}, {"text", {{"content", "好"}}}}, 0},
      {"text 2048 bytes", {{"msgtype", "text"}, {"text", {{"content", std::string(2048, 'a')}}}}, 0},
      {"text 2049 bytes", {{"msgtype", "text"}, {"text", {{"content", std::string(2049, 'a')}}}}, 45002},
      {"empty text", {{"msgtype", "text"}, {"text", {{"content", ""}}}}, 44004},
      {"unknown msgtype", {{"msgtype", "markdown"}, {"markdown", {{"content", "x"}}}}, 40008},
      {"image without media_id", {{"msgtype", "image"}, {"image", json::object()}}, 41006},
      {"image", {{"msgtype", "image"}, {"image", {{"media_id", "MEDIA"}}}}, 0},
      {"link", {{"msgtype", "link"}, {"link", {{"title", "t"}, {"url", "https://x.invalid"}, {"thumb_media_id", "M"}}}}, 0},
      {"link without url", {{"msgtype", "link"}, {"link", {{"title", "t"}, {"thumb_media_id", "M"}}}}, 40058},
      {"link title 129 bytes",
       {{"msgtype", "link"}, {"link", {{"title", std::string(129, 't')}, {"url", "u"}, {"thumb_media_id", "M"}}}}, 45002},
      {"miniprogram",
       {{"msgtype", "miniprogram"}, {"miniprogram", {{"appid", "wx1"}, {"thumb_media_id", "M"}, {"pagepath", "p"}}}}, 0},
      {"location", {{"msgtype", "location"}, {"location", {{"latitude", 23.1}, {"longitude", 113.2}, {"name", "n"}}}}, 0},
      {"location without longitude", {{"msgtype", "location"}, {"location", {{"latitude", 23.1}}}}, 40058},
      {"menu", menu({click, {{"type", "view"}, {"view", {{"url", "https://x.invalid"}, {"content", "看"}}}},
                     {{"type", "text"}, {"text", {{"content", "纯文本"}}}}}), 0},
      {"menu with 11 items", menu(eleven), 95008},
      {"menu item of unknown type", menu({{{"type", "button"}, {"button", json::object()}}}), 95009},
      {"menu click id 65 bytes", menu({{{"type", "click"}, {"click", {{"id", std::string(65, '1')}, {"content", "x"}}}}}), 45002},
      {"menu click without content", menu({{{"type", "click"}, {"click", {{"id", "1"}}}}}), 40058},
  }));
  CAPTURE(c.label);
  json body = c.body;
  body["touser"] = "wmP";
  body["open_kfid"] = "wkA";
  CHECK(env.code("send_msg", body) == c.errcode);
}

TEST_CASE("kf send_msg checks account, recipient and msgid", "[sandbox][kf]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "hi"}});
  const json text = {{"content", "x"}};
  struct Case {
    const char* label;
    json body;
    int errcode;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"no open_kfid", {{"touser", "wmP"}, {"msgtype", "text"}, {"text", text}}, 95000},
      {"unknown open_kfid", {{"touser", "wmP"}, {"open_kfid", "wkZ"}, {"msgtype", "text"}, {"text", text}}, 95004},
      {"no touser", {{"open_kfid", "wkA"}, {"msgtype", "text"}, {"text", text}}, 41035},
      {"user of another account", {{"touser", "wmP"}, {"open_kfid", "wkB"}, {"msgtype", "text"}, {"text", text}}, 95031},
      {"msgid 32 bytes",
       {{"touser", "wmP"}, {"open_kfid", "wkA"}, {"msgid", std::string(32, 'a')}, {"msgtype", "text"}, {"text", text}}, 0},
      {"msgid 33 bytes",
       {{"touser", "wmP"}, {"open_kfid", "wkA"}, {"msgid", std::string(33, 'a')}, {"msgtype", "text"}, {"text", text}}, 40058},
      {"msgid with a dot",
       {{"touser", "wmP"}, {"open_kfid", "wkA"}, {"msgid", "a.b"}, {"msgtype", "text"}, {"text", text}}, 40058},
  }));
  CAPTURE(c.label);
  CHECK(env.code("send_msg", c.body) == c.errcode);
}

TEST_CASE("kf send_msg returns the given msgid and refuses a duplicate", "[sandbox][kf]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "hi"}});
  json body = {{"touser", "wmP"}, {"open_kfid", "wkA"}, {"msgid", "reply-1"}, {"msgtype", "text"},
               {"text", {{"content", "x"}}}};
  auto r = env.call("send_msg", body);
  CHECK(r["errcode"] == 0);
  CHECK(r["msgid"] == "reply-1");
  CHECK(env.code("send_msg", body) == 40058);
  CHECK(env.sb().deliveries().size() == 1);
}

TEST_CASE("kf menu click arrives as the parent's text with menu_id and reopens the allowance", "[sandbox][kf]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "开始"}});
  for (int i = 0; i < 4; ++i) REQUIRE(env.send_text("wmP", "q")["errcode"] == 0);
  json menu = {{"touser", "wmP"}, {"open_kfid", "wkA"}, {"msgtype", "msgmenu"},
               {"msgmenu", {{"head_content", "第一题"},
                            {"list", {{{"type", "click"}, {"click", {{"id", "101"}, {"content", "满意"}}}},
                                      {{"type", "click"}, {"click", {{"id", "102"}, {"content", "不满意"}}}}}}}}};
  REQUIRE(env.code("send_msg", menu) == 0);
  CHECK(env.send_text("wmP", "6th")["errcode"] == 95001);
  CHECK(env.control("write", {{"external_userid", "wmP"}, {"menu_click", "999"}}).status == 404);
  auto w = env.write({{"external_userid", "wmP"}, {"menu_click", "102"}});
  auto r = env.call("sync_msg", {{"token", w["sync_token"]}});
  const auto& last = r["msg_list"].back();
  CHECK(last["origin"] == 3);
  CHECK(last["text"]["content"] == "不满意");
  CHECK(last["text"]["menu_id"] == "102");
  CHECK(env.send_text("wmP", "next question")["errcode"] == 0);
}

TEST_CASE("kf enter_session gives a welcome code usable once within 20 s", "[sandbox][kf]") {
  Env env;
  auto w = env.write({{"external_userid", "wmNew"}, {"enter_session", {{"scene", "class3"}, {"scene_param", "hh=42"}}}});
  REQUIRE(w.contains("welcome_code"));
  const std::string code = w["welcome_code"];
  auto r = env.call("sync_msg", {{"token", w["sync_token"]}});
  REQUIRE(r["msg_list"].size() == 1);
  const auto& ev = r["msg_list"][0];
  CHECK(ev["origin"] == 4);
  CHECK(ev["msgtype"] == "event");
  CHECK(ev["event"]["event_type"] == "enter_session");
  CHECK(ev["event"]["open_kfid"] == "wkA");
  CHECK(ev["event"]["external_userid"] == "wmNew");
  CHECK(ev["event"]["scene"] == "class3");
  CHECK(ev["event"]["scene_param"] == "hh=42");
  CHECK(ev["event"]["welcome_code"] == code);
  // enter_session is not a customer message: send_msg stays closed.
  CHECK(env.send_text("wmNew", "hi")["errcode"] == 95031);
  json welcome = {{"code", code}, {"msgtype", "text"}, {"text", {{"content", "欢迎"}}}};
  CHECK(env.code("send_msg_on_event", {{"code", code}, {"msgtype", "image"}, {"image", {{"media_id", "M"}}}}) == 40008);
  CHECK(env.code("send_msg_on_event", welcome) == 0);
  CHECK(env.code("send_msg_on_event", welcome) == 40058);  // once only
  CHECK(env.code("send_msg_on_event", {{"code", "unknown"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}) == 40058);
  auto ds = env.sb().deliveries();
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].userid == "wmNew");
  CHECK(ds[0].message["content"] == "欢迎");
  // Welcomed within 48 h: the next enter_session has no code.
  CHECK(!env.write({{"external_userid", "wmNew"}, {"enter_session", json::object()}}).contains("welcome_code"));

  // A code expires after 20 s.
  auto late = env.write({{"external_userid", "wmLate"}, {"enter_session", json::object()}});
  REQUIRE(late.contains("welcome_code"));
  env.base.advance(20s);
  CHECK(env.code("send_msg_on_event", {{"code", late["welcome_code"]}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}) ==
        40058);
  // A parent who wrote within 48 h, or an account with a console welcome message, gets no code.
  env.write({{"external_userid", "wmTalked"}, {"text", "hi"}});
  CHECK(!env.write({{"external_userid", "wmTalked"}, {"enter_session", json::object()}}).contains("welcome_code"));
  CHECK(!env.write({{"open_kfid", "wkC"}, {"external_userid", "wmX"}, {"enter_session", json::object()}})
             .contains("welcome_code"));
}

TEST_CASE("kf enter_session from an add_contact_way link carries scene and scene_param", "[sandbox][kf]") {
  Env env;
  auto link = env.call("add_contact_way", {{"open_kfid", "wkB"}, {"scene", "grade3"}});
  const std::string url = link["url"].get<std::string>() + "&scene_param=" + url_encode("a=1&b=家");
  auto w = env.write({{"enter_session", {{"url", url}}}});
  CHECK(w["open_kfid"] == "wkB");
  CHECK(w["external_userid"].get<std::string>().rfind("wm", 0) == 0);  // a new parent
  auto r = env.call("sync_msg", {{"open_kfid", "wkB"}});
  REQUIRE(r["msg_list"].size() == 1);
  CHECK(r["msg_list"][0]["event"]["scene"] == "grade3");
  CHECK(r["msg_list"][0]["event"]["scene_param"] == "a=1&b=家");
}

TEST_CASE("kf msg_send_fail: accepted sends that never reach the parent", "[sandbox][kf]") {
  Env env;
  auto first = env.write({{"external_userid", "wmP"}, {"text", "hi"}});
  auto cursor = env.call("sync_msg", json::object())["next_cursor"];
  REQUIRE(env.control("fail", {{"external_userid", "wmP"}, {"fail_type", 10}, {"next", true}}).status == 200);
  env.sb().take_callbacks();
  auto r = env.send_text("wmP", "问卷");
  REQUIRE(r["errcode"] == 0);  // success means accepted, not delivered
  auto ds = env.sb().deliveries();
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].dropped);
  CHECK(env.sb().take_callbacks().size() == 1);  // the doorbell for the event
  auto s = env.call("sync_msg", {{"cursor", cursor}});
  REQUIRE(s["msg_list"].size() == 1);
  const auto& ev = s["msg_list"][0];
  CHECK(ev["origin"] == 4);
  CHECK(ev["event"]["event_type"] == "msg_send_fail");
  CHECK(ev["event"]["fail_msgid"] == r["msgid"]);
  CHECK(ev["event"]["fail_type"] == 10);
  CHECK(ev["event"]["external_userid"] == "wmP");
  // The next send goes through again; a failure can also be raised for the last message.
  REQUIRE(env.send_text("wmP", "again")["errcode"] == 0);
  CHECK(!env.sb().deliveries().back().dropped);
  auto f = json::parse(env.control("fail", {{"external_userid", "wmP"}, {"fail_type", 4}}).body);
  CHECK(f["fail_msgid"] == env.call("sync_msg", {{"cursor", s["next_cursor"]}})["msg_list"][0]["event"]["fail_msgid"]);
}

TEST_CASE("kf state lists conversations and reset forgets them", "[sandbox][kf][control]") {
  Env env;
  env.write({{"external_userid", "wmP"}, {"text", "hi"}});
  REQUIRE(env.send_text("wmP", "你好")["errcode"] == 0);
  auto st = json::parse(env.sb().handle({"GET", "/_sandbox/state", ""}).body);
  REQUIRE(st["kf"]["conversations"].size() == 1);
  const auto& conv = st["kf"]["conversations"][0];
  CHECK(conv["external_userid"] == "wmP");
  CHECK(conv["sends_left"] == 4);
  REQUIRE(conv["messages"].size() == 2);
  CHECK(conv["messages"][0]["dir"] == "in");
  CHECK(conv["messages"][1]["dir"] == "out");
  auto one = env.sb().handle({"GET", "/_sandbox/kf/conversation?open_kfid=wkA&external_userid=wmP", ""});
  CHECK(one.status == 200);
  CHECK(env.sb().handle({"GET", "/_sandbox/kf/conversation?external_userid=nobody", ""}).status == 404);
  env.sb().handle({"POST", "/_sandbox/reset", ""});
  st = json::parse(env.sb().handle({"GET", "/_sandbox/state", ""}).body);
  CHECK(st["kf"]["conversations"].empty());
}

}  // namespace
}  // namespace yuer::sandbox
