#include "daemon/survey/text.h"

#include <fmt/format.h>

namespace yuer::survey {

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      auto cb = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cb & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      c = (c << 6) | (cb & 0x3F);
    }
    bool overlong = (len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000);
    if (!ok || overlong || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    out.push_back(c);
    i += static_cast<std::size_t>(len);
  }
  return out;
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::u32string fold(std::u32string_view text) {
  static constexpr std::u32string_view kPunct = U"，。、；：！？（）【】“”‘’～—…《》「」·";
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c >= 0xFF01 && c <= 0xFF5E) c = c - 0xFF01 + 0x21;
    if (c == 0x3000) c = U' ';
    if (c >= U'A' && c <= U'Z') c = c - U'A' + U'a';
    if (kPunct.find(c) != std::u32string_view::npos) c = U' ';
    out.push_back(c);
  }
  return out;
}

namespace {
int cn_digit(char32_t c) {
  switch (c) {
    case U'零': case U'〇': return 0;
    case U'一': return 1;
    case U'二': case U'两': return 2;
    case U'三': return 3;
    case U'四': return 4;
    case U'五': return 5;
    case U'六': return 6;
    case U'七': return 7;
    case U'八': return 8;
    case U'九': return 9;
    default: return -1;
  }
}
}  // namespace

bool is_cn_numeral(char32_t c) { return c == U'十' || cn_digit(c) >= 0; }

std::optional<int> cn_number(std::u32string_view run) {
  if (run.empty()) return std::nullopt;
  auto ten = run.find(U'十');
  if (ten == std::u32string_view::npos) {
    if (run.size() != 1) return std::nullopt;
    int d = cn_digit(run[0]);
    return d >= 0 ? std::optional<int>(d) : std::nullopt;
  }
  if (run.size() > 3 || run.find(U'十', ten + 1) != std::u32string_view::npos) return std::nullopt;
  int tens = 1;
  if (ten == 1) {
    tens = cn_digit(run[0]);
    if (tens <= 0) return std::nullopt;
  } else if (ten != 0) {
    return std::nullopt;
  }
  int ones = 0;
  if (ten + 1 < run.size()) {
    if (ten + 2 != run.size()) return std::nullopt;
    ones = cn_digit(run[ten + 1]);
    if (ones <= 0) return std::nullopt;
  }
  return tens * 10 + ones;
}

std::optional<std::chrono::year_month_day> parse_iso_date(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  int y = 0, m = 0, d = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 4 || i == 7) continue;
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
    int v = t[i] - '0';
    if (i < 4) y = y * 10 + v; else if (i < 7) m = m * 10 + v; else d = d * 10 + v;
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

std::string format_date(std::chrono::year_month_day d) {
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

int completed_months(std::chrono::year_month_day birth, std::chrono::year_month_day on) {
  int months = (static_cast<int>(on.year()) - static_cast<int>(birth.year())) * 12 +
               (static_cast<int>(static_cast<unsigned>(on.month())) - static_cast<int>(static_cast<unsigned>(birth.month())));
  if (on.day() < birth.day()) --months;
  return months;
}

int days_between(std::chrono::year_month_day a, std::chrono::year_month_day b) {
  return static_cast<int>((std::chrono::sys_days{b} - std::chrono::sys_days{a}).count());
}

}  // namespace yuer::survey
