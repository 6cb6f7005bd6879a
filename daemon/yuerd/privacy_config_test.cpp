// [privacy] field_key_* (a secret like the others: owner-only file, env, credential; never quoted)
// and [retention]; the retention task's cut-offs follow the clock, on a real store.
#include "daemon/store/field_cipher.h"
#include "daemon/store/survey_store.h"
#include "daemon/store/store_testing.h"
#include "daemon/yuerd/config.h"
#include "daemon/yuerd/retention.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace fs = std::filesystem;

namespace {

using Dir = yuer::store::testing::TempDir;

const std::string kHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string kKeys = "k2 " + kHex + "\nk1 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";
const std::string kAdmin = "admin-token-0123456789abcdef";

std::string base_config() {
  return "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"yuer.db\"\n[wecom]\n"
         "api_base = \"http://127.0.0.1:9\"\ncorp_id = \"ww0123456789\"\n[time]\nzone = \"Asia/Shanghai\"\n"
         "[admin]\ntoken_file = \"admin_token\"\n";
}

TEST_CASE("config [privacy]: field key sources and checks", "[yuerd][config][privacy]") {
  struct Case {
    const char* label;
    std::string privacy;  // the [privacy] table ('' = absent)
    mode_t mode;
    std::string keys;
    std::string error;  // expected error code ('' = loads)
    bool sealed;        // store.field_cipher set
  };
  const Case cases[] = {
      {"absent: plain, allowed", "", 0600, kKeys, "", false},
      {"file", "[privacy]\nfield_key_file = \"secrets/field_keys\"\n", 0600, kKeys, "", true},
      {"file and required", "[privacy]\nrequire_field_key = true\nfield_key_file = \"secrets/field_keys\"\n", 0600,
       kKeys, "", true},
      {"env", "[privacy]\nfield_key_env = \"YUER_TEST_FIELD_KEYS\"\n", 0600, kKeys, "", true},
      {"credential", "[privacy]\nfield_key_credential = \"field_keys\"\n", 0600, kKeys, "", true},
      {"required but missing", "[privacy]\nrequire_field_key = true\n", 0600, kKeys, "config.missing_key", false},
      {"empty table, not required", "[privacy]\n", 0600, kKeys, "", false},
      {"group-readable file", "[privacy]\nfield_key_file = \"secrets/field_keys\"\n", 0640, kKeys,
       "config.secret_insecure", false},
      {"world-readable file", "[privacy]\nfield_key_file = \"secrets/field_keys\"\n", 0604, kKeys,
       "config.secret_insecure", false},
      {"short key", "[privacy]\nfield_key_file = \"secrets/field_keys\"\n", 0600, "k1 " + kHex.substr(4), "config.bad_secret",
       false},
      {"no id", "[privacy]\nfield_key_file = \"secrets/field_keys\"\n", 0600, kHex, "config.bad_secret", false},
      {"inline", "[privacy]\nfield_key = \"k1 " + kHex + "\"\n", 0600, kKeys, "config.inline_secret", false},
      {"two sources", "[privacy]\nfield_key_file = \"secrets/field_keys\"\nfield_key_env = \"YUER_TEST_FIELD_KEYS\"\n",
       0600, kKeys, "config.secret_source", false},
      {"not a boolean", "[privacy]\nrequire_field_key = 1\nfield_key_file = \"secrets/field_keys\"\n", 0600, kKeys,
       "config.wrong_type", false},
      {"unknown key", "[privacy]\nfield_keys_file = \"secrets/field_keys\"\n", 0600, kKeys, "config.unknown_key", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Dir dir;
    dir.write("admin_token", kAdmin);
    dir.write("secrets/field_keys", c.keys, c.mode);
    dir.write("creds/field_keys", c.keys, 0400);
    const auto config = dir.write("yuerd.toml", base_config() + c.privacy);
    auto env = [&](const std::string& name) -> std::optional<std::string> {
      if (name == "YUER_TEST_FIELD_KEYS") return c.keys;
      if (name == "CREDENTIALS_DIRECTORY") return (dir.path() / "creds").string();
      return std::nullopt;
    };
    auto loaded = yuer::yuerd::load_config(config, env);
    if (c.error.empty()) {
      REQUIRE(loaded.has_value());
      CHECK((loaded->store.field_cipher != nullptr) == c.sealed);
      if (c.sealed) {
        CHECK(loaded->store.field_cipher->current_id() == "k2");
        CHECK(loaded->store.field_cipher->key_ids().size() == 2);
      }
    } else {
      REQUIRE_FALSE(loaded.has_value());
      CHECK(loaded.error().code == c.error);
      CHECK(loaded.error().message.find(kHex) == std::string::npos);
      CHECK(loaded.error().message.find(kHex.substr(0, 12)) == std::string::npos);
    }
  }
}

TEST_CASE("config [retention]: days and the purge interval", "[yuerd][config][privacy]") {
  struct Case {
    const char* label;
    std::string retention;
    std::string error;
    int identifying, inbox;
    std::int64_t every_s;
  };
  const Case cases[] = {
      {"absent: kept", "", "", 0, 0, 3600},
      {"closed rounds", "[retention]\nidentifying_after_days = 180\n", "", 180, 0, 3600},
      {"both, hourly", "[retention]\nidentifying_after_days = 30\ninbox_payload_after_days = 90\npurge_every_s = 600\n", "",
       30, 90, 600},
      {"inbox too soon", "[retention]\ninbox_payload_after_days = 3\n", "config.bad_value", 0, 0, 0},
      {"inbox zero = kept", "[retention]\ninbox_payload_after_days = 0\n", "", 0, 0, 3600},
      {"negative days", "[retention]\nidentifying_after_days = -1\n", "config.bad_value", 0, 0, 0},
      {"too many days", "[retention]\nidentifying_after_days = 4000\n", "config.bad_value", 0, 0, 0},
      {"interval too short", "[retention]\nidentifying_after_days = 1\npurge_every_s = 5\n", "config.bad_value", 0, 0, 0},
      {"a string", "[retention]\nidentifying_after_days = \"30\"\n", "config.wrong_type", 0, 0, 0},
      {"unknown key", "[retention]\nidentifying_days = 30\n", "config.unknown_key", 0, 0, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Dir dir;
    dir.write("admin_token", kAdmin);
    auto loaded = yuer::yuerd::load_config(dir.write("yuerd.toml", base_config() + c.retention),
                                           [](const std::string&) { return std::optional<std::string>(); });
    if (!c.error.empty()) {
      REQUIRE_FALSE(loaded.has_value());
      CHECK(loaded.error().code == c.error);
      continue;
    }
    REQUIRE(loaded.has_value());
    CHECK(loaded->retention.identifying_after_days == c.identifying);
    CHECK(loaded->retention.inbox_payload_after_days == c.inbox);
    CHECK(loaded->retention.purge_every == std::chrono::seconds(c.every_s));
    CHECK(loaded->retention.enabled() == (c.identifying > 0 || c.inbox > 0));
  }
}

TEST_CASE("retention task: a closed round is purged once the clock passes its cut-off", "[yuerd][retention]") {
  Dir dir;
  yuer::store::Settings s;
  s.path = (dir.path() / "yuer.db").string();
  auto survey = std::move(*yuer::store::open_sqlite_survey_store(s));
  auto store = std::move(*yuer::store::open_sqlite_retention_store(s));
  yuer::ManualClock clock(1'780'000'000);  // 2026-05-28
  const std::int64_t now_ms = 1'780'000'000'000;
  auto r = yuer::store::testing::march_round();
  const auto id = survey->open_round(r, {{"c1", "440103001000", "2025-08-01"}}, now_ms);
  survey->close_round(id, now_ms);
  yuer::yuerd::RetentionSettings rs;
  rs.identifying_after_days = 30;
  boost::asio::io_context ioc;
  boost::asio::thread_pool pool(1);
  yuer::metrics::Registry metrics;
  yuer::yuerd::Retention task(ioc, pool, *store, clock, metrics, rs);

  struct Step {
    std::chrono::hours advance;
    std::int64_t eligible_purged;
  };
  const Step steps[] = {{std::chrono::hours(0), 0}, {std::chrono::hours(29 * 24), 0}, {std::chrono::hours(24), 1},
                        {std::chrono::hours(24), 0}};
  for (const auto& step : steps) {
    clock.advance(step.advance);
    CAPTURE(step.advance.count());
    CHECK(task.run_once().eligible == step.eligible_purged);
  }
  CHECK(survey->eligible(id).at(0).birth_date.empty());
  CHECK(survey->eligible(id).at(0).child_id == "c1");
  CHECK(metrics.counter("yuer_retention_purged_total", "", {{"what", "eligible"}}).value() == 1);
  CHECK(metrics.counter("yuer_retention_runs_total", "", {{"result", "ok"}}).value() == 4);

  const auto cut = yuer::yuerd::purge_cutoffs(rs, clock.now());
  CHECK(cut.inbox_received_before_s == 0);
  CHECK(cut.rounds_closed_before_ms == now_ms + 31LL * 86'400'000 - 30LL * 86'400'000);
  pool.join();
}

}  // namespace
