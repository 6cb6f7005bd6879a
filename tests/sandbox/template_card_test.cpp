// Template cards after sending: response codes, message/update_template_card, click events; and
// message/send's enable_duplicate_check.
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include "adapters/wecom/crypto.h"

#include <catch2/catch.hpp>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

std::string fixture() {
  return json{{"corp", {{"corp_id", "wwcard0001"}}},
              {"apps",
               {{{"agent_id", 1000002}, {"secret", "s1"}, {"token", "T"}, {"aes_key", kKey},
                 {"callback_url", "http://127.0.0.1:9/cb"}},
                {{"agent_id", 1000003}, {"secret", "s2"}, {"token", "T"}, {"aes_key", kKey}}}},
              {"members", {{{"userid", "Alice"}}, {{"userid", "Bob"}}, {{"userid", "Carol"}}}}}
      .dump();
}

struct Env : testing::SandboxEnv {
  Env() : SandboxEnv(fixture()) {}
  std::string token(const std::string& secret = "s1") { return SandboxEnv::token(secret); }
  json post(const std::string& path, const std::string& token, const json& body) {
    return post_json(path + "?access_token=" + token, body);
  }
  std::string send_card(const std::string& t, const std::string& touser = "Alice|Bob") {
    json card = {{"card_type", "button_interaction"}, {"task_id", "t1"}, {"main_title", {{"title", "问卷"}}}};
    auto r = post("/cgi-bin/message/send", t,
                  {{"touser", touser}, {"agentid", 1000002}, {"msgtype", "template_card"}, {"template_card", card}});
    return r.at("response_code").get<std::string>();
  }
};

TEST_CASE("sandbox update_template_card uses a response code once, within 72 hours", "[sandbox][cards]") {
  Env env;
  const auto t = env.token();
  const auto code = env.send_card(t);
  const std::size_t before = env.sb().deliveries().size();
  auto r = env.post("/cgi-bin/message/update_template_card", t,
                    {{"agentid", 1000002}, {"response_code", code}, {"atall", 1}, {"button", {{"replace_name", "已提交"}}}});
  REQUIRE(r["errcode"] == 0);
  auto d = env.sb().deliveries();
  REQUIRE(d.size() == before + 2);
  CHECK(d[before].msgtype == "update_button");
  CHECK(d[before].message["replace_name"] == "已提交");
  CHECK(d[before + 1].userid == "Bob");
  // Single use.
  CHECK(env.post("/cgi-bin/message/update_template_card", t,
                 {{"agentid", 1000002}, {"response_code", code}, {"atall", 1}, {"button", {{"replace_name", "x"}}}})["errcode"] == 40058);

  // Expiry: valid for 72 h, then refused.
  const auto code2 = env.send_card(t);
  env.sb().clock().advance(72h);
  const auto t2 = env.token();
  CHECK(env.post("/cgi-bin/message/update_template_card", t2,
                 {{"agentid", 1000002}, {"response_code", code2}, {"userids", {"Alice"}}, {"button", {{"replace_name", "x"}}}})["errcode"] == 40058);
}

TEST_CASE("sandbox update_template_card checks its request", "[sandbox][cards]") {
  Env env;
  const auto t = env.token();
  const auto code = env.send_card(t);
  struct Case {
    const char* name;
    json body;
    int errcode;
  };
  for (const auto& c : std::vector<Case>{
           {"no agentid", {{"response_code", code}, {"button", {{"replace_name", "x"}}}}, 41011},
           {"other agentid", {{"agentid", 1000003}, {"response_code", code}, {"button", {{"replace_name", "x"}}}}, 40056},
           {"no code", {{"agentid", 1000002}, {"button", {{"replace_name", "x"}}}}, 40058},
           {"unknown code", {{"agentid", 1000002}, {"response_code", "nope"}, {"button", {{"replace_name", "x"}}}}, 40058},
           {"neither button nor card", {{"agentid", 1000002}, {"response_code", code}}, 40058},
           {"both", {{"agentid", 1000002}, {"response_code", code}, {"button", {{"replace_name", "x"}}},
                     {"template_card", {{"card_type", "text_notice"}}}}, 40058},
           {"card without type", {{"agentid", 1000002}, {"response_code", code}, {"template_card", json::object()}}, 40058},
       }) {
    CAPTURE(c.name);
    CHECK(env.post("/cgi-bin/message/update_template_card", t, c.body)["errcode"] == c.errcode);
  }
  // Still unused after the refusals: a full card replacement for one user, an unknown one listed.
  auto ok = env.post("/cgi-bin/message/update_template_card", t,
                     {{"agentid", 1000002}, {"response_code", code}, {"userids", {"alice", "Zed"}},
                      {"template_card", {{"card_type", "text_notice"}, {"main_title", {{"title", "已完成"}}}}}});
  CHECK(ok["errcode"] == 0);
  CHECK(ok["invaliduser"] == json({"zed"}));
  auto d = env.sb().deliveries();
  CHECK(d.back().userid == "Alice");
  CHECK(d.back().msgtype == "update_template_card");
}

TEST_CASE("sandbox card click sends template_card_event with a fresh response code", "[sandbox][cards][callbacks]") {
  Env env;
  auto r = env.sb().handle({"POST", "/_sandbox/cards/click",
                          json{{"userid", "Bob"}, {"task_id", "survey-1"}, {"event_key", "yes"}, {"card_type", "vote_interaction"},
                               {"selected_items", {{{"question_key", "q1"}, {"option_ids", {"o1", "o2"}}}}}}
                              .dump()});
  REQUIRE(r.status == 200);
  const std::string code = json::parse(r.body)["response_code"].get<std::string>();
  auto jobs = env.sb().take_callbacks();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].label == "template_card_event");
  CHECK(jobs[0].url == "http://127.0.0.1:9/cb");
  const auto& xml = jobs[0].plaintext;
  for (const std::string& part : std::vector<std::string>{"<Event><![CDATA[template_card_event]]></Event>", "<FromUserName><![CDATA[Bob]]></FromUserName>",
                                 "<TaskId><![CDATA[survey-1]]></TaskId>", "<ResponseCode><![CDATA[" + code + "]]></ResponseCode>",
                                 "<QuestionKey><![CDATA[q1]]></QuestionKey>", "<OptionId><![CDATA[o2]]></OptionId>",
                                 "<AgentID>1000002</AgentID>"}) {
    CAPTURE(part);
    CHECK(xml.find(part) != std::string::npos);
  }
  // The encrypted envelope decrypts with the app's key and corp id, like every app callback.
  auto crypt = adapters::wecom::MsgCrypt::create("T", kKey, "wwcard0001").value();
  auto back = crypt.decrypt(crypt.encrypt(xml));
  REQUIRE(back.has_value());
  CHECK(*back == xml);
  // The click's code updates Bob's card once.
  const auto t = env.token();
  CHECK(env.post("/cgi-bin/message/update_template_card", t,
                 {{"agentid", 1000002}, {"response_code", code}, {"atall", 1}, {"button", {{"replace_name", "已投票"}}}})["errcode"] == 0);
  CHECK(env.sb().deliveries().back().userid == "Bob");
  CHECK(env.sb().handle({"POST", "/_sandbox/cards/click", R"({"userid":"Nobody","task_id":"x"})"}).status == 404);
  CHECK(env.sb().handle({"POST", "/_sandbox/cards/click", R"({"userid":"Bob","task_id":"x","agent_id":1000003})"}).status == 409);
}

TEST_CASE("sandbox message/send enable_duplicate_check delivers an identical request once per interval", "[sandbox][message]") {
  Env env;
  const auto t = env.token();
  json body = {{"touser", "Alice"}, {"agentid", 1000002}, {"msgtype", "text"}, {"text", {{"content", "明天接种"}}},
               {"enable_duplicate_check", 1}, {"duplicate_check_interval", 600}};
  auto count = [&] { return env.sb().deliveries().size(); };
  CHECK(env.post("/cgi-bin/message/send", t, body)["errcode"] == 0);
  CHECK(count() == 1);
  CHECK(env.post("/cgi-bin/message/send", t, body)["errcode"] == 0);  // success, not delivered
  CHECK(count() == 1);
  json other = body;
  other["text"]["content"] = "后天接种";
  CHECK(env.post("/cgi-bin/message/send", t, other)["errcode"] == 0);
  CHECK(count() == 2);
  env.sb().clock().advance(600s);
  CHECK(env.post("/cgi-bin/message/send", t, body)["errcode"] == 0);
  CHECK(count() == 3);
  json unchecked = body;
  unchecked.erase("enable_duplicate_check");
  CHECK(env.post("/cgi-bin/message/send", t, unchecked)["errcode"] == 0);
  CHECK(env.post("/cgi-bin/message/send", t, unchecked)["errcode"] == 0);
  CHECK(count() == 5);
}

}  // namespace
}  // namespace yuer::sandbox
