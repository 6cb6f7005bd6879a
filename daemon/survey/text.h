// Text helpers for what parents type: UTF-8 <-> code points, full-width folding, Chinese numerals
// and civil dates. Pure functions; invalid UTF-8 bytes become U+FFFD instead of failing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace yuer::survey {

// Decodes UTF-8; each invalid or truncated sequence becomes U+FFFD.
std::u32string to_u32(std::string_view utf8);
std::string to_utf8(std::u32string_view text);

// Folds full-width ASCII (U+FF01-U+FF5E, so also ，（）！？) and the ideographic space to ASCII,
// lower-cases A-Z, and maps the remaining Chinese punctuation (。、【】“”‘’—…《》「」·) to a plain
// space. Nothing else changes.
std::u32string fold(std::u32string_view text);

// True for a code point that counts as a Chinese numeral digit: 零〇一二两三四五六七八九十.
bool is_cn_numeral(char32_t c);

// The value of a run of Chinese numerals up to 99 ("三" 3, "十二" 12, "二十" 20, "两" 2,
// "二十三" 23), or nullopt for anything else ("一一", "十十").
std::optional<int> cn_number(std::u32string_view run);

// A civil date; parse_iso_date accepts exactly YYYY-MM-DD of a real calendar day.
std::optional<std::chrono::year_month_day> parse_iso_date(std::string_view text);
std::string format_date(std::chrono::year_month_day d);

// Completed calendar months from `birth` to `on` (满N月): 2024-03-05 → 2024-04-04 is 0,
// → 2024-04-05 is 1. Negative when `on` is before `birth`.
int completed_months(std::chrono::year_month_day birth, std::chrono::year_month_day on);

// Whole days from `a` to `b` (b - a).
int days_between(std::chrono::year_month_day a, std::chrono::year_month_day b);

}  // namespace yuer::survey
