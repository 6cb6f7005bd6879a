#include "daemon/lessons/templates.h"

#include "daemon/lessons/lesson.h"

#include <fmt/format.h>
#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace yuer::lessons {
namespace {

namespace fs = std::filesystem;
namespace mu = kainjow::mustache;

constexpr std::size_t kMaxTemplateBytes = 16 * 1024;

mu::data to_data(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      mu::data d{mu::data::type::object};
      for (const auto& [k, v] : j.items())
        if (!v.is_null()) d.set(k, to_data(v));
      return d;
    }
    case nlohmann::json::value_t::array: {
      mu::data d{mu::data::type::list};
      for (const auto& v : j) d.push_back(to_data(v));
      return d;
    }
    case nlohmann::json::value_t::string: return mu::data{j.get<std::string>()};
    case nlohmann::json::value_t::boolean: return mu::data{j.get<bool>()};
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return mu::data{j.dump()};
    default: return mu::data{mu::data::type::bool_false};
  }
}

// The default context, noting every name it cannot resolve: mustache renders those as nothing.
class RecordingContext : public mu::context<std::string> {
 public:
  explicit RecordingContext(const mu::data* data) : mu::context<std::string>(data) {}
  const mu::data* get(const std::string& name) const override {
    const auto* found = mu::context<std::string>::get(name);
    if (!found) missing_.insert(name);
    return found;
  }
  const mu::data* get_partial(const std::string& name) const override {
    const auto* found = mu::context<std::string>::get_partial(name);
    if (!found) missing_.insert("> " + name);
    return found;
  }
  const std::set<std::string>& missing() const { return missing_; }

 private:
  mutable std::set<std::string> missing_;
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

// The template text; parsed again for every render so that rendering shares nothing mutable.
struct Templates::Parsed {
  std::string text;
};

Templates::Templates() = default;
Templates::Templates(Templates&&) noexcept = default;
Templates& Templates::operator=(Templates&&) noexcept = default;
Templates::~Templates() = default;

Result<Templates> Templates::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return fail("templates.unreadable", fmt::format("{}: 消息模板目录不存在 (templates directory not found)", dir.string()));
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".mustache") files.push_back(it->path());
  if (ec) return fail("templates.unreadable", fmt::format("{}: 无法列出目录 ({})", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());

  Templates out;
  std::string problems;
  auto add = [&](const fs::path& p, std::string_view what) {
    if (!problems.empty()) problems += '\n';
    problems += fmt::format("{}: {}", p.filename().string(), what);
  };
  for (const auto& p : files) {
    auto size = fs::file_size(p, ec);
    if (ec || size > kMaxTemplateBytes) {
      add(p, fmt::format("无法读取或超过 {} 字节 (unreadable or too large)", kMaxTemplateBytes));
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
    mu::mustache parsed(text);
    if (!parsed.is_valid()) {
      add(p, fmt::format("模板语法错误 (mustache: {})", parsed.error_message()));
      continue;
    }
    out.templates_.emplace(p.stem().string(), std::make_unique<Parsed>(Parsed{std::move(text)}));
  }
  if (!problems.empty()) return fail("templates.invalid", problems);
  return out;
}

std::vector<std::string> Templates::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : templates_) out.push_back(name);
  return out;
}

Result<std::string> Templates::render(std::string_view name, const nlohmann::json& data) const {
  auto it = templates_.find(name);
  if (it == templates_.end())
    return fail("templates.unknown", fmt::format("没有名为“{}”的消息模板 (unknown template)", name));
  if (!data.is_object())
    return fail("templates.bad_data", fmt::format("模板“{}”的数据应是一个对象 (data must be an object)", name));
  mu::mustache m(it->second->text);
  m.set_custom_escape([](const std::string& s) { return s; });
  const mu::data root = to_data(data);
  RecordingContext ctx(&root);
  std::string text = m.render(ctx);
  if (!m.is_valid())
    return fail("templates.invalid", fmt::format("模板“{}”渲染失败 (mustache: {})", name, m.error_message()));
  if (!ctx.missing().empty()) {
    std::string names;
    for (const auto& n : ctx.missing()) names += (names.empty() ? "" : ", ") + n;
    return fail("templates.missing", fmt::format("模板“{}”缺少数据：{} (missing variables)", name, names));
  }
  return Result<std::string>(boost::system::in_place_value, trim(text));
}

Result<std::string> Templates::render_lesson(const Library& library, const Lesson& lesson) const {
  nlohmann::json data = {{"title", lesson.title}, {"body", lesson.body}, {"source_line", library.source_line(lesson)}};
  return render("lesson", data);
}

}  // namespace yuer::lessons
