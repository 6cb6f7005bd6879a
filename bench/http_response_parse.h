// Just enough HTTP/1.1 response parsing for the load generator (callback_load_bench): the status,
// where the message ends, and whether the server closes the connection after it. Handles a body
// framed by Content-Length, by chunked transfer coding (Node's http module answers an empty
// `res.end()` after `writeHead()` with "Transfer-Encoding: chunked" and a "0\r\n\r\n" body), or
// by the end of the connection (neither header). Header-only so its unit test needs no bench binary.
// https://www.rfc-editor.org/rfc/rfc9112#section-6.3 (message body length)
#pragma once

#include <cctype>
#include <charconv>
#include <cstddef>
#include <string_view>

namespace yuer::bench {

enum class ParseResult {
  kComplete,    // `Parsed` describes the first message in the buffer
  kIncomplete,  // more bytes are needed
  kBad,         // not an HTTP/1.x response, or its framing cannot be read
};

struct ParsedResponse {
  unsigned status = 0;
  std::size_t length = 0;    // bytes of the whole message (head + body) at the front of the buffer
  bool close = false;        // the server ends the connection after this response
  bool until_eof = false;    // body without Content-Length or chunked coding: it ends at EOF
};

namespace response_detail {

inline bool iequals_prefix(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i)
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))) != lower_prefix[i]) return false;
  return true;
}

// True when the comma-separated header value holds `token` (ASCII case-insensitive).
inline bool has_token(std::string_view value, std::string_view lower_token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == lower_token.size() && iequals_prefix(item, lower_token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Length of a chunked body starting at `body`: kIncomplete until the last chunk and the trailer
// section have arrived. Chunk extensions (";...") are skipped.
inline ParseResult chunked_length(std::string_view body, std::size_t& length) {
  std::size_t at = 0;
  for (;;) {
    const auto eol = body.find("\r\n", at);
    if (eol == std::string_view::npos) return body.size() - at > 64 ? ParseResult::kBad : ParseResult::kIncomplete;
    std::string_view line = body.substr(at, eol - at);
    line = line.substr(0, line.find(';'));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    std::size_t size = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (line.empty() || ec != std::errc() || p != line.data() + line.size()) return ParseResult::kBad;
    at = eol + 2;
    if (size == 0) {
      // Trailer fields, then an empty line.
      for (;;) {
        const auto end = body.find("\r\n", at);
        if (end == std::string_view::npos) return ParseResult::kIncomplete;
        const bool empty = end == at;
        at = end + 2;
        if (empty) {
          length = at;
          return ParseResult::kComplete;
        }
      }
    }
    if (body.size() < at + size + 2) return ParseResult::kIncomplete;
    if (body.substr(at + size, 2) != "\r\n") return ParseResult::kBad;
    at += size + 2;
  }
}

}  // namespace response_detail

// Parses the first response in `in`. With `eof`, the peer has closed: a body that runs until the
// end of the connection is then complete.
inline ParseResult parse_response(std::string_view in, ParsedResponse& out, bool eof = false) {
  using namespace response_detail;
  out = ParsedResponse{};
  const auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return in.size() > 64 * 1024 ? ParseResult::kBad : ParseResult::kIncomplete;
  const std::string_view head = in.substr(0, end + 2);
  // "HTTP/1.x SSS"
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') return ParseResult::kBad;
  const auto [sp, sec] = std::from_chars(head.data() + 9, head.data() + 12, out.status);
  if (sec != std::errc() || sp != head.data() + 12 || out.status < 100) return ParseResult::kBad;
  const bool http10 = head[7] == '0';
  bool have_length = false, chunked = false, keep_alive = false;
  std::size_t content_length = 0;
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos && at + 2 < head.size();) {
    const auto next = head.find("\r\n", at + 2);
    const std::string_view field = head.substr(at + 2, next - at - 2);
    at = next;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return ParseResult::kBad;
    const std::string_view name = field.substr(0, colon);
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    auto is = [&](std::string_view lower) { return name.size() == lower.size() && iequals_prefix(name, lower); };
    if (is("content-length")) {
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size()) return ParseResult::kBad;
      have_length = true;
    } else if (is("transfer-encoding")) {
      chunked = has_token(value, "chunked");
    } else if (is("connection")) {
      if (has_token(value, "close")) out.close = true;
      if (has_token(value, "keep-alive")) keep_alive = true;
    }
  }
  if (http10 && !keep_alive) out.close = true;
  const std::size_t head_size = end + 4;
  // 1xx, 204 and 304 have no body whatever the headers say.
  if (out.status < 200 || out.status == 204 || out.status == 304) {
    out.length = head_size;
    return ParseResult::kComplete;
  }
  if (chunked) {  // chunked wins over Content-Length (RFC 9112 §6.3)
    std::size_t body = 0;
    const auto r = chunked_length(in.substr(head_size), body);
    if (r != ParseResult::kComplete) return r;
    out.length = head_size + body;
    return ParseResult::kComplete;
  }
  if (have_length) {
    out.length = head_size + content_length;
    return in.size() >= out.length ? ParseResult::kComplete : ParseResult::kIncomplete;
  }
  out.until_eof = true;
  out.close = true;
  if (!eof) return ParseResult::kIncomplete;
  out.length = in.size();
  return ParseResult::kComplete;
}

}  // namespace yuer::bench
