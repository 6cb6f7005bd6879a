#include "daemon/lessons/lesson.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace yuer::lessons {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "yuer-lessons-test-XXXXXX").string();
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

const std::string kSources =
    "[nhc-2020]\ntitle = \"婴幼儿喂养健康教育核心信息\"\npublisher = \"国家卫生健康委员会办公厅\"\n"
    "year = 2020\nurl = \"https://www.gov.cn/zhengce/zhengceku/2020-08/01/content_5531915.htm\"\n"
    "citation = \"国家卫健委《婴幼儿喂养健康教育核心信息》2020\"\n";

const std::string kGood =
    "+++\nid = \"L-06m-01\"\ntitle = \"宝宝满6个月，开始吃辅食\"\nage_months = [6, 6]\n"
    "topics = [\"辅食\"]\nsources = [\"nhc-2020\"]\n+++\n\n**满6个月**，要开始加辅食了。\n";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

TEST_CASE("lessons: a good directory loads", "[lessons]") {
  TempDir dir;
  dir.write("sources.toml", kSources);
  dir.write("L-06m-01.md", kGood);
  dir.write("README.md", "not a lesson");
  dir.write("L-00d-01.md", replace(replace(kGood, "L-06m-01", "L-00d-01"), "age_months = [6, 6]", "age_days = [0, 6]"));
  auto lib = Library::load(dir.path());
  REQUIRE(lib.has_value());
  REQUIRE(lib->lessons().size() == 2);
  CHECK(lib->lessons()[0].id == "L-00d-01");
  const auto* six = lib->find("L-06m-01");
  REQUIRE(six != nullptr);
  CHECK(six->from_day == 182);
  CHECK(six->to_day == 212);
  CHECK(six->body == "**满6个月**，要开始加辅食了。");
  CHECK(lib->find("L-99m-01") == nullptr);
  CHECK(lib->lessons_for_age(3).size() == 1);
  CHECK(lib->lessons_for_age(7).empty());
  CHECK(lib->lessons_for_age(182).size() == 1);
  CHECK(lib->lessons_for_age(213).empty());
  CHECK(lib->lessons_for_month(0).size() == 1);
  CHECK(lib->source_line(*six) == "来源：国家卫健委《婴幼儿喂养健康教育核心信息》2020");
}

TEST_CASE("lessons: month and day conversion", "[lessons]") {
  auto [month, first_day] = GENERATE(table<int, int>({{0, 0}, {1, 30}, {6, 182}, {12, 365}, {24, 730}, {36, 1095}, {37, 1126}}));
  CAPTURE(month);
  CHECK(first_day_of_month(month) == first_day);
  CHECK(month_of_day(first_day) == month);
  if (first_day > 0) CHECK(month_of_day(first_day - 1) == month - 1);
}

struct BadCase {
  const char* label;
  std::string file;
  std::string text;
  std::string needle;  // part of the message that names the key and the reason
};

TEST_CASE("lessons: each broken lesson is reported with file, key and reason", "[lessons]") {
  auto c = GENERATE(values<BadCase>({
      {"no front matter", "L-06m-01.md", "hello", "L-06m-01.md: 文件应以一行 +++ 开头"},
      {"unclosed front matter", "L-06m-01.md", "+++\nid = \"L-06m-01\"\n", "前置信息没有用一行 +++ 结束"},
      {"bad toml", "L-06m-01.md", replace(kGood, "title = \"", "title = "), "line 3: 前置信息的 TOML 格式错误"},
      {"missing id", "L-06m-01.md", replace(kGood, "id = \"L-06m-01\"\n", ""), "L-06m-01.md: id: 缺少这一项"},
      {"id not file name", "L-06m-02.md", kGood, "id: 应与文件名一致"},
      {"bad id characters", "L-06m 01.md", replace(kGood, "L-06m-01", "L-06m 01"), "id: 只能用字母"},
      {"missing title", "L-06m-01.md", replace(kGood, "title = \"宝宝满6个月，开始吃辅食\"\n", ""), "title: 缺少这一项"},
      {"empty title", "L-06m-01.md", replace(kGood, "宝宝满6个月，开始吃辅食", " "), "title: 应为非空的文字"},
      {"no age", "L-06m-01.md", replace(kGood, "age_months = [6, 6]\n", ""), "必须写且只写 age_months 或 age_days"},
      {"both ages", "L-06m-01.md", replace(kGood, "age_months = [6, 6]\n", "age_months = [6, 6]\nage_days = [1, 2]\n"),
       "必须写且只写"},
      {"age reversed", "L-06m-01.md", replace(kGood, "[6, 6]", "[8, 6]"), "age_months: 范围应在 0 到 36 之间"},
      {"age past 36", "L-06m-01.md", replace(kGood, "[6, 6]", "[30, 37]"), "age_months: 范围应在 0 到 36"},
      {"age negative days", "L-06m-01.md", replace(kGood, "age_months = [6, 6]", "age_days = [-1, 6]"), "age_days: 范围"},
      {"age one number", "L-06m-01.md", replace(kGood, "[6, 6]", "[6]"), "age_months: 应写成 [起, 止]"},
      {"age as text", "L-06m-01.md", replace(kGood, "[6, 6]", "\"6-8\""), "age_months: 应写成"},
      {"no topics", "L-06m-01.md", replace(kGood, "topics = [\"辅食\"]\n", ""), "topics: 缺少这一项"},
      {"empty topics", "L-06m-01.md", replace(kGood, "[\"辅食\"]", "[]"), "topics: 应为非空的字符串列表"},
      {"duplicate topic", "L-06m-01.md", replace(kGood, "[\"辅食\"]", "[\"辅食\", \"辅食\"]"), "topics: “辅食”重复"},
      {"no sources", "L-06m-01.md", replace(kGood, "sources = [\"nhc-2020\"]\n", ""), "sources: 缺少这一项"},
      {"unknown source", "L-06m-01.md", replace(kGood, "\"nhc-2020\"", "\"who-1999\""), "来源“who-1999”没有在 sources.toml 里定义"},
      {"empty note", "L-06m-01.md", replace(kGood, "+++\n\n", "note = \"\"\n+++\n\n"), "note: 应为非空的文字"},
      {"unknown key", "L-06m-01.md", replace(kGood, "topics", "topic"), "topic: 不认识的项"},
      {"empty body", "L-06m-01.md", replace(kGood, "**满6个月**，要开始加辅食了。\n", "  \n"), "body: 正文为空"},
      {"not utf-8", "L-06m-01.md", replace(kGood, "辅食了", "\xb8\xa8\xca\xb3"), "不是 UTF-8 编码"},
  }));
  CAPTURE(c.label);
  TempDir dir;
  dir.write("sources.toml", kSources);
  dir.write(c.file, c.text);
  auto lib = Library::load(dir.path());
  REQUIRE_FALSE(lib.has_value());
  CHECK(lib.error().code == "lessons.invalid");
  CAPTURE(lib.error().message);
  CHECK(lib.error().message.find(c.needle) != std::string::npos);
}

TEST_CASE("lessons: broken source lists and duplicates are reported", "[lessons]") {
  auto c = GENERATE(values<BadCase>({
      {"source without url", "sources.toml", replace(kSources, "url = \"https://www.gov.cn/zhengce/zhengceku/2020-08/01/content_5531915.htm\"\n", ""),
       "sources.toml: nhc-2020: url: 缺少这一项"},
      {"source url not http", "sources.toml", replace(kSources, "https://", "ftp://"), "nhc-2020.url: 应以 http:// 或 https:// 开头"},
      {"source bad year", "sources.toml", replace(kSources, "2020\nurl", "\"2020\"\nurl"), "nhc-2020.year: 应为 1900 到 2100"},
      {"source unknown key", "sources.toml", replace(kSources, "citation", "cite"), "nhc-2020.cite: 不认识的项"},
      {"sources toml broken", "sources.toml", "[nhc-2020\n", "sources.toml: line 1: TOML 格式错误"},
      {"sources empty", "sources.toml", "", "sources.toml: 没有定义任何来源"},
  }));
  CAPTURE(c.label);
  TempDir dir;
  dir.write(c.file, c.text);
  dir.write("L-06m-01.md", kGood);
  auto lib = Library::load(dir.path());
  REQUIRE_FALSE(lib.has_value());
  CAPTURE(lib.error().message);
  CHECK(lib.error().message.find(c.needle) != std::string::npos);
}

TEST_CASE("lessons: every problem is listed, not only the first", "[lessons]") {
  TempDir dir;
  dir.write("sources.toml", kSources);
  dir.write("L-06m-01.md", replace(kGood, "[6, 6]", "[9, 6]"));
  dir.write("L-07m-01.md", replace(kGood, "L-06m-01", "L-07m-01").replace(0, 3, "---"));
  auto lib = Library::load(dir.path());
  REQUIRE_FALSE(lib.has_value());
  CAPTURE(lib.error().message);
  CHECK(lib.error().message.find("L-06m-01.md: age_months") != std::string::npos);
  CHECK(lib.error().message.find("L-07m-01.md: 文件应以一行 +++ 开头") != std::string::npos);
}

TEST_CASE("lessons: missing pieces of the directory", "[lessons]") {
  TempDir dir;
  SECTION("no directory") {
    auto lib = Library::load(dir.path() / "nope");
    REQUIRE_FALSE(lib.has_value());
    CHECK(lib.error().code == "lessons.unreadable");
  }
  SECTION("no sources.toml") {
    dir.write("L-06m-01.md", kGood);
    auto lib = Library::load(dir.path());
    REQUIRE_FALSE(lib.has_value());
    CHECK(lib.error().message.find("缺少来源清单文件") != std::string::npos);
  }
  SECTION("no lessons") {
    dir.write("sources.toml", kSources);
    auto lib = Library::load(dir.path());
    REQUIRE_FALSE(lib.has_value());
    CHECK(lib.error().message.find("目录里没有课程文件") != std::string::npos);
  }
  SECTION("the same id twice is impossible through file names, but a copy with CRLF loads the same") {
    dir.write("sources.toml", kSources);
    std::string crlf;
    for (char ch : kGood) {
      if (ch == '\n') crlf += '\r';
      crlf += ch;
    }
    dir.write("L-06m-01.md", crlf);
    auto lib = Library::load(dir.path());
    REQUIRE(lib.has_value());
    CHECK(lib->lessons()[0].body == "**满6个月**，要开始加辅食了。");
  }
}

}  // namespace
}  // namespace yuer::lessons
