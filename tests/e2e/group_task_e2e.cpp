// The customer-group task route end to end: a real yuerd creating add_msg_template tasks in a real
// wecom-sandbox, the owner told through the app route, reminded, a task confirmed in the sandbox
// (as the owner would in the WeCom client) and its per-group results recorded, an unconfirmed task
// cancelled with its posts expired, and the monthly quota counted before tasks are created.
#include "tests/e2e/sandbox_process.h"
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <thread>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAppSecret = "e2eGroupTaskAppSecret0123456789abcdefABCDEF";

json member(const std::string& userid, int type) {
  return {{"userid", userid}, {"type", type}, {"name", ""}, {"join_time", 1767225600}, {"join_scene", 1}};
}

json customer_group(const std::string& chat, const std::string& owner) {
  return {{"chat_id", chat},
          {"name", "宝宝成长群" + chat},
          {"owner", owner},
          {"members", json::array({member(owner, 1), member("wmParent" + chat + "A", 2), member("wmParent" + chat + "B", 2)})}};
}

json make_fixture() {
  return {{"corp", {{"corp_id", kCorpId}, {"name", "e2e"}}},
          {"apps", json::array({{{"agent_id", 1000002}, {"name", "育儿群助手"}, {"secret", kAppSecret}, {"token", "Tok123"},
                                 {"aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}, {"callback_url", ""},
                                 {"visible_userids", json::array()}}})},
          {"members", {{{"userid", "Coord1"}, {"name", "甲"}}, {{"userid", "Coord2"}, {"name", "乙"}}}},
          {"customer_contact_agent_ids", {1000002}},
          {"customer_groups", json::array({customer_group("wrC1", "Coord1"), customer_group("wrC2", "Coord1"),
                                           customer_group("wrC3", "Coord2")})}};
}

struct Run {
  SandboxProcess sandbox{make_fixture()};
  std::unique_ptr<YuerdFixture> yuerd;

  explicit Run(const std::string& group_task_toml) {
    yuerd = std::make_unique<YuerdFixture>("\n[group_task]\n" + group_task_toml, sandbox.base(), kAppSecret);
    yuerd->start();
  }

  json admin(http::Verb verb, const std::string& path, const json& body = nullptr, unsigned want = 0) {
    auto r = net::http_request(verb, yuerd->url(path), body.is_null() ? "" : body.dump(),
                               {{"Authorization", "Bearer " + yuerd->secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    INFO(r->body);
    if (want) REQUIRE(r->status == want);
    else REQUIRE(r->status / 100 == 2);
    return json::parse(r->body);
  }

  json sandbox_tasks() { return sandbox.get("/_sandbox/group_msg")["group_msg"]["tasks"]; }
  json tasks(const std::string& query = "") { return admin(http::Verb::get, "/api/v1/group_tasks" + query)["tasks"]; }

  // Polls `done` every 200 ms for up to `limit`; true when it held.
  static bool eventually(const std::function<bool()>& done, std::chrono::seconds limit = 60s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(200ms);
    }
    return done();
  }
};

TEST_CASE("group tasks: merged per owner, owner told and reminded, confirmed, results recorded, unconfirmed cancelled",
          "[e2e][group_task]") {
  Run run("batch_delay_s = 1\nfirst_check_s = 1\ncheck_every_s = 1\nremind_after_s = 1\ngive_up_after_s = 25\n");
  // A lesson to all three groups, and a second note to wrC1 only, before the batch delay ends.
  auto lesson = run.admin(http::Verb::post, "/api/v1/push",
                          {{"route", "group_task"}, {"targets", {"wrC1", "wrC2", "wrC3"}}, {"content", "第1课：六个月内纯母乳喂养"},
                           {"key", "lesson-1"}});
  REQUIRE(lesson["ids"].size() == 3);
  // A coordinator's note through yuerctl.
  run.yuerd->dir().write("note.txt", "补充：周六上午有义诊");
  const std::string token_file = run.yuerd->dir().path() + "/secrets/admin_token";
  auto pushed = test::run({YUERCTL_BIN, "--url", run.yuerd->url(""), "--token-file", token_file, "push",
                           "--customer-group", "wrC1", "--text", run.yuerd->dir().path() + "/note.txt", "--key", "note-1",
                           "--json"},
                          20s, run.yuerd->dir().path() + "/yuerctl-push.log");
  REQUIRE(pushed.code == 0);
  json note = json::parse(pushed.output);
  REQUIRE(note["ids"].size() == 1);
  // The same key again is a duplicate, not a second post.
  auto again = run.admin(http::Verb::post, "/api/v1/push",
                         {{"route", "group_task"}, {"target", "wrC1"}, {"content", "补充：周六上午有义诊"}, {"key", "note-1"}});
  CHECK(again["duplicate"] == true);
  CHECK(again["ids"][0] == note["ids"][0]);

  // Groups with the same merged text share a task: wrC1 (lesson + note), wrC2 (lesson, Coord1),
  // wrC3 (lesson, Coord2) → three tasks in WeCom.
  REQUIRE(Run::eventually([&] { return run.sandbox_tasks().size() == 3; }));
  json st = run.sandbox_tasks();
  std::map<std::string, json> by_chat;  // chat → sandbox task
  for (const auto& t : st) {
    REQUIRE(t["senders"].size() == 1);
    for (const auto& x : t["senders"][0]["targets"]) by_chat[x["chat_id"].get<std::string>()] = t;
  }
  REQUIRE(by_chat.size() == 3);
  CHECK(by_chat["wrC1"]["text"]["content"] == "第1课：六个月内纯母乳喂养\n\n补充：周六上午有义诊");
  CHECK(by_chat["wrC2"]["text"]["content"] == "第1课：六个月内纯母乳喂养");
  CHECK(by_chat["wrC1"]["senders"][0]["userid"] == "Coord1");
  CHECK(by_chat["wrC3"]["senders"][0]["userid"] == "Coord2");

  // Each owner is told through the app (message/send), once per task.
  REQUIRE(Run::eventually([&] {
    return run.sandbox.get("/_sandbox/messages?userid=Coord1")["messages"].size() == 2 &&
           run.sandbox.get("/_sandbox/messages?userid=Coord2")["messages"].size() == 1;
  }));
  json notice = run.sandbox.get("/_sandbox/messages?userid=Coord2")["messages"][0];
  CHECK(notice["channel"] == "app");
  CHECK(notice["message"]["content"].get<std::string>().find("群发等您确认") != std::string::npos);

  // Reminded once (the next would be 8 h later at the earliest).
  REQUIRE(Run::eventually([&] {
    for (const auto& t : run.sandbox_tasks())
      if (t["reminds_total"] != 1) return false;
    return true;
  }));

  // Coord1 confirms both tasks in the WeCom client (the sandbox's control API).
  for (const char* chat : {"wrC1", "wrC2"})
    run.sandbox.post("/_sandbox/group_msg/confirm", {{"msgid", by_chat[chat]["msgid"]}});
  REQUIRE(Run::eventually([&] { return run.tasks("?state=done").size() == 2; }));
  for (const auto& t : run.tasks("?state=done")) {
    CHECK(t["owner"] == "Coord1");
    for (const auto& [chat, result] : t["chats"].items()) CHECK(result == "sent");
  }
  for (const auto& id : lesson["ids"]) {
    auto p = run.admin(http::Verb::get, "/api/v1/group_posts/" + std::to_string(id.get<std::int64_t>()));
    if (p["chat_id"] == "wrC3") CHECK(p["state"] == "tasked");
    else CHECK(p["state"] == "sent");
  }
  auto n = run.admin(http::Verb::get, "/api/v1/group_posts/" + std::to_string(note["ids"][0].get<std::int64_t>()));
  CHECK(n["state"] == "sent");
  // The groups received exactly what was confirmed, once.
  json c1 = run.sandbox.get("/_sandbox/messages?chat_id=wrC1")["messages"];
  REQUIRE(c1.size() == 1);
  CHECK(c1[0]["message"]["content"] == "第1课：六个月内纯母乳喂养\n\n补充：周六上午有义诊");
  CHECK(run.sandbox.get("/_sandbox/messages?chat_id=wrC3")["messages"].empty());

  // Supervisors' view: what still waits, for whom, reminded how often.
  json open = run.tasks("?state=open");
  REQUIRE(open.size() == 1);
  CHECK(open[0]["owner"] == "Coord2");
  CHECK(open[0]["reminds"] == 1);
  CHECK(open[0]["reason"].get<std::string>().find("等待群主确认") != std::string::npos);
  auto table = test::run({YUERCTL_BIN, "--url", run.yuerd->url(""), "--token-file", token_file, "group-tasks", "list",
                          "--state", "open"},
                         20s, run.yuerd->dir().path() + "/yuerctl-list.log");
  CHECK(table.code == 0);
  CHECK(table.output.find("Coord2") != std::string::npos);
  CHECK(table.output.find("共 1 个任务") != std::string::npos);

  // Coord2 never confirms: after give_up_after the task is cancelled in WeCom, its post expired.
  REQUIRE(Run::eventually([&] { return run.tasks("?state=cancelled").size() == 1; }, 60s));
  for (const auto& id : lesson["ids"]) {
    auto p = run.admin(http::Verb::get, "/api/v1/group_posts/" + std::to_string(id.get<std::int64_t>()));
    if (p["chat_id"] == "wrC3") {
      CHECK(p["state"] == "expired");
      CHECK(p["reason"].get<std::string>().find("未确认") != std::string::npos);
    }
  }
  CHECK(by_chat.count("wrC3"));
  bool cancelled = false;
  for (const auto& t : run.sandbox_tasks())
    if (t["msgid"] == by_chat["wrC3"]["msgid"]) cancelled = t["cancelled"] == true;
  CHECK(cancelled);
  CHECK(run.sandbox.get("/_sandbox/messages?chat_id=wrC3")["messages"].empty());

  // Bad pushes are refused with a reason, nothing stored.
  auto too_long = run.admin(http::Verb::post, "/api/v1/push",
                            {{"route", "group_task"}, {"target", "wrC1"}, {"content", std::string(4001, 'x')}}, 422);
  CHECK(too_long["error"]["code"] == "group_task.too_long");
  CHECK(run.yuerd->stop() == 0);
}

// Days of the current Asia/Shanghai month (the quota: as many mass messages as the month has days).
int shanghai_days_now() {
  using namespace std::chrono;
  auto d = year_month_day(floor<days>(system_clock::now() + hours(8)));
  return static_cast<int>(static_cast<unsigned>(year_month_day_last(d.year(), month_day_last(d.month())).day()));
}

TEST_CASE("group tasks: a group's monthly quota is counted before a task is created", "[e2e][group_task]") {
  Run run("batch_delay_s = 0\nfirst_check_s = 3600\ncheck_every_s = 3600\nremind_after_s = 86400\n");
  const int cap = shanghai_days_now();
  // One post at a time, each becoming its own task (the previous one exists before the next push).
  for (int i = 0; i < cap; ++i) {
    run.admin(http::Verb::post, "/api/v1/push",
              {{"route", "group_task"}, {"target", "wrC3"}, {"content", "第" + std::to_string(i) + "条"}, {"key", "q" + std::to_string(i)}});
    REQUIRE(Run::eventually([&] { return static_cast<int>(run.sandbox_tasks().size()) == i + 1; }, 30s));
  }
  auto last = run.admin(http::Verb::post, "/api/v1/push",
                        {{"route", "group_task"}, {"target", "wrC3"}, {"content", "超出本月的一条"}, {"key", "over"}});
  const std::string id = std::to_string(last["ids"][0].get<std::int64_t>());
  REQUIRE(Run::eventually([&] {
    return run.admin(http::Verb::get, "/api/v1/group_posts/" + id)["reason"].get<std::string>().find("本月群发次数已用完") !=
           std::string::npos;
  }, 30s));
  auto p = run.admin(http::Verb::get, "/api/v1/group_posts/" + id);
  CHECK(p["state"] == "queued");
  CHECK(p["not_before_ms"].get<std::int64_t>() > p["created_ms"].get<std::int64_t>());
  // No task beyond the quota was created, and a while later there still is none.
  std::this_thread::sleep_for(2s);
  CHECK(static_cast<int>(run.sandbox_tasks().size()) == cap);
  // Another group of the same owner is not affected.
  run.admin(http::Verb::post, "/api/v1/push", {{"route", "group_task"}, {"target", "wrC1"}, {"content", "别的群"}, {"key", "other"}});
  REQUIRE(Run::eventually([&] { return static_cast<int>(run.sandbox_tasks().size()) == cap + 1; }, 30s));
}

TEST_CASE("group tasks: a crash while WeCom creates a task leaves exactly one task", "[e2e][group_task]") {
  struct Case {
    const char* name;
    bool wecom_created;  // whether WeCom finished creating the task yuerd asked for
    const char* log;     // what yuerd says at restart
  };
  for (const Case& c : {Case{"WeCom created it: adopted", true, "found in WeCom after a restart"},
                        Case{"WeCom never created it: created again", false, "its posts are queued again"}}) {
    DYNAMIC_SECTION(c.name) {
      Run run("batch_delay_s = 0\nfirst_check_s = 3600\ncheck_every_s = 3600\nremind_after_s = 86400\n");
      // add_msg_template answers after 3 s (or drops the connection then, creating nothing): yuerd
      // has committed the task row (creating) and waits when it is killed.
      json fault = {{"path", "/cgi-bin/externalcontact/add_msg_template"}, {"latency_ms", 3000}, {"count", 1}};
      if (!c.wecom_created) fault["drop_connection"] = true;
      run.sandbox.post("/_sandbox/faults", fault);
      auto pushed = run.admin(http::Verb::post, "/api/v1/push",
                              {{"route", "group_task"}, {"target", "wrC1"}, {"content", "第2课：添加辅食从强化铁的米粉开始"},
                               {"key", "crash-1"}});
      REQUIRE(Run::eventually([&] { return run.tasks("?state=creating").size() == 1; }, 30s));
      run.yuerd->kill();
      // Let the sandbox finish (or drop) the request it had.
      std::this_thread::sleep_for(4s);
      REQUIRE(run.sandbox_tasks().size() == (c.wecom_created ? 1u : 0u));
      run.yuerd->start();
      REQUIRE(Run::eventually([&] { return run.tasks("?state=waiting").size() == 1; }, 30s));
      json t = run.tasks("?state=waiting")[0];
      REQUIRE(run.sandbox_tasks().size() == 1);
      CHECK(t["msgid"] == run.sandbox_tasks()[0]["msgid"]);
      CHECK(t["post_ids"] == json::array({pushed["ids"][0]}));
      // Exactly one task in WeCom, a while later too.
      std::this_thread::sleep_for(2s);
      CHECK(run.sandbox_tasks().size() == 1);
      CHECK(run.tasks().size() == 1);
      CHECK(run.yuerd->log_text().find(c.log) != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace yuer::test
