// Customer mass messages: add_msg_template validation, the owner's confirmation turning a task into
// deliveries, the per-group monthly cap across a month boundary (Asia/Shanghai, driven through the
// clock control), reminders, cancellation, the result APIs and their paging; the whole
// confirmation flow once more over HTTP.
#include "tests/sandbox/group_msg.h"

#include "daemon/net/http_client.h"
#include "tests/sandbox/groups_test_support.h"
#include "tests/sandbox/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <set>
#include <thread>

namespace yuer::sandbox {
namespace {

using namespace groups_testing;
using namespace std::chrono_literals;

constexpr std::int64_t kJan2026 = 1'767'196'800;  // 2026-01-01 00:00 Asia/Shanghai
constexpr std::int64_t kFeb2026 = 1'769'875'200;  // 2026-02-01 00:00 Asia/Shanghai

json text_task(const std::string& content, const json& more = json::object()) {
  json b = {{"chat_type", "group"}, {"sender", "Alice"}, {"text", {{"content", content}}}};
  b.update(more);
  return b;
}

std::vector<Delivery> groupmsg_deliveries(const Env& env, const std::string& chat_id = {}) {
  std::vector<Delivery> out;
  for (const auto& d : env.sb().deliveries())
    if (d.channel == "groupmsg" && (chat_id.empty() || d.chat_id == chat_id)) out.push_back(d);
  return out;
}

TEST_CASE("group_msg months are Asia/Shanghai calendar months", "[sandbox][group_msg]") {
  struct Case {
    const char* label;
    std::int64_t unix_s;
    int days;
    int month;  // year*12 + month-1
  };
  const std::vector<Case> cases = {
      {"Jan 1 00:00 local", kJan2026, 31, 2026 * 12 + 0},
      {"Dec 31 23:59:59 local", kJan2026 - 1, 31, 2025 * 12 + 11},
      {"last second of January", kFeb2026 - 1, 31, 2026 * 12 + 0},
      {"February 2026", kFeb2026, 28, 2026 * 12 + 1},
      {"February 2024 (leap)", 1'706'716'800, 29, 2024 * 12 + 1},
      {"April", 1'775'001'600, 30, 2026 * 12 + 3},  // 2026-04-01 08:00 local
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    CHECK(days_in_shanghai_month(c.unix_s) == c.days);
    CHECK(shanghai_month(c.unix_s) == c.month);
  }
}

TEST_CASE("add_msg_template validates type, sender, content and attachments", "[sandbox][group_msg]") {
  Env env;
  auto att = [](const json& a) { return json::array({a}); };
  const std::string image_id = env.upload_media("cc-secret", "image", "课.png", std::string("\x89PNG\r\n\x1a\n0000", 12));
  const std::string file_id = env.upload_media("cc-secret", "file", "喂养指南.pdf", "%PDF-1.4 guide");
  const json img = {{"msgtype", "image"}, {"image", {{"media_id", image_id}}}};
  const json link = {{"msgtype", "link"}, {"link", {{"title", "育儿课"}, {"url", "https://example.com"}}}};
  struct Case {
    const char* label;
    json body;
    std::string secret;
    int errcode;
  };
  const std::vector<Case> cases = {
      {"group text", text_task("今天的课"), "cc-secret", 0},
      {"text 4000 bytes", text_task(std::string(4000, 'a')), "cc-secret", 0},
      {"text 4001 bytes", text_task(std::string(4001, 'a')), "cc-secret", 45002},
      {"no content", {{"chat_type", "group"}, {"sender", "Alice"}}, "cc-secret", 44004},
      {"empty text", text_task(""), "cc-secret", 44004},
      {"attachment only", {{"chat_type", "group"}, {"sender", "Alice"}, {"attachments", att(img)}}, "cc-secret", 0},
      {"9 attachments", text_task("x", {{"attachments", json(std::vector<json>(9, link))}}), "cc-secret", 0},
      {"10 attachments", text_task("x", {{"attachments", json(std::vector<json>(10, link))}}), "cc-secret", 40058},
      {"voice attachment", text_task("x", {{"attachments", att({{"msgtype", "voice"}, {"voice", {{"media_id", "m"}}}})}}),
       "cc-secret", 41065},
      {"image without media", text_task("x", {{"attachments", att({{"msgtype", "image"}, {"image", json::object()}})}}),
       "cc-secret", 41006},
      {"image by pic_url", text_task("x", {{"attachments", att({{"msgtype", "image"}, {"image", {{"pic_url", "https://p"}}}})}}),
       "cc-secret", 0},
      {"link without url", text_task("x", {{"attachments", att({{"msgtype", "link"}, {"link", {{"title", "t"}}}})}}),
       "cc-secret", 41010},
      {"link title 129 bytes",
       text_task("x", {{"attachments", att({{"msgtype", "link"}, {"link", {{"title", std::string(129, 't')}, {"url", "u"}}}})}}),
       "cc-secret", 45002},
      {"link desc 513 bytes",
       text_task("x", {{"attachments", att({{"msgtype", "link"},
                                            {"link", {{"title", "t"}, {"url", "u"}, {"desc", std::string(513, 'd')}}}})}}),
       "cc-secret", 45002},
      {"miniprogram without page",
       text_task("x", {{"attachments", att({{"msgtype", "miniprogram"},
                                            {"miniprogram", {{"title", "t"}, {"pic_media_id", image_id}, {"appid", "wx1"}}}})}}),
       "cc-secret", 40058},
      {"miniprogram title 65 bytes",
       text_task("x", {{"attachments", att({{"msgtype", "miniprogram"},
                                            {"miniprogram", {{"title", std::string(65, 't')}, {"pic_media_id", image_id},
                                                             {"appid", "wx1"}, {"page", "/p"}}}})}}),
       "cc-secret", 45002},
      {"video without media", text_task("x", {{"attachments", att({{"msgtype", "video"}, {"video", json::object()}})}}),
       "cc-secret", 41006},
      {"file", text_task("x", {{"attachments", att({{"msgtype", "file"}, {"file", {{"media_id", file_id}}}})}}), "cc-secret", 0},
      // media_ids must come from media/upload: 40007 (DOC 90313) for one that does not.
      {"image, unknown media_id", text_task("x", {{"attachments", att({{"msgtype", "image"}, {"image", {{"media_id", "MEDIA"}}}})}}),
       "cc-secret", 40007},
      {"file, unknown media_id", text_task("x", {{"attachments", att({{"msgtype", "file"}, {"file", {{"media_id", "f"}}}})}}),
       "cc-secret", 40007},
      {"video, unknown media_id", text_task("x", {{"attachments", att({{"msgtype", "video"}, {"video", {{"media_id", "v"}}}})}}),
       "cc-secret", 40007},
      {"miniprogram, unknown pic_media_id",
       text_task("x", {{"attachments", att({{"msgtype", "miniprogram"},
                                            {"miniprogram", {{"title", "t"}, {"pic_media_id", "p"}, {"appid", "wx1"},
                                                             {"page", "/p"}}}})}}),
       "cc-secret", 40007},
      {"miniprogram", text_task("x", {{"attachments", att({{"msgtype", "miniprogram"},
                                                           {"miniprogram", {{"title", "t"}, {"pic_media_id", image_id},
                                                                            {"appid", "wx1"}, {"page", "/p"}}}})}}),
       "cc-secret", 0},
      {"one bad among good", text_task("x", {{"attachments", json::array({img, {{"msgtype", "file"}, {"file", {{"media_id", "nope"}}}}})}}),
       "cc-secret", 40007},
      {"bad chat_type", text_task("x", {{"chat_type", "moments"}}), "cc-secret", 40058},
      {"group without sender", {{"chat_type", "group"}, {"text", {{"content", "x"}}}}, "cc-secret", 40058},
      {"unknown sender", text_task("x", {{"sender", "Zed"}}), "cc-secret", 40003},
      {"sender without groups", text_task("x", {{"sender", "Carol"}}), "cc-secret", 41048},
      {"sender outside visibility", text_task("x", {{"sender", "Bob"}}), "narrow-secret", 60011},
      {"app without permission", text_task("x"), "plain-secret", 48002},
      {"2001 chats", text_task("x", {{"chat_id_list", json(std::vector<std::string>(2001, "wrA1"))}}), "cc-secret", 40058},
      {"single to a customer", {{"external_userid", {"wmP1"}}, {"text", {{"content", "x"}}}}, "cc-secret", 0},
      {"single, neither list nor sender", {{"text", {{"content", "x"}}}}, "cc-secret", 40058},
      {"single, nobody valid", {{"external_userid", {"wmNope"}}, {"text", {{"content", "x"}}}}, "cc-secret", 41048},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = env.call("add_msg_template", c.body, c.secret);
    CHECK(r["errcode"] == c.errcode);
    if (c.errcode == 0) {
      CHECK(r["msgid"].get<std::string>().rfind("msg", 0) == 0);
      CHECK(r["fail_list"].is_array());
    }
  }
  // Nothing reaches a group before the owner confirms.
  CHECK(groupmsg_deliveries(env).empty());
}

TEST_CASE("add_msg_template refuses attachment media that expired or belongs to a robot", "[sandbox][group_msg]") {
  const json robot_group = {{"chat_id", "wrmgmt"}, {"owner", "Alice"}, {"members", {"Alice", "Bob"}},
                            {"robots", json::array({{{"key", "robot-key"}}})}};
  Env env(json{{"internal_groups", json::array({robot_group})}});
  auto file_task = [](const std::string& media_id) {
    return text_task("x", {{"attachments", json::array({{{"msgtype", "file"}, {"file", {{"media_id", media_id}}}}})}});
  };
  const std::string app_media = env.upload_media("cc-secret", "file", "a.txt", "hello world");
  // A robot's upload (webhook/upload_media) serves only that robot (§3.3), not add_msg_template.
  auto robot = testing::parse(env.sb().handle({"POST", "/cgi-bin/webhook/upload_media?key=robot-key&type=file",
                                      testing::multipart("media", "b.txt", "robot file"), testing::multipart_type()}));
  REQUIRE(robot["errcode"] == 0);
  CHECK(env.call("add_msg_template", file_task(robot["media_id"].get<std::string>()))["errcode"] == 40007);
  CHECK(env.call("add_msg_template", file_task(app_media))["errcode"] == 0);
  // Temporary media lives 3 days (§5.3).
  env.base.advance(std::chrono::hours(72) - std::chrono::seconds(1));
  CHECK(env.call("add_msg_template", file_task(app_media))["errcode"] == 0);
  env.base.advance(std::chrono::seconds(1));
  CHECK(env.call("add_msg_template", file_task(app_media))["errcode"] == 40007);
}

TEST_CASE("add_msg_template lists chats and customers it cannot send to in fail_list", "[sandbox][group_msg]") {
  Env env;
  auto r = env.call("add_msg_template", text_task("x", {{"chat_id_list", {"wrA2", "wrB1", "wrNope"}}}));
  REQUIRE(r["errcode"] == 0);
  CHECK(r["fail_list"] == json::array({"wrB1", "wrNope"}));  // wrB1 is Bob's
  auto task = env.call("get_groupmsg_send_result", {{"msgid", r["msgid"]}, {"userid", "Alice"}});
  REQUIRE(task["send_list"].size() == 1);
  CHECK(task["send_list"][0]["chat_id"] == "wrA2");
  CHECK(task["send_list"][0]["status"] == 0);

  auto single = env.call("add_msg_template", {{"chat_type", "single"}, {"sender", "Alice"},
                                              {"external_userid", {"wmP1", "wmLonely", "wmGhost"}},
                                              {"text", {{"content", "单发"}}}});
  REQUIRE(single["errcode"] == 0);
  CHECK(single["fail_list"] == json::array({"wmLonely", "wmGhost"}));  // wmLonely follows Carol only
}

TEST_CASE("group_msg confirm delivers into each of the owner's groups and results follow", "[sandbox][group_msg]") {
  Env env;
  auto r = env.call("add_msg_template", text_task("第3周：辅食添加",
                                                  {{"attachments", {{{"msgtype", "link"},
                                                                     {"link", {{"title", "课程"}, {"url", "https://e"}}}}}}}));
  REQUIRE(r["errcode"] == 0);
  const std::string msgid = r["msgid"];

  auto task = env.call("get_groupmsg_task", {{"msgid", msgid}});
  REQUIRE(task["errcode"] == 0);
  CHECK(task["task_list"] == json::array({{{"userid", "Alice"}, {"status", 0}}}));
  auto st = env.state()["group_msg"];
  CHECK(st["pending_senders"] == 1);
  REQUIRE(st["tasks"].size() == 1);
  CHECK(st["tasks"][0]["senders"][0]["state"] == "pending");
  CHECK(st["tasks"][0]["senders"][0]["targets"].size() == 2);

  env.base.advance(90s);
  unsigned status = 0;
  auto confirmed = env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}}, &status);
  REQUIRE(status == 200);
  CHECK(confirmed["confirmed"] == json::array({"Alice"}));

  auto delivered = groupmsg_deliveries(env);
  REQUIRE(delivered.size() == 2);
  std::set<std::string> chats;
  for (const auto& d : delivered) {
    chats.insert(d.chat_id);
    CHECK(d.msgtype == "text");
    CHECK(d.message["content"] == "第3周：辅食添加");
    CHECK(d.message["attachments"].size() == 1);
    CHECK(d.message["msgid"] == msgid);
    CHECK(d.from == "Alice");
    CHECK(!d.dropped);
    CHECK(d.time_ms == 1'700'000'090'000);
  }
  CHECK(chats == std::set<std::string>{"wrA1", "wrA2"});

  task = env.call("get_groupmsg_task", {{"msgid", msgid}});
  CHECK(task["task_list"] == json::array({{{"userid", "Alice"}, {"status", 2}, {"send_time", 1'700'000'090}}}));
  auto result = env.call("get_groupmsg_send_result", {{"msgid", msgid}, {"userid", "Alice"}});
  REQUIRE(result["send_list"].size() == 2);
  for (const auto& x : result["send_list"]) {
    CHECK(x["status"] == 1);
    CHECK(x["send_time"] == 1'700'000'090);
    CHECK(x["userid"] == "Alice");
    CHECK(!x.contains("external_userid"));
  }
  CHECK(env.call("get_groupmsg_send_result", {{"msgid", msgid}, {"userid", "Bob"}})["send_list"].empty());

  // Confirming again, or a stranger, is refused; cancelling after sending changes nothing.
  env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}}, &status);
  CHECK(status == 409);
  env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}, {"sender", "Bob"}}, &status);
  CHECK(status == 404);
  env.control("/_sandbox/group_msg/confirm", {{"msgid", "msgNope"}}, &status);
  CHECK(status == 404);
  CHECK(env.call("cancel_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  CHECK(env.state()["group_msg"]["tasks"][0]["cancelled"] == false);
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}})["task_list"][0]["status"] == 2);
}

TEST_CASE("group_msg monthly cap skips a full group silently until the next month", "[sandbox][group_msg]") {
  // 2026-01-31 12:00 Shanghai: January allows 31 mass messages per group.
  Env env(json::object(), kFeb2026 - 12 * 3600);
  auto send_one = [&env](const std::string& text) {
    auto r = env.call("add_msg_template", text_task(text, {{"chat_id_list", {"wrA2"}}}));
    REQUIRE(r["errcode"] == 0);
    unsigned status = 0;
    env.control("/_sandbox/group_msg/confirm", {{"msgid", r["msgid"]}}, &status);
    REQUIRE(status == 200);
    auto res = env.call("get_groupmsg_send_result", {{"msgid", r["msgid"]}, {"userid", "Alice"}});
    REQUIRE(res["send_list"].size() == 1);
    return res["send_list"][0];
  };
  for (int i = 0; i < 31; ++i) {
    CAPTURE(i);
    CHECK(send_one("一月 " + std::to_string(i))["status"] == 1);
  }
  // The 32nd in January: errcode 0 everywhere, but status 3 and a dropped delivery.
  auto over = send_one("一月 超额");
  CHECK(over["status"] == 3);
  CHECK(!over.contains("send_time"));
  auto ds = groupmsg_deliveries(env, "wrA2");
  REQUIRE(ds.size() == 32);
  CHECK(ds.back().dropped);
  CHECK(env.call("get_groupmsg_task", {{"msgid", ds.back().message["msgid"]}})["task_list"][0]["status"] == 2);
  auto st = env.state()["group_msg"];
  CHECK(st["monthly_cap"] == 31);
  CHECK(st["received_this_month"] == json::array({{{"target", "chat:wrA2"}, {"count", 31}}}));

  // Other groups have their own count.
  auto other = env.call("add_msg_template", text_task("另一个群", {{"chat_id_list", {"wrA1"}}}));
  env.control("/_sandbox/group_msg/confirm", {{"msgid", other["msgid"]}});
  CHECK(env.call("get_groupmsg_send_result", {{"msgid", other["msgid"]}, {"userid", "Alice"}})["send_list"][0]["status"] ==
        1);

  // Across the month boundary (clock control): February starts a new count, capped at 28.
  unsigned status = 0;
  env.control("/_sandbox/clock", {{"advance_s", 12 * 3600}}, &status);
  REQUIRE(status == 200);
  for (int i = 0; i < 28; ++i) {
    CAPTURE(i);
    CHECK(send_one("二月 " + std::to_string(i))["status"] == 1);
  }
  CHECK(send_one("二月 超额")["status"] == 3);
  CHECK(env.state()["group_msg"]["monthly_cap"] == 28);
}

TEST_CASE("group_msg a task created in one month and confirmed in the next counts in the next", "[sandbox][group_msg]") {
  Env env(json::object(), kFeb2026 - 60);
  auto r = env.call("add_msg_template", text_task("跨月", {{"chat_id_list", {"wrA2"}}}));
  env.control("/_sandbox/clock", {{"advance_s", 120}});
  env.control("/_sandbox/group_msg/confirm", {{"msgid", r["msgid"]}});
  auto st = env.state()["group_msg"];
  CHECK(st["month"] == 2026 * 12 + 1);
  CHECK(st["received_this_month"] == json::array({{{"target", "chat:wrA2"}, {"count", 1}}}));
}

TEST_CASE("remind_groupmsg_send allows 3 per 24 hours per task", "[sandbox][group_msg]") {
  Env env;
  const std::string msgid = env.call("add_msg_template", text_task("提醒"))["msgid"];
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  env.base.advance(1h);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 41094);
  // Another task has its own allowance.
  const std::string other = env.call("add_msg_template", text_task("另一个"))["msgid"];
  CHECK(env.call("remind_groupmsg_send", {{"msgid", other}})["errcode"] == 0);
  // 24 h after the first reminder one slot frees up, not two.
  env.base.advance(23h);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 41094);
  CHECK(env.call("remind_groupmsg_send", json::object())["errcode"] == 41046);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", "msgNope"}})["errcode"] == 41047);
  CHECK(env.state()["group_msg"]["tasks"][0]["reminds_total"] == 4);
}

TEST_CASE("cancel_groupmsg_send stops an unsent task", "[sandbox][group_msg]") {
  Env env;
  const std::string msgid = env.call("add_msg_template", text_task("取消我"))["msgid"];
  CHECK(env.call("cancel_groupmsg_send", {{"msgid", msgid}})["errcode"] == 0);
  CHECK(env.call("cancel_groupmsg_send", {{"msgid", msgid}})["errcode"] == 41093);
  CHECK(env.call("remind_groupmsg_send", {{"msgid", msgid}})["errcode"] == 41093);
  CHECK(env.call("cancel_groupmsg_send", json::object())["errcode"] == 41046);
  CHECK(env.call("cancel_groupmsg_send", {{"msgid", "msgNope"}})["errcode"] == 41047);
  unsigned status = 0;
  env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}}, &status);
  CHECK(status == 409);
  CHECK(groupmsg_deliveries(env).empty());
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}})["task_list"][0]["status"] == 0);
  auto st = env.state()["group_msg"];
  CHECK(st["tasks"][0]["cancelled"] == true);
  CHECK(st["tasks"][0]["senders"][0]["state"] == "cancelled");
  CHECK(st["pending_senders"] == 0);

  // Ignoring leaves the task unsent (status 0) and not confirmable; it can still be cancelled.
  const std::string ignored = env.call("add_msg_template", text_task("忽略我"))["msgid"];
  auto ig = env.control("/_sandbox/group_msg/ignore", {{"msgid", ignored}}, &status);
  REQUIRE(status == 200);
  CHECK(ig["ignored"] == json::array({"Alice"}));
  CHECK(env.call("get_groupmsg_task", {{"msgid", ignored}})["task_list"][0]["status"] == 0);
  env.control("/_sandbox/group_msg/confirm", {{"msgid", ignored}}, &status);
  CHECK(status == 409);
  CHECK(env.call("cancel_groupmsg_send", {{"msgid", ignored}})["errcode"] == 0);
}

TEST_CASE("get_groupmsg_list_v2 filters by time, type and creator and pages", "[sandbox][group_msg]") {
  Env env;
  for (int i = 0; i < 3; ++i) {
    env.call("add_msg_template", text_task("群发" + std::to_string(i)));
    env.base.advance(10s);
  }
  env.call("add_msg_template", {{"external_userid", {"wmP1"}}, {"text", {{"content", "单发"}}}});
  const std::int64_t t0 = 1'700'000'000;
  struct Case {
    const char* label;
    json body;
    int errcode;
    std::size_t count;
  };
  const std::vector<Case> cases = {
      {"group tasks", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100}}, 0, 3},
      {"single by default", {{"start_time", t0}, {"end_time", t0 + 100}}, 0, 1},
      {"time window", {{"chat_type", "group"}, {"start_time", t0 + 5}, {"end_time", t0 + 15}}, 0, 1},
      {"company tasks", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100}, {"filter_type", 0}}, 0, 3},
      {"personal tasks", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100}, {"filter_type", 1}}, 0, 0},
      {"creator: API tasks have none", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100}, {"creator", "Alice"}}, 0, 0},
      {"31 days", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 31 * 86400}}, 0, 3},
      {"over a month", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 31 * 86400 + 1}}, 40058, 0},
      {"end before start", {{"start_time", t0 + 10}, {"end_time", t0}}, 40058, 0},
      {"no times", {{"chat_type", "group"}}, 40058, 0},
      {"bad chat_type", {{"chat_type", "x"}, {"start_time", t0}, {"end_time", t0 + 1}}, 40058, 0},
      {"bad cursor", {{"start_time", t0}, {"end_time", t0 + 1}, {"cursor", "zz"}}, 50100, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto r = env.call("get_groupmsg_list_v2", c.body);
    CHECK(r["errcode"] == c.errcode);
    if (c.errcode == 0) CHECK(r["group_msg_list"].size() == c.count);
  }
  auto page = env.call("get_groupmsg_list_v2", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100}, {"limit", 2}});
  REQUIRE(page["group_msg_list"].size() == 2);
  const json& first = page["group_msg_list"][0];
  CHECK(first["create_type"] == 0);
  CHECK(first["create_time"] == std::to_string(t0));
  CHECK(first["text"]["content"] == "群发0");
  CHECK(!first.contains("creator"));
  auto rest = env.call("get_groupmsg_list_v2", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100},
                                                {"limit", 2}, {"cursor", page["next_cursor"]}});
  REQUIRE(rest["group_msg_list"].size() == 1);
  CHECK(rest["group_msg_list"][0]["text"]["content"] == "群发2");
  CHECK(rest["next_cursor"] == "");
  // limit over 100 falls back to the default (50).
  CHECK(env.call("get_groupmsg_list_v2", {{"chat_type", "group"}, {"start_time", t0}, {"end_time", t0 + 100},
                                          {"limit", 500}})["group_msg_list"].size() == 3);
}

TEST_CASE("get_groupmsg_task and send_result page and check their arguments", "[sandbox][group_msg]") {
  // A single-chat task to every customer of two members gives two senders.
  Env env;
  auto r = env.call("add_msg_template", {{"external_userid", {"wmP1", "wmP3", "wmGenA0001"}}, {"text", {{"content", "x"}}}});
  REQUIRE(r["errcode"] == 0);
  const std::string msgid = r["msgid"];
  auto p1 = env.call("get_groupmsg_task", {{"msgid", msgid}, {"limit", 1}});
  REQUIRE(p1["task_list"].size() == 1);
  auto p2 = env.call("get_groupmsg_task", {{"msgid", msgid}, {"limit", 1}, {"cursor", p1["next_cursor"]}});
  REQUIRE(p2["task_list"].size() == 1);
  CHECK(p2["next_cursor"] == "");
  CHECK(p1["task_list"][0]["userid"] != p2["task_list"][0]["userid"]);
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}, {"cursor", "bad"}})["errcode"] == 50100);
  CHECK(env.call("get_groupmsg_task", json::object())["errcode"] == 41046);
  CHECK(env.call("get_groupmsg_task", {{"msgid", "msgNope"}})["errcode"] == 41047);
  CHECK(env.call("get_groupmsg_send_result", {{"msgid", msgid}})["errcode"] == 41009);

  auto alice = env.call("get_groupmsg_send_result", {{"msgid", msgid}, {"userid", "Alice"}, {"limit", 1}});
  REQUIRE(alice["send_list"].size() == 1);
  CHECK(alice["send_list"][0]["external_userid"] == "wmP1");
  CHECK(!alice["send_list"][0].contains("chat_id"));
  auto alice2 = env.call("get_groupmsg_send_result",
                         {{"msgid", msgid}, {"userid", "Alice"}, {"limit", 1}, {"cursor", alice["next_cursor"]}});
  CHECK(alice2["send_list"][0]["external_userid"] == "wmGenA0001");

  // Single-chat confirmation: each customer gets a one-to-one delivery.
  env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}, {"sender", "Bob"}});
  auto ds = groupmsg_deliveries(env);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].userid == "wmP3");
  CHECK(ds[0].chat_id.empty());
}

TEST_CASE("group_msg result calls answer 41063 while the task is being dispatched", "[sandbox][group_msg]") {
  Env env(json{{"group_msg", {{"dispatch_delay_s", 5}}}});
  const std::string msgid = env.call("add_msg_template", text_task("派发中"))["msgid"];
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}})["errcode"] == 41063);
  CHECK(env.call("get_groupmsg_send_result", {{"msgid", msgid}, {"userid", "Alice"}})["errcode"] == 41063);
  env.base.advance(5s);
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}})["errcode"] == 0);
}

TEST_CASE("group_msg reset forgets tasks and counts", "[sandbox][group_msg]") {
  Env env;
  const std::string msgid = env.call("add_msg_template", text_task("x"))["msgid"];
  env.control("/_sandbox/group_msg/confirm", {{"msgid", msgid}});
  env.post("/_sandbox/reset", "{}");
  auto st = env.state()["group_msg"];
  CHECK(st["tasks"].empty());
  CHECK(st["received_this_month"].empty());
  CHECK(env.call("get_groupmsg_task", {{"msgid", msgid}})["errcode"] == 41047);
}

// --- the confirmation flow over HTTP, as the daemon and the web page drive it ---

json http_json(http::Verb verb, const std::string& url, const std::string& body = {}) {
  auto r = net::http_request(verb, url, body, {}, 10s);
  REQUIRE(r.has_value());
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

TEST_CASE("group_msg confirmation flow end to end over HTTP", "[sandbox][group_msg][integration]") {
  SystemClock clock;
  Sandbox sandbox(parse_fixture(groups_fixture("")).value(), clock);
  asio::io_context ioc;
  metrics::Registry registry;
  SandboxServer server(ioc, sandbox, "127.0.0.1:0", registry);
  auto ep = server.start();
  REQUIRE(ep.has_value());
  std::thread io([&ioc] { ioc.run(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(ep->port());

  const std::string token =
      http_json(http::Verb::get, base + "/cgi-bin/gettoken?corpid=wwgrp0001&corpsecret=cc-secret")["access_token"];
  const std::string q = "?access_token=" + token;
  auto added = http_json(http::Verb::post, base + "/cgi-bin/externalcontact/add_msg_template" + q,
                         text_task("今晚八点：睡前故事", {{"chat_id_list", {"wrA1", "wrA2"}}}).dump());
  REQUIRE(added["errcode"] == 0);
  const std::string msgid = added["msgid"];

  // The web page's view: one pending task for Alice with both groups.
  auto st = http_json(http::Verb::get, base + "/_sandbox/state")["group_msg"];
  CHECK(st["pending_senders"] == 1);
  REQUIRE(st["tasks"].size() == 1);
  CHECK(st["tasks"][0]["senders"][0]["targets"][0]["name"] == "甲1群");
  CHECK(http_json(http::Verb::get, base + "/_sandbox/messages?chat_id=wrA1")["messages"].empty());
  CHECK(http_json(http::Verb::post, base + "/cgi-bin/externalcontact/remind_groupmsg_send" + q,
                  json{{"msgid", msgid}}.dump())["errcode"] == 0);

  auto confirmed = http_json(http::Verb::post, base + "/_sandbox/group_msg/confirm",
                             json{{"msgid", msgid}, {"sender", "Alice"}}.dump());
  CHECK(confirmed["confirmed"] == json::array({"Alice"}));

  auto task = http_json(http::Verb::post, base + "/cgi-bin/externalcontact/get_groupmsg_task" + q,
                        json{{"msgid", msgid}}.dump());
  REQUIRE(task["task_list"].size() == 1);
  CHECK(task["task_list"][0]["status"] == 2);
  auto result = http_json(http::Verb::post, base + "/cgi-bin/externalcontact/get_groupmsg_send_result" + q,
                          json{{"msgid", msgid}, {"userid", "Alice"}}.dump());
  REQUIRE(result["send_list"].size() == 2);
  for (const auto& x : result["send_list"]) CHECK(x["status"] == 1);
  auto msgs = http_json(http::Verb::get, base + "/_sandbox/messages?chat_id=wrA2")["messages"];
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0]["channel"] == "groupmsg");
  CHECK(msgs[0]["from"] == "Alice");
  CHECK(msgs[0]["message"]["content"] == "今晚八点：睡前故事");
  CHECK(http_json(http::Verb::get, base + "/_sandbox/state")["group_msg"]["pending_senders"] == 0);
  auto reqs = http_json(http::Verb::get, base + "/_sandbox/requests?path=/cgi-bin/externalcontact/add_msg_template");
  REQUIRE(reqs["requests"].size() == 1);
  CHECK(reqs["requests"][0]["detail"]["msgid"] == msgid);

  auto done = asio::co_spawn(ioc, server.stop(0ms), asio::use_future);
  done.wait_for(10s);
  ioc.stop();
  io.join();
}

}  // namespace
}  // namespace yuer::sandbox
