#include "daemon/outbox/split.h"

#include <catch2/catch.hpp>

#include <string>

namespace yuer::outbox {
namespace {

// True if `s` is well-formed UTF-8 (no cut character at either end).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

std::string without_space(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\n') out += c;
  return out;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST_CASE("split: parts fit, are numbered, keep every character and never cut UTF-8", "[outbox][split]") {
  struct Case {
    const char* label;
    std::string content;
    std::size_t max;
    std::size_t expect_parts;  // 0 = do not check the count
  };
  const std::string para = "母乳是婴儿最好的食物。六个月内纯母乳喂养，按需哺乳！";  // 78 bytes
  const Case cases[] = {
      {"fits", "短消息", 2048, 1},
      {"exactly the limit", std::string(100, 'a'), 100, 1},
      {"paragraphs", repeat(para + "\n\n", 60), 2048, 3},
      {"one long Chinese line", repeat("辅食添加要循序渐进，由少到多", 400), 2048, 0},
      {"no boundary at all, 3-byte chars", repeat("奶", 3000), 2048, 0},
      {"4-byte chars", repeat("😀", 1500), 2048, 0},
      {"ASCII sentences", repeat("Breastfeed on demand. Offer water after six months! ", 200), 4096, 0},
      {"tiny limit, many parts", repeat(para, 40), 64, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto parts = split_content(c.content, c.max);
    if (c.expect_parts) CHECK(parts.size() == c.expect_parts);
    std::string joined;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      CAPTURE(i);
      CHECK(parts[i].size() <= c.max);
      CHECK(valid_utf8(parts[i]));
      std::string body = parts[i];
      if (parts.size() > 1) {
        const std::string prefix = "(" + std::to_string(i + 1) + "/" + std::to_string(parts.size()) + ") ";
        REQUIRE(body.rfind(prefix, 0) == 0);
        body = body.substr(prefix.size());
      }
      joined += body;
    }
    CHECK(without_space(joined) == without_space(c.content));
  }
}

TEST_CASE("split: cuts at a paragraph before a sentence before a character", "[outbox][split]") {
  const std::string a(1500, 'a');
  const std::string b(1500, 'b');
  auto at_paragraph = split_content(a + "\n\n" + b, 2048);
  REQUIRE(at_paragraph.size() == 2);
  CHECK(at_paragraph[0] == "(1/2) " + a);
  CHECK(at_paragraph[1] == "(2/2) " + b);

  auto at_sentence = split_content(std::string(1500, 'x') + "。" + std::string(1500, 'y'), 2048);
  REQUIRE(at_sentence.size() == 2);
  CHECK(at_sentence[0] == "(1/2) " + std::string(1500, 'x') + "。");
}

}  // namespace
}  // namespace yuer::outbox
