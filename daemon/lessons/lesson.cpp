#include "daemon/lessons/lesson.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace yuer::lessons {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxFileBytes = 64 * 1024;
constexpr std::size_t kMaxIdBytes = 32;
constexpr std::size_t kMaxTitleBytes = 96;

// Every problem found, so one run of the lint names all of them.
class Problems {
 public:
  void add(std::string_view file, std::string_view key, std::string_view zh, std::string_view en) {
    if (key.empty())
      lines_.push_back(fmt::format("{}: {} ({})", file, zh, en));
    else
      lines_.push_back(fmt::format("{}: {}: {} ({})", file, key, zh, en));
  }
  bool empty() const { return lines_.empty(); }
  Error error() const {
    std::string text;
    for (const auto& l : lines_) {
      if (!text.empty()) text += '\n';
      text += l;
    }
    return fail("lessons.invalid", text);
  }

 private:
  std::vector<std::string> lines_;
};

Result<std::string> read_file(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return fail("lessons.unreadable", fmt::format("{}: 无法读取文件 (cannot read: {})", path.string(), ec.message()));
  if (size > kMaxFileBytes)
    return fail("lessons.unreadable", fmt::format("{}: 文件太大，超过 {} 字节 (file too large)", path.string(), kMaxFileBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("lessons.unreadable", fmt::format("{}: 无法打开文件 (cannot open)", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return Result<std::string>(boost::system::in_place_value, std::move(text));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\n");
  return std::string(s.substr(b, e - b + 1));
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// A non-empty array of distinct non-empty strings, or an explanation of what is wrong with it.
std::optional<std::vector<std::string>> string_list(const toml::table& t, std::string_view key, std::string_view file,
                                                    Problems& problems) {
  const auto* node = t.get(key);
  if (!node) {
    problems.add(file, key, "缺少这一项", "missing");
    return std::nullopt;
  }
  const auto* arr = node->as_array();
  if (!arr || arr->empty()) {
    problems.add(file, key, "应为非空的字符串列表", "must be a non-empty array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!item.is_string() || !s || s->empty()) {
      problems.add(file, key, "列表里有空项或不是字符串的项", "items must be non-empty strings");
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), *s) != out.end()) {
      problems.add(file, key, fmt::format("“{}”重复", *s), "duplicate item");
      return std::nullopt;
    }
    out.push_back(*s);
  }
  return out;
}

std::optional<std::string> required_string(const toml::table& t, std::string_view key, std::string_view file,
                                            Problems& problems) {
  const auto* node = t.get(key);
  if (!node) {
    problems.add(file, key, "缺少这一项", "missing");
    return std::nullopt;
  }
  auto s = node->value<std::string>();
  if (!node->is_string() || !s || trim(*s).empty()) {
    problems.add(file, key, "应为非空的文字", "must be a non-empty string");
    return std::nullopt;
  }
  return trim(*s);
}

void parse_sources(const fs::path& path, std::map<std::string, Source, std::less<>>& out, Problems& problems) {
  const std::string file = path.filename().string();
  auto text = read_file(path);
  if (!text) {
    problems.add(file, "", "无法读取来源清单", text.error().message);
    return;
  }
  toml::table root;
  try {
    root = toml::parse(*text, path.string());
  } catch (const toml::parse_error& e) {
    problems.add(file, fmt::format("line {}", e.source().begin.line), "TOML 格式错误", e.description());
    return;
  }
  if (root.empty()) problems.add(file, "", "没有定义任何来源", "no sources defined");
  for (const auto& [k, node] : root) {
    std::string id(k.str());
    const auto* t = node.as_table();
    if (!t || !valid_id(id)) {
      problems.add(file, id, "每个来源应是一个表 [来源编号]，编号只用字母、数字、- 和 _",
                   "each source must be a table with an ASCII id");
      continue;
    }
    Source s;
    s.id = id;
    std::string prefix = id + ".";
    auto title = required_string(*t, "title", file + ": " + id, problems);
    auto publisher = required_string(*t, "publisher", file + ": " + id, problems);
    auto url = required_string(*t, "url", file + ": " + id, problems);
    auto citation = required_string(*t, "citation", file + ": " + id, problems);
    // Undated web pages have no year.
    // (A plain value and a flag: GCC 12 at -O2 warns "may be used uninitialized" on an optional here.)
    std::int64_t year = 0;
    bool year_ok = true;
    if (t->contains("year")) {
      const auto v = (*t)["year"].value<std::int64_t>();
      year_ok = (*t)["year"].is_integer() && v.has_value() && v.value_or(0) >= 1900 && v.value_or(0) <= 2100;
      if (year_ok) year = v.value_or(0);
      else problems.add(file, prefix + "year", "应为 1900 到 2100 之间的年份", "must be a year");
    }
    if (url && url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
      problems.add(file, prefix + "url", "应以 http:// 或 https:// 开头", "must be an http(s) URL");
    for (const auto& [key, value] : *t) {
      std::string_view kk = key.str();
      if (kk != "title" && kk != "publisher" && kk != "url" && kk != "citation" && kk != "year")
        problems.add(file, prefix + std::string(kk), "不认识的项（拼写错误？）", "unknown key");
    }
    if (title && publisher && url && citation && year_ok) {
      s.title = *title;
      s.publisher = *publisher;
      s.url = *url;
      s.citation = *citation;
      s.year = static_cast<int>(year);
      out.emplace(id, std::move(s));
    }
  }
}

// Reads the [from, to] pair of age_months or age_days; returns the range in days.
std::optional<std::pair<int, int>> age_range(const toml::table& fm, std::string_view file, Problems& problems) {
  const auto* months = fm.get("age_months");
  const auto* days = fm.get("age_days");
  if ((months != nullptr) == (days != nullptr)) {
    problems.add(file, "age_months/age_days", "必须写且只写 age_months 或 age_days 其中一个",
                 "exactly one of age_months and age_days is required");
    return std::nullopt;
  }
  std::string_view key = months ? "age_months" : "age_days";
  const int limit = months ? kMaxMonth : first_day_of_month(kMaxMonth + 1) - 1;
  const auto* arr = (months ? months : days)->as_array();
  std::optional<std::int64_t> from, to;
  if (arr && arr->size() == 2 && (*arr)[0].is_integer() && (*arr)[1].is_integer()) {
    from = (*arr)[0].value<std::int64_t>();
    to = (*arr)[1].value<std::int64_t>();
  }
  if (!from || !to) {
    problems.add(file, key, "应写成 [起, 止] 两个整数", "must be [from, to], two integers");
    return std::nullopt;
  }
  if (*from < 0 || *to > limit || *from > *to) {
    problems.add(file, key, fmt::format("范围应在 0 到 {} 之间且起不大于止", limit),
                 fmt::format("must satisfy 0 <= from <= to <= {}", limit));
    return std::nullopt;
  }
  if (months)
    return std::pair{first_day_of_month(static_cast<int>(*from)), first_day_of_month(static_cast<int>(*to) + 1) - 1};
  return std::pair{static_cast<int>(*from), static_cast<int>(*to)};
}

std::optional<Lesson> parse_lesson(const fs::path& path, const std::map<std::string, Source, std::less<>>& sources,
                                   Problems& problems) {
  const std::string file = path.filename().string();
  auto text = read_file(path);
  if (!text) {
    problems.add(file, "", "无法读取", text.error().message);
    return std::nullopt;
  }
  if (!valid_utf8(*text)) {
    problems.add(file, "", "不是 UTF-8 编码", "not valid UTF-8");
    return std::nullopt;
  }
  if (text->rfind("+++\n", 0) != 0) {
    problems.add(file, "", "文件应以一行 +++ 开头（前置信息）", "must start with a +++ front-matter line");
    return std::nullopt;
  }
  auto close = text->find("\n+++\n", 3);
  if (close == std::string::npos) {
    problems.add(file, "", "前置信息没有用一行 +++ 结束", "front matter is not closed by a +++ line");
    return std::nullopt;
  }
  std::string_view front(text->data() + 4, close - 3);
  toml::table fm;
  try {
    // Line numbers in TOML errors are one less than in the file because of the opening +++ line.
    fm = toml::parse(front, path.string());
  } catch (const toml::parse_error& e) {
    problems.add(file, fmt::format("line {}", e.source().begin.line + 1), "前置信息的 TOML 格式错误", e.description());
    return std::nullopt;
  }
  Lesson l;
  l.file = file;
  bool ok = true;
  for (const auto& [key, value] : fm) {
    std::string_view k = key.str();
    if (k != "id" && k != "title" && k != "age_months" && k != "age_days" && k != "topics" && k != "sources" &&
        k != "note") {
      problems.add(file, k, "不认识的项（拼写错误？）", "unknown key");
      ok = false;
    }
  }
  if (auto id = required_string(fm, "id", file, problems)) {
    if (!valid_id(*id)) {
      problems.add(file, "id", fmt::format("只能用字母、数字、- 和 _，最长 {} 个字符", kMaxIdBytes),
                   "ASCII letters, digits, - and _ only");
      ok = false;
    } else if (path.stem().string() != *id) {
      problems.add(file, "id", fmt::format("应与文件名一致（{}.md）", *id), "must equal the file name without .md");
      ok = false;
    }
    l.id = *id;
  } else {
    ok = false;
  }
  if (auto title = required_string(fm, "title", file, problems)) {
    if (title->size() > kMaxTitleBytes || title->find('\n') != std::string::npos) {
      problems.add(file, "title", fmt::format("标题应为一行，不超过 {} 字节", kMaxTitleBytes), "title too long");
      ok = false;
    }
    l.title = *title;
  } else {
    ok = false;
  }
  if (auto range = age_range(fm, file, problems)) {
    l.from_day = range->first;
    l.to_day = range->second;
  } else {
    ok = false;
  }
  if (auto topics = string_list(fm, "topics", file, problems))
    l.topics = std::move(*topics);
  else
    ok = false;
  if (auto src = string_list(fm, "sources", file, problems)) {
    for (const auto& s : *src) {
      if (!sources.contains(s)) {
        problems.add(file, "sources", fmt::format("来源“{}”没有在 sources.toml 里定义", s), "unknown source id");
        ok = false;
      }
    }
    l.sources = std::move(*src);
  } else {
    ok = false;
  }
  if (const auto* note = fm.get("note")) {
    auto s = note->value<std::string>();
    if (!note->is_string() || !s || trim(*s).empty()) {
      problems.add(file, "note", "应为非空的文字", "must be a non-empty string");
      ok = false;
    } else {
      l.note = trim(*s);
    }
  }
  l.body = trim(std::string_view(*text).substr(close + 5));
  if (l.body.empty()) {
    problems.add(file, "body", "正文为空", "empty body");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return l;
}

}  // namespace

int first_day_of_month(int month) { return static_cast<int>(static_cast<long long>(month) * 1461 / 48); }

int month_of_day(int day) {
  int m = static_cast<int>(static_cast<long long>(day) * 48 / 1461);
  while (first_day_of_month(m + 1) <= day) ++m;
  while (m > 0 && first_day_of_month(m) > day) --m;
  return m;
}

Result<Library> Library::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return fail("lessons.unreadable", fmt::format("{}: 课程目录不存在 (lessons directory not found)", dir.string()));
  Library lib;
  Problems problems;
  const auto sources_path = dir / "sources.toml";
  if (!fs::exists(sources_path, ec))
    problems.add("sources.toml", "", "缺少来源清单文件", "sources.toml is missing");
  else
    parse_sources(sources_path, lib.sources_, problems);

  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".md" && p.filename() != "README.md") files.push_back(p);
  }
  if (ec) return fail("lessons.unreadable", fmt::format("{}: 无法列出目录 (cannot list: {})", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  if (files.empty()) problems.add(dir.filename().string(), "", "目录里没有课程文件", "no lesson files (*.md)");

  std::map<std::string, std::string> first_file_of_id;
  for (const auto& p : files) {
    auto lesson = parse_lesson(p, lib.sources_, problems);
    if (!lesson) continue;
    auto [it, inserted] = first_file_of_id.emplace(lesson->id, lesson->file);
    if (!inserted) {
      problems.add(lesson->file, "id", fmt::format("编号“{}”与 {} 重复", lesson->id, it->second), "duplicate id");
      continue;
    }
    lib.lessons_.push_back(std::move(*lesson));
  }
  if (!problems.empty()) return problems.error();
  std::sort(lib.lessons_.begin(), lib.lessons_.end(), [](const Lesson& a, const Lesson& b) {
    return std::tie(a.from_day, a.id) < std::tie(b.from_day, b.id);
  });
  return lib;
}

const Lesson* Library::find(std::string_view id) const {
  for (const auto& l : lessons_)
    if (l.id == id) return &l;
  return nullptr;
}

std::vector<const Lesson*> Library::lessons_for_age(int day) const {
  std::vector<const Lesson*> out;
  for (const auto& l : lessons_)
    if (l.from_day <= day && day <= l.to_day) out.push_back(&l);
  return out;
}

std::vector<const Lesson*> Library::lessons_for_month(int month) const {
  const int from = first_day_of_month(month);
  const int to = first_day_of_month(month + 1) - 1;
  std::vector<const Lesson*> out;
  for (const auto& l : lessons_)
    if (l.from_day <= to && from <= l.to_day) out.push_back(&l);
  return out;
}

std::string Library::source_line(const Lesson& lesson) const {
  std::string line = "来源：";
  bool first = true;
  for (const auto& id : lesson.sources) {
    auto it = sources_.find(id);
    if (it == sources_.end()) continue;
    if (!first) line += "；";
    line += it->second.citation;
    first = false;
  }
  return line;
}

}  // namespace yuer::lessons
