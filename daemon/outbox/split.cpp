#include "daemon/outbox/split.h"

#include <fmt/format.h>

#include <array>

namespace yuer::outbox {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Sentence ends, ASCII and full-width (。！？；…). A cut goes after them.
constexpr std::array<std::string_view, 10> kSentenceEnds{"。", "！", "？", "；", "…", ". ", "! ", "? ", "; ", "\u3000"};

// The best cut position in `text` at or below `limit` (> 0), preferring paragraphs, lines, sentences,
// then any character boundary. Never 0.
std::size_t cut_position(std::string_view text, std::size_t limit) {
  std::string_view window = text.substr(0, limit);
  // Boundaries too close to the start make tiny parts; accept them only in the second half.
  const std::size_t min_useful = limit / 2;
  if (auto p = window.rfind("\n\n"); p != std::string_view::npos && p + 2 > min_useful) return p + 2;
  if (auto p = window.rfind('\n'); p != std::string_view::npos && p + 1 > min_useful) return p + 1;
  std::size_t best = 0;
  for (auto end : kSentenceEnds) {
    auto p = window.rfind(end);
    if (p != std::string_view::npos && p + end.size() <= limit && p + end.size() > best) best = p + end.size();
  }
  if (best > min_useful) return best;
  std::size_t p = limit;
  while (p > 0 && p < text.size() && is_continuation(static_cast<unsigned char>(text[p]))) --p;
  return p == 0 ? limit : p;
}

std::vector<std::string> split_with_budget(std::string_view content, std::size_t budget) {
  std::vector<std::string> parts;
  while (!content.empty()) {
    if (content.size() <= budget) {
      parts.emplace_back(content);
      break;
    }
    std::size_t cut = cut_position(content, budget);
    parts.emplace_back(content.substr(0, cut));
    content.remove_prefix(cut);
  }
  return parts;
}

}  // namespace

std::vector<std::string> split_content(std::string_view content, std::size_t max_bytes) {
  if (content.size() <= max_bytes) return {std::string(content)};
  // The prefix "(i/n) " grows with n; split again with a smaller budget until the prefix fits.
  std::size_t prefix = fmt::format("({}/{}) ", 9, 9).size();
  for (;;) {
    auto parts = split_with_budget(content, max_bytes - prefix);
    const std::size_t n = parts.size();
    const std::size_t need = fmt::format("({}/{}) ", n, n).size();
    if (need <= prefix) {
      for (std::size_t i = 0; i < n; ++i) {
        while (!parts[i].empty() && (parts[i].back() == '\n' || parts[i].back() == ' ')) parts[i].pop_back();
        parts[i] = fmt::format("({}/{}) ", i + 1, n) + parts[i];
      }
      return parts;
    }
    prefix = need;
  }
}

}  // namespace yuer::outbox
