#include "daemon/base/secure.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

struct Row {
  std::size_t line_no;
  std::string name, value;
  bool operator==(const Row&) const = default;
};

std::vector<Row> rows(std::string_view text) {
  std::vector<Row> out;
  for (const auto& l : yuer::key_file_lines(text)) out.push_back({l.line_no, std::string(l.name), std::string(l.value)});
  return out;
}

}  // namespace

TEST_CASE("key_file_lines: names, values, comments, blanks and line ends", "[base][secure]") {
  struct Case {
    const char* text;
    std::vector<Row> want;
  };
  const std::vector<Case> cases = {
      {"", {}},
      {"\n\n   \n\t\n", {}},
      {"# a comment\n  # indented comment\n", {}},
      {"a b", {{1, "a", "b"}}},
      {"a   b\n", {{1, "a", "b"}}},
      {"a\t \tb c \r\n", {{1, "a", "b c"}}},
      {"\n  k1 v1\r\n#x\nk2 v2", {{2, "k1", "v1"}, {4, "k2", "v2"}}},
      {"lonely\n", {{1, "lonely", ""}}},
      {"lonely   \n", {{1, "lonely", ""}}},
      {"a#b c#d\n", {{1, "a#b", "c#d"}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(rows(c.text) == c.want);
  }
}

TEST_CASE("constant_time_equal compares content and length", "[base][secure]") {
  CHECK(yuer::constant_time_equal("", ""));
  CHECK(yuer::constant_time_equal("abc", "abc"));
  CHECK_FALSE(yuer::constant_time_equal("abc", "abd"));
  CHECK_FALSE(yuer::constant_time_equal("abc", "ab"));
  CHECK_FALSE(yuer::constant_time_equal("", "a"));
}
