#include "daemon/survey/indicators.h"

#include "daemon/survey/coverage.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace yuer::survey {
namespace {

// "EvBF=1/1 EBF=0/1": every indicator the table has a denominator for, in enum order.
std::string render(const IndicatorTable& t) {
  std::string out;
  for (std::size_t k = 0; k < kIndicatorCount; ++k) {
    auto i = static_cast<Indicator>(k);
    if (t[i].den == 0) continue;
    out += fmt::format("{}{}={}/{}", out.empty() ? "" : " ", info(i).code, t[i].num, t[i].den);
  }
  return out;
}

// Answers written compactly: {"ever_bf":"yes", "liquids":["water"], "meals_n":3, "milk_n":"dk"}.
nlohmann::json answers(const std::string& compact) {
  nlohmann::json in = nlohmann::json::parse(compact), out = nlohmann::json::object();
  for (const auto& [id, v] : in.items()) {
    if (v.is_array()) out[id] = {{"codes", v}};
    else if (v.is_number_integer()) out[id] = {{"int", v}};
    else if (v == "dk" && id.size() > 2 && id.substr(id.size() - 2) == "_n") out[id] = {{"dk", true}};
    else out[id] = {{"code", v}};
  }
  return out;
}

// The fixture of hand-computed cases (feeding-domain.md §2.3 and §4.1; README "Indicators").
struct Case {
  const char* label;
  int age;
  const char* answers;
  const char* expected;
};

const Case kCases[] = {
    {"3 months, breast milk only", 3,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["none"],"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 EBF=1/1 MixMF=0/1 BoF=0/1"},
    {"3 months, water breaks exclusive breastfeeding", 3,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["water"],"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 EBF=0/1 MixMF=0/1 BoF=0/1"},
    {"4 months, formula beside breast milk from a bottle", 4,
     R"({"ever_bf":"yes","first_bf":"same_day","prelacteal":"yes","bf_yesterday":"yes","bottle":"yes",
         "liquids":["formula"],"formula_n":3,"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=0/1 EBF2D=0/1 EBF=0/1 MixMF=1/1 BoF=1/1"},
    {"5 months, breastfed yesterday unknown counts as not breastfed", 5,
     R"({"ever_bf":"yes","first_bf":"dk","prelacteal":"dk","bf_yesterday":"dk","bottle":"dk",
         "liquids":["none"],"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=0/1 EBF2D=0/1 EBF=0/1 MixMF=0/1 BoF=0/1"},
    {"2 months, every liquid and food missing: out of the diet indicators", 2,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no"})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 BoF=0/1"},
    {"7 months, breastfed, 4 groups, 2 meals", 7,
     R"({"ever_bf":"yes","first_bf":"same_day","prelacteal":"yes","bf_yesterday":"yes","bottle":"no",
         "liquids":["water"],"foods_plant":["grains","orange_veg"],"foods_other":["egg"],"meals_n":2})",
     "EvBF=1/1 EIBF=0/1 EBF2D=0/1 ISSSF=1/1 MDD=0/1 MMF=1/1 MAD=0/1 EFF=1/1 SwB=0/1 UFC=0/1 ZVF=0/1 BoF=0/1"},
    {"7 months, breastfed, nothing solid", 7,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["none"],"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 ISSSF=0/1 MDD=0/1 MMF=0/1 MAD=0/1 EFF=0/1 SwB=0/1 UFC=0/1 ZVF=1/1 BoF=0/1"},
    {"7 months, solids only through the 7S check", 7,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["none"],"foods_plant":["none"],"foods_other":["none"],"any_solid":"yes","meals_n":2})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 ISSSF=1/1 MDD=0/1 MMF=1/1 MAD=0/1 EFF=0/1 SwB=0/1 UFC=0/1 ZVF=1/1 BoF=0/1"},
    {"10 months, breastfed, 6 groups, 3 meals, juice and sweets", 10,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"dk","bf_yesterday":"yes","bottle":"dk",
         "liquids":["juice"],"foods_plant":["grains","leafy_veg","other_fruit"],"foods_other":["egg","meat","sweets"],
         "meals_n":3})",
     "EvBF=1/1 EIBF=1/1 EBF2D=0/1 MDD=1/1 MMF=1/1 MAD=1/1 EFF=1/1 SwB=1/1 UFC=1/1 ZVF=0/1 BoF=0/1"},
    {"10 months, breastfed, 2 meals is below 3", 10,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["none"],"foods_plant":["grains","leafy_veg","other_fruit"],"foods_other":["egg","meat"],
         "meals_n":2})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 MDD=1/1 MMF=0/1 MAD=0/1 EFF=1/1 SwB=0/1 UFC=0/1 ZVF=0/1 BoF=0/1"},
    {"15 months, not breastfed, 5 groups, 2 meals + 2 milk feeds", 15,
     R"({"ever_bf":"no","bf_yesterday":"no","bottle":"no","liquids":["water","milk"],"milk_n":2,"milk_sweet":"no",
         "foods_plant":["grains","other_veg"],"foods_other":["egg","legumes"],"meals_n":2})",
     "EvBF=0/1 EIBF=0/1 EBF2D=0/1 CBF=0/1 MDD=1/1 MMF=1/1 MMFF=1/1 MAD=1/1 EFF=1/1 SwB=0/1 UFC=0/1 ZVF=0/1 BoF=0/1"},
    {"15 months, not breastfed, milk count unknown counts 0, sweet milk", 15,
     R"({"ever_bf":"no","bf_yesterday":"no","bottle":"no","liquids":["milk"],"milk_n":"dk","milk_sweet":"yes",
         "foods_plant":["grains"],"foods_other":["none"],"meals_n":3})",
     "EvBF=0/1 EIBF=0/1 EBF2D=0/1 CBF=0/1 MDD=0/1 MMF=0/1 MMFF=0/1 MAD=0/1 EFF=0/1 SwB=1/1 UFC=0/1 ZVF=1/1 BoF=0/1"},
    {"8 months, not breastfed: 1 meal + 3 formula feeds", 8,
     R"({"ever_bf":"yes","first_bf":"later","prelacteal":"yes","bf_yesterday":"no","bottle":"yes",
         "liquids":["formula"],"formula_n":3,"foods_plant":["grains"],"foods_other":["none"],"meals_n":1})",
     "EvBF=1/1 EIBF=0/1 EBF2D=0/1 ISSSF=1/1 MDD=0/1 MMF=1/1 MMFF=1/1 MAD=0/1 EFF=0/1 SwB=0/1 UFC=0/1 ZVF=1/1 BoF=1/1"},
    {"8 months, not breastfed: milk feeds alone do not make MMF", 8,
     R"({"ever_bf":"yes","first_bf":"later","prelacteal":"yes","bf_yesterday":"no","bottle":"yes",
         "liquids":["formula"],"formula_n":5,"foods_plant":["none"],"foods_other":["none"],"any_solid":"no"})",
     "EvBF=1/1 EIBF=0/1 EBF2D=0/1 ISSSF=0/1 MDD=0/1 MMF=0/1 MMFF=1/1 MAD=0/1 EFF=0/1 SwB=0/1 UFC=0/1 ZVF=1/1 BoF=1/1"},
    {"20 months, still breastfed, fried snacks and sweet tea", 20,
     R"({"ever_bf":"yes","first_bf":"lt1h","prelacteal":"no","bf_yesterday":"yes","bottle":"no",
         "liquids":["tea"],"tea_sweet":"yes","foods_plant":["grains","orange_veg","other_veg"],
         "foods_other":["fried_snacks","fish"],"meals_n":4})",
     "EvBF=1/1 EIBF=1/1 EBF2D=1/1 CBF=1/1 MDD=1/1 MMF=1/1 MAD=1/1 EFF=1/1 SwB=1/1 UFC=1/1 ZVF=0/1 BoF=0/1"},
    {"30 months: outside every WHO indicator", 30, R"({"bf_yesterday":"yes","liquids":["none"]})", ""},
};

TEST_CASE("IYCF indicators per child match the hand-computed fixture", "[survey][indicators]") {
  for (const auto& c : kCases) {
    CAPTURE(c.label);
    CHECK(render(child_indicators(answers(c.answers), c.age)) == c.expected);
  }
}

TEST_CASE("MDD food groups", "[survey][indicators]") {
  auto groups = [](const char* compact) {
    std::map<std::string, Answer> m;
    const nlohmann::json parsed = answers(compact);
    for (const auto& [id, j] : parsed.items()) m[id] = Answer::from_json(j).value();
    return food_groups(m);
  };
  CHECK(groups(R"({})") == 0);
  CHECK(groups(R"({"bf_yesterday":"yes"})") == 1);
  CHECK(groups(R"({"liquids":["formula","milk"],"foods_other":["yogurt","cheese"]})") == 1);  // all dairy
  CHECK(groups(R"({"foods_plant":["grains","white_tubers"]})") == 1);
  CHECK(groups(R"({"foods_other":["organ","processed_meat","meat","fish","egg","legumes"]})") == 3);
  CHECK(groups(R"({"bf_yesterday":"yes","liquids":["yogurt_drink"],"foods_plant":["grains","orange_veg","other_fruit"],
                   "foods_other":["legumes","fish","egg"]})") == 8);
  CHECK(groups(R"({"liquids":["juice","water","tea"]})") == 0);  // juice is not fruit
}

TEST_CASE("indicator tables sum over children and up the unit tree", "[survey][indicators]") {
  std::vector<store::OrgUnit> units = {{"440000000000", "省", 1, "", 0, 0},
                                       {"440100000000", "市", 2, "440000000000", 0, 0},
                                       {"440103000000", "县", 3, "440100000000", 0, 0},
                                       {"440103001000", "镇一", 4, "440103000000", 0, 0},
                                       {"440103002000", "镇二", 4, "440103000000", 0, 0}};
  std::map<std::string, IndicatorTable> per_unit;
  // Township one: cases 0, 1 and 2 (EBF 1 of 3); township two: cases 3 and 4 (EBF 0 of 1, the
  // diet-missing infant is out of the denominator).
  for (int k : {0, 1, 2}) per_unit["440103001000"] += child_indicators(answers(kCases[k].answers), kCases[k].age);
  for (int k : {3, 4}) per_unit["440103002000"] += child_indicators(answers(kCases[k].answers), kCases[k].age);
  auto up = roll_up(units, per_unit);
  CHECK(up["440103001000"][Indicator::kEBF] == Ratio{1, 3});
  CHECK(up["440103002000"][Indicator::kEBF] == Ratio{0, 1});
  CHECK(up["440103000000"][Indicator::kEBF] == Ratio{1, 4});
  CHECK(up["440000000000"][Indicator::kEBF] == Ratio{1, 4});
  CHECK(up["440000000000"][Indicator::kEvBF] == Ratio{5, 5});
  CHECK(up["440000000000"][Indicator::kMixMF] == Ratio{1, 4});
}

TEST_CASE("coverage sums numerators and denominators, never percentages", "[survey][coverage]") {
  std::vector<store::OrgUnit> units = {{"440000000000", "省", 1, "", 0, 0},
                                       {"440100000000", "市", 2, "440000000000", 0, 0},
                                       {"440103000000", "甲县", 3, "440100000000", 0, 0},
                                       {"440103001000", "一镇", 4, "440103000000", 0, 0},
                                       {"440103002000", "二镇", 4, "440103000000", 0, 0},
                                       {"440104000000", "乙县", 3, "440100000000", 0, 0},
                                       {"440104001000", "三镇", 4, "440104000000", 0, 0},
                                       {"440104002000", "四镇", 4, "440104000000", 0, 0},
                                       {"440103001001", "一村", 5, "440103001000", 0, 0}};
  std::map<std::string, Ratio> counts = {{"440103001000", {9, 10}},   // + village 1/1 below → 10/11
                                         {"440103001001", {1, 1}},
                                         {"440103002000", {8, 10}},   // 80 %: flagged township
                                         {"440104001000", {70, 100}}, // 70 %: flagged township
                                         {"440104002000", {0, 0}},    // nobody eligible: no flag
                                         {"999999999999", {1, 1}}};
  std::vector<std::string> unknown;
  auto rows = coverage(units, counts, {}, &unknown);
  std::map<std::string, CoverageRow> by;
  for (const auto& r : rows) by[r.code] = r;
  CHECK(unknown == std::vector<std::string>{"999999999999"});
  CHECK(by["440103001000"].responded == 10);
  CHECK(by["440103001000"].eligible == 11);
  CHECK_FALSE(by["440103001000"].flagged);  // 90.9 %
  CHECK(by["440103002000"].flagged);
  CHECK(by["440103000000"].responded == 18);
  CHECK(by["440103000000"].eligible == 21);
  CHECK_FALSE(by["440103000000"].flagged);  // 85.7 % ≥ 80 %
  CHECK(by["440104001000"].flagged);
  CHECK_FALSE(by["440104002000"].flagged);
  CHECK(by["440104000000"].flagged);  // 70 %
  CHECK(by["440100000000"].responded == 88);
  CHECK(by["440100000000"].eligible == 121);
  CHECK(by["440100000000"].percent == Approx(100.0 * 88 / 121));  // 72.7 %, not (85.7 + 70) / 2
  CHECK_FALSE(by["440100000000"].flagged);  // cities and provinces are not flagged
  CHECK(by["440000000000"].eligible == 121);
  CHECK(rows.front().code == "440000000000");
}

TEST_CASE("coverage flags at exactly the threshold", "[survey][coverage]") {
  auto [responded, eligible, level, flagged] = GENERATE(table<int, int, int, bool>({
      {9, 10, 4, false}, {899, 1000, 4, true}, {900, 1000, 4, false}, {8, 10, 3, false},
      {79, 100, 3, true}, {0, 1, 2, false}, {0, 0, 4, false}, {0, 1, 4, true}}));
  CAPTURE(responded, eligible, level);
  std::vector<store::OrgUnit> units = {{"440103001000", "镇", level, "", 0, 0}};
  auto rows = coverage(units, {{"440103001000", {responded, eligible}}});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].flagged == flagged);
}

}  // namespace
}  // namespace yuer::survey
