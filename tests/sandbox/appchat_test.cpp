// appchat/create, update, get: the app-created internal groups that appchat/send posts into.
#include "tests/sandbox/sandbox.h"
#include "tests/sandbox/test_support.h"

#include <catch2/catch.hpp>

namespace yuer::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kFixture = R"({
  "corp": {"corp_id": "wwchat0001"},
  "apps": [
    {"agent_id": 1000002, "secret": "s1", "token": "T", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
    {"agent_id": 1000003, "secret": "s2", "token": "T", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
    {"agent_id": 1000004, "secret": "s3", "token": "T", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
     "visible_userids": ["Alice"]}
  ],
  "members": [{"userid": "Alice"}, {"userid": "Bob"}, {"userid": "Carol"}]
})";

struct Env : testing::SandboxEnv {
  Env() : SandboxEnv(kFixture) {}
  std::string token(const std::string& secret = "s1") { return SandboxEnv::token(secret); }
  json post(const std::string& path, const std::string& token, const json& body) {
    return post_json(path + "?access_token=" + token, body);
  }
  json get(const std::string& chatid, const std::string& token) {
    return testing::parse(SandboxEnv::get("/cgi-bin/appchat/get?access_token=" + token + "&chatid=" + chatid));
  }
};

TEST_CASE("sandbox appchat/create makes a group that appchat/send and appchat/get reach", "[sandbox][appchat]") {
  Env env;
  const auto t = env.token();
  auto r = env.post("/cgi-bin/appchat/create", t,
                    {{"name", "城关镇管理群"}, {"owner", "alice"}, {"userlist", {"Alice", "Bob", "bob"}}, {"chatid", "cgz01"}});
  REQUIRE(r["errcode"] == 0);
  CHECK(r["chatid"] == "cgz01");
  auto info = env.get("cgz01", t);
  REQUIRE(info["errcode"] == 0);
  CHECK(info["chat_info"]["name"] == "城关镇管理群");
  CHECK(info["chat_info"]["owner"] == "Alice");
  CHECK(info["chat_info"]["userlist"] == json({"Alice", "Bob"}));  // deduplicated, case-insensitive
  auto sent = env.post("/cgi-bin/appchat/send", t, {{"chatid", "cgz01"}, {"msgtype", "text"}, {"text", {{"content", "通知"}}}});
  CHECK(sent["errcode"] == 0);
  REQUIRE(env.sb().deliveries().size() == 1);
  CHECK(env.sb().deliveries()[0].chat_id == "cgz01");

  // A generated chatid, a random owner from the list, a name cut to 50 characters.
  std::string long_name;
  for (int i = 0; i < 60; ++i) long_name += "群";
  auto g = env.post("/cgi-bin/appchat/create", t, {{"name", long_name}, {"userlist", {"Alice", "Carol"}}});
  REQUIRE(g["errcode"] == 0);
  const std::string id = g["chatid"].get<std::string>();
  auto gi = env.get(id, t)["chat_info"];
  CHECK(gi["name"].get<std::string>().size() == 50 * 3);
  CHECK((gi["owner"] == "Alice" || gi["owner"] == "Carol"));

  // Another app sees neither the group nor may it post there.
  const auto t2 = env.token("s2");
  CHECK(env.get("cgz01", t2)["errcode"] == 86008);
  CHECK(env.post("/cgi-bin/appchat/send", t2, {{"chatid", "cgz01"}, {"msgtype", "text"}, {"text", {{"content", "x"}}}})["errcode"] == 86008);
}

TEST_CASE("sandbox appchat/create and update refuse what WeCom refuses", "[sandbox][appchat]") {
  Env env;
  const auto t = env.token();
  REQUIRE(env.post("/cgi-bin/appchat/create", t, {{"userlist", {"Alice", "Bob"}}, {"owner", "Alice"}, {"chatid", "taken"}})["errcode"] == 0);
  struct Case {
    const char* name;
    const char* path;
    json body;
    int errcode;
  };
  for (const auto& c : std::vector<Case>{
           {"one member", "/cgi-bin/appchat/create", {{"userlist", {"Alice"}}}, 86006},
           {"unknown member", "/cgi-bin/appchat/create", {{"userlist", {"Alice", "Zed"}}}, 86216},
           {"owner not in list", "/cgi-bin/appchat/create", {{"userlist", {"Alice", "Bob"}}, {"owner", "Carol"}}, 86005},
           {"bad chatid", "/cgi-bin/appchat/create", {{"userlist", {"Alice", "Bob"}}, {"chatid", "has space"}}, 86001},
           {"chatid taken", "/cgi-bin/appchat/create", {{"userlist", {"Alice", "Bob"}}, {"chatid", "taken"}}, 86215},
           {"update unknown chat", "/cgi-bin/appchat/update", {{"chatid", "nope"}}, 86003},
           {"update without chatid", "/cgi-bin/appchat/update", json::object(), 86001},
           {"update below two", "/cgi-bin/appchat/update", {{"chatid", "taken"}, {"del_user_list", {"Bob"}}}, 86006},
           {"update removes owner", "/cgi-bin/appchat/update",
            {{"chatid", "taken"}, {"add_user_list", {"Carol"}}, {"del_user_list", {"Alice"}}}, 86005},
           {"update unknown member", "/cgi-bin/appchat/update", {{"chatid", "taken"}, {"add_user_list", {"Zed"}}}, 86216},
       }) {
    CAPTURE(c.name);
    CHECK(env.post(c.path, t, c.body)["errcode"] == c.errcode);
  }
  auto ok = env.post("/cgi-bin/appchat/update", t,
                     {{"chatid", "taken"}, {"name", "新名字"}, {"owner", "Bob"}, {"add_user_list", {"Carol"}},
                      {"del_user_list", {"Alice"}}});
  CHECK(ok["errcode"] == 0);
  auto info = env.get("taken", t)["chat_info"];
  CHECK(info["name"] == "新名字");
  CHECK(info["owner"] == "Bob");
  CHECK(info["userlist"] == json({"Bob", "Carol"}));
  // Apps not visible to the whole corp may not use appchat at all.
  CHECK(env.post("/cgi-bin/appchat/create", env.token("s3"), {{"userlist", {"Alice", "Bob"}}})["errcode"] == 60011);
  CHECK(json::parse(env.sb().handle({"POST", "/cgi-bin/appchat/get?access_token=" + t + "&chatid=taken", ""}).body)["errcode"] == 43001);
}

TEST_CASE("sandbox appchat/create allows 1000 groups per day per corp", "[sandbox][appchat][limits]") {
  Env env;
  const auto t = env.token();
  for (int i = 0; i < 1000; ++i)
    REQUIRE(env.post("/cgi-bin/appchat/create", t, {{"userlist", {"Alice", "Bob"}}})["errcode"] == 0);
  CHECK(env.post("/cgi-bin/appchat/create", t, {{"userlist", {"Alice", "Bob"}}})["errcode"] == 45009);
  env.sb().clock().advance(24h);
  CHECK(env.post("/cgi-bin/appchat/create", env.token(), {{"userlist", {"Alice", "Bob"}}})["errcode"] == 0);
}

}  // namespace
}  // namespace yuer::sandbox
