#include "daemon/lessons/templates.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace yuer::lessons {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "yuer-templates-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST_CASE("templates: variables, sections and lists render, nothing is HTML-escaped", "[lessons][templates]") {
  TempDir dir;
  dir.write("report.mustache",
            "**{{unit}}** 覆盖 {{count}} 户\n{{#groups}}- {{name}}：{{members}}人\n{{/groups}}{{^closed}}未关闭{{/closed}}\n");
  auto t = Templates::load(dir.path());
  REQUIRE(t.has_value());
  CHECK(t->names() == std::vector<std::string>{"report"});
  nlohmann::json data = {{"unit", "东风镇 <卫生院> & \"妇幼\""},
                         {"count", 12},
                         {"closed", false},
                         {"groups", {{{"name", "一群"}, {"members", 180}}, {{"name", "二群"}, {"members", 200}}}}};
  auto text = t->render("report", data);
  REQUIRE(text.has_value());
  CHECK(*text == "**东风镇 <卫生院> & \"妇幼\"** 覆盖 12 户\n- 一群：180人\n- 二群：200人\n未关闭");
}

TEST_CASE("templates: a missing variable is an error naming it", "[lessons][templates]") {
  TempDir dir;
  dir.write("notice.mustache", "{{group}} 已有 {{members}} 人{{#extra}}，{{what}}{{/extra}}{{^flag}}x{{/flag}}");
  auto t = Templates::load(dir.path());
  REQUIRE(t.has_value());
  auto [data, needle] = GENERATE(table<std::string, std::string>({
      {R"({"members": 1, "extra": false, "flag": true})", "group"},
      {R"({"group": "a", "members": null, "extra": false, "flag": true})", "members"},
      {R"({"group": "a", "members": 1, "flag": true})", "extra"},
      {R"({"group": "a", "members": 1, "extra": [{"x": 1}], "flag": true})", "what"},
      {R"({"group": "a", "members": 1, "extra": false})", "flag"},
  }));
  CAPTURE(data);
  auto text = t->render("notice", nlohmann::json::parse(data));
  REQUIRE_FALSE(text.has_value());
  CHECK(text.error().code == "templates.missing");
  CHECK(text.error().message.find(needle) != std::string::npos);
}

TEST_CASE("templates: unknown names, bad data and broken templates", "[lessons][templates]") {
  TempDir dir;
  dir.write("ok.mustache", "{{a}}");
  {
    auto t = Templates::load(dir.path());
    REQUIRE(t.has_value());
    auto r = t->render("nope", nlohmann::json::object());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == "templates.unknown");
    auto a = t->render("ok", nlohmann::json::array());
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == "templates.bad_data");
  }
  dir.write("broken.mustache", "{{#a}}never closed");
  auto t = Templates::load(dir.path());
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().code == "templates.invalid");
  CHECK(t.error().message.find("broken.mustache") != std::string::npos);
  auto none = Templates::load(dir.path() / "missing");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == "templates.unreadable");
}

}  // namespace
}  // namespace yuer::lessons
