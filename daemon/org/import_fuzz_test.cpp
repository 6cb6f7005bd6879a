// Garbage in, a report out: seeded mutations of valid org and roster files never crash the import
// checks (ASan/UBSan builds catch memory errors) and always give a consistent report.
#include "daemon/org/csv.h"
#include "daemon/org/importer.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>

namespace yuer::org {
namespace {

using namespace std::chrono;

const std::string kOrg = "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n440103001000,示范一镇\n";
const std::string kRoster =
    "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n"
    "C1,2025-03-08,女,440103001000,\"示例, 家长\",13800000001,wmX,特困；低保\n"
    "C2,2024/11/2,男,440103001201,,138 0000 0002,,\n"
    "\"C3\",2025-01-01,,440103001000,\"说\"\"你好\"\"\",13800000003,,低保\n";

// One random edit: flip a byte, insert a CSV metacharacter or a multibyte fragment, delete or
// duplicate a span, or truncate.
std::string mutate(std::string s, std::mt19937& rng) {
  static const std::string kPieces[] = {",", "\"", "\n", "\r\n", "\"\"", "；", "\xEF\xBB\xBF", "\xB6", "\xFF", std::string(1, '\0')};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[at] = static_cast<char>(rng() & 0xFF); break;
      case 1: s.insert(at, kPieces[rng() % std::size(kPieces)]); break;
      case 2: s.erase(at, 1 + rng() % 8); break;
      case 3: s.insert(at, s.substr(at, 1 + rng() % 40)); break;
      default: s.resize(at); break;
    }
  }
  return s;
}

void check_consistent(const ImportReport& r) {
  CHECK(r.valid <= r.rows);
  for (const auto& i : r.invalid) {
    CHECK(i.row <= r.rows + 64);  // rows of the file (blank lines are counted in row numbers)
    CHECK_FALSE(i.reason.empty());
  }
  if (r.invalid.empty()) CHECK(r.valid == r.rows);
}

TEST_CASE("import checks survive seeded garbage", "[org][import][fuzz]") {
  const std::uint32_t seed = std::random_device{}();
  CAPTURE(seed);  // printed on failure: replay with this seed
  std::mt19937 rng(seed);
  const year_month_day today{year(2026), month(11), day(23)};
  const PhoneKey key("fuzz-phone-key-0123456789");
  std::vector<store::OrgUnit> units = check_org_file(kOrg, {}).units;
  REQUIRE(units.size() == 4);
  std::set<std::string> codes;
  for (const auto& u : units) codes.insert(u.code);
  for (int i = 0; i < 3000; ++i) {
    const std::string org = mutate(kOrg, rng);
    const std::string roster = mutate(kRoster, rng);
    auto o = check_org_file(org, units);
    check_consistent(o.report);
    CHECK(o.units.size() == o.report.valid);
    auto f = check_roster_file(roster, codes, today, key);
    check_consistent(f.report);
    CHECK(f.families.size() == f.report.valid);
    for (const auto& fam : f.families) {
      CHECK(fam.phone_masked.size() == 11);
      CHECK(fam.phone_hash.size() == 64);
    }
    (void)parse_csv(roster);
  }
}

}  // namespace
}  // namespace yuer::org
