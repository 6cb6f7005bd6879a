#include "daemon/store/group_task_store.h"

#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

namespace yuer::store {
namespace {

using testing::TempDir;

struct Env {
  TempDir dir;
  std::unique_ptr<GroupTaskStore> store;
  Env() {
    Settings s;
    s.path = (dir.path() / "yuer.db").string();
    auto opened = open_sqlite_group_task_store(s);
    REQUIRE(opened.has_value());
    store = std::move(*opened);
  }
  std::int64_t post(const std::string& chat, const std::string& key, std::int64_t now = 1000) {
    return store->enqueue({{chat, "内容 " + key, key, 0}}, now).at(0).id;
  }
  GroupTask task(std::int64_t id) {
    for (auto& t : store->tasks({}))
      if (t.id == id) return t;
    FAIL("no task " << id);
    return {};
  }
};

TEST_CASE("group posts: enqueue dedupes by key and lists queued posts oldest first", "[store][group_task]") {
  Env env;
  auto r = env.store->enqueue({{"wrA", "第一条", "k1", 0}, {"wrB", "第二条", "k2", 5000}, {"wrA", "又一条", "k1", 0}}, 100);
  REQUIRE(r.size() == 3);
  CHECK_FALSE(r[0].duplicate);
  CHECK_FALSE(r[1].duplicate);
  CHECK(r[2].duplicate);
  CHECK(r[2].id == r[0].id);
  auto q = env.store->queued_posts();
  REQUIRE(q.size() == 2);
  CHECK(q[0].chat_id == "wrA");
  CHECK(q[0].content == "第一条");
  CHECK(q[1].expire_at_ms == 5000);
  CHECK(q[1].created_ms == 100);
}

TEST_CASE("group tasks: create, wait, end with per-group results", "[store][group_task]") {
  Env env;
  auto a = env.post("wrA", "a");
  auto b = env.post("wrB", "b");
  auto c = env.post("wrC", "c");
  const auto id = env.store->create_task({"Owner1", "合并内容", "2026-11", {"wrA", "wrB", "wrC"}, {a, b, c}}, 2000);
  REQUIRE(id > 0);
  CHECK(env.store->queued_posts().empty());
  CHECK(env.store->post(a)->state == "tasked");
  CHECK(env.task(id).state == "creating");
  // A task counts against the quota of its groups while it may still reach them.
  auto used = env.store->quota_used({"wrA", "wrD"}, "2026-11");
  CHECK(used["wrA"] == 1);
  CHECK(used["wrD"] == 0);
  CHECK(env.store->quota_used({"wrA"}, "2026-12")["wrA"] == 0);

  env.store->task_created(id, "msgX", 9000, 2100);
  auto t = env.task(id);
  CHECK(t.state == "waiting");
  CHECK(t.msgid == "msgX");
  CHECK(t.next_check_ms == 9000);
  CHECK(t.chats.size() == 3);
  CHECK(t.post_ids == std::vector<std::int64_t>{a, b, c});

  env.store->task_checked(id, 12000, true, "等待群主确认", 9000);
  t = env.task(id);
  CHECK(t.reminds == 1);
  CHECK(t.last_remind_ms == 9000);
  CHECK(t.reason == "等待群主确认");

  GroupTaskEnd end;
  end.task_id = id;
  end.state = "done";
  end.results = {{"wrA", "sent"}, {"wrB", "over_quota"}};
  end.post_reason = {{"wrB", "该群本月群发次数已满，企业微信未发送"}};
  end.reason = "部分群未收到";
  env.store->end_task(end, 12000);
  CHECK(env.store->post(a)->state == "sent");
  CHECK(env.store->post(a)->sent_ms == 12000);
  CHECK(env.store->post(b)->state == "failed");
  CHECK(env.store->post(b)->reason == "该群本月群发次数已满，企业微信未发送");
  // No result for wrC: the task's reason and posts_state.
  CHECK(env.store->post(c)->state == "failed");
  CHECK(env.store->post(c)->reason == "部分群未收到");
  t = env.task(id);
  CHECK(t.state == "done");
  CHECK(t.chats["wrA"] == "sent");
  CHECK(t.chats["wrB"] == "over_quota");
  // After the end only the group WeCom sent to keeps counting.
  used = env.store->quota_used({"wrA", "wrB", "wrC"}, "2026-11");
  CHECK(used["wrA"] == 1);
  CHECK(used["wrB"] == 0);
  CHECK(used["wrC"] == 0);

  // A second end changes nothing: a sent post never goes back.
  end.state = "cancelled";
  end.results = {{"wrA", "failed"}};
  env.store->end_task(end, 13000);
  CHECK(env.store->post(a)->state == "sent");
  CHECK(env.task(id).state == "done");
}

TEST_CASE("group tasks: a post no longer queued makes create_task write nothing", "[store][group_task]") {
  Env env;
  auto a = env.post("wrA", "a");
  auto b = env.post("wrB", "b");
  CHECK(env.store->end_posts({b}, "cancelled", "管理员取消", 1500) == 1);
  CHECK(env.store->create_task({"Owner1", "x", "2026-11", {"wrA", "wrB"}, {a, b}}, 2000) == 0);
  CHECK(env.store->tasks({}).empty());
  CHECK(env.store->post(a)->state == "queued");
  CHECK(env.store->post(b)->state == "cancelled");
  CHECK(env.store->quota_used({"wrA"}, "2026-11")["wrA"] == 0);
}

TEST_CASE("group tasks: an abandoned task gives its posts back, deferred", "[store][group_task]") {
  Env env;
  auto a = env.post("wrA", "a");
  const auto id = env.store->create_task({"Owner1", "x", "2026-11", {"wrA"}, {a}}, 2000);
  REQUIRE(id > 0);
  env.store->abandon_task(id, 7000, "企业微信暂时不可用，稍后重试", 2100);
  CHECK(env.store->tasks({}).empty());
  auto q = env.store->queued_posts();
  REQUIRE(q.size() == 1);
  CHECK(q[0].not_before_ms == 7000);
  CHECK(q[0].task_id == 0);
  CHECK(q[0].reason == "企业微信暂时不可用，稍后重试");
  CHECK(env.store->quota_used({"wrA"}, "2026-11")["wrA"] == 0);
}

TEST_CASE("group tasks: queries by state and owner", "[store][group_task]") {
  Env env;
  auto a = env.post("wrA", "a");
  auto b = env.post("wrB", "b");
  auto t1 = env.store->create_task({"Owner1", "x", "2026-11", {"wrA"}, {a}}, 2000);
  auto t2 = env.store->create_task({"Owner2", "y", "2026-11", {"wrB"}, {b}}, 2000);
  env.store->task_created(t2, "m2", 0, 2000);
  GroupTaskEnd end{t1, "cancelled", "群主未确认，已过期", {}, {}, "expired"};
  env.store->end_task(end, 3000);
  CHECK(env.store->post(a)->state == "expired");
  CHECK(env.store->tasks({std::string("open"), {}, 100}).size() == 1);
  CHECK(env.store->tasks({std::string("cancelled"), {}, 100}).at(0).id == t1);
  CHECK(env.store->tasks({{}, std::string("Owner2"), 100}).at(0).id == t2);
  CHECK(env.store->tasks({}).front().id == t2);  // newest first
  auto open = env.store->open_tasks();
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == t2);
  CHECK(open[0].chats.count("wrB") == 1);
  CHECK(open[0].post_ids == std::vector<std::int64_t>{b});
}

}  // namespace
}  // namespace yuer::store
