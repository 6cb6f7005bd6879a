// Zone: a time zone read from the system tz database (TZif files under /usr/share/zoneinfo), because
// GCC 12's libstdc++ has no std::chrono::locate_zone. Immutable after load; converts UTC ↔ local civil
// time. Civil dates use std::chrono's calendar types (which GCC 12 has).
#pragma once

#include "daemon/base/result.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace yuer::scheduler {

// A civil (wall-clock) date and time in some zone.
struct LocalTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  auto operator<=>(const LocalTime&) const = default;
};

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
std::int64_t days_from_civil(int y, int m, int d);
void civil_from_days(std::int64_t days, int& y, int& m, int& d);
int days_in_month(int y, int m);
// 0 = Monday … 6 = Sunday.
int weekday_of(std::int64_t days);
// "YYYY-MM-DD" → days since epoch; false when malformed or not a real date (2026-02-29, 2026-13-01).
bool parse_date(std::string_view text, std::int64_t& days);
std::string format_date(std::int64_t days);

class Zone {
 public:
  // Reads `dir`/`name` (TZif v1..v3; the 64-bit section when present). Fails with
  // Error{"scheduler.bad_zone"}. After the file's last transition the last offset is kept: the
  // POSIX footer rule is not evaluated. That is exact for zones without DST today (Asia/Shanghai: last
  // change 1991) and, with Debian's "fat" files (transitions written out to 2037), for DST zones until
  // 2037; a "slim" DST file (rule only in the footer) is refused so no wrong time is ever used.
  static Result<Zone> load(const std::string& name, const std::filesystem::path& dir = "/usr/share/zoneinfo");
  // A fixed offset east of UTC (tests, and "UTC").
  static Zone fixed(int offset_seconds, std::string name = "fixed");

  const std::string& name() const { return name_; }
  // Offset east of UTC (seconds) in force at `unix_s`.
  int offset_at(std::int64_t unix_s) const;
  LocalTime to_local(std::int64_t unix_ms) const;
  // The instant of a local time. Ambiguous (clocks turned back): the earlier instant. Skipped
  // (clocks turned forward): the instant the gap ends plus the time into the gap (02:30 in a
  // 02:00→03:00 gap is 03:30), the usual "shift forward" rule.
  std::int64_t to_unix_ms(const LocalTime& t) const;

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // unix seconds, ascending
  std::vector<int> offsets_;               // offsets_[i] in force from transitions_[i-1]; offsets_[0] before the first
};

}  // namespace yuer::scheduler
