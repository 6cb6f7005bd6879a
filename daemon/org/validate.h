// Validators for one field of an uploaded row: administrative division codes, dates, Chinese
// mobile numbers, names, ids and tags. Pure functions; each failure is a Chinese reason a
// coordinator can act on, and never quotes personal data (phone numbers, names).
#pragma once

#include "daemon/base/result.h"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::org {

// Levels of the 12-digit code: province 2 + city 2 + county 2 + township 3 + village 3 digits.
enum class Level { kProvince = 1, kCity = 2, kCounty = 3, kTownship = 4, kVillage = 5 };

// The Chinese word for a level: 省级, 市级, 县级, 乡镇级, 村级.
std::string_view level_name(Level level);

struct DivisionCode {
  std::string code;    // 12 digits
  Level level = Level::kProvince;
  std::string parent;  // the code of the unit one level up ('' for a province)
};

// Checks the structure of a 12-digit code: digits only, a known province (11-82), and once a
// segment is all zeros every later one is too. The level is derived from the trailing zeros.
// Fails with Error{"org.bad_code", reason}.
Result<DivisionCode> parse_division_code(std::string_view text);

// The code of the township holding `code` (a township or village code).
std::string township_of(const DivisionCode& code);

// A unit name: 1-40 characters with at least one Chinese character and no control characters.
// Fails with Error{"org.bad_name", reason}.
Result<std::string> check_unit_name(std::string_view text);

// A birth date as YYYY-MM-DD (also YYYY/M/D, as Excel writes dates), normalised to YYYY-MM-DD;
// it must not be after `today` nor more than 36 months before it (children 0-36 months).
// Fails with Error{"roster.bad_birth_date" | "roster.future_birth_date" | "roster.too_old", reason}.
Result<std::string> check_birth_date(std::string_view text, std::chrono::year_month_day today);

// Formats a civil date as YYYY-MM-DD.
std::string format_date(std::chrono::year_month_day d);

// The civil date in UTC+8 (Asia/Shanghai has no daylight saving time) at `unix_ms`.
std::chrono::year_month_day shanghai_date(std::int64_t unix_ms);

// A Chinese mainland mobile number: 11 digits starting 1[3-9], after dropping spaces, '-' and a
// leading +86 / 86. Returns the 11 digits. Fails with Error{"roster.bad_phone", reason}.
Result<std::string> check_mobile(std::string_view text);

// 138****1234 for an 11-digit number.
std::string mask_mobile(std::string_view digits);

// A child id: 1-64 characters of A-Z a-z 0-9 _ -. Fails with Error{"roster.bad_child_id", reason}.
Result<std::string> check_child_id(std::string_view text);

// Sex: '' , 男 or 女 (also M/F). Fails with Error{"roster.bad_sex", reason}.
Result<std::string> check_sex(std::string_view text);

// An optional caregiver name: up to 32 characters, no control characters.
Result<std::string> check_person_name(std::string_view text);

// An optional WeCom external_userid: up to 64 characters of A-Z a-z 0-9 _ -.
Result<std::string> check_external_userid(std::string_view text);

// Programme tags separated by ';' or '；' (blank entries dropped, duplicates once, order kept);
// each up to 20 characters without control characters. Fails with Error{"roster.bad_tag", reason}.
Result<std::vector<std::string>> parse_tags(std::string_view text);

// `text` without leading/trailing ASCII whitespace and full-width spaces (U+3000).
std::string_view trim(std::string_view text);

// Number of Unicode characters in valid UTF-8.
std::size_t utf8_length(std::string_view text);

}  // namespace yuer::org
