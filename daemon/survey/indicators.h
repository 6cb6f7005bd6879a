// WHO/UNICEF 2021 IYCF indicators computed from confirmed feeding-survey responses
// (templates/surveys/feeding.toml question ids), as numerator/denominator pairs so units can be
// summed upward. Pure functions. The treatment of "don't know" and missing answers is in
// daemon/survey/README.md ("Indicators").
#pragma once

#include "daemon/survey/answer.h"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace yuer::survey {

enum class Indicator {
  kEvBF,   // ever breastfed, 0-23 months
  kEIBF,   // early initiation of breastfeeding (within 1 hour), 0-23
  kEBF2D,  // exclusively breastfed the first two days, 0-23
  kEBF,    // exclusive breastfeeding, 0-5
  kMixMF,  // mixed milk feeding, 0-5
  kCBF,    // continued breastfeeding, 12-23
  kISSSF,  // introduction of solid, semi-solid or soft foods, 6-8
  kMDD,    // minimum dietary diversity (5 of 8 groups), 6-23
  kMMF,    // minimum meal frequency, 6-23
  kMMFF,   // minimum milk feeding frequency, non-breastfed 6-23
  kMAD,    // minimum acceptable diet, 6-23
  kEFF,    // egg and/or flesh food, 6-23
  kSwB,    // sweet beverage, 6-23
  kUFC,    // unhealthy food, 6-23
  kZVF,    // zero vegetable or fruit, 6-23
  kBoF,    // bottle feeding, 0-23
};
inline constexpr std::size_t kIndicatorCount = 16;

struct IndicatorInfo {
  std::string_view code;  // "EBF"
  std::string_view name;  // 6个月内纯母乳喂养率
};
const IndicatorInfo& info(Indicator i);

struct Ratio {
  std::int64_t num = 0;
  std::int64_t den = 0;
  Ratio& operator+=(const Ratio& o) {
    num += o.num;
    den += o.den;
    return *this;
  }
  bool operator==(const Ratio&) const = default;
};

struct IndicatorTable {
  std::array<Ratio, kIndicatorCount> r{};
  Ratio& operator[](Indicator i) { return r[static_cast<std::size_t>(i)]; }
  const Ratio& operator[](Indicator i) const { return r[static_cast<std::size_t>(i)]; }
  IndicatorTable& operator+=(const IndicatorTable& o) {
    for (std::size_t k = 0; k < kIndicatorCount; ++k) r[k] += o.r[k];
    return *this;
  }
};

// One child's contribution: every ratio is 0/0, 0/1 or 1/1. `age_months` is completed months at
// the interview date. Children 24 months and older contribute nothing (outside every indicator).
IndicatorTable child_indicators(const std::map<std::string, Answer>& answers, int age_months);

// The same from a stored response's answers JSON (question id → Answer JSON); entries that do
// not parse are treated as missing.
IndicatorTable child_indicators(const nlohmann::json& answers, int age_months);

// The 8 MDD food groups the child had (0-8); exposed for tests.
int food_groups(const std::map<std::string, Answer>& answers);

}  // namespace yuer::survey
