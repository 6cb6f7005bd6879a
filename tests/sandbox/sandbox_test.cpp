// Endpoint logic without sockets: (state, request) → reply, time driven by a ManualClock.
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include "tests/sandbox/callbacks.h"

#include "adapters/wecom/crypto.h"

#include <catch2/catch.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kFixture = R"({
  "corp": {"corp_id": "wwtest0001", "name": "测试县"},
  "apps": [
    {"agent_id": 1000002, "secret": "app-secret-1", "token": "Tok1", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
     "callback_url": "http://127.0.0.1:9/cb"},
    {"agent_id": 1000003, "secret": "app-secret-2", "token": "Tok2", "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut",
     "visible_userids": ["Alice"]}
  ],
  "members": [{"userid": "Alice", "name": "甲"}, {"userid": "Bob", "name": "乙"}, {"userid": "Carol", "name": "丙"}],
  "internal_groups": [
    {"chat_id": "wrmgmt1", "name": "管理群", "owner": "Alice", "members": ["Alice", "Bob"],
     "robots": [{"key": "robot-key-1"}, {"key": "robot-key-2"}]},
    {"chat_id": "appchat1", "name": "应用群", "owner": "Alice", "members": ["Alice", "Bob", "Carol"], "app_agent_id": 1000002},
    {"chat_id": "appchat2", "name": "另一个应用群", "owner": "Alice", "members": ["Alice", "Bob"], "app_agent_id": 1000003}
  ],
  "customer_groups": [{"chat_id": "wrcust1", "owner": "Alice", "members": [{"userid": "wmParent1", "type": 2}]}],
  "kf_accounts": [{"open_kfid": "wkTest1", "name": "客服"}]
})";

struct Env : testing::SandboxEnv {
  Env() : SandboxEnv(kFixture) {}
  std::string token(const std::string& secret = "app-secret-1") { return SandboxEnv::token(secret); }
};

using testing::errcode_of;

std::string text_body(const std::string& content) {
  return json{{"msgtype", "text"}, {"text", {{"content", content}}}}.dump();
}

std::string b64(const std::string& raw) { return adapters::wecom::base64_encode(raw); }

std::string md5_hex(const std::string& raw) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(raw.data(), raw.size(), md, &len, EVP_md5(), nullptr);
  std::string out;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    out += buf;
  }
  return out;
}

TEST_CASE("sandbox error envelope looks like WeCom's", "[sandbox]") {
  Env env;
  auto r = env.get("/cgi-bin/gettoken?corpid=nope&corpsecret=x");
  CHECK(r.status == 200);
  CHECK(r.errcode == 40013);
  auto j = json::parse(r.body);
  CHECK(j["errcode"] == 40013);
  // No std::regex here: GCC 12 with ASan flags it -Wmaybe-uninitialized (an -Werror failure in CI).
  const std::string msg = j["errmsg"].get<std::string>();
  const std::string head = "invalid corpid, hint: [1700000000";
  const std::string tail = "], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=40013";
  REQUIRE(msg.size() == head.size() + 15 + tail.size());
  CHECK(msg.substr(0, head.size()) == head);
  CHECK(msg.substr(head.size(), 15).find_first_not_of("0123456789") == std::string::npos);
  CHECK(msg.substr(head.size() + 15) == tail);
}

TEST_CASE("sandbox gettoken answers per corpid and secret", "[sandbox][gettoken]") {
  Env env;
  auto [query, errcode] = GENERATE(table<std::string, int>({
      {"corpid=wwtest0001&corpsecret=app-secret-1", 0},
      {"corpid=wwtest0001&corpsecret=app-secret-2", 0},
      {"corpid=wwtest0001&corpsecret=wrong", 40001},
      {"corpid=wwother&corpsecret=app-secret-1", 40013},
      {"corpsecret=app-secret-1", 41002},
      {"corpid=wwtest0001", 41004},
      {"corpid=wwtest0001&corpsecret=", 41004},
  }));
  CAPTURE(query);
  auto r = env.get("/cgi-bin/gettoken?" + query);
  CHECK(errcode_of(r) == errcode);
  if (errcode == 0) {
    auto j = json::parse(r.body);
    CHECK(j["errmsg"] == "ok");
    CHECK(j["expires_in"] == 7200);
    auto token = j["access_token"].get<std::string>();
    CHECK(!token.empty());
    CHECK(token.size() <= 512);
  }
}

TEST_CASE("sandbox checks access tokens: missing, invalid, expired, other app", "[sandbox][gettoken]") {
  Env env;
  const std::string body = json{{"touser", "Alice"}, {"agentid", 1000002}, {"msgtype", "text"},
                                {"text", {{"content", "hi"}}}}.dump();
  auto t1 = env.token();
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + t1, body)) == 0);
  CHECK(errcode_of(env.post("/cgi-bin/message/send", body)) == 41001);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=", body)) == 41001);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=garbage", body)) == 40014);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + env.token("app-secret-2"), body)) == 40014);

  env.base.advance(7199s);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + t1, body)) == 0);
  env.base.advance(1s);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + t1, body)) == 42001);
  CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + env.token(), body)) == 0);
}

TEST_CASE("sandbox token lifetime is configurable", "[sandbox][gettoken]") {
  ManualClock base;
  Settings s;
  s.token_lifetime = 60s;
  Sandbox sb(parse_fixture(kFixture).value(), base, s);
  auto r = json::parse(sb.handle({"GET", "/cgi-bin/gettoken?corpid=wwtest0001&corpsecret=app-secret-1", ""}).body);
  CHECK(r["expires_in"] == 60);
  const std::string body = json{{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}.dump();
  const std::string target = "/cgi-bin/appchat/send?access_token=" + r["access_token"].get<std::string>();
  CHECK(errcode_of(sb.handle({"POST", target, body})) == 0);
  base.advance(60s);
  CHECK(errcode_of(sb.handle({"POST", target, body})) == 42001);
}

TEST_CASE("sandbox webhook/send validates every msgtype", "[sandbox][webhook]") {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";
  const std::string jpg = std::string("\xFF\xD8\xFF\xE0", 4) + "jfif";
  auto articles = [](int n) {
    json a = json::array();
    for (int i = 0; i < n; ++i) a.push_back({{"title", "标题"}, {"url", "https://example.com/" + std::to_string(i)}});
    return a;
  };
  struct Case {
    const char* label;
    std::string body;
    int errcode;
  };
  const std::vector<Case> cases = {
      {"text", text_body("早上好"), 0},
      {"text 2048 bytes", text_body(std::string(2048, 'a')), 0},
      {"text 2049 bytes", text_body(std::string(2049, 'a')), 40058},
      {"text empty", text_body(""), 44004},
      {"text with mentions", json{{"msgtype", "text"}, {"text", {{"content", "x"}, {"mentioned_list", {"@all"}}}}}.dump(), 0},
      {"text object missing", R"({"msgtype":"text"})", 40058},
      {"markdown 4096", json{{"msgtype", "markdown"}, {"markdown", {{"content", std::string(4096, 'm')}}}}.dump(), 0},
      {"markdown 4097", json{{"msgtype", "markdown"}, {"markdown", {{"content", std::string(4097, 'm')}}}}.dump(), 40058},
      {"markdown_v2", json{{"msgtype", "markdown_v2"}, {"markdown_v2", {{"content", "| a | b |"}}}}.dump(), 0},
      {"markdown_v2 4097",
       json{{"msgtype", "markdown_v2"}, {"markdown_v2", {{"content", std::string(4097, 'm')}}}}.dump(), 40058},
      {"image png", json{{"msgtype", "image"}, {"image", {{"base64", b64(png)}, {"md5", md5_hex(png)}}}}.dump(), 0},
      {"image jpg", json{{"msgtype", "image"}, {"image", {{"base64", b64(jpg)}, {"md5", md5_hex(jpg)}}}}.dump(), 0},
      {"image md5 of base64 text", json{{"msgtype", "image"}, {"image", {{"base64", b64(png)}, {"md5", md5_hex(b64(png))}}}}.dump(), 40058},
      {"image not jpg/png", json{{"msgtype", "image"}, {"image", {{"base64", b64("GIF89a")}, {"md5", md5_hex("GIF89a")}}}}.dump(), 40058},
      {"image over 2 MB",
       [&] {
         std::string big = png + std::string(2 * 1024 * 1024, 'x');
         return json{{"msgtype", "image"}, {"image", {{"base64", b64(big)}, {"md5", md5_hex(big)}}}}.dump();
       }(),
       40009},
      {"news 1", json{{"msgtype", "news"}, {"news", {{"articles", articles(1)}}}}.dump(), 0},
      {"news 8", json{{"msgtype", "news"}, {"news", {{"articles", articles(8)}}}}.dump(), 0},
      {"news 9", json{{"msgtype", "news"}, {"news", {{"articles", articles(9)}}}}.dump(), 45008},
      {"news 0", json{{"msgtype", "news"}, {"news", {{"articles", json::array()}}}}.dump(), 40058},
      {"news without url", json{{"msgtype", "news"}, {"news", {{"articles", {{{"title", "t"}}}}}}}.dump(), 40058},
      {"file without upload", json{{"msgtype", "file"}, {"file", {{"media_id", "m1"}}}}.dump(), 40007},
      {"voice missing media_id", json{{"msgtype", "voice"}, {"voice", json::object()}}.dump(), 41006},
      {"template_card text_notice",
       json{{"msgtype", "template_card"}, {"template_card", {{"card_type", "text_notice"}}}}.dump(), 0},
      {"template_card news_notice",
       json{{"msgtype", "template_card"}, {"template_card", {{"card_type", "news_notice"}}}}.dump(), 0},
      {"template_card interactive",
       json{{"msgtype", "template_card"}, {"template_card", {{"card_type", "button_interaction"}}}}.dump(), 40058},
      {"unknown msgtype", R"({"msgtype":"video","video":{"media_id":"x"}})", 40008},
      {"no msgtype", R"({"text":{"content":"x"}})", 40008},
      {"bad json", R"({"msgtype":"text",)", 40058},
      {"json array", "[1,2]", 40058},
      {"empty body", "", 44002},
  };
  for (const auto& c : cases) {
    Env env;
    CAPTURE(c.label);
    auto r = env.post("/cgi-bin/webhook/send?key=robot-key-1", c.body);
    CHECK(r.status == 200);
    CHECK(errcode_of(r) == c.errcode);
    if (c.errcode == 0) CHECK(r.body == R"({"errcode":0,"errmsg":"ok"})");
    auto d = env.sb().deliveries();
    CHECK(d.size() == (c.errcode == 0 ? 1u : 0u));
    if (!d.empty()) CHECK(d[0].chat_id == "wrmgmt1");
  }
}

TEST_CASE("sandbox webhook/send rejects unknown keys, GET, and over-long content with WeCom's words", "[sandbox][webhook]") {
  Env env;
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=nope", text_body("x"))) == 93000);
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send", text_body("x"))) == 93000);
  CHECK(errcode_of(env.get("/cgi-bin/webhook/send?key=robot-key-1")) == 43002);
  auto r = json::parse(env.post("/cgi-bin/webhook/send?key=robot-key-1",
                                json{{"msgtype", "markdown"}, {"markdown", {{"content", std::string(5000, 'x')}}}}.dump())
                           .body);
  CHECK(r["errmsg"].get<std::string>().rfind("markdown.content exceed max length 4096. invalid Request Parameter, hint: [", 0) == 0);
  // Customer groups have no robots: their chat id is not a key either.
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=wrcust1", text_body("x"))) == 93000);
}

TEST_CASE("sandbox webhook allows 20 messages per rolling minute per key", "[sandbox][webhook][limits]") {
  Env env;
  const std::string k1 = "/cgi-bin/webhook/send?key=robot-key-1";
  const std::string k2 = "/cgi-bin/webhook/send?key=robot-key-2";
  for (int i = 0; i < 10; ++i) REQUIRE(errcode_of(env.post(k1, text_body("a" + std::to_string(i)))) == 0);
  env.base.advance(30s);
  for (int i = 0; i < 10; ++i) REQUIRE(errcode_of(env.post(k1, text_body("b" + std::to_string(i)))) == 0);
  CHECK(errcode_of(env.post(k1, text_body("21st"))) == 45009);
  CHECK(errcode_of(env.post(k2, text_body("other robot"))) == 0);  // per key
  env.base.advance(29'999ms);
  CHECK(errcode_of(env.post(k1, text_body("still limited"))) == 45009);
  env.base.advance(1ms);  // the first ten are now 60 s old
  for (int i = 0; i < 10; ++i) CHECK(errcode_of(env.post(k1, text_body("c" + std::to_string(i)))) == 0);
  CHECK(errcode_of(env.post(k1, text_body("over again"))) == 45009);
  auto recs = env.sb().requests();
  CHECK(std::count_if(recs.begin(), recs.end(), [](const RequestRecord& r) { return r.errcode == 45009; }) == 3);
  CHECK(env.sb().deliveries().size() == 31u);
}

TEST_CASE("sandbox message/send resolves recipients", "[sandbox][message]") {
  struct Case {
    const char* label;
    const char* secret;
    std::int64_t agentid;
    json fields;
    int errcode;
    std::vector<std::string> delivered;
    std::string invaliduser;
  };
  const std::vector<Case> cases = {
      {"one member", "app-secret-1", 1000002, {{"touser", "Bob"}}, 0, {"Bob"}, ""},
      {"case-insensitive", "app-secret-1", 1000002, {{"touser", "bob|ALICE"}}, 0, {"Bob", "Alice"}, ""},
      {"some invalid, lower-cased", "app-secret-1", 1000002, {{"touser", "Bob|Nobody"}}, 0, {"Bob"}, "nobody"},
      {"duplicates once", "app-secret-1", 1000002, {{"touser", "Bob|Bob"}}, 0, {"Bob"}, ""},
      {"all invalid", "app-secret-1", 1000002, {{"touser", "Nobody|Ghost"}}, 81013, {}, ""},
      {"@all", "app-secret-1", 1000002, {{"touser", "@all"}}, 0, {"Alice", "Bob", "Carol"}, ""},
      {"@all within visibility", "app-secret-2", 1000003, {{"touser", "@all"}}, 0, {"Alice"}, ""},
      {"outside visibility", "app-secret-2", 1000003, {{"touser", "Alice|Bob"}}, 0, {"Alice"}, "bob"},
      {"party only (no departments yet)", "app-secret-1", 1000002, {{"toparty", "2"}}, 81013, {}, ""},
      {"no recipients", "app-secret-1", 1000002, json::object(), 82001, {}, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Env env;
    json body = c.fields;
    body["agentid"] = c.agentid;
    body["msgtype"] = "text";
    body["text"] = {{"content", "通知"}};
    auto r = env.post("/cgi-bin/message/send?access_token=" + env.token(c.secret), body.dump());
    auto j = json::parse(r.body);
    CHECK(j["errcode"] == c.errcode);
    std::vector<std::string> got;
    for (const auto& d : env.sb().deliveries()) got.push_back(d.userid);
    CHECK(got == c.delivered);
    if (c.errcode == 0) {
      CHECK(j.contains("msgid"));
      CHECK(j.value("invaliduser", "") == c.invaliduser);
    }
  }
}

TEST_CASE("sandbox message/send checks agentid, msgtype and content", "[sandbox][message]") {
  struct Case {
    const char* label;
    json body;
    int errcode;
  };
  const json text = {{"content", "hi"}};
  const std::vector<Case> cases = {
      {"ok", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "text"}, {"text", text}}, 0},
      {"agentid as string", {{"touser", "Bob"}, {"agentid", "1000002"}, {"msgtype", "text"}, {"text", text}}, 0},
      {"agentid missing", {{"touser", "Bob"}, {"msgtype", "text"}, {"text", text}}, 41011},
      {"agentid unknown", {{"touser", "Bob"}, {"agentid", 42}, {"msgtype", "text"}, {"text", text}}, 40056},
      {"agentid of another app", {{"touser", "Bob"}, {"agentid", 1000003}, {"msgtype", "text"}, {"text", text}}, 40014},
      {"msgtype unknown", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "markdown_v2"}}, 40008},
      {"textcard", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "textcard"},
                    {"textcard", {{"title", "t"}, {"description", "d"}, {"url", "https://e.x"}}}}, 0},
      {"textcard without url", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "textcard"},
                                {"textcard", {{"title", "t"}, {"description", "d"}}}}, 40058},
      {"markdown 2049", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "markdown"},
                         {"markdown", {{"content", std::string(2049, 'x')}}}}, 40058},
      {"image needs media_id", {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "image"}, {"image", json::object()}}, 41006},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Env env;
    CHECK(errcode_of(env.post("/cgi-bin/message/send?access_token=" + env.token(), c.body.dump())) == c.errcode);
  }
}

TEST_CASE("sandbox message/send truncates text over 2048 bytes on a UTF-8 boundary", "[sandbox][message]") {
  Env env;
  std::string content;
  for (int i = 0; i < 700; ++i) content += "字";  // 2100 bytes
  json body = {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "text"}, {"text", {{"content", content}}}};
  REQUIRE(errcode_of(env.post("/cgi-bin/message/send?access_token=" + env.token(), body.dump())) == 0);
  auto stored = env.sb().deliveries().at(0).message["content"].get<std::string>();
  CHECK(stored.size() == 2046);  // 682 whole characters
  CHECK(content.rfind(stored, 0) == 0);
}

TEST_CASE("sandbox message/send gives response_code only for interactive cards", "[sandbox][message]") {
  auto [card_type, has_code] = GENERATE(table<std::string, bool>({
      {"text_notice", false}, {"button_interaction", true}, {"vote_interaction", true}, {"multiple_interaction", true}}));
  CAPTURE(card_type);
  Env env;
  json body = {{"touser", "Bob"}, {"agentid", 1000002}, {"msgtype", "template_card"},
               {"template_card", testing::interactive_card(card_type, "task1")}};
  auto j = json::parse(env.post("/cgi-bin/message/send?access_token=" + env.token(), body.dump()).body);
  CHECK(j["errcode"] == 0);
  CHECK(j.contains("response_code") == has_code);
}

TEST_CASE("sandbox message/send drops silently above 30 per minute per member", "[sandbox][message][limits]") {
  Env env;
  const std::string target = "/cgi-bin/message/send?access_token=" + env.token();
  auto send = [&](const std::string& to) {
    json body = {{"touser", to}, {"agentid", 1000002}, {"msgtype", "text"}, {"text", {{"content", "x"}}}};
    return errcode_of(env.post(target, body.dump()));
  };
  for (int i = 0; i < 30; ++i) REQUIRE(send("Bob") == 0);
  CHECK(send("Bob|Alice") == 0);  // still errcode 0
  auto d = env.sb().deliveries();
  REQUIRE(d.size() == 32u);
  CHECK(d[30].userid == "Bob");
  CHECK(d[30].dropped);
  CHECK(d[31].userid == "Alice");
  CHECK_FALSE(d[31].dropped);
  auto rec = env.sb().requests().back();
  CHECK(rec.detail["recipients"][0] == json({{"userid", "Bob"}, {"dropped", true}}));
  env.base.advance(60s);
  CHECK(send("Bob") == 0);
  CHECK_FALSE(env.sb().deliveries().back().dropped);
}

TEST_CASE("sandbox message/send drops silently above 1000 per hour per member", "[sandbox][message][limits]") {
  Env env;
  const std::string target = "/cgi-bin/message/send?access_token=" + env.token();
  json body = {{"touser", "Carol"}, {"agentid", 1000002}, {"msgtype", "text"}, {"text", {{"content", "x"}}}};
  for (int minute = 0; minute < 34; ++minute) {
    for (int i = 0; i < 30; ++i) REQUIRE(errcode_of(env.post(target, body.dump())) == 0);
    env.base.advance(61s);  // stays under 30/min; 34 × 30 = 1020 within the hour
  }
  auto d = env.sb().deliveries();
  auto dropped = std::count_if(d.begin(), d.end(), [](const Delivery& x) { return x.dropped; });
  CHECK(dropped == 20);
}

TEST_CASE("sandbox appchat/send posts only into the app's own chats", "[sandbox][appchat]") {
  struct Case {
    const char* label;
    json body;
    int errcode;
  };
  const json text = {{"content", "群通知"}};
  const std::vector<Case> cases = {
      {"ok", {{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", text}}, 0},
      {"markdown", {{"chatid", "appchat1"}, {"msgtype", "markdown"}, {"markdown", text}}, 0},
      {"template_card not for appchat", {{"chatid", "appchat1"}, {"msgtype", "template_card"},
                                         {"template_card", {{"card_type", "text_notice"}}}}, 40008},
      {"chatid missing", {{"msgtype", "text"}, {"text", text}}, 86001},
      {"unknown chat", {{"chatid", "nope"}, {"msgtype", "text"}, {"text", text}}, 86003},
      {"group not made by appchat", {{"chatid", "wrmgmt1"}, {"msgtype", "text"}, {"text", text}}, 86003},
      {"another app's chat", {{"chatid", "appchat2"}, {"msgtype", "text"}, {"text", text}}, 86008},
      {"empty text", {{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", {{"content", ""}}}}, 44004},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Env env;
    CHECK(errcode_of(env.post("/cgi-bin/appchat/send?access_token=" + env.token(), c.body.dump())) == c.errcode);
    CHECK(env.sb().deliveries().size() == (c.errcode == 0 ? 1u : 0u));
  }
}

TEST_CASE("sandbox appchat/send drops silently above 200 per minute per member", "[sandbox][appchat][limits]") {
  Env env;
  const std::string target = "/cgi-bin/appchat/send?access_token=" + env.token();
  const std::string body = json{{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}.dump();
  for (int i = 0; i < 200; ++i) REQUIRE(errcode_of(env.post(target, body)) == 0);
  CHECK(errcode_of(env.post(target, body)) == 0);
  CHECK(env.sb().deliveries().back().dropped);
  CHECK(env.sb().requests().back().detail["dropped_for"] == json({"Alice", "Bob", "Carol"}));
}

TEST_CASE("sandbox records every WeCom request with the sandbox's time", "[sandbox][control]") {
  Env env;
  env.get("/cgi-bin/gettoken?corpid=wwtest0001&corpsecret=app-secret-1");
  env.base.advance(1500ms);
  env.post("/cgi-bin/webhook/send?key=robot-key-1", text_body("x"));
  env.get("/cgi-bin/nothing/here");
  auto all = json::parse(env.get("/_sandbox/requests").body)["requests"];
  REQUIRE(all.size() == 3);
  CHECK(all[0]["time_ms"] == 1'700'000'000'000LL);
  CHECK(all[1]["time_ms"] == 1'700'000'001'500LL);
  CHECK(all[1]["body"] == text_body("x"));
  CHECK(all[1]["query"] == "key=robot-key-1");
  CHECK(all[2]["http_status"] == 404);
  auto only = json::parse(env.get("/_sandbox/requests?path=/cgi-bin/webhook/send").body)["requests"];
  REQUIRE(only.size() == 1);
  CHECK(only[0]["path"] == "/cgi-bin/webhook/send");
  auto since = json::parse(env.get("/_sandbox/requests?since=" + all[1]["seq"].dump()).body)["requests"];
  CHECK(since.size() == 1);
  auto msgs = json::parse(env.get("/_sandbox/messages?chat_id=wrmgmt1").body)["messages"];
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0]["message"]["content"] == "x");
}

TEST_CASE("sandbox control: clock advance and freeze drive token expiry", "[sandbox][control]") {
  Env env;
  auto token = env.token();
  const std::string body = json{{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}.dump();
  auto clock = json::parse(env.post("/_sandbox/clock", R"({"freeze":true})").body);
  CHECK(clock["frozen"] == true);
  env.base.advance(10'000s);  // the base clock runs on; the sandbox's does not
  CHECK(errcode_of(env.post("/cgi-bin/appchat/send?access_token=" + token, body)) == 0);
  clock = json::parse(env.post("/_sandbox/clock", R"({"advance_s":7200})").body);
  CHECK(clock["unix_ms"] == (1'700'000'000LL + 7200) * 1000);
  CHECK(errcode_of(env.post("/cgi-bin/appchat/send?access_token=" + token, body)) == 42001);
  clock = json::parse(env.post("/_sandbox/clock", R"({"freeze":false})").body);
  CHECK(clock["frozen"] == false);
  CHECK(clock["unix_ms"] == (1'700'000'000LL + 7200) * 1000);
  CHECK(env.post("/_sandbox/clock", "not json").status == 400);
}

TEST_CASE("sandbox control: faults are counted down per path", "[sandbox][control][faults]") {
  Env env;
  auto r = env.post("/_sandbox/faults", R"({"path":"/cgi-bin/webhook/send","errcode":45009,"count":2})");
  CHECK(r.status == 200);
  CHECK(json::parse(r.body)["faults"].size() == 1);
  CHECK_FALSE(env.sb().take_fault("/cgi-bin/message/send"));
  for (int i = 0; i < 2; ++i) {
    auto f = env.sb().take_fault("/cgi-bin/webhook/send");
    REQUIRE(f);
    auto reply = env.sb().fault_reply(*f, {"POST", "/cgi-bin/webhook/send?key=robot-key-1", "{}"});
    CHECK(errcode_of(reply) == 45009);
  }
  CHECK_FALSE(env.sb().take_fault("/cgi-bin/webhook/send"));
  auto recs = env.sb().requests();
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].detail["fault"] == true);

  env.post("/_sandbox/faults", R"({"path":"/cgi-bin/gettoken","http_status":503})");
  for (int i = 0; i < 3; ++i) CHECK(env.sb().take_fault("/cgi-bin/gettoken"));  // count 0: until cleared
  CHECK(env.sb().handle({"DELETE", "/_sandbox/faults", ""}).status == 200);
  CHECK_FALSE(env.sb().take_fault("/cgi-bin/gettoken"));

  struct Bad {
    const char* body;
    unsigned status;
  };
  for (auto b : {Bad{R"({"errcode":1})", 400}, Bad{R"({"path":"/other","errcode":1})", 400},
                 Bad{R"({"path":"/cgi-bin/x","errcode":"x"})", 400}, Bad{R"({"path":"/cgi-bin/x","http_status":99})", 400},
                 Bad{R"({"path":"/cgi-bin/x","drop_connection":"yes"})", 400}}) {
    CAPTURE(b.body);
    CHECK(env.post("/_sandbox/faults", b.body).status == b.status);
  }
}

TEST_CASE("sandbox control: a fault with a rate hits about that fraction of requests", "[sandbox][control][faults]") {
  Env env;
  CHECK(env.post("/_sandbox/faults", R"({"path":"/cgi-bin/webhook/send","errcode":-1,"rate":0.25,"count":100000})")
            .status == 200);
  int hits = 0;
  for (int i = 0; i < 4000; ++i) hits += env.sb().take_fault("/cgi-bin/webhook/send") ? 1 : 0;
  // Binomial(4000, 0.25): mean 1000, sd ≈ 27; ±200 is more than 7 sd.
  CHECK(hits > 800);
  CHECK(hits < 1200);
  auto listed = json::parse(env.get("/_sandbox/faults").body)["faults"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["count"] == 100000 - hits);  // misses do not count down
  for (const char* bad : {R"({"path":"/cgi-bin/x","rate":0})", R"({"path":"/cgi-bin/x","rate":1.5})",
                          R"({"path":"/cgi-bin/x","rate":"half"})"}) {
    CAPTURE(bad);
    CHECK(env.post("/_sandbox/faults", bad).status == 400);
  }
}

TEST_CASE("sandbox JSON callbacks decrypt with receiveid empty, as the intelligent robot's", "[sandbox][callbacks]") {
  const std::string key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
  auto crypt = adapters::wecom::MsgCrypt::create("Tok1", key, "").value();
  const std::string plaintext = R"({"msgid":"m1","msgtype":"text","text":{"content":"@助手 覆盖率"}})";
  auto signed_cb = sign_json_callback(crypt, plaintext, "1700000000", "nonce1");
  auto envelope = json::parse(signed_cb.body);
  REQUIRE(envelope.contains("encrypt"));
  const std::string encrypted = envelope["encrypt"].get<std::string>();
  CHECK(signed_cb.query == "msg_signature=" + crypt.signature("1700000000", "nonce1", encrypted) +
                               "&timestamp=1700000000&nonce=nonce1");
  auto back = crypt.decrypt(encrypted);
  REQUIRE(back.has_value());
  CHECK(*back == plaintext);
  // A receiver that expects the corp id as receiveid must refuse it.
  auto corp = adapters::wecom::MsgCrypt::create("Tok1", key, "wwtest0001").value();
  CHECK_FALSE(corp.decrypt(encrypted).has_value());
}

TEST_CASE("sandbox control: reset forgets tokens, windows, records and faults", "[sandbox][control]") {
  Env env;
  auto token = env.token();
  for (int i = 0; i < 20; ++i) env.post("/cgi-bin/webhook/send?key=robot-key-1", text_body("x"));
  env.post("/_sandbox/faults", R"({"path":"/cgi-bin/gettoken","errcode":-1})");
  CHECK(env.post("/_sandbox/reset", "").status == 200);
  CHECK(json::parse(env.get("/_sandbox/requests").body)["requests"].empty());
  CHECK(json::parse(env.get("/_sandbox/faults").body)["faults"].empty());
  CHECK(errcode_of(env.post("/cgi-bin/webhook/send?key=robot-key-1", text_body("x"))) == 0);
  const std::string body = json{{"chatid", "appchat1"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}}.dump();
  CHECK(errcode_of(env.post("/cgi-bin/appchat/send?access_token=" + token, body)) == 40014);
}

TEST_CASE("sandbox control: unknown paths and methods are 404", "[sandbox][control]") {
  Env env;
  CHECK(env.get("/_sandbox/nope").status == 404);
  CHECK(env.get("/_sandbox/reset").status == 404);
  CHECK(env.post("/_sandbox/fixture", "{}").status == 404);
}

TEST_CASE("sandbox prepare_callback builds a text message with a unique MsgId", "[sandbox][callbacks]") {
  Env env;
  auto a = env.sb().prepare_callback({"POST", "/_sandbox/callbacks/app", R"({"from_user":"Bob","text":"你好"})"});
  auto b = env.sb().prepare_callback({"POST", "/_sandbox/callbacks/app", R"({"from_user":"Bob","text":"你好"})"});
  REQUIRE(std::holds_alternative<CallbackJob>(a));
  REQUIRE(std::holds_alternative<CallbackJob>(b));
  const auto& ja = std::get<CallbackJob>(a);
  CHECK(ja.url == "http://127.0.0.1:9/cb");
  CHECK(ja.corp_id == "wwtest0001");
  CHECK(ja.policy.attempts == 4);
  CHECK(ja.policy.timeout == 5000ms);
  CHECK(ja.msg_id != std::get<CallbackJob>(b).msg_id);
  CHECK(ja.plaintext.find("<MsgId>" + ja.msg_id + "</MsgId>") != std::string::npos);
  CHECK(ja.plaintext.find("<Content><![CDATA[你好]]></Content>") != std::string::npos);

  struct Bad {
    const char* body;
    unsigned status;
  };
  for (auto c : {Bad{R"({"from_user":"Nobody","text":"x"})", 404}, Bad{R"({"text":"x"})", 400},
                 Bad{R"({"agent_id":7,"text":"x","from_user":"Bob"})", 404},
                 Bad{R"({"agent_id":1000003,"plaintext_xml":"<xml/>"})", 409}, Bad{"[]", 400}}) {
    CAPTURE(c.body);
    auto r = env.sb().prepare_callback({"POST", "/_sandbox/callbacks/app", c.body});
    REQUIRE(std::holds_alternative<ApiReply>(r));
    CHECK(std::get<ApiReply>(r).status == c.status);
  }
}

}  // namespace
}  // namespace yuer::sandbox
