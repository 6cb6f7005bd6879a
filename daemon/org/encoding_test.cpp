#include "daemon/org/encoding.h"

#include <catch2/catch.hpp>

namespace yuer::org {
namespace {

// "儿童编号,镇" in GB18030 (GBK range): 儿 B6F9 童 CDAF 编 B1E0 号 BAC5 镇 D5F2.
const std::string kGb = "\xB6\xF9\xCD\xAF\xB1\xE0\xBA\xC5,\xD5\xF2";
const std::string kUtf8 = "儿童编号,镇";

TEST_CASE("encoding: UTF-8, UTF-8 with BOM and GB18030 decode to the same text", "[org][encoding]") {
  auto [input, encoding] = GENERATE(table<std::string, std::string>({
      {kUtf8, "UTF-8"},
      {"\xEF\xBB\xBF" + kUtf8, "UTF-8-BOM"},
      {kGb, "GB18030"},
  }));
  auto d = decode_to_utf8(input);
  REQUIRE(d.has_value());
  CHECK(d->text == kUtf8);
  CHECK(d->encoding == encoding);
}

TEST_CASE("encoding: GB18030 two- and four-byte sequences decode", "[org][encoding]") {
  auto [input, utf8] = GENERATE(table<std::string, std::string>({
      {"a\xA2\xE3", "a\xE2\x82\xAC"},              // U+20AC, two bytes
      {"\x81\x30\x81\x30", "\xC2\x80"},              // U+0080, four bytes
      {"\x95\x32\x82\x36", "\xF0\xA0\x80\x80"},    // U+20000 (CJK Extension B), four bytes
  }));
  auto d = decode_to_utf8(input);
  REQUIRE(d.has_value());
  CHECK(d->text == utf8);
  CHECK(d->encoding == "GB18030");
}

TEST_CASE("encoding: neither UTF-8 nor GB18030 is refused", "[org][encoding]") {
  auto [label, input] = GENERATE(table<std::string, std::string>({
      {"UTF-16LE with BOM", std::string("\xFF\xFE" "a\0b\0", 6)},
      {"byte 0xFF", "abc\xFF"},
      {"lone 0x80", "abc\x80"},
      {"truncated GB18030 lead byte", "abc\xB6"},
      {"BOM then invalid UTF-8", "\xEF\xBB\xBF\xB6\xF9"},
      {"NUL in UTF-8", std::string("a\0b", 3)},
  }));
  CAPTURE(label);
  auto d = decode_to_utf8(input);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == "import.bad_encoding");
}

TEST_CASE("encoding: UTF-8 validity table", "[org][encoding]") {
  auto [input, ok] = GENERATE(table<std::string, bool>({
      {"", true},
      {"ascii", true},
      {"中文", true},
      {"\xF0\x9F\x98\x80", true},
      {"\xC0\xAF", false},           // overlong
      {"\xE0\x80\xAF", false},       // overlong
      {"\xED\xA0\x80", false},       // surrogate
      {"\xF4\x90\x80\x80", false},   // above U+10FFFF
      {"\xE4\xB8", false},           // truncated
  }));
  CAPTURE(input);
  CHECK(is_valid_utf8(input) == ok);
}

}  // namespace
}  // namespace yuer::org
