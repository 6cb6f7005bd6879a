// Organisation and roster CSV imports: decoding (UTF-8 / GB18030), the RFC 4180 parser, every field
// validator and the plan, as a coordinator's upload reaches them. The first byte picks org or roster.
#include "daemon/org/csv.h"
#include "daemon/org/encoding.h"
#include "daemon/org/importer.h"
#include "tests/fuzz/fuzz_targets.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace yuer::org {
namespace {

bool all_of_chars(std::string_view s, bool (*pred)(char)) { return std::all_of(s.begin(), s.end(), pred); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool hex(char c) { return digit(c) || (c >= 'a' && c <= 'f'); }

void check_report(const ImportReport& r) {
  fuzz::require(r.valid <= r.rows, "more valid rows than rows");
  for (const auto& i : r.invalid) fuzz::require(!i.reason.empty(), "row issue without a reason");
}

}  // namespace
}  // namespace yuer::org

namespace yuer::fuzz {

int roster_csv(const std::uint8_t* data, std::size_t size) {
  using namespace yuer::org;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto decoded = decode_to_utf8(in);
  if (decoded) {
    require(is_valid_utf8(decoded->text), "decoder produced invalid UTF-8");
    auto records = parse_csv(decoded->text);
    if (records)
      for (std::size_t i = 1; i < records->size(); ++i)
        require((*records)[i].row > (*records)[i - 1].row, "CSV rows out of order");
  }
  static const std::vector<store::OrgUnit> existing = [] {
    const std::string seed = "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n"
                             "440103001000,示范一镇\n440103002000,示范二镇\n";
    return check_org_file(seed, {}).units;
  }();
  if (data[0] % 2 == 0) {
    OrgRows rows = check_org_file(in, existing);
    check_report(rows.report);
    require(rows.units.size() == rows.report.valid, "org units != valid rows");
    for (const auto& u : rows.units)
      require(u.code.size() == 12 && all_of_chars(u.code, digit), "stored unit code is not 12 digits");
    (void)plan_units(rows.units, existing, rows.report);
  } else {
    static const PhoneKey key("fuzz-phone-key-0123456789");
    std::set<std::string> codes;
    for (const auto& u : existing) codes.insert(u.code);
    const std::chrono::year_month_day today{std::chrono::year(2026), std::chrono::month(11), std::chrono::day(23)};
    RosterRows rows = check_roster_file(in, codes, today, key);
    check_report(rows.report);
    require(rows.families.size() == rows.report.valid, "families != valid rows");
    for (const auto& f : rows.families) {
      // The number itself never survives the import: a keyed hash and a mask only.
      require(f.phone_hash.size() == 64 && all_of_chars(f.phone_hash, hex), "phone hash is not 64 hex digits");
      require(f.phone_masked.size() == 11 && f.phone_masked.substr(3, 4) == "****", "phone mask shape");
      require(codes.count(f.unit_code.substr(0, 9) + "000") == 1, "family in an unknown township");
    }
    (void)plan_families(rows.families, {}, rows.report);
  }
  return 0;
}

}  // namespace yuer::fuzz
