// parse_sync_page: the kf/sync_msg answer page as KfSync stores it (events, the parents' messages
// that move their windows, cursor, has_more), with the official sample and hostile items.
#include "adapters/kf/sync_page.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <limits>

namespace yuer::adapters::kf {
namespace {

using nlohmann::json;

TEST_CASE("kf sync_msg page: events, parent messages, cursor and has_more", "[adapters][kf]") {
  // §9.3 / DOC 94670 sample item, plus an event, a receptionist's message and hostile items.
  const json page = json::parse(R"({"errcode":0,"errmsg":"ok","next_cursor":"4gw7MepFLfgF2VC5npN","has_more":1,
    "msg_list":[
      {"msgid":"from_msgid_4622416642169452483","open_kfid":"wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
       "external_userid":"wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw","send_time":1615478585,"origin":3,
       "msgtype":"text","text":{"content":"你好","menu_id":"101"}},
      {"msgid":"ev1","send_time":1615478600,"origin":4,"msgtype":"event","event":{"event_type":"msg_send_fail"}},
      {"msgid":"s1","external_userid":"wm2","send_time":1615478700,"origin":5,"msgtype":"image"},
      {"msgid":"p2","external_userid":"wm3","send_time":1615478800,"origin":3,"msgtype":"text"},
      {"msgid":"","origin":3},
      {"msgid":7},
      "not an object",
      {"msgid":"neg","external_userid":"wm4","send_time":-5,"origin":3,"msgtype":"text"},
      {"msgid":"huge","external_userid":"wm5","send_time":9223372036854775807,"origin":3,"msgtype":"text"},
      {"msgid":"unsigned","external_userid":"wm6","send_time":18446744073709551615,"origin":3,"msgtype":"text"},
      {"msgid":"evbad","msgtype":"event","event":"enter_session"}
    ]})");
  const SyncPage p = parse_sync_page(page, "wkDEFAULT", 1700000000);
  CHECK(p.next_cursor == "4gw7MepFLfgF2VC5npN");
  CHECK(p.has_more);
  struct Want {
    const char* key;
    const char* kind;
    const char* from;
    std::int64_t created;
  };
  const Want want[] = {
      {"msg:from_msgid_4622416642169452483", "kf:text", "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", 1615478585},
      {"msg:ev1", "kf:event:msg_send_fail", "", 1615478600},
      {"msg:s1", "kf:image", "wm2", 1615478700},
      {"msg:p2", "kf:text", "wm3", 1615478800},
      {"msg:neg", "kf:text", "wm4", -5},
      {"msg:huge", "kf:text", "wm5", std::numeric_limits<std::int64_t>::max()},
      {"msg:unsigned", "kf:text", "wm6", 0},
      {"msg:evbad", "kf:event", "", 0},
  };
  REQUIRE(p.events.size() == std::size(want));
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    CAPTURE(i);
    CHECK(p.events[i].receiver == "kf");
    CHECK(p.events[i].channel == "kf");
    CHECK(p.events[i].dedupe_key == want[i].key);
    CHECK(p.events[i].kind == want[i].kind);
    CHECK(p.events[i].from_user == want[i].from);
    CHECK(p.events[i].created_at == want[i].created);
    CHECK(p.events[i].received_at == 1700000000);
    CHECK(json::parse(p.events[i].payload).is_object());
  }
  // Origin 3 only; the item's own open_kfid wins; impossible times become 0 instead of overflowing.
  struct Parent {
    const char* kfid;
    const char* user;
    std::int64_t ms;
  };
  const Parent parents[] = {{"wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q", "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", 1615478585000},
                            {"wkDEFAULT", "wm3", 1615478800000},
                            {"wkDEFAULT", "wm4", 0},
                            {"wkDEFAULT", "wm5", 0},
                            {"wkDEFAULT", "wm6", 0}};
  REQUIRE(p.customer.size() == std::size(parents));
  for (std::size_t i = 0; i < p.customer.size(); ++i) {
    CAPTURE(i);
    CHECK(p.customer[i].open_kfid == parents[i].kfid);
    CHECK(p.customer[i].external_userid == parents[i].user);
    CHECK(p.customer[i].send_ms == parents[i].ms);
  }
}

TEST_CASE("kf sync_msg page: answers that are not pages give nothing", "[adapters][kf]") {
  for (const char* text : {"null", "[]", "\"x\"", "{}", R"({"msg_list":{"msgid":"a"}})", R"({"has_more":"1"})",
                           R"({"has_more":1.0,"next_cursor":5})"}) {
    CAPTURE(text);
    const SyncPage p = parse_sync_page(json::parse(text), "wk", 1);
    CHECK(p.events.empty());
    CHECK(p.customer.empty());
    CHECK_FALSE(p.has_more);
    CHECK(p.next_cursor.empty());
  }
}

TEST_CASE("kf doorbell: text split over CDATA parts reads as the callback parser stored it", "[adapters][kf]") {
  auto d = parse_doorbell("<xml><MsgType>event</MsgType><Event>kf_msg_<![CDATA[or_event]]></Event>"
                          "<Token>EN<![CDATA[CA]]></Token><OpenKfId><![CDATA[wk]]>Split</OpenKfId></xml>");
  REQUIRE(d.has_value());
  CHECK(d->open_kfid == "wkSplit");
  CHECK(d->token == "ENCA");
}

}  // namespace
}  // namespace yuer::adapters::kf
