#include "daemon/survey/coverage.h"

#include <set>

namespace yuer::survey {

namespace {

// Adds `value` to `code` and every ancestor of it (stops on an unknown parent or a loop).
template <class T>
void add_up(const std::map<std::string, const store::OrgUnit*>& by_code, std::map<std::string, T>& acc,
            const std::string& code, const T& value) {
  std::set<std::string> seen;
  for (auto it = by_code.find(code); it != by_code.end() && seen.insert(it->first).second; it = by_code.find(it->second->parent))
    acc[it->first] += value;
}

std::map<std::string, const store::OrgUnit*> by_code_index(const std::vector<store::OrgUnit>& units) {
  std::map<std::string, const store::OrgUnit*> by_code;
  for (const auto& u : units) by_code[u.code] = &u;
  return by_code;
}

}  // namespace

std::vector<CoverageRow> coverage(const std::vector<store::OrgUnit>& units, const std::map<std::string, Ratio>& counts,
                                  const Thresholds& th, std::vector<std::string>* unknown) {
  auto by_code = by_code_index(units);
  std::map<std::string, Ratio> acc;
  for (const auto& [code, r] : counts) {
    if (!by_code.count(code)) {
      if (unknown) unknown->push_back(code);
      continue;
    }
    add_up(by_code, acc, code, r);
  }
  std::vector<CoverageRow> rows;
  for (const auto& [code, u] : by_code) {
    CoverageRow row{u->code, u->name, u->level, u->parent, 0, 0, 0, false};
    if (auto it = acc.find(code); it != acc.end()) {
      row.responded = it->second.num;
      row.eligible = it->second.den;
    }
    if (row.eligible > 0) {
      row.percent = 100.0 * static_cast<double>(row.responded) / static_cast<double>(row.eligible);
      // Integer comparison: exactly 90 % is not flagged, 89.99 % is.
      int limit = u->level == 4 ? th.township_percent : u->level == 3 ? th.county_percent : -1;
      row.flagged = limit >= 0 && row.responded * 100 < static_cast<std::int64_t>(limit) * row.eligible;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, IndicatorTable> roll_up(const std::vector<store::OrgUnit>& units,
                                              const std::map<std::string, IndicatorTable>& per_unit) {
  auto by_code = by_code_index(units);
  std::map<std::string, IndicatorTable> acc;
  for (const auto& [code, t] : per_unit) add_up(by_code, acc, code, t);
  return acc;
}

}  // namespace yuer::survey
