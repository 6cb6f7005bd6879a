// Coverage of the survey round per organisation unit: responded/eligible summed up the unit tree
// (township → county → city → province) by numerators and denominators, never by averaging
// percentages, with the programme's flags (township below 90 %, county below 80 %). Indicator
// tables roll up the same way. Pure functions.
#pragma once

#include "daemon/store/org_store.h"
#include "daemon/survey/indicators.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace yuer::survey {

struct Thresholds {
  int township_percent = 90;  // flag a township (level 4) below this
  int county_percent = 80;    // flag a county (level 3) below this
};

struct CoverageRow {
  std::string code;
  std::string name;
  int level = 0;
  std::string parent;
  std::int64_t responded = 0;
  std::int64_t eligible = 0;
  double percent = 0;   // 100 * responded / eligible, 0 when eligible is 0
  bool flagged = false; // below the threshold of its level (never for eligible 0)
};

// `counts` holds responded/eligible per unit code where children are registered (normally
// townships or villages; codes not in `units` are ignored and returned in `unknown` when given).
// Every unit's row is its own counts plus those of all units below it. Rows come ordered by code.
std::vector<CoverageRow> coverage(const std::vector<store::OrgUnit>& units, const std::map<std::string, Ratio>& counts,
                                  const Thresholds& thresholds = {}, std::vector<std::string>* unknown = nullptr);

// Indicator tables per unit, each the sum of its own children's and of every unit below it.
std::map<std::string, IndicatorTable> roll_up(const std::vector<store::OrgUnit>& units,
                                              const std::map<std::string, IndicatorTable>& per_unit);

}  // namespace yuer::survey
