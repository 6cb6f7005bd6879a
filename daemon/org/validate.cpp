#include "daemon/org/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace yuer::org {
namespace {

using namespace std::chrono;

// Province-level codes of GB/T 2260.
constexpr std::array<int, 34> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                                            43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool all_zero(std::string_view s) { return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; }); }
bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Any C0 control character or DEL (tabs and line breaks included: they break tables and logs).
bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// True when the UTF-8 text holds a CJK unified ideograph (U+3400-U+9FFF).
bool has_chinese(std::string_view s) {
  for (std::size_t i = 0; i + 2 < s.size() + 0; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE3 && c <= 0xE9) {
      const std::uint32_t cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                               (static_cast<unsigned char>(s[i + 2]) & 0x3F);
      if (cp >= 0x3400 && cp <= 0x9FFF) return true;
    }
  }
  return false;
}

// Segments of the code: [start, length).
constexpr std::array<std::pair<int, int>, 5> kSegments = {{{0, 2}, {2, 2}, {4, 2}, {6, 3}, {9, 3}}};

// A string result (plain `return s;` is ambiguous: Error is constructible from a string too).
Result<std::string> value(std::string s) { return Result<std::string>(boost::system::in_place_value, std::move(s)); }

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kProvince: return "省级";
    case Level::kCity: return "市级";
    case Level::kCounty: return "县级";
    case Level::kTownship: return "乡镇级";
    case Level::kVillage: return "村级";
  }
  return "?";
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kIdeographicSpace = "\xE3\x80\x80";
  for (;;) {
    if (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    else if (s.substr(0, 3) == kIdeographicSpace) s.remove_prefix(3);
    else break;
  }
  for (;;) {
    if (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    else if (s.size() >= 3 && s.substr(s.size() - 3) == kIdeographicSpace) s.remove_suffix(3);
    else break;
  }
  return s;
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

Result<DivisionCode> parse_division_code(std::string_view text) {
  text = trim(text);
  if (text.empty()) return Error{"org.bad_code", "区划代码为空"};
  if (text.size() != 12 || !all_digits(text))
    return Error{"org.bad_code", fmt::format("区划代码应为12位数字（省2位、市2位、县2位、乡镇3位、村3位），这里是 {} 个字符",
                                             utf8_length(text))};
  const int province = (text[0] - '0') * 10 + (text[1] - '0');
  if (std::find(kProvinces.begin(), kProvinces.end(), province) == kProvinces.end())
    return Error{"org.bad_code", fmt::format("区划代码前两位 {:02d} 不是有效的省级代码", province)};
  int last = 0;  // index of the last non-zero segment
  for (int i = 1; i < 5; ++i) {
    auto seg = text.substr(kSegments[i].first, kSegments[i].second);
    if (!all_zero(seg)) {
      if (last != i - 1)
        return Error{"org.bad_code",
                     fmt::format("区划代码结构错误：{}段为0，其后的{}段不能非0", level_name(static_cast<Level>(i)),
                                 level_name(static_cast<Level>(i + 1)))};
      last = i;
    }
  }
  DivisionCode d;
  d.code = std::string(text);
  d.level = static_cast<Level>(last + 1);
  if (last > 0) {
    d.parent = d.code;
    std::fill(d.parent.begin() + kSegments[last].first, d.parent.end(), '0');
  }
  return d;
}

std::string township_of(const DivisionCode& code) {
  if (code.level != Level::kVillage) return code.code;
  return code.parent;
}

Result<std::string> check_unit_name(std::string_view text) {
  text = trim(text);
  if (text.empty()) return Error{"org.bad_name", "名称为空"};
  if (has_control(text)) return Error{"org.bad_name", "名称含有控制字符或换行"};
  if (utf8_length(text) > 40) return Error{"org.bad_name", "名称超过40个字"};
  if (!has_chinese(text)) return Error{"org.bad_name", "名称应为中文（如“某某镇”）"};
  return value(std::string(text));
}

std::string format_date(year_month_day d) {
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

year_month_day shanghai_date(std::int64_t unix_ms) {
  const auto t = sys_time<milliseconds>(milliseconds(unix_ms)) + hours(8);
  return year_month_day(floor<days>(t));
}

Result<std::string> check_birth_date(std::string_view text, year_month_day today) {
  text = trim(text);
  if (text.empty()) return Error{"roster.bad_birth_date", "出生日期为空"};
  const char sep = text.find('/') != std::string_view::npos ? '/' : '-';
  std::array<std::string_view, 3> parts;
  std::size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    auto end = i < 2 ? text.find(sep, start) : text.size();
    if (end == std::string_view::npos) return Error{"roster.bad_birth_date", "出生日期格式应为 YYYY-MM-DD（如 2025-03-08）"};
    parts[i] = text.substr(start, end - start);
    start = end + 1;
  }
  int y = 0, m = 0, d = 0;
  const bool shape = parts[0].size() == 4 && parts[1].size() >= 1 && parts[1].size() <= 2 && parts[2].size() >= 1 &&
                     parts[2].size() <= 2 && all_digits(parts[0]) && all_digits(parts[1]) && all_digits(parts[2]) &&
                     (sep == '/' || (parts[1].size() == 2 && parts[2].size() == 2));
  if (!shape || !parse_int(parts[0], y) || !parse_int(parts[1], m) || !parse_int(parts[2], d))
    return Error{"roster.bad_birth_date", "出生日期格式应为 YYYY-MM-DD（如 2025-03-08）"};
  const year_month_day date{year(y), month(static_cast<unsigned>(m)), day(static_cast<unsigned>(d))};
  if (!date.ok()) return Error{"roster.bad_birth_date", "出生日期不存在（月份或日期超出范围）"};
  if (sys_days(date) > sys_days(today))
    return Error{"roster.future_birth_date", fmt::format("出生日期晚于导入日期 {}", format_date(today))};
  year_month_day cutoff = today - months(36);
  if (!cutoff.ok()) cutoff = year_month_day_last(cutoff.year(), month_day_last(cutoff.month()));
  if (sys_days(date) < sys_days(cutoff))
    return Error{"roster.too_old",
                 fmt::format("孩子已超过36月龄（导入日期 {}，出生日期不得早于 {}）", format_date(today), format_date(cutoff))};
  return value(format_date(date));
}

Result<std::string> check_mobile(std::string_view text) {
  text = trim(text);
  if (text.empty()) return Error{"roster.bad_phone", "照护人手机号为空"};
  std::string digits;
  for (char c : text)
    if (c != ' ' && c != '-') digits.push_back(c);
  if (digits.starts_with("+86")) digits.erase(0, 3);
  else if (digits.size() == 13 && digits.starts_with("86")) digits.erase(0, 2);
  if (digits.size() != 11 || !all_digits(digits) || digits[0] != '1' || digits[1] < '3' || digits[1] > '9')
    return Error{"roster.bad_phone", "手机号应为11位中国大陆手机号（以13-19开头）"};
  return value(digits);
}

std::string mask_mobile(std::string_view digits) {
  if (digits.size() != 11) return "***";
  return std::string(digits.substr(0, 3)) + "****" + std::string(digits.substr(7));
}

Result<std::string> check_child_id(std::string_view text) {
  text = trim(text);
  if (text.empty()) return Error{"roster.bad_child_id", "儿童编号为空"};
  if (text.size() > 64 || !std::all_of(text.begin(), text.end(), is_id_char))
    return Error{"roster.bad_child_id", "儿童编号只能含字母、数字、_ 和 -，最长64个字符"};
  return value(std::string(text));
}

Result<std::string> check_sex(std::string_view text) {
  text = trim(text);
  if (text.empty()) return value(std::string());
  if (text == "男" || text == "M" || text == "m") return value(std::string("男"));
  if (text == "女" || text == "F" || text == "f") return value(std::string("女"));
  return Error{"roster.bad_sex", "性别只能填“男”或“女”，或留空"};
}

Result<std::string> check_person_name(std::string_view text) {
  text = trim(text);
  if (has_control(text)) return Error{"roster.bad_name", "照护人姓名含有控制字符或换行"};
  if (utf8_length(text) > 32) return Error{"roster.bad_name", "照护人姓名超过32个字"};
  return value(std::string(text));
}

Result<std::string> check_external_userid(std::string_view text) {
  text = trim(text);
  if (text.size() > 64 || !std::all_of(text.begin(), text.end(), is_id_char))
    return Error{"roster.bad_external_userid", "external_userid 只能含字母、数字、_ 和 -，最长64个字符"};
  return value(std::string(text));
}

Result<std::vector<std::string>> parse_tags(std::string_view text) {
  std::string s(text);
  constexpr std::string_view kFullWidth = "\xEF\xBC\x9B";  // ；
  for (auto pos = s.find(kFullWidth); pos != std::string::npos; pos = s.find(kFullWidth, pos))
    s.replace(pos, kFullWidth.size(), ";");
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    auto tag = trim(std::string_view(s).substr(start, end - start));
    if (!tag.empty()) {
      if (has_control(tag)) return Error{"roster.bad_tag", "项目标签含有控制字符或换行"};
      if (utf8_length(tag) > 20) return Error{"roster.bad_tag", "每个项目标签最多20个字"};
      if (std::find(out.begin(), out.end(), tag) == out.end()) out.emplace_back(tag);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace yuer::org
