// Customer groups: fixture (generated members, contacts, join ways), groupchat/list|get, join-way
// CRUD, the control API (join through a way with overflow and auto-created rooms, leave, update,
// dismiss) and the change_external_chat callbacks, decrypted and checked field by field; one test
// over HTTP with a receiver that verifies and decrypts like the daemon.
#include "tests/sandbox/customer_groups.h"

#include "daemon/net/http_client.h"
#include "daemon/net/http_test_support.h"
#include "tests/sandbox/groups_test_support.h"
#include "tests/sandbox/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace yuer::sandbox {
namespace {

using namespace groups_testing;
using namespace std::chrono_literals;

std::vector<std::string> chat_ids(const json& list_reply) {
  std::vector<std::string> out;
  for (const auto& g : list_reply["group_chat_list"]) out.push_back(g["chat_id"].get<std::string>());
  return out;
}

const json* find_member(const json& group_chat, const std::string& userid) {
  for (const auto& m : group_chat["member_list"])
    if (m["userid"] == userid) return &m;
  return nullptr;
}

TEST_CASE("customer group fixture expands generated members and implied contacts", "[sandbox][groups]") {
  auto f = parse_fixture(groups_fixture()).value();
  const CustomerGroup* a1 = f.customer_group("wrA1");
  REQUIRE(a1 != nullptr);
  // Alice (owner, added first), Bob, wmP1, then two generated parents.
  REQUIRE(a1->members.size() == 5);
  CHECK(a1->members[0].userid == "Alice");
  CHECK(a1->members[0].type == 1);
  CHECK(a1->members[3].userid == "wmGenA0001");
  CHECK(a1->members[4].userid == "wmGenA0002");
  CHECK(a1->members[4].join_time == 1'690'004'600);
  CHECK(a1->members[4].state == "gen");
  CHECK(!a1->members[4].name.empty());
  auto again = parse_fixture(groups_fixture()).value();
  CHECK(again.customer_group("wrA1")->members[4].name == a1->members[4].name);
  // Listed contacts keep their follow users; group parents not listed follow the group's owner.
  REQUIRE(f.external_contact("wmP1") != nullptr);
  REQUIRE(f.external_contact("wmP3") != nullptr);
  CHECK(f.external_contact("wmP3")->follow_users == std::vector<std::string>{"Bob"});
  CHECK(f.external_contact("wmGenA0001")->follow_users == std::vector<std::string>{"Alice"});
  CHECK(f.customer_contact_app(1000002));
  CHECK(!f.customer_contact_app(1000003));
  REQUIRE(f.join_ways.size() == 1);
  CHECK(f.join_ways[0].agent_id == 1000002);
  CHECK(f.join_ways[0].next_room_id == 7);
  // The JSON form parses back to the same corp.
  auto round = parse_fixture(fixture_to_json(f).dump());
  REQUIRE(round.has_value());
  CHECK(round->customer_group("wrA1")->members.size() == 5);
  CHECK(round->external_contacts.size() == f.external_contacts.size());
}

TEST_CASE("customer group fixture errors name the JSON path", "[sandbox][groups]") {
  struct Case {
    const char* label;
    json extra;
    const char* path;
  };
  const std::vector<Case> cases = {
      {"over the cap", {{"customer_group_member_cap", 4}}, "$.customer_groups[0].members"},
      {"unknown customer-contact app", {{"customer_contact_agent_ids", {999}}}, "$.customer_contact_agent_ids[0]"},
      {"contact follows a stranger",
       {{"external_contacts", {{{"external_userid", "wmX"}, {"follow_users", {"Nobody"}}}}}},
       "$.external_contacts[0].follow_users"},
      {"join way with 6 chats",
       {{"join_ways", {{{"config_id", "c"}, {"chat_id_list", {"wrA1", "wrA2", "wrB1", "wrA1", "wrA2", "wrB1"}}}}}},
       "$.join_ways[0].chat_id_list"},
      {"join way to an unknown chat", {{"join_ways", {{{"config_id", "c"}, {"chat_id_list", {"nope"}}}}}},
       "$.join_ways[0].chat_id_list"},
      {"duplicate member",
       {{"customer_groups",
         {{{"chat_id", "g"}, {"owner", "Alice"}, {"members", {{{"userid", "wmD"}}, {{"userid", "wmD"}}}}}}}},
       "$.customer_groups[0].members[1].userid"},
      {"generate without prefix",
       {{"customer_groups", {{{"chat_id", "g"}, {"owner", "Alice"}, {"generate", {{"count", 3}}}}}}},
       "$.customer_groups[0].generate.id_prefix"},
      {"unknown invitor",
       {{"customer_groups",
         {{{"chat_id", "g"}, {"owner", "Alice"}, {"members", {{{"userid", "wmI"}, {"invitor", "Zed"}}}}}}}},
       "$.customer_groups[0].members[0].invitor"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = parse_fixture(groups_fixture("", c.extra));
    REQUIRE(!r.has_value());
    CHECK(r.error().code == "fixture.invalid");
    CHECK(r.error().message.rfind(c.path, 0) == 0);
  }
}

TEST_CASE("demo county fixture has 3 townships and 6 parent groups under the cap", "[sandbox][groups]") {
  auto f = load_fixture(YUER_SANDBOX_DEFAULT_FIXTURE);
  REQUIRE(f.has_value());
  REQUIRE(f->customer_groups.size() == 6);
  std::set<std::string> owners;
  std::size_t parents = 0;
  for (const auto& g : f->customer_groups) {
    CAPTURE(g.chat_id);
    owners.insert(g.owner);
    CHECK(static_cast<int>(g.members.size()) <= f->member_cap(g));
    CHECK(g.members.size() >= 30);
    for (const auto& m : g.members) parents += m.type == 2;
  }
  CHECK(owners == std::set<std::string>{"QingheCoord", "ShiqiaoCoord", "LiuxiCoord"});
  CHECK(parents >= 250);
  CHECK(f->external_contacts.size() >= 250);
  CHECK(f->join_ways.size() == 3);
  // The first slice's parents are still there (other tests and tools may name them).
  CHECK(f->customer_group("wrDemoqinghe1L36OHKJxrs")->member("wmDemoParent0001wSxajk") != nullptr);
}

TEST_CASE("groupchat/list filters, pages and checks its arguments", "[sandbox][groups]") {
  Env env;
  struct Case {
    const char* label;
    json body;
    int errcode;
    std::vector<std::string> chats;
  };
  const std::vector<Case> cases = {
      {"all", {{"limit", 100}}, 0, {"wrA1", "wrA2", "wrB1"}},
      {"owner filter", {{"limit", 100}, {"owner_filter", {{"userid_list", {"Alice"}}}}}, 0, {"wrA1", "wrA2"}},
      {"unknown owner", {{"limit", 100}, {"owner_filter", {{"userid_list", {"Zed"}}}}}, 0, {}},
      {"status 0", {{"limit", 100}, {"status_filter", 0}}, 0, {"wrA1", "wrA2", "wrB1"}},
      {"status 1: no resigned owners", {{"limit", 100}, {"status_filter", 1}}, 0, {}},
      {"status 4", {{"limit", 100}, {"status_filter", 4}}, 40058, {}},
      {"limit missing", json::object(), 40058, {}},
      {"limit 0", {{"limit", 0}}, 40058, {}},
      {"limit 1001", {{"limit", 1001}}, 40058, {}},
      {"limit 1000", {{"limit", 1000}}, 0, {"wrA1", "wrA2", "wrB1"}},
      {"101 owners", {{"limit", 10}, {"owner_filter", {{"userid_list", json(std::vector<std::string>(101, "Alice"))}}}},
       40058, {}},
      {"bad cursor", {{"limit", 10}, {"cursor", "garbage!"}}, 50100, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = env.call("groupchat/list", c.body);
    CHECK(r["errcode"] == c.errcode);
    if (c.errcode == 0) {
      CHECK(chat_ids(r) == c.chats);
      CHECK(r["next_cursor"] == "");
      for (const auto& g : r["group_chat_list"]) CHECK(g["status"] == 0);
    }
  }
  // Paging: limit 2 then the cursor.
  auto p1 = env.call("groupchat/list", {{"limit", 2}});
  CHECK(chat_ids(p1) == std::vector<std::string>{"wrA1", "wrA2"});
  REQUIRE(p1["next_cursor"] != "");
  auto p2 = env.call("groupchat/list", {{"limit", 2}, {"cursor", p1["next_cursor"]}});
  CHECK(chat_ids(p2) == std::vector<std::string>{"wrB1"});
  CHECK(p2["next_cursor"] == "");
  // An app whose visibility holds only Alice sees only her groups.
  CHECK(chat_ids(env.call("groupchat/list", {{"limit", 100}}, "narrow-secret")) ==
        std::vector<std::string>{"wrA1", "wrA2"});
}

TEST_CASE("externalcontact calls need POST, a token and customer-contact permission", "[sandbox][groups]") {
  Env env;
  const std::string body = R"({"limit":10})";
  const std::string path = "/cgi-bin/externalcontact/groupchat/list";
  CHECK(json::parse(env.get(path + "?access_token=" + env.token()).body)["errcode"] == 43002);
  CHECK(json::parse(env.post(path, body).body)["errcode"] == 41001);
  CHECK(json::parse(env.post(path + "?access_token=nope", body).body)["errcode"] == 40014);
  CHECK(env.call("groupchat/list", {{"limit", 10}}, "plain-secret")["errcode"] == 48002);
  CHECK(json::parse(env.post(path + "?access_token=" + env.token(), "").body)["errcode"] == 44002);
  CHECK(json::parse(env.post(path + "?access_token=" + env.token(), "[1]").body)["errcode"] == 40058);
  const std::string t = env.token();
  env.base.advance(7200s);
  CHECK(json::parse(env.post(path + "?access_token=" + t, body).body)["errcode"] == 42001);
}

TEST_CASE("groupchat/list without owner filter over 1000 visible members is 81017", "[sandbox][groups]") {
  json members = json::array();
  for (int i = 0; i < 1001; ++i) members.push_back({{"userid", "M" + std::to_string(i)}});
  members.push_back({{"userid", "Alice"}});
  members.push_back({{"userid", "Bob"}});
  members.push_back({{"userid", "Carol"}});
  Env env(json{{"members", members}});
  CHECK(env.call("groupchat/list", {{"limit", 10}})["errcode"] == 81017);
  CHECK(env.call("groupchat/list", {{"limit", 10}, {"owner_filter", {{"userid_list", {"Bob"}}}}})["errcode"] == 0);
}

TEST_CASE("groupchat/get returns members with scene, invitor, state and names on request", "[sandbox][groups]") {
  Env env;
  auto r = env.call("groupchat/get", {{"chat_id", "wrA1"}});
  REQUIRE(r["errcode"] == 0);
  const json& g = r["group_chat"];
  CHECK(g["chat_id"] == "wrA1");
  CHECK(g["name"] == "甲1群");
  CHECK(g["owner"] == "Alice");
  CHECK(g["create_time"] == 1'690'000'000);
  CHECK(g["notice"] == "群公告");
  CHECK(g["admin_list"] == json::array({{{"userid", "Bob"}}}));
  CHECK(g["member_version"].get<std::string>().size() == 32);
  REQUIRE(g["member_list"].size() == 5);
  const json* bob = find_member(g, "Bob");
  REQUIRE(bob != nullptr);
  CHECK((*bob)["type"] == 1);
  CHECK((*bob)["join_scene"] == 1);
  CHECK((*bob)["invitor"] == json{{"userid", "Alice"}});
  CHECK(!bob->contains("name"));
  const json* p1 = find_member(g, "wmP1");
  REQUIRE(p1 != nullptr);
  CHECK((*p1)["type"] == 2);
  CHECK((*p1)["join_scene"] == 3);
  CHECK((*p1)["state"] == "qr1");
  CHECK((*p1)["group_nickname"] == "小P");
  CHECK((*p1)["unionid"] == "oUnion1");
  CHECK((*p1)["join_time"] == 1'690'000'200);
  CHECK(!p1->contains("invitor"));

  auto named = env.call("groupchat/get", {{"chat_id", "wrA1"}, {"need_name", 1}})["group_chat"];
  CHECK((*find_member(named, "wmP1"))["name"] == "P1妈妈");
  CHECK((*find_member(named, "Bob"))["name"] == "乙");  // members' names come from the directory

  struct Case {
    const char* label;
    json body;
    std::string secret;
    int errcode;
  };
  const std::vector<Case> cases = {
      {"missing chat_id", json::object(), "cc-secret", 40058},
      {"unknown chat", {{"chat_id", "wrNope"}}, "cc-secret", 40050},
      {"internal group", {{"chat_id", "wrmgmt"}}, "cc-secret", 90501},
      {"owner outside the app's visibility", {{"chat_id", "wrB1"}}, "narrow-secret", 60011},
      {"visible owner", {{"chat_id", "wrA2"}}, "narrow-secret", 0},
      {"app without permission", {{"chat_id", "wrA2"}}, "plain-secret", 48002},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    CHECK(env.call("groupchat/get", c.body, c.secret)["errcode"] == c.errcode);
  }
}

TEST_CASE("join ways: add, get with qr_code, update, delete and their errcodes", "[sandbox][groups]") {
  Env env;
  const json good = {{"scene", 2},
                     {"remark", std::string(35, 'r')},
                     {"auto_create_room", 1},
                     {"room_base_name", "青禾新群"},
                     {"room_base_id", 10},
                     {"chat_id_list", {"wrA2", "wrB1"}},
                     {"state", "township-qh"}};
  auto added = env.call("groupchat/add_join_way", good);
  REQUIRE(added["errcode"] == 0);
  const std::string id = added["config_id"];
  CHECK(id.size() == 32);
  CHECK(!added.contains("qr_code"));  // the QR URL only comes from get_join_way (§8.5)

  auto got = env.call("groupchat/get_join_way", {{"config_id", id}});
  REQUIRE(got["errcode"] == 0);
  const json& w = got["join_way"];
  CHECK(w["config_id"] == id);
  CHECK(w["scene"] == 2);
  CHECK(w["remark"] == std::string(30, 'r'));  // cut to 30 characters
  CHECK(w["auto_create_room"] == 1);
  CHECK(w["room_base_name"] == "青禾新群");
  CHECK(w["room_base_id"] == 10);
  CHECK(w["chat_id_list"] == json::array({"wrA2", "wrB1"}));
  CHECK(w["state"] == "township-qh");
  CHECK(w["qr_code"].get<std::string>().rfind("https://", 0) == 0);

  json upd = good;
  upd["config_id"] = id;
  upd["chat_id_list"] = {"wrB1"};
  upd["state"] = "s2";
  CHECK(env.call("groupchat/update_join_way", upd)["errcode"] == 0);
  auto after = env.call("groupchat/get_join_way", {{"config_id", id}})["join_way"];
  CHECK(after["chat_id_list"] == json::array({"wrB1"}));
  CHECK(after["state"] == "s2");

  // Another app with the permission cannot see this app's config.
  CHECK(env.call("groupchat/get_join_way", {{"config_id", id}}, "narrow-secret")["errcode"] == 41044);
  CHECK(env.call("groupchat/get_join_way", json::object())["errcode"] == 41043);
  CHECK(env.call("groupchat/del_join_way", {{"config_id", id}})["errcode"] == 0);
  CHECK(env.call("groupchat/get_join_way", {{"config_id", id}})["errcode"] == 41044);
  CHECK(env.call("groupchat/del_join_way", {{"config_id", id}})["errcode"] == 41044);

  struct Case {
    const char* label;
    json patch;
    int errcode;
  };
  const std::vector<Case> cases = {
      {"scene missing", {{"scene", nullptr}}, 41038},
      {"scene 3", {{"scene", 3}}, 41040},
      {"scene 1 (mini program)", {{"scene", 1}}, 0},
      {"no chats", {{"chat_id_list", json::array()}}, 40058},
      {"5 chats", {{"chat_id_list", {"wrA1", "wrA2", "wrB1", "wrA1", "wrA2"}}}, 0},
      {"6 chats", {{"chat_id_list", {"wrA1", "wrA2", "wrB1", "wrA1", "wrA2", "wrB1"}}}, 41091},
      {"unknown chat", {{"chat_id_list", {"wrNope"}}}, 40050},
      {"internal group", {{"chat_id_list", {"wrmgmt"}}}, 90501},
      {"room_base_name 40 chars", {{"room_base_name", [] { std::string s; for (int i = 0; i < 40; ++i) s += "群"; return s; }()}}, 0},
      {"room_base_name 41 chars", {{"room_base_name", [] { std::string s; for (int i = 0; i < 41; ++i) s += "群"; return s; }()}}, 40058},
      {"state 30 chars", {{"state", std::string(30, 's')}}, 0},
      {"state 31 chars", {{"state", std::string(31, 's')}}, 40058},
      {"auto_create_room 2", {{"auto_create_room", 2}}, 40058},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    json body = good;
    for (auto& [k, v] : c.patch.items()) {
      if (v.is_null()) body.erase(k);
      else body[k] = v;
    }
    CHECK(env.call("groupchat/add_join_way", body)["errcode"] == c.errcode);
  }
}

// The change_external_chat plaintexts emitted since the last call, decrypted with MsgCrypt.
std::vector<std::string> take_events(Env& env) {
  std::vector<std::string> out;
  for (const auto& job : env.sb().take_callbacks()) {
    CHECK(job.label == "change_external_chat");
    CHECK(job.agent_id == 1000002);  // the only customer-contact app with a callback URL
    CHECK(job.url == "http://127.0.0.1:9/cb");
    std::string plain = decrypt_job(job);
    CHECK(plain == job.plaintext);
    out.push_back(plain);
  }
  return out;
}

TEST_CASE("change_external_chat add_member decrypts to the reference's fields", "[sandbox][groups][callbacks]") {
  Env env;
  const std::string before = env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"]["member_version"];
  unsigned status = 0;
  auto joined = env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}, {"external_userid", "wmP1"}}, &status);
  REQUIRE(status == 200);
  CHECK(joined["member_count"] == 3);
  const std::string after = env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"]["member_version"];
  CHECK(after != before);
  CHECK(joined["member_version"] == after);

  auto events = take_events(env);
  REQUIRE(events.size() == 1);
  pugi::xml_document doc;
  REQUIRE(doc.load_string(events[0].c_str()));
  auto x = doc.child("xml");
  // Reference §8.3: FromUserName sys, Event, ChatId, ChangeType, UpdateDetail, JoinScene,
  // MemChangeCnt, MemChangeList/Item, LastMemVer, CurMemVer.
  CHECK(element_names(x) == std::vector<std::string>{"ToUserName", "FromUserName", "CreateTime", "MsgType", "Event",
                                                     "ChatId", "ChangeType", "UpdateDetail", "JoinScene",
                                                     "MemChangeCnt", "MemChangeList", "LastMemVer", "CurMemVer"});
  CHECK(std::string(x.child_value("ToUserName")) == kCorp);
  CHECK(std::string(x.child_value("FromUserName")) == "sys");
  CHECK(std::string(x.child_value("CreateTime")) == "1700000000");
  CHECK(std::string(x.child_value("MsgType")) == "event");
  CHECK(std::string(x.child_value("Event")) == "change_external_chat");
  CHECK(std::string(x.child_value("ChatId")) == "wrA2");
  CHECK(std::string(x.child_value("ChangeType")) == "update");
  CHECK(std::string(x.child_value("UpdateDetail")) == "add_member");
  CHECK(std::string(x.child_value("JoinScene")) == "0");  // invited directly by a member
  CHECK(std::string(x.child_value("MemChangeCnt")) == "1");
  CHECK(std::string(x.child("MemChangeList").child_value("Item")) == "wmP1");
  CHECK(std::string(x.child_value("LastMemVer")) == before);
  CHECK(std::string(x.child_value("CurMemVer")) == after);

  auto g = env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"];
  const json* m = find_member(g, "wmP1");
  REQUIRE(m != nullptr);
  CHECK((*m)["join_scene"] == 1);
  CHECK((*m)["invitor"] == json{{"userid", "Alice"}});
  CHECK((*m)["join_time"] == 1'700'000'000);
}

TEST_CASE("change_external_chat del_member carries QuitScene", "[sandbox][groups][callbacks]") {
  auto [removed, quit_scene] = GENERATE(table<bool, std::string>({{false, "0"}, {true, "1"}}));
  CAPTURE(removed);
  Env env;
  unsigned status = 0;
  auto left = env.control("/_sandbox/groups/leave", {{"chat_id", "wrA1"}, {"userid", "wmP1"}, {"removed", removed}},
                          &status);
  REQUIRE(status == 200);
  CHECK(left["member_count"] == 4);
  auto events = take_events(env);
  REQUIRE(events.size() == 1);
  pugi::xml_document doc;
  REQUIRE(doc.load_string(events[0].c_str()));
  auto x = doc.child("xml");
  CHECK(std::string(x.child_value("UpdateDetail")) == "del_member");
  CHECK(std::string(x.child_value("QuitScene")) == quit_scene);
  CHECK(x.child("JoinScene").empty());
  CHECK(std::string(x.child_value("MemChangeCnt")) == "1");
  CHECK(std::string(x.child("MemChangeList").child_value("Item")) == "wmP1");
  CHECK(find_member(env.call("groupchat/get", {{"chat_id", "wrA1"}})["group_chat"], "wmP1") == nullptr);

  // Errors: not a member, the owner, an unknown group.
  env.control("/_sandbox/groups/leave", {{"chat_id", "wrA1"}, {"userid", "wmP1"}}, &status);
  CHECK(status == 404);
  env.control("/_sandbox/groups/leave", {{"chat_id", "wrA1"}, {"userid", "Alice"}}, &status);
  CHECK(status == 409);
  env.control("/_sandbox/groups/leave", {{"chat_id", "wrZ"}, {"userid", "wmP1"}}, &status);
  CHECK(status == 404);
}

TEST_CASE("joining through a join way overflows to the next chat and creates rooms", "[sandbox][groups]") {
  Env env;
  unsigned status = 0;
  // wrA1 is full (5/5): a parent scanning the seeded QR lands in wrA2 with the way's state.
  auto j = env.control("/_sandbox/groups/join", {{"config_id", "cfgseed1"}, {"name", "扫码妈妈"}}, &status);
  REQUIRE(status == 200);
  CHECK(j["chat_id"] == "wrA2");
  CHECK(j["join_scene"] == 3);
  CHECK(!j.contains("created_room"));
  auto events = take_events(env);
  REQUIRE(events.size() == 1);
  CHECK(events[0].find("<JoinScene>3</JoinScene>") != std::string::npos);
  auto g = env.call("groupchat/get", {{"chat_id", "wrA2"}, {"need_name", 1}})["group_chat"];
  const json* m = find_member(g, j["userid"].get<std::string>());
  REQUIRE(m != nullptr);
  CHECK((*m)["state"] == "seedstate");
  CHECK((*m)["join_scene"] == 3);
  CHECK((*m)["name"] == "扫码妈妈");
  CHECK(!m->contains("invitor"));

  // wrA2 now has 3 of 5: two more fill it, the third creates 甲新群7 (room_base_id 7), owned by Alice.
  auto bulk = env.control("/_sandbox/groups/join_bulk", {{"config_id", "cfgseed1"}, {"count", 3}}, &status);
  REQUIRE(status == 200);
  CHECK(bulk["joined"].size() == 3);
  CHECK(bulk["refused"] == 0);
  REQUIRE(bulk["created_rooms"].size() == 1);
  const std::string room7 = bulk["created_rooms"][0];
  auto r7 = env.call("groupchat/get", {{"chat_id", room7}})["group_chat"];
  CHECK(r7["name"] == "甲新群7");
  CHECK(r7["owner"] == "Alice");
  CHECK(r7["member_list"].size() == 2);  // owner + the joiner
  CHECK(r7["create_time"] == 1'700'000'000);
  // create then add_member for the new room.
  events = take_events(env);
  REQUIRE(events.size() == 4);
  CHECK(events[2].find("<ChangeType><![CDATA[create]]></ChangeType>") != std::string::npos);
  CHECK(events[2].find(room7) != std::string::npos);
  CHECK(events[2].find("UpdateDetail") == std::string::npos);
  CHECK(events[3].find("add_member") != std::string::npos);

  // The new room joins the way's list; 4 more fill it (2 → 5 is 3) and the next makes 甲新群8.
  bulk = env.control("/_sandbox/groups/join_bulk", {{"config_id", "cfgseed1"}, {"count", 4}}, &status);
  REQUIRE(bulk["created_rooms"].size() == 1);
  CHECK(env.call("groupchat/get", {{"chat_id", bulk["created_rooms"][0]}})["group_chat"]["name"] == "甲新群8");
  CHECK(env.call("groupchat/list", {{"limit", 100}, {"owner_filter", {{"userid_list", {"Alice"}}}}})["group_chat_list"]
            .size() == 4);

  // With auto_create_room 0, a full list refuses the joiner.
  auto added = env.call("groupchat/add_join_way", {{"scene", 2}, {"auto_create_room", 0}, {"chat_id_list", {"wrA1"}}});
  env.control("/_sandbox/groups/join", {{"config_id", added["config_id"]}}, &status);
  CHECK(status == 409);
  auto refused = env.control("/_sandbox/groups/join_bulk", {{"config_id", added["config_id"]}, {"count", 2}}, &status);
  CHECK(status == 200);
  CHECK(refused["joined"].size() == 0);
  CHECK(refused["refused"] == 2);
  // A full group refuses a direct join too, and a member cannot join twice.
  env.control("/_sandbox/groups/join", {{"chat_id", "wrA1"}}, &status);
  CHECK(status == 409);
  env.control("/_sandbox/groups/join", {{"chat_id", "wrB1"}, {"external_userid", "wmP3"}}, &status);
  CHECK(status == 409);
  env.control("/_sandbox/groups/join", {{"chat_id", "wrB1"}, {"external_userid", "wmUnknown"}}, &status);
  CHECK(status == 404);
  env.control("/_sandbox/groups/join", {{"chat_id", "wrB1"}, {"config_id", "cfgseed1"}}, &status);
  CHECK(status == 400);
}

TEST_CASE("group update, create and dismiss emit their events and reset restores the fixture", "[sandbox][groups]") {
  Env env;
  unsigned status = 0;
  auto u = env.control("/_sandbox/groups/update", {{"chat_id", "wrB1"}, {"name", "乙群改名"}, {"notice", "新公告"}}, &status);
  REQUIRE(status == 200);
  CHECK(u["changes"] == json::array({"change_name", "change_notice"}));
  auto events = take_events(env);
  REQUIRE(events.size() == 2);
  pugi::xml_document doc;
  REQUIRE(doc.load_string(events[0].c_str()));
  CHECK(element_names(doc.child("xml")) == std::vector<std::string>{"ToUserName", "FromUserName", "CreateTime",
                                                                   "MsgType", "Event", "ChatId", "ChangeType",
                                                                   "UpdateDetail"});
  CHECK(std::string(doc.child("xml").child_value("UpdateDetail")) == "change_name");
  CHECK(env.call("groupchat/get", {{"chat_id", "wrB1"}})["group_chat"]["name"] == "乙群改名");

  env.control("/_sandbox/groups/update", {{"chat_id", "wrB1"}, {"owner", "Carol"}}, &status);
  events = take_events(env);
  REQUIRE(events.size() == 2);  // Carol joins, then becomes owner
  CHECK(events[0].find("add_member") != std::string::npos);
  CHECK(events[1].find("change_owner") != std::string::npos);

  auto created = env.control("/_sandbox/groups/create", {{"owner", "Bob"}, {"name", "新群"}}, &status);
  REQUIRE(status == 200);
  const std::string chat = created["chat_id"];
  events = take_events(env);
  REQUIRE(events.size() == 1);
  CHECK(events[0].find("<ChangeType><![CDATA[create]]></ChangeType>") != std::string::npos);

  env.control("/_sandbox/groups/dismiss", {{"chat_id", chat}}, &status);
  REQUIRE(status == 200);
  events = take_events(env);
  REQUIRE(events.size() == 1);
  REQUIRE(doc.load_string(events[0].c_str()));
  CHECK(std::string(doc.child("xml").child_value("ChangeType")) == "dismiss");
  CHECK(env.call("groupchat/get", {{"chat_id", chat}})["errcode"] == 40050);

  auto st = env.state()["customer_groups"];
  CHECK(st["groups"].size() == 3);
  CHECK(st["join_ways"].size() == 1);
  env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}}, &status);
  env.post("/_sandbox/reset", "{}");
  auto g = env.call("groupchat/get", {{"chat_id", "wrB1"}})["group_chat"];
  CHECK(g["name"] == "乙群");
  CHECK(g["owner"] == "Bob");
  CHECK(env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"]["member_list"].size() == 2);
}

TEST_CASE("change_external_chat goes only to customer-contact apps that see the owner", "[sandbox][groups][callbacks]") {
  // 1000004 sees only Alice: it hears about her groups, not Bob's. 1000003 lacks the permission.
  json apps = {{{"agent_id", 1000002}, {"secret", "cc-secret"}, {"token", kToken}, {"aes_key", kAesKey},
                {"callback_url", "http://127.0.0.1:9/cb"}},
               {{"agent_id", 1000003}, {"secret", "plain-secret"}, {"token", "T3"}, {"aes_key", kAesKey},
                {"callback_url", "http://127.0.0.1:9/plain"}},
               {{"agent_id", 1000004}, {"secret", "narrow-secret"}, {"token", "T4"}, {"aes_key", kAesKey},
                {"callback_url", "http://127.0.0.1:9/narrow"}, {"visible_userids", {"Alice"}}}};
  Env env(json{{"apps", apps}});
  auto agents = [&env] {
    std::vector<std::int64_t> out;
    for (const auto& job : env.sb().take_callbacks()) out.push_back(job.agent_id);
    return out;
  };
  env.control("/_sandbox/groups/join", {{"chat_id", "wrB1"}});
  CHECK(agents() == std::vector<std::int64_t>{1000002});
  env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}});
  CHECK(agents() == std::vector<std::int64_t>{1000002, 1000004});
}

// --- over HTTP: the receiver verifies and decrypts like the daemon ---

struct Received {
  std::mutex mu;
  std::vector<std::string> plaintexts;
  std::vector<std::string> failures;
};

awaitable<http::Response> receive_event(Received* rx, http::Request req) {
  auto crypt = adapters::wecom::MsgCrypt::create(kToken, kAesKey, kCorp).value();
  Target t = parse_target(req.target());
  pugi::xml_document doc;
  std::string encrypted;
  if (doc.load_buffer(req.body().data(), req.body().size())) encrypted = doc.child("xml").child_value("Encrypt");
  auto plain = crypt.verify_and_decrypt(t.param("msg_signature").value_or(""), t.param("timestamp").value_or(""),
                                        t.param("nonce").value_or(""), encrypted);
  std::lock_guard lock(rx->mu);
  if (plain) rx->plaintexts.push_back(*plain);
  else rx->failures.push_back(plain.error().code);
  co_return http::make_response(req, plain ? http::Status::ok : http::Status::forbidden, "");
}

net::Route event_route(Received* rx) {
  net::Route r;
  r.path = "/wecom/callback/app";
  r.label = "receiver";
  r.handler = [rx](http::Request req) { return receive_event(rx, std::move(req)); };
  return r;
}

TEST_CASE("join over HTTP delivers an encrypted change_external_chat to the app", "[sandbox][groups][integration]") {
  Received rx;
  net::testing::TestServer receiver(net::ServerSettings{}, {event_route(&rx)});
  SystemClock clock;
  Sandbox sandbox(parse_fixture(groups_fixture(receiver.url("/wecom/callback/app"))).value(), clock);
  asio::io_context ioc;
  metrics::Registry registry;
  SandboxServer server(ioc, sandbox, "127.0.0.1:0", registry);
  auto ep = server.start();
  REQUIRE(ep.has_value());
  std::thread io([&ioc] { ioc.run(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(ep->port());

  auto r = net::http_request(http::Verb::post, base + "/_sandbox/groups/join",
                             json{{"config_id", "cfgseed1"}, {"name", "线上妈妈"}}.dump(), {}, 10s);
  REQUIRE(r.has_value());
  CHECK(r->status == 200);
  // Callbacks go out after the reply, on the server's workers: wait for the receiver (bounded).
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(rx.mu);
      if (!rx.plaintexts.empty() || !rx.failures.empty()) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  {
    std::lock_guard lock(rx.mu);
    CHECK(rx.failures.empty());
    REQUIRE(rx.plaintexts.size() == 1);
    pugi::xml_document doc;
    REQUIRE(doc.load_string(rx.plaintexts[0].c_str()));
    auto x = doc.child("xml");
    CHECK(std::string(x.child_value("Event")) == "change_external_chat");
    CHECK(std::string(x.child_value("ChatId")) == "wrA2");
    CHECK(std::string(x.child_value("UpdateDetail")) == "add_member");
    CHECK(std::string(x.child_value("JoinScene")) == "3");
  }
  // The sandbox records a callback once the receiver's answer is back, which can be a moment after
  // the receiver has the plaintext: poll the record (bounded) instead of reading it once.
  json listed = json::array();
  for (int i = 0; i < 200 && listed.empty(); ++i) {
    auto cbs = net::http_request(http::Verb::get, base + "/_sandbox/callbacks", {}, {}, 10s);
    REQUIRE(cbs.has_value());
    listed = json::parse(cbs->body)["callbacks"];
    if (listed.empty()) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["label"] == "change_external_chat");
  CHECK(listed[0]["delivered"] == true);

  auto done = asio::co_spawn(ioc, server.stop(0ms), asio::use_future);
  done.wait_for(10s);
  ioc.stop();
  io.join();
}


TEST_CASE("coalesced member events carry every change and the outer versions", "[sandbox][groups][callbacks]") {
  Env env;
  unsigned status = 0;
  const std::string before = env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"]["member_version"];
  env.control("/_sandbox/groups/events", {{"coalesce", true}}, &status);
  REQUIRE(status == 200);
  auto a = env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}}, &status);
  REQUIRE(status == 200);
  auto b = env.control("/_sandbox/groups/join", {{"chat_id", "wrA2"}}, &status);
  REQUIRE(status == 200);
  CHECK(take_events(env).empty());  // held
  // A leave is another kind of change: the held joins go out first, as one event.
  env.control("/_sandbox/groups/leave", {{"chat_id", "wrA2"}, {"userid", a["userid"]}}, &status);
  REQUIRE(status == 200);
  auto events = take_events(env);
  REQUIRE(events.size() == 1);
  CHECK(events[0].find("<MemChangeCnt>2</MemChangeCnt>") != std::string::npos);
  CHECK(events[0].find(a["userid"].get<std::string>()) != std::string::npos);
  CHECK(events[0].find(b["userid"].get<std::string>()) != std::string::npos);
  CHECK(events[0].find("<LastMemVer><![CDATA[" + before + "]]>") != std::string::npos);
  // Turning coalescing off sends the held leave.
  const std::string now = env.call("groupchat/get", {{"chat_id", "wrA2"}})["group_chat"]["member_version"];
  env.control("/_sandbox/groups/events", {{"coalesce", false}}, &status);
  events = take_events(env);
  REQUIRE(events.size() == 1);
  CHECK(events[0].find("del_member") != std::string::npos);
  CHECK(events[0].find("<CurMemVer><![CDATA[" + now + "]]>") != std::string::npos);
}

TEST_CASE("dropped member events are never sent and are counted", "[sandbox][groups][callbacks]") {
  Env env;
  unsigned status = 0;
  env.control("/_sandbox/groups/events", {{"drop", 2}}, &status);
  REQUIRE(status == 200);
  for (int i = 0; i < 3; ++i) {
    env.control("/_sandbox/groups/join", {{"chat_id", "wrB1"}}, &status);
    REQUIRE(status == 200);
  }
  CHECK(take_events(env).size() == 1);
  auto s = env.state();
  CHECK(s["customer_groups"]["events"]["dropped"] == 2);
  CHECK(s["customer_groups"]["events"]["drop_next"] == 0);
  env.control("/_sandbox/groups/events", {{"drop", -1}}, &status);
  CHECK(status == 400);
}

}  // namespace
}  // namespace yuer::sandbox
