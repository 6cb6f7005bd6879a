// Splitting content that is over a route's byte limit into numbered parts ("(1/3) ..."), cut at a
// paragraph, then a line, then a sentence boundary, and never inside a UTF-8 character.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::outbox {

// Returns `content` unchanged as one part when it fits in `max_bytes`; otherwise parts of at most
// `max_bytes` bytes each, numbered "(i/n) " in front. Requires: max_bytes >= 64. Invalid UTF-8 is
// cut at byte boundaries that are not continuation bytes (it is never repaired).
std::vector<std::string> split_content(std::string_view content, std::size_t max_bytes);

}  // namespace yuer::outbox
