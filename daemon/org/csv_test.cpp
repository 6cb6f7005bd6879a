#include "daemon/org/csv.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace yuer::org {
namespace {

using Rows = std::vector<std::vector<std::string>>;

struct Case {
  const char* label;
  std::string input;
  Rows fields;                      // expected records' fields
  std::vector<std::size_t> rows;    // expected row numbers ({} = 1, 2, 3, ...)
};

TEST_CASE("csv: RFC 4180 records", "[org][csv]") {
  const std::vector<Case> cases = {
      {"simple LF", "a,b\n1,2\n", {{"a", "b"}, {"1", "2"}}, {}},
      {"CRLF", "a,b\r\n1,2\r\n", {{"a", "b"}, {"1", "2"}}, {}},
      {"no final line end", "a,b\n1,2", {{"a", "b"}, {"1", "2"}}, {}},
      {"empty fields", "a,,c\n,,x\n", {{"a", "", "c"}, {"", "", "x"}}, {}},
      {"trailing comma", "a,b,\n", {{"a", "b", ""}}, {}},
      {"quoted comma", "\"a,b\",c\n", {{"a,b", "c"}}, {}},
      {"quoted newline", "\"line1\nline2\",c\nx,y\n", {{"line1\nline2", "c"}, {"x", "y"}}, {}},
      {"quoted CRLF kept", "\"a\r\nb\",c\r\n", {{"a\r\nb", "c"}}, {}},
      {"doubled quotes", "\"say \"\"hi\"\"\",x\n", {{"say \"hi\"", "x"}}, {}},
      {"empty quoted", "\"\",x\n", {{"", "x"}}, {}},
      {"quote inside unquoted kept", "ab\"c,d\n", {{"ab\"c", "d"}}, {}},
      {"blank lines dropped but counted", "a,b\n\n1,2\n,\n3,4\n", {{"a", "b"}, {"1", "2"}, {"3", "4"}}, {1, 3, 5}},
      {"chinese", "儿童编号,出生日期\nC1,2025-01-02\n", {{"儿童编号", "出生日期"}, {"C1", "2025-01-02"}}, {}},
      {"only blank", "\n\r\n", {}, {}},
      {"empty", "", {}, {}},
      {"quoted field with newline counts one row", "a\n\"x\ny\"\nz\n", {{"a"}, {"x\ny"}, {"z"}}, {1, 2, 3}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label, c.input);
    auto parsed = parse_csv(c.input);
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == c.fields.size());
    for (std::size_t i = 0; i < c.fields.size(); ++i) {
      CHECK((*parsed)[i].fields == c.fields[i]);
      CHECK((*parsed)[i].row == (c.rows.empty() ? i + 1 : c.rows[i]));
    }
  }
}

TEST_CASE("csv: quoted field spanning lines keeps the line of the next record", "[org][csv]") {
  auto parsed = parse_csv("h\n\"a\nb\nc\"\nnext\n");
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[1].line == 2);
  CHECK((*parsed)[2].line == 5);
}

TEST_CASE("csv: broken quoting is refused with its line", "[org][csv]") {
  auto [input, code, needle] = GENERATE(table<std::string, std::string, std::string>({
      {"a,b\n\"open,x\n", "csv.unterminated_quote", "第 2 行"},
      {"a,\"b\"x\n", "csv.bad_quote", "第 1 行"},
      {"a\n\"x\" ,y\n", "csv.bad_quote", "第 2 行"},
  }));
  CAPTURE(input);
  auto parsed = parse_csv(input);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code == code);
  CHECK(parsed.error().message.find(needle) != std::string::npos);
}

}  // namespace
}  // namespace yuer::org
