// `wecom-sandbox --state FILE` as a process: state written at SIGTERM, resumed by the next start
// from the same file (which then wins over --fixture), and a file that is not a state refused with
// exit code 2. The module-by-module round trip is in state_restore_test.cpp.
#include "tests/sandbox/binary_test_support.h"
#include "tests/sandbox/state_file.h"

#include <catch2/catch.hpp>

#include <fstream>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using testing::SandboxBinary;

const char* kCorp = "wwstatebin1";

json fixture() {
  return {{"corp", {{"corp_id", kCorp}, {"name", "状态县"}}},
          {"apps", {{{"agent_id", 1000002}, {"secret", "st-secret"}, {"token", "T"},
                     {"aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}}}},
          {"customer_contact_agent_ids", {1000002}},
          {"members", {{{"userid", "Alice"}}}},
          {"customer_groups", {{{"chat_id", "wrP1"}, {"name", "家长1群"}, {"owner", "Alice"},
                                {"members", {{{"userid", "wmP1"}, {"name", "张妈妈"}}}}}}},
          {"kf_accounts", {{{"open_kfid", "wkA"}, {"name", "小助手"}}}}};
}

TEST_CASE("wecom-sandbox --state resumes tasks, kf windows and parents after a restart", "[sandbox][state][binary]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/state.json";
  std::string msgid, parent, kf_user;
  {
    SandboxBinary first(dir, fixture(), {"--state", state});
    const std::string tok = first.token(kCorp, "st-secret");
    auto task = first.post("/cgi-bin/externalcontact/add_msg_template?access_token=" + tok,
                           {{"chat_type", "group"}, {"sender", "Alice"}, {"text", {{"content", "今天的育儿课"}}}});
    REQUIRE(task["errcode"] == 0);
    msgid = task["msgid"].get<std::string>();
    auto joined = first.post("/_sandbox/groups/join", {{"chat_id", "wrP1"}, {"name", "新来的妈妈"}});
    parent = joined["userid"].get<std::string>();
    auto wrote = first.post("/_sandbox/kf/write", {{"open_kfid", "wkA"}, {"text", "你好"}});
    kf_user = wrote["external_userid"].get<std::string>();
    REQUIRE(first.post("/cgi-bin/kf/send_msg?access_token=" + tok, {{"touser", kf_user}, {"open_kfid", "wkA"},
                                                                     {"msgtype", "text"}, {"text", {{"content", "您好"}}}})["errcode"] == 0);
    INFO(first.output());
    REQUIRE(first.stop() == 0);
  }
  REQUIRE(read_state_file(state).has_value());

  // The same file again, with a fixture that would not have any of it: the state file wins.
  json other = fixture();
  other["customer_groups"][0]["name"] = "不同的群";
  SandboxBinary second(dir, other, {"--state", state});
  const std::string tok = second.token(kCorp, "st-secret");
  auto g = second.post("/cgi-bin/externalcontact/groupchat/get?access_token=" + tok, {{"chat_id", "wrP1"}});
  REQUIRE(g["errcode"] == 0);
  CHECK(g["group_chat"]["name"] == "家长1群");
  bool found = false;
  for (const auto& m : g["group_chat"]["member_list"]) found = found || m["userid"] == parent;
  CHECK(found);
  // The pending task can be confirmed now and reaches the group.
  auto confirmed = second.post("/_sandbox/group_msg/confirm", {{"msgid", msgid}});
  CHECK(confirmed["confirmed"] == json::array({"Alice"}));
  const json messages = second.get("/_sandbox/messages?chat_id=wrP1");
  REQUIRE(messages["messages"].size() == 1);
  CHECK(messages["messages"][0]["message"]["content"] == "今天的育儿课");
  // The kf window is still open with one send used: 4 more, then 95001.
  for (int i = 0; i < 4; ++i)
    CHECK(second.post("/cgi-bin/kf/send_msg?access_token=" + tok, {{"touser", kf_user}, {"open_kfid", "wkA"},
                                                                    {"msgtype", "text"}, {"text", {{"content", "好"}}}})["errcode"] == 0);
  CHECK(second.post("/cgi-bin/kf/send_msg?access_token=" + tok, {{"touser", kf_user}, {"open_kfid", "wkA"},
                                                                  {"msgtype", "text"}, {"text", {{"content", "多"}}}})["errcode"] == 95001);
  REQUIRE(second.stop() == 0);
}

TEST_CASE("wecom-sandbox refuses a --state file that is not a state, with exit code 2", "[sandbox][state][binary]") {
  test::TempDir dir;
  const std::string state = dir.write("state.json", fixture().dump());  // a fixture, not a state
  const std::string fixture_path = dir.write("fixture.json", fixture().dump());
  auto r = test::run({WECOM_SANDBOX_BIN, "--listen", "127.0.0.1:0", "--fixture", fixture_path, "--state", state},
                     std::chrono::seconds(20), dir.path() + "/refused.log");
  CHECK(r.code == 2);
  CHECK(r.output.find("not a wecom-sandbox state file") != std::string::npos);
}

}  // namespace
}  // namespace yuer::sandbox
