// --state FILE across a restart, module by module: save_state() → a new Sandbox from the saved
// fixture → restore_state(), then the API must answer as if the sandbox had never stopped (a
// pending mass-message task can still be confirmed, kf cursors continue, the 48 h window and the
// 5-message allowance hold, join ways keep numbering rooms, response codes stay single-use …).
#include "tests/sandbox/groups_test_support.h"
#include "tests/sandbox/test_support.h"

#include <catch2/catch.hpp>

#include <algorithm>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::SandboxEnv;

const char* kBotKey = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";

// The customer-groups corp of groups_test_support.h plus a kf account and an intelligent robot.
std::string restart_fixture() {
  return groups_testing::groups_fixture(
      "http://127.0.0.1:9/cb",
      {{"kf_accounts", {{{"open_kfid", "wkA"}, {"name", "育儿小助手"}}}},
       {"kf", {{"agent_id", 1000002}}},
       {"aibots", {{{"aibotid", "aib1"}, {"name", "助手"}, {"token", "BotTok"}, {"aes_key", kBotKey},
                    {"callback_url", "http://127.0.0.1:9/bot"}, {"chat_ids", {"wrmgmt"}}}}},
       {"aibot_response_base", "http://sandbox.test"}});
}

Settings month_tokens() {
  Settings s;
  s.token_lifetime = std::chrono::hours(24 * 30);
  return s;
}

struct Env : SandboxEnv {
  Env() : SandboxEnv(restart_fixture(), month_tokens()) {}
  json ext(const std::string& path, const json& body) {
    return post_json("/cgi-bin/externalcontact/" + path + "?access_token=" + token("cc-secret"), body);
  }
  json kf(const std::string& path, const json& body) {
    return post_json("/cgi-bin/kf/" + path + "?access_token=" + token("cc-secret"), body);
  }
  json kf_text(const std::string& user, const std::string& text) {
    return kf("send_msg", {{"touser", user}, {"open_kfid", "wkA"}, {"msgtype", "text"}, {"text", {{"content", text}}}});
  }
};

std::vector<std::string> texts(const json& sync) {
  std::vector<std::string> out;
  for (const auto& m : sync["msg_list"])
    if (m.value("msgtype", "") == "text") out.push_back(m["text"]["content"].get<std::string>());
  return out;
}

TEST_CASE("restart keeps mass-message tasks: a pending task is confirmed after it", "[sandbox][state][group_msg]") {
  Env env;
  auto pending = env.ext("add_msg_template", {{"chat_type", "group"}, {"sender", "Alice"},
                                              {"chat_id_list", {"wrA2"}}, {"text", {{"content", "今天的育儿课"}}}});
  REQUIRE(pending["errcode"] == 0);
  auto sent = env.ext("add_msg_template", {{"chat_type", "group"}, {"sender", "Alice"},
                                           {"chat_id_list", {"wrA2"}}, {"text", {{"content", "昨天的课"}}}});
  REQUIRE(sent["errcode"] == 0);
  unsigned status = 0;
  env.control("/_sandbox/group_msg/confirm", {{"msgid", sent["msgid"]}}, &status);
  REQUIRE(status == 200);
  for (int i = 0; i < 3; ++i) REQUIRE(env.ext("remind_groupmsg_send", {{"msgid", pending["msgid"]}})["errcode"] == 0);

  env.restart();

  // The reminder window survived: a 4th reminder within 24 h is still refused.
  CHECK(env.ext("remind_groupmsg_send", {{"msgid", pending["msgid"]}})["errcode"] == 41094);
  auto before = env.ext("get_groupmsg_send_result", {{"msgid", pending["msgid"]}, {"userid", "Alice"}});
  REQUIRE(before["send_list"].size() == 1);
  CHECK(before["send_list"][0]["status"] == 0);
  auto confirmed = env.control("/_sandbox/group_msg/confirm", {{"msgid", pending["msgid"]}}, &status);
  CHECK(status == 200);
  CHECK(confirmed["confirmed"] == json::array({"Alice"}));
  auto after = env.ext("get_groupmsg_send_result", {{"msgid", pending["msgid"]}, {"userid", "Alice"}});
  CHECK(after["send_list"][0]["status"] == 1);
  // The task confirmed before the restart stays sent and cannot be confirmed again.
  env.control("/_sandbox/group_msg/confirm", {{"msgid", sent["msgid"]}}, &status);
  CHECK(status == 409);
  // Both messages reached wrA2, once each, and the month's count for it carried over (1 + 1).
  int in_group = 0;
  for (const auto& d : env.sb().deliveries()) in_group += d.channel == "groupmsg" && d.chat_id == "wrA2";
  CHECK(in_group == 2);
  int count = 0;
  const json state = env.state();
  for (const auto& r : state["group_msg"]["received_this_month"])
    if (r["target"] == "chat:wrA2") count = r["count"].get<int>();
  CHECK(count == 2);
  auto list = env.ext("get_groupmsg_list_v2", {{"chat_type", "group"}, {"start_time", 1'700'000'000 - 10},
                                               {"end_time", 1'700'000'000 + 10}});
  CHECK(list["group_msg_list"].size() == 2);
}

TEST_CASE("restart keeps kf conversations: cursors continue and the 48 h window holds", "[sandbox][state][kf]") {
  Env env;
  auto w1 = env.control("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"name", "王妈妈"}, {"text", "宝宝六个月了"}});
  const std::string user = w1["external_userid"];
  auto first = env.kf("sync_msg", {{"token", w1["sync_token"]}, {"open_kfid", "wkA"}});
  REQUIRE(first["errcode"] == 0);
  CHECK(texts(first) == std::vector<std::string>{"宝宝六个月了"});
  for (int i = 0; i < 4; ++i) REQUIRE(env.kf_text(user, "回复" + std::to_string(i))["errcode"] == 0);

  env.restart();

  // The doorbell's sync token stays valid for its 10 minutes across the restart, then expires.
  CHECK(env.kf("sync_msg", {{"token", w1["sync_token"]}, {"open_kfid", "wkA"}})["errcode"] == 0);
  env.base.advance(3600s);
  CHECK(env.kf("sync_msg", {{"token", w1["sync_token"]}, {"open_kfid", "wkA"}})["errcode"] == 95007);
  // The old cursor continues: only what was written since.
  env.control("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"external_userid", user}, {"text", "还在吃母乳"}});
  auto next = env.kf("sync_msg", {{"cursor", first["next_cursor"]}, {"open_kfid", "wkA"}});
  REQUIRE(next["errcode"] == 0);
  CHECK(texts(next) == std::vector<std::string>{"还在吃母乳"});
  // The new message reopened the allowance: 5 sends, then 95001; the name of the generated parent stayed.
  for (int i = 0; i < 5; ++i) CHECK(env.kf_text(user, "好的" + std::to_string(i))["errcode"] == 0);
  CHECK(env.kf_text(user, "第六条")["errcode"] == 95001);
  auto conv = json::parse(env.get("/_sandbox/kf/conversation?open_kfid=wkA&external_userid=" + user).body);
  CHECK(conv["name"] == "王妈妈");
  CHECK(conv["messages"].size() == 1 + 4 + 1 + 5);
  // 48 h after the parent's last message the window closes, restart or not.
  env.base.advance(48h);
  env.restart();
  CHECK(env.kf_text(user, "晚了")["errcode"] == 95002);
}

TEST_CASE("restart within the 5-message allowance keeps what was used", "[sandbox][state][kf]") {
  Env env;
  auto w = env.control("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"text", "你好"}});
  const std::string user = w["external_userid"];
  for (int i = 0; i < 5; ++i) REQUIRE(env.kf_text(user, "消息" + std::to_string(i))["errcode"] == 0);
  env.restart();
  CHECK(env.kf_text(user, "多一条")["errcode"] == 95001);
  // A kf msgid used before the restart is still taken.
  env.control("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"external_userid", user}, {"text", "再问一下"}});
  auto a = env.kf("send_msg", {{"touser", user}, {"open_kfid", "wkA"}, {"msgid", "fixed-1"}, {"msgtype", "text"},
                               {"text", {{"content", "a"}}}});
  REQUIRE(a["errcode"] == 0);
  env.restart();
  auto b = env.kf("send_msg", {{"touser", user}, {"open_kfid", "wkA"}, {"msgid", "fixed-1"}, {"msgtype", "text"},
                               {"text", {{"content", "a"}}}});
  CHECK(b["errcode"] == 40058);
}

TEST_CASE("restart keeps customer-group members, join ways and the reset point", "[sandbox][state][groups]") {
  Env env;
  unsigned status = 0;
  auto joined = env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}, {"name", "新来的妈妈"}}, &status);
  REQUIRE(status == 200);
  // wrA1 is full (cap 5): fill wrA2 too, so the seeded join way creates rooms "甲新群7", "甲新群8".
  auto bulk = env.control("/_sandbox/groups/join_bulk", {{"config_id", "cfgseed1"}, {"count", 8}}, &status);
  REQUIRE(status == 200);
  auto way_before = env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}});
  REQUIRE(way_before["errcode"] == 0);

  env.restart();

  auto g = env.ext("groupchat/get", {{"chat_id", "wrA2"}});
  REQUIRE(g["errcode"] == 0);
  bool found = false;
  for (const auto& m : g["group_chat"]["member_list"]) found = found || m["userid"] == joined["userid"];
  CHECK(found);
  auto way_after = env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}});
  REQUIRE(way_after["errcode"] == 0);
  CHECK(way_after["join_way"]["chat_id_list"] == way_before["join_way"]["chat_id_list"]);
  CHECK(way_after["join_way"]["qr_code"] == way_before["join_way"]["qr_code"]);
  // The next room continues the numbering instead of starting again at room_base_id.
  env.control("/_sandbox/groups/join_bulk", {{"config_id", "cfgseed1"}, {"count", 5}}, &status);
  REQUIRE(status == 200);
  std::vector<std::string> names;
  const json state = env.state();
  for (const auto& grp : state["customer_groups"]["groups"]) names.push_back(grp["name"].get<std::string>());
  CHECK(std::count(names.begin(), names.end(), "甲新群7") == 1);
  CHECK(std::count(names.begin(), names.end(), "甲新群8") == 1);
  CHECK(std::count(names.begin(), names.end(), "甲新群9") == 1);
  // A sixth room: more chats than the fixture format allows in a join way (1 to 5), still restartable.
  env.control("/_sandbox/groups/join_bulk", {{"config_id", "cfgseed1"}, {"count", 2}}, &status);
  REQUIRE(status == 200);
  const json six = env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}})["join_way"]["chat_id_list"];
  REQUIRE(six.size() == 6);
  env.restart();
  CHECK(env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}})["join_way"]["chat_id_list"] == six);
  // reset goes back to the original fixture, not to the state at the restart.
  REQUIRE(env.post("/_sandbox/reset", "{}").status == 200);
  auto after_reset = env.ext("groupchat/get", {{"chat_id", "wrA2"}});
  CHECK(after_reset["group_chat"]["member_list"].size() == 2);  // Alice (owner) and wmP2
  CHECK(env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}})["join_way"]["chat_id_list"] ==
        json::array({"wrA1", "wrA2"}));
  // A join way whose only group was dismissed still restarts (the fixture format would refuse it).
  env.control("/_sandbox/groups/dismiss", {{"chat_id", "wrA1"}}, &status);
  REQUIRE(status == 200);
  env.control("/_sandbox/groups/dismiss", {{"chat_id", "wrA2"}}, &status);
  REQUIRE(status == 200);
  env.restart();
  CHECK(env.ext("groupchat/get_join_way", {{"config_id", "cfgseed1"}})["join_way"]["chat_id_list"] == json::array());
}

TEST_CASE("restart keeps aibot turns and their response_url", "[sandbox][state][aibot]") {
  Env env;
  auto turn = env.control("/_sandbox/aibot/mention", {{"chat_id", "wrmgmt"}, {"from_userid", "Bob"}, {"text", "本周课程？"}});
  REQUIRE(turn.contains("response_url"));
  const std::string url = turn["response_url"];
  REQUIRE(url.rfind("http://sandbox.test/", 0) == 0);
  (void)env.sb().take_callbacks();  // no server: the callback is never delivered

  env.restart();

  auto turns = env.state()["aibot"]["turns"];
  REQUIRE(turns.size() == 1);
  CHECK(turns[0]["msgid"] == turn["msgid"]);
  CHECK(turns[0]["status"] == "interrupted");
  const std::string target = url.substr(std::string("http://sandbox.test").size());
  json md = {{"msgtype", "markdown"}, {"markdown", {{"content", "**周三**：辅食添加"}}}};
  CHECK(env.post_json(target, md)["errcode"] == 0);
  env.restart();
  CHECK(env.post_json(target, md)["errcode"] == 40058);  // single use, also across restarts
  int replies = 0;
  for (const auto& d : env.sb().deliveries()) replies += d.channel == "aibot" && d.chat_id == "wrmgmt";
  CHECK(replies == 1);
}

TEST_CASE("restart keeps app chats, card response codes and the duplicate check", "[sandbox][state][app]") {
  Env env;
  const std::string tok = env.token("cc-secret");
  REQUIRE(env.post_json("/cgi-bin/appchat/create?access_token=" + tok,
                        {{"chatid", "made1"}, {"userlist", {"Alice", "Bob"}}, {"name", "新群"}})["errcode"] == 0);
  json card = {{"touser", "Alice"},
               {"msgtype", "template_card"},
               {"agentid", 1000002},
               {"template_card", testing::interactive_card("button_interaction", "t1")}};
  auto sent = env.post_json("/cgi-bin/message/send?access_token=" + tok, card);
  REQUIRE(sent["errcode"] == 0);
  json dup = {{"touser", "Bob"}, {"msgtype", "text"}, {"agentid", 1000002}, {"text", {{"content", "只发一次"}}},
              {"enable_duplicate_check", 1}};
  REQUIRE(env.post_json("/cgi-bin/message/send?access_token=" + tok, dup)["errcode"] == 0);

  env.restart();

  const std::string tok2 = env.token("cc-secret");
  auto chat = json::parse(env.get("/cgi-bin/appchat/get?access_token=" + tok2 + "&chatid=made1").body);
  CHECK(chat["errcode"] == 0);
  CHECK(chat["chat_info"]["name"] == "新群");
  json update = {{"agentid", 1000002}, {"response_code", sent["response_code"]}, {"button", {{"replace_name", "已处理"}}}};
  CHECK(env.post_json("/cgi-bin/message/update_template_card?access_token=" + tok2, update)["errcode"] == 0);
  CHECK(env.post_json("/cgi-bin/message/update_template_card?access_token=" + tok2, update)["errcode"] == 40058);
  // The identical body within its 1800 s window is answered 0 and not delivered again.
  CHECK(env.post_json("/cgi-bin/message/send?access_token=" + tok2, dup)["errcode"] == 0);
  int to_bob = 0;
  for (const auto& d : env.sb().deliveries()) to_bob += d.userid == "Bob" && d.msgtype == "text";
  CHECK(to_bob == 1);
}

TEST_CASE("the record keeps the newest max_records requests, messages and callbacks", "[sandbox][state]") {
  Settings s;
  s.max_records = 3;
  SandboxEnv env(groups_testing::groups_fixture(), s);
  const std::string tok = env.token("cc-secret");
  for (int i = 1; i <= 5; ++i) {
    json body = {{"touser", "Bob"}, {"msgtype", "text"}, {"agentid", 1000002},
                 {"text", {{"content", "第" + std::to_string(i) + "条"}}}};
    REQUIRE(env.post_json("/cgi-bin/message/send?access_token=" + tok, body)["errcode"] == 0);
  }
  auto d = env.sb().deliveries();
  REQUIRE(d.size() == 3);
  CHECK(d.front().message["content"] == "第3条");
  CHECK(d.back().message["content"] == "第5条");
  auto r = env.sb().requests();
  REQUIRE(r.size() == 3);  // gettoken + 5 sends, newest 3 kept
  CHECK(r.back().body.find("第5条") != std::string::npos);
  auto listed = json::parse(env.get("/_sandbox/messages").body)["messages"];
  CHECK(listed.size() == 3);
  for (int i = 0; i < 5; ++i) {
    CallbackRecord rec;
    rec.label = "n" + std::to_string(i);
    env.sb().record_callback(rec);
  }
  auto cbs = env.sb().callbacks();
  REQUIRE(cbs.size() == 3);
  CHECK(cbs.front().label == "n2");
  // The limit also holds for what a state file brings back.
  env.restart();
  CHECK(env.sb().deliveries().size() == 3);
}

TEST_CASE("kf remembers the newest max_records sync_msg cursors, also across a restart", "[sandbox][state][kf]") {
  Settings s = month_tokens();
  s.max_records = 3;
  SandboxEnv env(restart_fixture(), s);
  const std::string tok = env.token("cc-secret");
  env.control("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"text", "你好"}});
  std::vector<std::string> cursors;
  for (int i = 0; i < 4; ++i) {
    auto r = env.post_json("/cgi-bin/kf/sync_msg?access_token=" + tok, {{"open_kfid", "wkA"}});
    REQUIRE(r["errcode"] == 0);
    cursors.push_back(r["next_cursor"].get<std::string>());
  }
  env.restart();
  const std::string tok2 = env.token("cc-secret");
  // The oldest of 4 is forgotten (an unknown cursor: 40058); the newest still continues.
  CHECK(env.post_json("/cgi-bin/kf/sync_msg?access_token=" + tok2, {{"cursor", cursors[0]}})["errcode"] == 40058);
  auto last = env.post_json("/cgi-bin/kf/sync_msg?access_token=" + tok2, {{"cursor", cursors[3]}});
  CHECK(last["errcode"] == 0);
  CHECK(last["msg_list"].empty());
}

}  // namespace
}  // namespace yuer::sandbox
