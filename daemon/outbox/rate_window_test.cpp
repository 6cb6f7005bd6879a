#include "daemon/outbox/rate_window.h"

#include <catch2/catch.hpp>

namespace yuer::outbox {
namespace {

using std::chrono::milliseconds;

TEST_CASE("rolling limit: never more than max in any period", "[outbox][rate]") {
  struct Case {
    const char* label;
    std::vector<model::RateWindow> windows;
    int sends;
    std::int64_t expect_last_ms;  // when the last of `sends` back-to-back sends may go
  };
  const Case cases[] = {
      {"18 per minute, 18 sends", {{18, milliseconds(60000)}}, 18, 0},
      {"18 per minute, 19 sends", {{18, milliseconds(60000)}}, 19, 60000},
      {"18 per minute, 37 sends", {{18, milliseconds(60000)}}, 37, 120000},
      {"30/min and 1000/h, 61 sends", {{30, milliseconds(60000)}, {1000, milliseconds(3600000)}}, 61, 120000},
      {"3/min and 4/h, 5 sends", {{3, milliseconds(60000)}, {4, milliseconds(3600000)}}, 5, 3600000},
      {"no windows", {}, 100, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    RollingLimit limit(c.windows);
    std::vector<std::int64_t> times;
    std::int64_t now = 0;
    for (int i = 0; i < c.sends; ++i) {
      now = limit.next_allowed(now);
      limit.record(now);
      times.push_back(now);
    }
    CHECK(times.back() == c.expect_last_ms);
    for (const auto& w : c.windows)
      for (std::size_t i = 0; i < times.size(); ++i) {
        int in_window = 0;
        for (std::size_t j = i; j < times.size() && times[j] < times[i] + w.period.count(); ++j) ++in_window;
        CHECK(in_window <= w.max);
      }
  }
}

}  // namespace
}  // namespace yuer::outbox
