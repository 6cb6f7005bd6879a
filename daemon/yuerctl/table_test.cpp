#include "daemon/yuerctl/table.h"

#include <catch2/catch.hpp>

#include <sstream>

using yuer::yuerctl::display_width;

TEST_CASE("display width counts CJK as two columns", "[yuerctl]") {
  auto [text, width] = GENERATE(table<std::string, std::size_t>({
      {"", 0},
      {"abc", 3},
      {"接收方", 6},
      {"a接b", 4},
      {"１２", 4},            // full-width digits
      {"\xE6\x8E", 2},        // truncated sequence: one replacement per byte
      {"😀", 2},
  }));
  CAPTURE(text);
  CHECK(display_width(text) == width);
}

TEST_CASE("tables align mixed Chinese and ASCII columns", "[yuerctl]") {
  std::ostringstream out;
  yuer::yuerctl::print_table(out, {"编号", "类型"}, {{"1", "text"}, {"12345", "事件"}});
  CHECK(out.str() == "编号   类型\n1      text\n12345  事件\n");
}
