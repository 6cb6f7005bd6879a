#include "daemon/lessons/markdown.h"

#include <fmt/format.h>

#include <cctype>

namespace yuer::lessons {
namespace {

constexpr int kMaxHeadingLevel = 6;

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::size_t count_of(std::string_view s, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = s.find(needle); pos != std::string_view::npos; pos = s.find(needle, pos + needle.size())) ++n;
  return n;
}

void check_line(std::string_view line, int number, std::vector<std::string>& out) {
  auto add = [&](std::string_view what) { out.push_back(fmt::format("第{}行 (line {}): {}", number, number, what)); };

  std::size_t hashes = 0;
  while (hashes < line.size() && line[hashes] == '#') ++hashes;
  if (hashes > kMaxHeadingLevel)
    add("标题级别超过 ###### (heading deeper than WeCom supports)");
  else if (hashes > 0 && (hashes == line.size() || line[hashes] != ' '))
    add("# 后面要有空格和标题文字 (heading needs a space and text after #)");

  if (count_of(line, "**") % 2 != 0) add("** 加粗符号没有成对 (unbalanced **)");

  // Links: every "[" opens "[text](http…)" on the same line.
  for (auto open = line.find('['); open != std::string_view::npos; open = line.find('[', open + 1)) {
    auto close = line.find(']', open);
    if (close == std::string_view::npos || close + 1 >= line.size() || line[close + 1] != '(') {
      add("链接应写成 [文字](网址) (link not written as [text](url))");
      break;
    }
    auto end = line.find(')', close);
    auto url = end == std::string_view::npos ? std::string_view{} : line.substr(close + 2, end - close - 2);
    if (end == std::string_view::npos || close == open + 1 ||
        !(starts_with(url, "http://") || starts_with(url, "https://"))) {
      add("链接没有结束或网址不是 http(s) 开头 (unclosed link or bad url)");
      break;
    }
  }

  // Tags: only <font color="info|comment|warning">…</font> (closed on the same line) and <@userid>.
  int open_fonts = 0;
  for (auto lt = line.find('<'); lt != std::string_view::npos; lt = line.find('<', lt + 1)) {
    auto rest = line.substr(lt);
    if (starts_with(rest, "<font ")) {
      if (starts_with(rest, "<font color=\"info\">") || starts_with(rest, "<font color=\"comment\">") ||
          starts_with(rest, "<font color=\"warning\">")) {
        ++open_fonts;
      } else {
        add("<font> 的颜色只能是 info、comment 或 warning (font colour must be info, comment or warning)");
      }
    } else if (starts_with(rest, "</font>")) {
      if (--open_fonts < 0) {
        add("多余的 </font> (</font> without <font>)");
        open_fonts = 0;
      }
    } else if (starts_with(rest, "<@")) {
      if (rest.find('>') == std::string_view::npos) add("<@成员> 没有结束 (unclosed <@userid>)");
    } else if (rest.size() > 1 && (std::isalpha(static_cast<unsigned char>(rest[1])) || rest[1] == '/')) {
      add("企业微信不支持这个 HTML 标签 (unsupported HTML tag)");
    }
  }
  if (open_fonts > 0) add("<font> 没有用 </font> 结束 (unclosed <font>)");
}

}  // namespace

std::vector<std::string> markdown_problems(std::string_view text) {
  std::vector<std::string> out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    out.emplace_back("内容为空 (empty)");
    return out;
  }
  int number = 0;
  for (auto line : lines_of(text)) check_line(line, ++number, out);
  return out;
}

std::string to_plain_text(std::string_view markdown) {
  std::string out;
  bool first = true;
  for (auto line : lines_of(markdown)) {
    if (!first) out += '\n';
    first = false;
    std::size_t i = 0;
    while (i < line.size() && line[i] == '#') ++i;
    if (i > 0 && i < line.size() && line[i] == ' ') line.remove_prefix(i + 1);
    if (starts_with(line, "> ")) line.remove_prefix(2);
    else if (starts_with(line, ">")) line.remove_prefix(1);
    std::size_t p = 0;
    while (p < line.size()) {
      auto rest = line.substr(p);
      if (starts_with(rest, "**")) {
        p += 2;
      } else if (starts_with(rest, "<font ") || starts_with(rest, "</font>")) {
        auto gt = rest.find('>');
        p += gt == std::string_view::npos ? rest.size() : gt + 1;
      } else if (rest[0] == '[') {
        auto close = rest.find("](");
        auto end = close == std::string_view::npos ? std::string_view::npos : rest.find(')', close);
        if (end == std::string_view::npos) {
          out += rest[0];
          ++p;
          continue;
        }
        out += rest.substr(1, close - 1);
        out += "（";
        out += rest.substr(close + 2, end - close - 2);
        out += "）";
        p += end + 1;
      } else {
        out += rest[0];
        ++p;
      }
    }
  }
  return out;
}

}  // namespace yuer::lessons
