// The lint over the real content: templates/lessons/ and templates/messages/ of this source tree.
// Fails with every problem listed, each naming the file.

#include "daemon/lessons/lesson.h"
#include "daemon/lessons/markdown.h"
#include "daemon/lessons/templates.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <filesystem>
#include <set>
#include <sstream>

namespace yuer::lessons {
namespace {

namespace fs = std::filesystem;

const fs::path kLessonsDir = fs::path(YUER_SOURCE_DIR) / "templates" / "lessons";
const fs::path kMessagesDir = fs::path(YUER_SOURCE_DIR) / "templates" / "messages";

constexpr std::size_t kMinLessons = 48;

// Every route that may carry a lesson or a message, with its byte limit (UTF-8) and where it is
// documented (/work/shared/reference/wecom-api.md; templates/lessons/README.md repeats this table).
struct Route {
  const char* name;
  std::size_t max_bytes;
  bool markdown;  // false: the plain-text form (to_plain_text) is what is sent
};
constexpr Route kRoutes[] = {
    // https://developer.work.weixin.qq.com/document/path/99110 (群机器人): markdown 4096, text 2048
    {"robot markdown", 4096, true},
    {"robot text", 2048, false},
    // https://developer.work.weixin.qq.com/document/path/90236 (发送应用消息): text 2048; markdown 2048
    // (copies disagree between 2048 and 4096: the smaller is used)
    {"app message/send markdown", 2048, true},
    {"app message/send text", 2048, false},
    // https://developer.work.weixin.qq.com/document/path/92135 (创建企业群发): text.content 4000
    {"customer-group add_msg_template text", 4000, false},
    // https://developer.work.weixin.qq.com/document/path/94677 (微信客服 发送消息): text 2048
    {"kf send_msg text", 2048, false},
};

Library load_library() {
  auto lib = Library::load(kLessonsDir);
  if (!lib) FAIL(lib.error().code << "\n" << lib.error().message);
  return std::move(*lib);
}

Templates load_templates() {
  auto t = Templates::load(kMessagesDir);
  if (!t) FAIL(t.error().code << "\n" << t.error().message);
  return std::move(*t);
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The route limits a rendered text breaks, one line each.
std::vector<std::string> size_problems(const std::string& what, const std::string& rendered) {
  std::vector<std::string> out;
  const std::string plain = to_plain_text(rendered);
  for (const auto& r : kRoutes) {
    const auto bytes = r.markdown ? rendered.size() : plain.size();
    if (bytes > r.max_bytes)
      out.push_back(what + ": " + std::to_string(bytes) + " 字节，超过 " + r.name + " 的 " +
                    std::to_string(r.max_bytes) + " 字节 (too long for the route)");
  }
  return out;
}

TEST_CASE("lint: the lesson library loads with complete front matter and known sources", "[lessons][lint]") {
  auto lib = load_library();
  CHECK(lib.lessons().size() >= kMinLessons);
  std::set<std::string> ids, titles;
  std::vector<std::string> problems;
  for (const auto& l : lib.lessons()) {
    if (!ids.insert(l.id).second) problems.push_back(l.file + ": id 重复 (duplicate id)");
    if (!titles.insert(l.title).second) problems.push_back(l.file + ": title 重复 (duplicate title)");
    if (l.from_day < 0 || l.from_day > l.to_day || l.to_day >= first_day_of_month(kMaxMonth + 1))
      problems.push_back(l.file + ": 年龄范围无效 (bad age range)");
  }
  CHECK(join(problems) == "");
}

TEST_CASE("lint: every month from 0 to 36 has at least one lesson", "[lessons][lint]") {
  auto lib = load_library();
  std::vector<std::string> gaps;
  for (int m = 0; m <= kMaxMonth; ++m)
    if (lib.lessons_for_month(m).empty()) gaps.push_back("第" + std::to_string(m) + "个月没有课程 (month " + std::to_string(m) + " uncovered)");
  // The first week, when most feeding goes right or wrong, has its own lessons in days.
  if (lib.lessons_for_age(0).empty()) gaps.emplace_back("出生当天没有课程 (day 0 uncovered)");
  CHECK(join(gaps) == "");
}

TEST_CASE("lint: every source is defined once and used", "[lessons][lint]") {
  auto lib = load_library();
  std::set<std::string> used;
  for (const auto& l : lib.lessons()) used.insert(l.sources.begin(), l.sources.end());
  std::vector<std::string> unused;
  for (const auto& [id, s] : lib.sources())
    if (!used.contains(id)) unused.push_back("sources.toml: " + id + " 没有课程使用 (unused source)");
  CHECK(join(unused) == "");
}

TEST_CASE("lint: lesson markdown is intact and every rendered lesson fits every route", "[lessons][lint]") {
  auto lib = load_library();
  auto templates = load_templates();
  std::vector<std::string> problems;
  std::size_t largest = 0;
  for (const auto& l : lib.lessons()) {
    for (const auto& p : markdown_problems(l.body)) problems.push_back(l.file + ": " + p);
    auto rendered = templates.render_lesson(lib, l);
    if (!rendered) {
      problems.push_back(l.file + ": " + rendered.error().message);
      continue;
    }
    for (const auto& p : markdown_problems(*rendered)) problems.push_back(l.file + " (rendered): " + p);
    for (const auto& p : size_problems(l.file, *rendered)) problems.push_back(p);
    largest = std::max(largest, rendered->size());
  }
  CHECK(join(problems) == "");
  INFO("largest rendered lesson: " << largest << " bytes");
  CHECK(largest > 0);
}

TEST_CASE("lint: content rules of the programme", "[lessons][lint]") {
  auto lib = load_library();
  std::vector<std::string> problems;
  for (const auto& l : lib.lessons()) {
    // Formula is only ever a supplement where breastfeeding is lacking: a lesson that names it also
    // speaks of breast milk.
    if (l.body.find("奶粉") != std::string::npos && l.body.find("母乳") == std::string::npos)
      problems.push_back(l.file + ": 提到奶粉却没有提母乳 (formula without breastfeeding)");
    // Where sources conflict the note says which one is followed, and the body tells parents that
    // it follows the national guidance.
    if (!l.note.empty() && l.body.find("国家") == std::string::npos)
      problems.push_back(l.file + ": 有 note 但正文没有说明按国家的说法 (note without the national choice in the body)");
  }
  CHECK(join(problems) == "");
}

TEST_CASE("lint: every message template renders its sample", "[lessons][lint]") {
  auto templates = load_templates();
  toml::table samples;
  try {
    samples = toml::parse_file((kMessagesDir / "samples.toml").string());
  } catch (const toml::parse_error& e) {
    FAIL("samples.toml: " << e.description() << " line " << e.source().begin.line);
  }
  std::ostringstream json_text;
  json_text << toml::json_formatter{samples};
  const auto data = nlohmann::json::parse(json_text.str());

  std::vector<std::string> problems;
  const auto names = templates.names();
  CHECK(names.size() >= 8);
  for (const auto& name : names) {
    if (!data.contains(name)) {
      problems.push_back(name + ".mustache: samples.toml 里没有它的样例数据 (no sample)");
      continue;
    }
    auto rendered = templates.render(name, data[name]);
    if (!rendered) {
      problems.push_back(name + ".mustache: " + rendered.error().message);
      continue;
    }
    for (const auto& p : markdown_problems(*rendered)) problems.push_back(name + ".mustache: " + p);
    for (const auto& p : size_problems(name + ".mustache", *rendered)) problems.push_back(p);
  }
  for (const auto& [key, value] : data.items())
    if (std::find(names.begin(), names.end(), key) == names.end())
      problems.push_back("samples.toml: [" + key + "] 没有对应的模板 (sample without template)");
  CHECK(join(problems) == "");
}

}  // namespace
}  // namespace yuer::lessons
