// --state FILE: what a sandbox saves, that a new sandbox built from it has it back, and the file's
// own errors.
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/state_file.h"

#include "tests/support/process.h"

#include <catch2/catch.hpp>

#include <fstream>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kFixture = R"({
  "corp": {"corp_id": "wwstate001", "name": "状态县"},
  "apps": [{"agent_id": 1000002, "secret": "s1", "token": "T", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}],
  "members": [{"userid": "Alice"}, {"userid": "Bob"}],
  "internal_groups": [{"chat_id": "wrmgmt1", "owner": "Alice", "members": ["Alice", "Bob"], "robots": [{"key": "key-a"}]}],
  "aibots": [{"aibotid": "bot1", "note": "a module's own section survives"}]
})";

json post(Sandbox& sb, const std::string& target, const json& body) {
  return json::parse(sb.handle({"POST", target, body.dump()}).body);
}

TEST_CASE("sandbox state survives a save and a restore into a new sandbox", "[sandbox][state]") {
  ManualClock base{1'700'000'000};
  Sandbox first(parse_fixture(kFixture).value(), base);
  auto tok = json::parse(first.handle({"GET", "/cgi-bin/gettoken?corpid=wwstate001&corpsecret=s1", ""}).body)["access_token"]
                 .get<std::string>();
  REQUIRE(post(first, "/cgi-bin/appchat/create?access_token=" + tok, {{"userlist", {"Alice", "Bob"}}, {"chatid", "made1"}})["errcode"] == 0);
  REQUIRE(post(first, "/cgi-bin/webhook/send?key=key-a", {{"msgtype", "text"}, {"text", {{"content", "第一条"}}}})["errcode"] == 0);
  REQUIRE(post(first, "/cgi-bin/appchat/send?access_token=" + tok,
               {{"chatid", "made1"}, {"msgtype", "markdown"}, {"text", {{"content", "x"}}}, {"markdown", {{"content", "**第二条**"}}}})["errcode"] == 0);
  const json saved = first.save_state();

  // Through the file, as the binary does.
  test::TempDir dir;
  const std::string path = dir.path() + "/state.json";
  REQUIRE(write_state_file(path, saved).has_value());
  auto back = read_state_file(path);
  REQUIRE(back.has_value());
  CHECK((*back)["fixture"]["aibots"][0]["aibotid"] == "bot1");

  auto fixture = parse_fixture((*back)["fixture"].dump());
  REQUIRE(fixture.has_value());
  Sandbox second(std::move(*fixture), base);
  second.restore_state(*back);
  auto d = second.deliveries();
  REQUIRE(d.size() == 2);
  CHECK(d[0].message["content"] == "第一条");
  CHECK(d[1].chat_id == "made1");
  CHECK(d[1].message["content"] == "**第二条**");
  // The created group still exists (a new token: tokens are not kept).
  auto tok2 = json::parse(second.handle({"GET", "/cgi-bin/gettoken?corpid=wwstate001&corpsecret=s1", ""}).body)["access_token"]
                  .get<std::string>();
  CHECK(json::parse(second.handle({"GET", "/cgi-bin/appchat/get?access_token=" + tok2 + "&chatid=made1", ""}).body)["errcode"] == 0);
  CHECK(post(second, "/cgi-bin/appchat/send?access_token=" + tok, {{"chatid", "made1"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}})["errcode"] == 40014);
  // New records continue the sequence instead of reusing numbers.
  REQUIRE(post(second, "/cgi-bin/webhook/send?key=key-a", {{"msgtype", "text"}, {"text", {{"content", "第三条"}}}})["errcode"] == 0);
  CHECK(second.deliveries().back().seq > d[1].seq);
}

TEST_CASE("sandbox state files that are not state are refused with the reason", "[sandbox][state]") {
  test::TempDir dir;
  struct Case {
    const char* name;
    const char* content;
    const char* code;
  };
  for (const auto& c : {Case{"not json", "{oops", "state.bad_json"}, Case{"a fixture, not a state", kFixture, "state.not_state"},
                        Case{"future version", R"({"format":"wecom-sandbox state","version":2,"fixture":{}})", "state.not_state"}}) {
    CAPTURE(c.name);
    const std::string path = dir.path() + "/s.json";
    std::ofstream(path) << c.content;
    auto r = read_state_file(path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == c.code);
  }
  CHECK(read_state_file(dir.path() + "/missing.json").error().code == "state.unreadable");
  auto w = write_state_file(dir.path() + "/no/such/dir/s.json", json::object());
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().code == "state.write_failed");
}

}  // namespace
}  // namespace yuer::sandbox
