// The open-file budget: the soft limit is raised towards the hard one to fit max_connections, and
// the cap is lowered to what fits when the hard limit is too small.
#include "daemon/net/fd_limit.h"

#include <catch2/catch.hpp>

#include <cstdint>

#include <sys/resource.h>

using namespace yuer::net;

TEST_CASE("fd budget raises the soft limit or lowers max_connections to fit", "[net][fd_limit]") {
  constexpr std::uint64_t kInf = UINT64_MAX;
  struct Case {
    const char* label;
    std::size_t wanted, reserve;
    std::uint64_t soft, hard;
    std::uint64_t expect_soft;
    std::size_t expect_max;
  };
  const Case cases[] = {
      {"systemd default 1024:524288, raised for 4096", 4096, 128, 1024, 524288, 4224, 4096},
      {"soft already large enough: untouched", 4096, 128, 65536, 524288, 65536, 4096},
      {"hard limit too small: raised to hard, cap lowered", 4096, 128, 1024, 2048, 2048, 1920},
      {"soft == hard too small: cap lowered", 4096, 128, 1024, 1024, 1024, 896},
      {"unlimited hard", 4096, 128, 1024, kInf, 4224, 4096},
      {"unlimited soft", 4096, 128, kInf, kInf, kInf, 4096},
      {"limit below the reserve still leaves one connection", 100, 128, 64, 64, 64, 1},
      {"exactly fits", 896, 128, 1024, 1024, 1024, 896},
      {"one over", 897, 128, 1024, 1024, 1024, 896},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    const FdPlan p = plan_fd_budget(c.wanted, c.reserve, c.soft, c.hard);
    CHECK(p.soft == c.expect_soft);
    CHECK(p.max_connections == c.expect_max);
    CHECK(p.soft >= c.soft);  // never lowered
    CHECK(p.soft <= c.hard);  // never above the hard limit
  }
}

TEST_CASE("fd budget raises this process's soft limit", "[net][fd_limit]") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  if (before.rlim_max != RLIM_INFINITY && before.rlim_max < 600) {
    WARN("hard open-file limit below 600: not run");
    return;
  }
  rlimit low = before;
  low.rlim_cur = 256;  // lowering the soft limit is always allowed, and so is raising it back
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  const std::size_t fit = fit_connections_to_fd_limit(400, 100);
  rlimit after{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);
  CHECK(fit == 400);
  CHECK(after.rlim_cur == 500);
  CHECK(after.rlim_max == before.rlim_max);
}
