// Store health end to end: a damaged store file is refused at start with its own exit code (3)
// and a clear message; a store that cannot be written (a file-size limit on the running yuerd, set
// from outside with prlimit(2): writes fail with EFBIG as on a full disk) makes yuerd answer 503 to
// WeCom's callbacks, keep running and keep what it has, and recover by itself once writing works
// again; `yuerctl backup` copies a live store and the copy restores.
#include "tests/e2e/yuerd_fixture.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace yuer::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string text_callback(std::uint64_t msg_id) {
  return "<xml><ToUserName><![CDATA[" + std::string(kCorpId) + "]]></ToUserName><FromUserName><![CDATA[u1]]>" +
         "</FromUserName><CreateTime>" + std::to_string(now_s()) + "</CreateTime><MsgType><![CDATA[text]]></MsgType>" +
         "<Content><![CDATA[你好]]></Content><MsgId>" + std::to_string(msg_id) + "</MsgId></xml>";
}

unsigned post(const YuerdFixture& d, const SignedRequest& r) {
  auto rsp = net::http_request(http::Verb::post, d.url(r.target), r.body, {{"Content-Type", "text/xml"}}, 10s);
  return rsp ? rsp->status : 0;
}

std::int64_t rows(const std::string& db) {
  SQLite::Database c(db, SQLite::OPEN_READONLY);
  return c.execAndGet("SELECT COUNT(*) FROM inbox").getInt64();
}

RunResult run_yuerd(const YuerdFixture& d, const std::string& log) {
  return run({YUERD_BIN, "--config", d.config_path()}, 60s, d.dir().path() + "/" + log);
}

TEST_CASE("a damaged store is refused at start with exit code 3 and a clear message", "[e2e][store]") {
  struct Case {
    const char* label;
    void (*damage)(const std::string& path);
  };
  const Case cases[] = {
      {"pages overwritten",
       [](const std::string& path) {
         // Keep the header (page 1) so the file still opens; scribble over the tables' pages.
         std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(4096);
         std::mt19937 rng(7);
         for (int i = 0; i < 4096 * 6; ++i) f.put(static_cast<char>(rng()));
       }},
      {"not a database",
       [](const std::string& path) {
         std::ofstream(path, std::ios::trunc) << "a spreadsheet someone saved over the store" << std::string(200, '.');
       }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    YuerdFixture d;
    d.start();
    auto crypt = d.app_crypt();
    for (int i = 0; i < 50; ++i)
      REQUIRE(post(d, sign_post(crypt, "", "/wecom/callback/app", text_callback(100 + i), false, now_s(), "n" + std::to_string(i))) == 200);
    REQUIRE(d.stop() == 0);
    REQUIRE_FALSE(fs::exists(d.store_path() + "-wal"));  // checkpointed at a clean stop
    c.damage(d.store_path());
    auto r = run_yuerd(d, "damaged.log");
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK(r.output.find("存储文件已损坏") != std::string::npos);
    CHECK(r.output.find("restore a backup") != std::string::npos);
    CHECK(r.output.find("listening") == std::string::npos);
  }
}

std::int64_t attempts_of(const std::string& db, const std::string& target) {
  SQLite::Database c(db, SQLite::OPEN_READONLY);
  SQLite::Statement q(c, "SELECT attempts FROM outbox WHERE target = ?");
  q.bind(1, target);
  return q.executeStep() ? q.getColumn(0).getInt64() : -1;
}

TEST_CASE("a store that cannot be written answers 503, keeps running and recovers by itself", "[e2e][store]") {
  // wecom.api_base is a closed port: the one queued robot message keeps failing with a network
  // error and being retried (every 200-400 ms), so the outbox writes during the outage too.
  YuerdFixture d("\n[wecom.robots]\nkeys_file = \"secrets/robot_keys\"\n\n[outbox]\nbackoff_base_ms = 200\n"
                 "backoff_max_ms = 400\nmax_attempts = 1000\n");
  d.dir().write("secrets/robot_keys", "wrStoreHealth 11111111-2222-3333-4444-555555555555\n");
  d.start();
  auto crypt = d.app_crypt();
  int n = 0;
  auto next = [&] {
    const int i = n++;
    return sign_post(crypt, "", "/wecom/callback/app", text_callback(1000 + static_cast<std::uint64_t>(i)), false, now_s(),
                     "k" + std::to_string(i));
  };
  auto pushed = net::http_request(http::Verb::post, d.url("/api/v1/push"),
                                  R"({"target":"wrStoreHealth","content":"通知","key":"health-1"})",
                                  {{"Authorization", "Bearer " + d.secrets().admin_token}}, 10s);
  REQUIRE(pushed.has_value());
  REQUIRE(pushed->status == 202);
  for (int i = 0; i < 50; ++i) REQUIRE(post(d, next()) == 200);
  const auto wal = fs::file_size(d.store_path() + "-wal");
  REQUIRE(wal > 0);

  // Writes beyond the WAL's current size now fail (EFBIG), as on a full disk.
  rlimit small{static_cast<rlim_t>(wal), RLIM_INFINITY};
  REQUIRE(::prlimit(d.pid(), RLIMIT_FSIZE, &small, nullptr) == 0);
  std::vector<SignedRequest> refused;
  for (int i = 0; i < 20; ++i) {
    auto r = next();
    CHECK(post(d, r) == 503);  // WeCom retries a 503
    refused.push_back(r);
  }
  auto push = net::http_request(http::Verb::post, d.url("/api/v1/push"),
                                R"({"target":"wrStoreHealth","content":"另一条","key":"health-2"})",
                                {{"Authorization", "Bearer " + d.secrets().admin_token}}, 10s);
  REQUIRE(push.has_value());
  CHECK(push->status / 100 == 5);  // not accepted: nothing was stored
  std::this_thread::sleep_for(2s);  // several outbox retries fail to record their result
  REQUIRE(::kill(d.pid(), 0) == 0);  // still running
  CHECK(rows(d.store_path()) == 50);  // what it had is kept
  const std::int64_t attempts_in_outage = attempts_of(d.store_path(), "wrStoreHealth");
  CHECK(attempts_in_outage >= 1);
  std::this_thread::sleep_for(1s);
  CHECK(attempts_of(d.store_path(), "wrStoreHealth") == attempts_in_outage);  // sending paused

  // Space returns: the same deliveries (WeCom's retries) are now stored, without a restart.
  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  REQUIRE(::prlimit(d.pid(), RLIMIT_FSIZE, &unlimited, nullptr) == 0);
  for (const auto& r : refused) CHECK(post(d, r) == 200);
  for (int i = 0; i < 10; ++i) CHECK(post(d, next()) == 200);
  CHECK(rows(d.store_path()) == 80);
  // The outbox resumes: its row is retried (and recorded) again.
  auto end = std::chrono::steady_clock::now() + 20s;
  while (attempts_of(d.store_path(), "wrStoreHealth") <= attempts_in_outage + 1 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(100ms);
  CHECK(attempts_of(d.store_path(), "wrStoreHealth") > attempts_in_outage + 1);
  auto metrics = net::http_request(http::Verb::get, d.url("/metrics"));
  REQUIRE(metrics.has_value());
  CHECK(metrics->body.find("yuer_store_commit_failures_total 0") == std::string::npos);
  CHECK(metrics->body.find("yuer_outbox_store_write_failures_total 0") == std::string::npos);
  CHECK(metrics->body.find("yuer_outbox_store_write_failures_total") != std::string::npos);
  CHECK(d.stop() == 0);
}

TEST_CASE("yuerctl backup copies a live store, the copy restores", "[e2e][store][yuerctl]") {
  YuerdFixture d;
  d.start();
  auto crypt = d.app_crypt();
  for (int i = 0; i < 40; ++i)
    REQUIRE(post(d, sign_post(crypt, "", "/wecom/callback/app", text_callback(5000 + i), false, now_s(), "b" + std::to_string(i))) == 200);
  const std::string backup = d.dir().path() + "/backup.db";
  auto r = run({YUERCTL_BIN, "backup", "--store", d.store_path(), "--to", backup, "--json"}, 30s, d.dir().path() + "/backup.log");
  INFO(r.output);
  REQUIRE(r.code == 0);
  auto out = nlohmann::json::parse(r.output);
  CHECK(out["integrity_check"] == "ok");
  CHECK(out["bytes"].get<std::int64_t>() > 0);
  CHECK(rows(backup) == 40);
  // A second backup to the same file is refused; the first is untouched.
  auto again = run({YUERCTL_BIN, "backup", "--store", d.store_path(), "--to", backup}, 30s, d.dir().path() + "/backup2.log");
  CHECK(again.code == 1);
  CHECK(again.output.find("已存在") != std::string::npos);
  CHECK(run({YUERCTL_BIN, "backup", "--store", d.store_path()}, 30s, d.dir().path() + "/backup3.log").code == 2);

  // More arrives after the backup; then the store is lost and the backup restored (README).
  for (int i = 40; i < 45; ++i)
    REQUIRE(post(d, sign_post(crypt, "", "/wecom/callback/app", text_callback(5000 + i), false, now_s(), "b" + std::to_string(i))) == 200);
  REQUIRE(d.stop() == 0);
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(d.store_path() + suffix);
  fs::copy_file(backup, d.store_path());
  d.start();
  CHECK(rows(d.store_path()) == 40);
  CHECK(post(d, sign_post(crypt, "", "/wecom/callback/app", text_callback(9999), false, now_s(), "after")) == 200);
  CHECK(d.stop() == 0);
}

}  // namespace
}  // namespace yuer::test
