// Schedule: one scheduled push (定时推送) — who gets it (audience), what (a lesson, a message template or
// the age-staged lesson series), when (daily / weekly / monthly at HH:MM, or a cron expression, in the
// programme's time zone, between a start and an optional end date, outside quiet hours) and by which
// route. Pure values and pure functions: parsing from the admin API's JSON (Chinese errors), and the
// next occurrence after an instant.
#pragma once

#include "daemon/base/result.h"
#include "daemon/scheduler/zone.h"

#include <nlohmann/json.hpp>

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace yuer::scheduler {

// A 5-field cron expression "minute hour day-of-month month day-of-week" (Vixie cron syntax: `*`,
// lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`; day-of-week 0-7 with 0 and 7 = Sunday). As in
// cron, when both day fields are restricted a day matching EITHER fires.
struct Cron {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;    // 1..31
  std::bitset<13> months;  // 1..12
  std::bitset<7> weekdays; // 0 = Sunday
  bool days_any = true;
  bool weekdays_any = true;
  // Fails with Error{"scheduler.bad_cron"} naming the field.
  static Result<Cron> parse(std::string_view expr);
  bool day_matches(int year, int month, int day, int weekday_sun0) const;
};

struct TimeSpec {
  std::string kind = "daily";  // daily | weekly | monthly | cron
  int hour = 9, minute = 0;    // "at" (not cron)
  int weekday = 1;             // weekly: 1 = Monday … 7 = Sunday (ISO 8601)
  int day = 1;                 // monthly: 1..31; a day the month lacks means its last day (31 → 30 Apr, 28/29 Feb)
  std::string expr;            // cron
  Cron cron;
};

// Minutes of the day [start, end); start > end wraps midnight (21:30-07:30). start == end: none.
struct QuietHours {
  int start_min = 21 * 60 + 30;
  int end_min = 7 * 60 + 30;
  bool empty() const { return start_min == end_min; }
  bool contains(int minute_of_day) const;
  std::string to_string() const;
};

struct Audience {
  std::vector<std::string> units;        // division-code prefixes (digits); empty = every unit
  std::vector<std::string> group_kinds;  // parent | management; empty = parent
  std::vector<std::string> tags;         // roster tags: only children with one of them count; empty = all
};

struct Content {
  std::string kind = "series";  // lesson | template | series
  std::string ref;              // lesson id | template name | series: a topic ("" = every lesson)
};

struct Schedule {
  std::string id;
  std::string name;
  std::string state = "active";  // active | paused
  Audience audience;
  Content content;
  TimeSpec time;
  std::int64_t start_days = 0;               // days since 1970-01-01 (local dates)
  std::optional<std::int64_t> end_days;      // inclusive
  QuietHours quiet;
  std::string route = "auto";                // robot | group_task | kf | auto (each group's own route)
  std::string source = "api";                // config | api
};

// Parses the admin API / config JSON shape (see daemon/scheduler/README.md). `id` may be absent
// (the caller assigns one). Every problem is named by its field with a Chinese reason
// (Error{"scheduler.invalid"}).
Result<Schedule> schedule_from_json(const nlohmann::json& j);
// The definition as the API shows it (without next_at_ms/last_at_ms/state, which the caller adds).
nlohmann::json schedule_to_json(const Schedule& s);

// "HH:MM" → minute of the day; false when malformed.
bool parse_hhmm(std::string_view text, int& minute_of_day);

// The first nominal occurrence strictly after `after_ms`, within the start and end dates, or nullopt
// when there is none (ended, or a cron that never matches within 5 years). Local times that do not
// exist (a DST gap) move forward by the gap; ambiguous ones take the earlier instant (Zone rules).
std::optional<std::int64_t> next_nominal(const Schedule& s, const Zone& zone, std::int64_t after_ms);

// When an occurrence nominally at `nominal_ms` is sent: outside quiet hours unchanged; inside them
// moved to the end of the quiet hours (a 22:00 lesson goes at 07:30 the next morning). Several
// occurrences moved to the same instant are one (the scheduler sends it once).
std::int64_t shift_out_of_quiet(const QuietHours& q, const Zone& zone, std::int64_t nominal_ms);

}  // namespace yuer::scheduler
