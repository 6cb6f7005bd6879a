// Replays every fuzz input kept in the repository through its target in the normal (GCC, ASan)
// unit binary: the crashes libFuzzer found (tests/vectors/regress/<target>/) and the seed corpora
// (tests/fuzz/corpus/<target>/). A broken invariant aborts, a memory error is caught by ASan.
#include "tests/fuzz/fuzz_targets.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace yuer::fuzz {
namespace {

namespace fs = std::filesystem;

std::size_t replay(const Target& t, const fs::path& dir) {
  std::size_t n = 0;
  if (!fs::is_directory(dir)) return 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string s = bytes.str();
    INFO(f.string());
    CHECK(t.fn(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == 0);
    ++n;
  }
  return n;
}

TEST_CASE("fuzz regression inputs and seed corpora replay without a crash", "[fuzz][regress]") {
  const fs::path root(YUER_SOURCE_DIR);
  std::size_t total = 0;
  for (const auto& t : targets()) {
    CAPTURE(t.name);
    const std::size_t seeds = replay(t, root / "tests/fuzz/corpus" / t.name);
    CHECK(seeds > 0);  // every target has a seed corpus
    total += seeds + replay(t, root / "tests/vectors/regress" / t.name);
  }
  CHECK(total >= targets().size());
}

TEST_CASE("fuzz targets accept the empty input and single bytes", "[fuzz]") {
  for (const auto& t : targets()) {
    CAPTURE(t.name);
    CHECK(t.fn(nullptr, 0) == 0);
    for (int b = 0; b < 8; ++b) {
      const std::uint8_t one = static_cast<std::uint8_t>(b);
      CHECK(t.fn(&one, 1) == 0);
    }
  }
}

}  // namespace
}  // namespace yuer::fuzz
