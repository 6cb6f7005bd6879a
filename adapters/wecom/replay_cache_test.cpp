#include "adapters/wecom/replay_cache.h"

#include <catch2/catch.hpp>

using yuer::adapters::wecom::ReplayCache;

TEST_CASE("replay cache remembers triples within age and size limits", "[adapters][wecom]") {
  ReplayCache cache(3, 600);
  cache.remember("1000", "n1", "sig1", 1000);
  CHECK(cache.contains("1000", "n1", "sig1", 1000));
  // Any part different: not a replay.
  CHECK_FALSE(cache.contains("1001", "n1", "sig1", 1000));
  CHECK_FALSE(cache.contains("1000", "n2", "sig1", 1000));
  CHECK_FALSE(cache.contains("1000", "n1", "sig2", 1000));
  // Separator keeps "ab"+"c" apart from "a"+"bc".
  cache.remember("ab", "c", "s", 1000);
  CHECK_FALSE(cache.contains("a", "bc", "s", 1000));
  SECTION("entries expire after max age") {
    CHECK(cache.contains("1000", "n1", "sig1", 1600));
    CHECK_FALSE(cache.contains("1000", "n1", "sig1", 1601));
    CHECK(cache.size() == 0);
  }
  SECTION("the oldest entry is evicted beyond capacity") {
    cache.remember("t3", "n", "s", 1001);
    cache.remember("t4", "n", "s", 1002);
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.contains("1000", "n1", "sig1", 1002));
    CHECK(cache.contains("t4", "n", "s", 1002));
  }
  SECTION("remembering twice keeps one entry") {
    cache.remember("1000", "n1", "sig1", 1001);
    CHECK(cache.size() == 2);
  }
}

TEST_CASE("a zero-capacity replay cache remembers nothing", "[adapters][wecom]") {
  ReplayCache cache(0, 600);
  cache.remember("1", "2", "3", 10);
  CHECK_FALSE(cache.contains("1", "2", "3", 10));
}
