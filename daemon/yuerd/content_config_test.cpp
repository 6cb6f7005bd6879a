// [content] lessons_dir: absent → "templates/lessons" from the working directory (optional);
// given → resolved against the config file's folder and required.
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

std::string base_config() {
  return "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"yuer.db\"\n[wecom]\n"
         "api_base = \"http://127.0.0.1:9\"\ncorp_id = \"ww0123456789\"\n[time]\nzone = \"Asia/Shanghai\"\n"
         "[admin]\ntoken_file = \"admin_token\"\n";
}

TEST_CASE("config [content]: lessons_dir", "[yuerd][config][lessons]") {
  struct Case {
    const char* label;
    std::string content;   // the [content] table ('' = absent)
    std::string expected;  // lessons_dir relative to the config folder ('' = the default)
    std::string error;     // expected error code ('' = loads)
  };
  const Case cases[] = {
      {"absent", "", "", ""},
      {"empty table", "[content]\n", "", ""},
      {"relative", "[content]\nlessons_dir = \"../templates/lessons\"\n", "../templates/lessons", ""},
      {"absolute", "[content]\nlessons_dir = \"/srv/yuer/lessons\"\n", "/srv/yuer/lessons", ""},
      {"empty", "[content]\nlessons_dir = \"\"\n", "", "config.bad_value"},
      {"not a string", "[content]\nlessons_dir = 3\n", "", "config.wrong_type"},
      {"unknown key", "[content]\nlesson_dir = \"x\"\n", "", "config.unknown_key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Dir dir;
    dir.write("admin_token", "admin-token-0123456789abcdef");
    const auto config = dir.write("yuerd.toml", base_config() + c.content);
    auto loaded = yuer::yuerd::load_config(config, [](const std::string&) { return std::optional<std::string>(); });
    if (!c.error.empty()) {
      REQUIRE_FALSE(loaded.has_value());
      CHECK(loaded.error().code == c.error);
      CHECK(loaded.error().message.find("yuerd.toml") != std::string::npos);
      continue;
    }
    INFO((loaded.has_value() ? std::string() : loaded.error().message));
    REQUIRE(loaded.has_value());
    if (c.expected.empty()) {
      CHECK(loaded->lessons_dir == "templates/lessons");
      CHECK_FALSE(loaded->lessons_dir_configured);
    } else {
      const fs::path want = fs::path(c.expected).is_absolute() ? fs::path(c.expected) : dir.path() / c.expected;
      CHECK(loaded->lessons_dir == want.lexically_normal().string());
      CHECK(loaded->lessons_dir_configured);
    }
  }
}

}  // namespace
