#include "daemon/survey_service/service.h"

#include "daemon/survey/text.h"

#include <catch2/catch.hpp>

namespace yuer::survey_service {
namespace {

TEST_CASE("survey service: scenes name round and township, and nothing else parses", "[survey_service]") {
  CHECK(scene_of(12, "440103001000") == "s12_440103001000");
  CHECK(scene_of(12, "440103001000").size() <= 32);  // kf/add_contact_way's limit
  auto p = parse_scene("s12_440103001000");
  REQUIRE(p.has_value());
  CHECK(p->first == 12);
  CHECK(p->second == "440103001000");
  for (const char* bad : {"", "s", "s_440103001000", "s0_440103001000", "x12_440103001000", "s12_4401030010", "s1x_440103001000",
                          "s12_44010300100a"})
    CHECK_FALSE(parse_scene(bad).has_value());
}

TEST_CASE("survey service: unit prefixes by level and the China date", "[survey_service]") {
  CHECK(unit_prefix("440000000000", 1) == "44");
  CHECK(unit_prefix("440100000000", 2) == "4401");
  CHECK(unit_prefix("440103000000", 3) == "440103");
  CHECK(unit_prefix("440103001000", 4) == "440103001");
  CHECK(unit_prefix("440103001002", 5) == "440103001002");
  // 2026-03-01 15:59:59 UTC is 23:59:59 in Beijing; a second later it is the 2nd.
  CHECK(survey::format_date(china_date(1772380799)) == "2026-03-01");
  CHECK(survey::format_date(china_date(1772380800)) == "2026-03-02");
}

}  // namespace
}  // namespace yuer::survey_service
