#include "daemon/scheduler/zone.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace yuer::scheduler {

// Howard Hinnant's civil-date algorithms (the ones std::chrono's calendar is specified by).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yy + (m <= 2));
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

int weekday_of(std::int64_t days) {
  // 1970-01-01 was a Thursday (3 when Monday = 0).
  return static_cast<int>(((days % 7) + 7 + 3) % 7);
}

bool parse_date(std::string_view s, std::int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return false;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
  days = days_from_civil(y, m, d);
  return true;
}

std::string format_date(std::int64_t days) {
  int y, m, d;
  civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

namespace {

std::int64_t be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

}  // namespace

Result<Zone> Zone::load(const std::string& name, const std::filesystem::path& dir) {
  auto bad = [&](const std::string& why) {
    return Error{"scheduler.bad_zone", fmt::format("时区 {} 无法读取：{} (time zone {}: {})", name, why, name, why)};
  };
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) return bad("名称无效");
  std::ifstream in(dir / name, std::ios::binary);
  if (!in) return bad("文件不存在");
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parse = [&](std::size_t at, int time_size, std::size_t& end, Zone& z) -> bool {
    if (b.size() < at + 44 || b[at] != 'T' || b[at + 1] != 'Z' || b[at + 2] != 'i' || b[at + 3] != 'f') return false;
    const unsigned char* h = b.data() + at + 20;
    const auto isutcnt = be(h, 4), isstdcnt = be(h + 4, 4), leapcnt = be(h + 8, 4), timecnt = be(h + 12, 4),
               typecnt = be(h + 16, 4), charcnt = be(h + 20, 4);
    std::size_t p = at + 44;
    const std::size_t need = static_cast<std::size_t>(timecnt * time_size + timecnt + typecnt * 6 + charcnt +
                                                      leapcnt * (time_size + 4) + isstdcnt + isutcnt);
    if (typecnt < 1 || b.size() < p + need) return false;
    std::vector<std::int64_t> times(static_cast<std::size_t>(timecnt));
    for (auto& t : times) { t = be(b.data() + p, time_size); p += static_cast<std::size_t>(time_size); }
    std::vector<int> idx(static_cast<std::size_t>(timecnt));
    for (auto& i : idx) i = b[p++];
    std::vector<int> offs(static_cast<std::size_t>(typecnt));
    for (auto& o : offs) { o = static_cast<int>(be(b.data() + p, 4)); p += 6; }
    for (int i : idx) if (i >= typecnt) return false;
    end = p + static_cast<std::size_t>(charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt);
    z.transitions_ = times;
    z.offsets_.assign(1, offs[0]);
    for (int i : idx) z.offsets_.push_back(offs[static_cast<std::size_t>(i)]);
    return true;
  };
  Zone z;
  z.name_ = name;
  std::size_t end = 0;
  if (!parse(0, 4, end, z)) return bad("不是 TZif 文件");
  if (b[4] >= '2') {
    Zone z64;
    z64.name_ = name;
    std::size_t end64 = 0;
    if (!parse(end, 8, end64, z64)) return bad("TZif 第二部分损坏");
    // The footer "\n<POSIX TZ>\n": a DST rule has a ',' (e.g. "CET-1CEST,M3.5.0,M10.5.0/3").
    std::string footer(b.begin() + static_cast<std::ptrdiff_t>(std::min(end64, b.size())), b.end());
    // Debian's tzdata is built "fat" (transitions written out to 2037), so a DST zone is right until
    // then; a "slim" file (rule only in the footer) is refused rather than answered wrongly.
    if (footer.find(',') != std::string::npos &&
        (z64.transitions_.empty() || z64.transitions_.back() < days_from_civil(2037, 1, 1) * 86400))
      return bad("该时区的夏令时规则只在文件尾部，暂不支持");
    z = std::move(z64);
  }
  return z;
}

Zone Zone::fixed(int offset_seconds, std::string name) {
  Zone z;
  z.name_ = std::move(name);
  z.offsets_ = {offset_seconds};
  return z;
}

int Zone::offset_at(std::int64_t unix_s) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_s);
  return offsets_[static_cast<std::size_t>(it - transitions_.begin())];
}

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

LocalTime Zone::to_local(std::int64_t unix_ms) const {
  const std::int64_t s = floor_div(unix_ms, 1000);
  const std::int64_t local = s + offset_at(s);
  const std::int64_t days = floor_div(local, 86400);
  const std::int64_t secs = local - days * 86400;
  LocalTime t;
  civil_from_days(days, t.year, t.month, t.day);
  t.hour = static_cast<int>(secs / 3600);
  t.minute = static_cast<int>(secs / 60 % 60);
  t.second = static_cast<int>(secs % 60);
  return t;
}

std::int64_t Zone::to_unix_ms(const LocalTime& t) const {
  const std::int64_t local =
      days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
  // Candidates: each offset that could apply around that instant; keep those that round-trip.
  std::int64_t best = 0;
  bool found = false;
  const std::int64_t guess = local - offset_at(local);
  for (std::int64_t probe : {guess - 86400, guess, guess + 86400}) {
    const std::int64_t u = local - offset_at(probe);
    if (u + offset_at(u) == local && (!found || u < best)) {
      best = u;
      found = true;
    }
  }
  if (!found) {
    // In a gap (clocks turned forward, so the offset grew): the offset before the gap applies to the
    // time into it, which lands after the gap (02:30 → 03:30).
    best = local - std::min(offset_at(guess - 86400), offset_at(guess + 86400));
  }
  return best * 1000;
}

}  // namespace yuer::scheduler
