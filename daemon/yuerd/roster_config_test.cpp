// [roster] phone_key_*: resolved like every other secret (file owner-only, env, credential),
// at least 16 bytes, never quoted in errors; without [roster] roster imports stay off.
#include "daemon/store/store_testing.h"
#include "daemon/yuerd/config.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace fs = std::filesystem;

namespace {

using Dir = yuer::store::testing::TempDir;

const std::string kPhoneKey = "phone-key-0123456789abcdef";
const std::string kAdmin = "admin-token-0123456789abcdef";

std::string base_config() {
  return "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"yuer.db\"\n[wecom]\n"
         "api_base = \"http://127.0.0.1:9\"\ncorp_id = \"ww0123456789\"\n[time]\nzone = \"Asia/Shanghai\"\n"
         "[admin]\ntoken_file = \"admin_token\"\n";
}

TEST_CASE("config [roster]: phone key sources and checks", "[yuerd][config][roster]") {
  struct Case {
    const char* label;
    std::string roster;   // the [roster] table ('' = absent)
    mode_t key_mode;
    std::string key;
    std::string error;    // expected error code ('' = loads)
  };
  const Case cases[] = {
      {"absent: roster imports off", "", 0600, kPhoneKey, ""},
      {"file", "[roster]\nphone_key_file = \"phone_key\"\n", 0600, kPhoneKey, ""},
      {"env", "[roster]\nphone_key_env = \"YUER_TEST_PHONE_KEY\"\n", 0600, kPhoneKey, ""},
      {"group-readable file", "[roster]\nphone_key_file = \"phone_key\"\n", 0640, kPhoneKey, "config.secret_insecure"},
      {"too short", "[roster]\nphone_key_file = \"phone_key\"\n", 0600, "short", "config.bad_secret"},
      {"inline", "[roster]\nphone_key = \"" + kPhoneKey + "\"\n", 0600, kPhoneKey, "config.inline_secret"},
      {"table without key", "[roster]\n", 0600, kPhoneKey, "config.missing_key"},
      {"unknown key", "[roster]\nphone_key_file = \"phone_key\"\nphone = 1\n", 0600, kPhoneKey, "config.unknown_key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Dir dir;
    dir.write("admin_token", kAdmin);
    dir.write("phone_key", c.key, c.key_mode);
    const auto config = dir.write("yuerd.toml", base_config() + c.roster);
    auto env = [&](const std::string& name) -> std::optional<std::string> {
      if (name == "YUER_TEST_PHONE_KEY") return c.key;
      return std::nullopt;
    };
    auto loaded = yuer::yuerd::load_config(config, env);
    if (c.error.empty()) {
      REQUIRE(loaded.has_value());
      CHECK(loaded->roster_phone_key == (c.roster.empty() ? "" : c.key));
    } else {
      REQUIRE_FALSE(loaded.has_value());
      CHECK(loaded.error().code == c.error);
      CHECK(loaded.error().message.find(kPhoneKey) == std::string::npos);
    }
  }
}

}  // namespace
