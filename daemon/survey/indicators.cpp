#include "daemon/survey/indicators.h"

#include <algorithm>
#include <initializer_list>

namespace yuer::survey {

namespace {

constexpr IndicatorInfo kInfo[kIndicatorCount] = {
    {"EvBF", "曾母乳喂养率"},
    {"EIBF", "早开奶率（生后1小时内）"},
    {"EBF2D", "生后头两天纯母乳喂养率"},
    {"EBF", "6个月内纯母乳喂养率"},
    {"MixMF", "6个月内混合喂养率"},
    {"CBF", "12–23月龄持续母乳喂养率"},
    {"ISSSF", "6–8月龄辅食添加率"},
    {"MDD", "最低膳食多样性达标率"},
    {"MMF", "最低进餐频次达标率"},
    {"MMFF", "非母乳喂养儿最低奶类喂养频次达标率"},
    {"MAD", "最低可接受膳食达标率"},
    {"EFF", "蛋类和/或肉类摄入率"},
    {"SwB", "甜饮料摄入率"},
    {"UFC", "不健康食物摄入率"},
    {"ZVF", "零蔬果摄入率"},
    {"BoF", "奶瓶喂养率"},
};

struct View {
  const std::map<std::string, Answer>& a;

  const Answer* get(const char* id) const {
    auto it = a.find(id);
    return it == a.end() ? nullptr : &it->second;
  }
  // "don't know", skipped and missing are all "not yes" (WHO/FTF: DK on an item counts as no).
  bool is(const char* id, const char* code) const {
    const Answer* x = get(id);
    return x && x->kind == Answer::Kind::kCode && x->code == code;
  }
  bool has(const char* id, std::initializer_list<const char*> codes) const {
    const Answer* x = get(id);
    if (!x || x->kind != Answer::Kind::kCodes) return false;
    return std::any_of(codes.begin(), codes.end(),
                       [&](const char* c) { return std::find(x->codes.begin(), x->codes.end(), c) != x->codes.end(); });
  }
  // Counts: "don't know" and missing count 0.
  std::int64_t num(const char* id) const {
    const Answer* x = get(id);
    return x && x->kind == Answer::Kind::kInt ? x->n : 0;
  }
  bool any_food_listed() const {
    auto listed = [&](const char* id) {
      const Answer* x = get(id);
      return x && x->kind == Answer::Kind::kCodes &&
             std::any_of(x->codes.begin(), x->codes.end(), [](const std::string& c) { return c != "none"; });
    };
    return listed("foods_plant") || listed("foods_other");
  }
  bool any_liquid_listed() const {
    const Answer* x = get("liquids");
    return x && x->kind == Answer::Kind::kCodes &&
           std::any_of(x->codes.begin(), x->codes.end(), [](const std::string& c) { return c != "none"; });
  }
  // Every liquid and food item missing: the child is left out of the previous-day diet
  // indicators (FTF rule, feeding-domain §4.1).
  bool diet_missing() const {
    auto missing = [&](const char* id) {
      const Answer* x = get(id);
      return !x || x->kind != Answer::Kind::kCodes;
    };
    return missing("liquids") && missing("foods_plant") && missing("foods_other");
  }
  bool breastfed() const { return is("bf_yesterday", "yes"); }
  bool ate_solids() const { return any_food_listed() || is("any_solid", "yes"); }
};

int groups_of(const View& v) {
  int g = 0;
  g += v.breastfed();                                                                           // 1 breast milk
  g += v.has("foods_plant", {"grains", "white_tubers"});                                        // 2 grains, roots, tubers
  g += v.has("foods_other", {"legumes"});                                                       // 3 pulses, nuts, seeds
  g += v.has("liquids", {"formula", "milk", "yogurt_drink"}) || v.has("foods_other", {"yogurt", "cheese"});  // 4 dairy
  g += v.has("foods_other", {"organ", "processed_meat", "meat", "fish"});                       // 5 flesh foods
  g += v.has("foods_other", {"egg"});                                                           // 6 eggs
  g += v.has("foods_plant", {"orange_veg", "leafy_veg", "vita_fruit"});                         // 7 vitamin-A rich
  g += v.has("foods_plant", {"other_veg", "other_fruit"});                                      // 8 other fruit/veg
  return g;
}

void count(IndicatorTable& t, Indicator i, bool in_numerator) {
  t[i].den += 1;
  t[i].num += in_numerator ? 1 : 0;
}

}  // namespace

const IndicatorInfo& info(Indicator i) { return kInfo[static_cast<std::size_t>(i)]; }

int food_groups(const std::map<std::string, Answer>& answers) { return groups_of(View{answers}); }

IndicatorTable child_indicators(const std::map<std::string, Answer>& answers, int age) {
  IndicatorTable t;
  if (age < 0 || age > 23) return t;
  View v{answers};
  using I = Indicator;
  count(t, I::kEvBF, v.is("ever_bf", "yes"));
  count(t, I::kEIBF, v.is("first_bf", "lt1h"));
  count(t, I::kEBF2D, v.is("ever_bf", "yes") && v.is("prelacteal", "no"));
  count(t, I::kBoF, v.is("bottle", "yes"));
  if (age >= 12) count(t, I::kCBF, v.breastfed());
  if (v.diet_missing()) return t;
  if (age <= 5) {
    count(t, I::kEBF, v.breastfed() && !v.any_liquid_listed() && !v.ate_solids());
    count(t, I::kMixMF, v.breastfed() && v.has("liquids", {"formula", "milk"}));
    return t;
  }
  if (age <= 8) count(t, I::kISSSF, v.ate_solids());
  std::int64_t meals = v.ate_solids() ? v.num("meals_n") : 0;
  bool mdd = groups_of(v) >= 5;
  bool mmf = false, mmff = false;
  if (v.breastfed()) {
    mmf = meals >= (age <= 8 ? 2 : 3);
  } else {
    std::int64_t milk_feeds_mmf = v.num("formula_n") + v.num("milk_n") + v.num("yogurt_drink_n");
    mmf = meals + milk_feeds_mmf >= 4 && meals >= 1;
    mmff = milk_feeds_mmf + v.num("yogurt_n") >= 2;
    count(t, I::kMMFF, mmff);
  }
  count(t, I::kMDD, mdd);
  count(t, I::kMMF, mmf);
  count(t, I::kMAD, v.breastfed() ? mdd && mmf : mdd && mmf && mmff);
  count(t, I::kEFF, v.has("foods_other", {"egg", "organ", "processed_meat", "meat", "fish"}));
  count(t, I::kSwB, v.is("milk_sweet", "yes") || v.is("yogurt_drink_sweet", "yes") || v.has("liquids", {"choco_drink", "juice", "soda"}) ||
                        v.is("tea_sweet", "yes") || v.is("other_drink_sweet", "yes"));
  count(t, I::kUFC, v.has("foods_other", {"sweets", "fried_snacks"}));
  count(t, I::kZVF, !v.has("foods_plant", {"orange_veg", "leafy_veg", "other_veg", "vita_fruit", "other_fruit"}));
  return t;
}

IndicatorTable child_indicators(const nlohmann::json& answers, int age_months) {
  std::map<std::string, Answer> parsed;
  if (answers.is_object())
    for (const auto& [id, j] : answers.items())
      if (auto a = Answer::from_json(j)) parsed[id] = *a;
  return child_indicators(parsed, age_months);
}

}  // namespace yuer::survey
