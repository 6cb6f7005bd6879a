#include "adapters/customer_group/customer_group_api.h"

#include <catch2/catch.hpp>

#include <string>

namespace yuer::adapters::customer_group {
namespace {

// The change_external_chat sample published as "官方提供" (reference §8.3, DOC 92130).
const std::string kSample =
    "<xml><ToUserName><![CDATA[wwea4ccebadeefd11a]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1700642907</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wree9uDgAAfxkLu5-lEbsmQBjsb7V8Cg]]></ChatId>"
    "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[change_name]]></UpdateDetail>"
    "<JoinScene>0</JoinScene><MemChangeCnt>2</MemChangeCnt>"
    "<LastMemVer><![CDATA[6ebe7c3f89cb839ec2e1720f04eae2e0]]></LastMemVer>"
    "<CurMemVer><![CDATA[15722766561cf8bce92480a3d1457654]]></CurMemVer></xml>";

TEST_CASE("change_external_chat: the official sample gives chat, change and member versions", "[customer_group]") {
  auto c = parse_chat_change(kSample);
  REQUIRE(c.has_value());
  CHECK(c->chat_id == "wree9uDgAAfxkLu5-lEbsmQBjsb7V8Cg");
  CHECK(c->change_type == "update");
  CHECK(c->update_detail == "change_name");
  CHECK(c->mem_change_cnt == 2);
  CHECK(c->last_mem_ver == "6ebe7c3f89cb839ec2e1720f04eae2e0");
  CHECK(c->cur_mem_ver == "15722766561cf8bce92480a3d1457654");
}

TEST_CASE("change_external_chat: other events and malformed XML are not changes", "[customer_group]") {
  const std::string no_chat = "<xml><Event>change_external_chat</Event><ChangeType>create</ChangeType></xml>";
  const std::string other = "<xml><Event>change_external_contact</Event><ChatId>wr1</ChatId></xml>";
  for (const std::string& bad : {std::string(), std::string("not xml"), no_chat, other, kSample.substr(0, 120),
                                 std::string("<xml><Event>change_external_chat</Event><ChatId></ChatId></xml>")}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_chat_change(bad).has_value());
  }
  // A create event carries no versions.
  auto created = parse_chat_change("<xml><Event>change_external_chat</Event><ChatId>wr9</ChatId><ChangeType>create</ChangeType></xml>");
  REQUIRE(created.has_value());
  CHECK(created->change_type == "create");
  CHECK(created->cur_mem_ver.empty());
}

TEST_CASE("change_external_chat: text split over CDATA parts reads as the callback parser stored it",
          "[customer_group]") {
  // adapters/wecom joins an element's text and CDATA parts when it decides the kind; so must this
  // (found writing the chat_change fuzz invariant; tests/vectors/regress/chat_change/).
  auto c = parse_chat_change("<xml><MsgType><![CDATA[event]]></MsgType><Event>change_<![CDATA[external_chat]]></Event>"
                             "<ChatId>wr<![CDATA[Split]]></ChatId><ChangeType><![CDATA[up]]>date</ChangeType>"
                             "<LastMemVer>a<!-- c -->b</LastMemVer><CurMemVer><![CDATA[c]]></CurMemVer></xml>");
  REQUIRE(c.has_value());
  CHECK(c->chat_id == "wrSplit");
  CHECK(c->change_type == "update");
  CHECK(c->last_mem_ver == "ab");
  CHECK(c->cur_mem_ver == "c");
}

}  // namespace
}  // namespace yuer::adapters::customer_group
