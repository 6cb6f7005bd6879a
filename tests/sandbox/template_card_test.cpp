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
  int cards = 0;
  std::string send_card(const std::string& t, const std::string& touser = "Alice|Bob") {
    json card = testing::interactive_card("button_interaction", "t" + std::to_string(++cards));
    auto r = post("/cgi-bin/message/send", t,
                  {{"touser", touser}, {"agentid", 1000002}, {"msgtype", "template_card"}, {"template_card", card}});
    return r.at("response_code").get<std::string>();
  }
};

TEST_CASE("sandbox message/send checks interactive cards like WeCom", "[sandbox][cards]") {
  using testing::interactive_card;
  auto with = [](json card, const char* key, json value) {
    if (value.is_null()) card.erase(key);
    else card[key] = std::move(value);
    return card;
  };
  auto buttons = [](int n) {
    json list = json::array();
    for (int i = 0; i < n; ++i) list.push_back({{"text", "选项"}, {"key", "k" + std::to_string(i)}});
    return list;
  };
  auto options = [](int n) {
    json list = json::array();
    for (int i = 0; i < n; ++i) list.push_back({{"id", std::to_string(i)}, {"text", "选项"}});
    return list;
  };
  const json button = interactive_card("button_interaction", "ok1");
  const json vote = interactive_card("vote_interaction", "ok2");
  struct Case {
    const char* name;
    json card;
    int errcode;
  };
  for (const auto& c : std::vector<Case>{
           {"button card", button, 0},
           {"vote card", vote, 0},
           {"multiple card", interactive_card("multiple_interaction", "ok3"), 0},
           {"6 buttons", with(button, "button_list", buttons(6)), 0},
           {"7 buttons", with(button, "button_list", buttons(7)), 40058},
           {"no buttons", with(button, "button_list", json::array()), 40058},
           {"repeated button keys", with(button, "button_list", json{{{"text", "a"}, {"key", "k"}}, {{"text", "b"}, {"key", "k"}}}), 40058},
           {"button without key", with(button, "button_list", json{{{"text", "a"}}}), 40058},
           {"no task_id", with(button, "task_id", nullptr), 40058},
           {"task_id with a space", with(button, "task_id", "a b"), 40058},
           {"task_id of 129 bytes", with(button, "task_id", std::string(129, 'a')), 40058},
           {"task_id _-@", with(button, "task_id", "a_b-c@d"), 0},
           {"no title", with(button, "main_title", nullptr), 40058},
           {"button card with sub_title_text only", with(with(button, "main_title", nullptr), "sub_title_text", "问题"), 0},
           {"vote with 20 options",
            with(vote, "checkbox", json{{"question_key", "q"}, {"mode", 0}, {"option_list", options(20)}}), 0},
           {"vote with 21 options",
            with(vote, "checkbox", json{{"question_key", "q"}, {"mode", 0}, {"option_list", options(21)}}), 40058},
           {"vote mode 2", with(vote, "checkbox", json{{"question_key", "q"}, {"mode", 2}, {"option_list", options(2)}}), 40058},
           {"vote without submit", with(vote, "submit_button", nullptr), 40058},
       }) {
    CAPTURE(c.name);
    Env env;
    auto r = env.post("/cgi-bin/message/send", env.token(),
                      {{"touser", "Alice"}, {"agentid", 1000002}, {"msgtype", "template_card"}, {"template_card", c.card}});
    CHECK(r["errcode"] == c.errcode);
    CHECK(env.sb().deliveries().size() == (c.errcode == 0 ? 1u : 0u));
  }
}

TEST_CASE("sandbox message/send refuses a task_id the app used before, unless the duplicate check drops it",
          "[sandbox][cards]") {
  Env env;
  const auto t = env.token();
  json body = {{"touser", "Alice"}, {"agentid", 1000002}, {"msgtype", "template_card"},
               {"template_card", testing::interactive_card("button_interaction", "same")}};
  REQUIRE(env.post("/cgi-bin/message/send", t, body)["errcode"] == 0);
  body["touser"] = "Bob";
  CHECK(env.post("/cgi-bin/message/send", t, body)["errcode"] == 40058);
  // Duplicate-checked: the identical body again answers 0 and is not delivered (the outbox's resend).
  json checked = body;
  checked["template_card"]["task_id"] = "other";
  checked["enable_duplicate_check"] = 1;
  REQUIRE(env.post("/cgi-bin/message/send", t, checked)["errcode"] == 0);
  CHECK(env.post("/cgi-bin/message/send", t, checked)["errcode"] == 0);
  CHECK(env.sb().deliveries().size() == 2u);
}

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
