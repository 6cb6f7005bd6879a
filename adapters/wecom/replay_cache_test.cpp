#include "adapters/wecom/replay_cache.h"

#include <catch2/catch.hpp>

#include <deque>
#include <random>
#include <set>
#include <string>
#include <utility>

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

namespace {

// The obvious implementation, as the reference: FIFO of (at, key), a set of keys.
struct ReferenceCache {
  std::size_t capacity;
  std::int64_t max_age;
  std::deque<std::pair<std::int64_t, std::string>> order;
  std::set<std::string> keys;
  void expire(std::int64_t now) {
    while (!order.empty() && (order.size() > capacity || now - order.front().first > max_age)) {
      keys.erase(order.front().second);
      order.pop_front();
    }
  }
  bool contains(const std::string& k, std::int64_t now) {
    expire(now);
    return keys.count(k) != 0;
  }
  void remember(const std::string& k, std::int64_t now) {
    if (capacity == 0) return;
    expire(now);
    if (!keys.insert(k).second) return;
    order.emplace_back(now, k);
    expire(now);
  }
};

}  // namespace

TEST_CASE("replay cache matches a reference model over random operations", "[adapters][wecom]") {
  const std::uint64_t seed = Catch::rngSeed() != 0 ? Catch::rngSeed() : 0xCAC4Eu;
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  // Small capacities wrap the ring and grow it after age evictions; 300 exercises index rebuilds.
  for (std::size_t capacity : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{17}, std::size_t{300}}) {
    CAPTURE(capacity);
    ReplayCache cache(capacity, 20);
    ReferenceCache ref{capacity, 20, {}, {}};
    std::int64_t now = 1000;
    int mismatches = 0;
    for (int i = 0; i < 20000; ++i) {
      if (rng() % 8 == 0) now += static_cast<std::int64_t>(rng() % 6);
      // Few distinct values, so that keys repeat and some differ only in one part.
      const std::string ts = std::to_string(rng() % 40);
      const std::string nonce = "n" + std::to_string(rng() % 25);
      const std::string sig = std::string(40, static_cast<char>('a' + rng() % 3));
      const std::string key = ts + "\n" + nonce + "\n" + sig;
      if (rng() % 2) {
        if (cache.contains(ts, nonce, sig, now) != ref.contains(key, now)) ++mismatches;
      } else {
        cache.remember(ts, nonce, sig, now);
        ref.remember(key, now);
      }
      if (cache.size() != ref.order.size()) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
}
