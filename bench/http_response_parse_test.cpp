#include "bench/http_response_parse.h"

#include <catch2/catch.hpp>

#include <string>

namespace {

using yuer::bench::parse_response;
using yuer::bench::ParsedResponse;
using yuer::bench::ParseResult;

struct Case {
  const char* name;
  std::string in;
  bool eof;
  ParseResult result;
  unsigned status;
  std::size_t length;  // checked when complete
  bool close;          // checked when complete
};

}  // namespace

TEST_CASE("load generator reads each framing of an HTTP response", "[bench][loadgen]") {
  const std::string yuerd = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n";
  // What Node's http module sends for writeHead(200, {...}) followed by end('').
  const std::string node_head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Fri, 04 Dec 2026 18:41:29 GMT\r\n"
      "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string node = node_head + "0\r\n\r\n";
  const Case cases[] = {
      {"content-length zero", yuerd, false, ParseResult::kComplete, 200, yuerd.size(), false},
      {"content-length body", "HTTP/1.1 403 Forbidden\r\ncontent-length: 5\r\n\r\nnope!", false,
       ParseResult::kComplete, 403, 50, false},
      {"content-length body not all there", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nno", false,
       ParseResult::kIncomplete, 0, 0, false},
      {"head not all there", "HTTP/1.1 200 OK\r\nContent-Len", false, ParseResult::kIncomplete, 0, 0, false},
      {"node's empty chunked answer", node, false, ParseResult::kComplete, 200, node.size(), false},
      {"chunked answer without its last chunk yet", node_head, false, ParseResult::kIncomplete, 0, 0, false},
      {"chunked last chunk without the final CRLF", node_head + "0\r\n", false, ParseResult::kIncomplete, 0, 0,
       false},
      {"chunked with data, extension and trailer",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3;x=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
       false, ParseResult::kComplete, 200, 91, false},
      {"chunked size that is not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
       ParseResult::kBad, 0, 0, false},
      {"chunked data not followed by CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n",
       false, ParseResult::kBad, 0, 0, false},
      {"connection close", "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", false,
       ParseResult::kComplete, 200, 57, true},
      {"HTTP/1.0 closes by default", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, ParseResult::kComplete,
       200, 38, true},
      {"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false,
       ParseResult::kComplete, 200, 62, false},
      {"body up to EOF, connection still open", "HTTP/1.1 200 OK\r\n\r\nabc", false, ParseResult::kIncomplete, 0, 0,
       false},
      {"body up to EOF, connection closed", "HTTP/1.1 200 OK\r\n\r\nabc", true, ParseResult::kComplete, 200, 22,
       true},
      {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1", false, ParseResult::kComplete, 204, 27, false},
      {"not HTTP", "0\r\n\r\n", false, ParseResult::kBad, 0, 0, false},
      {"status not a number", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", false, ParseResult::kBad, 0, 0, false},
      {"content-length not a number", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", false, ParseResult::kBad, 0, 0,
       false},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    ParsedResponse p;
    const auto r = parse_response(c.in, p, c.eof);
    CHECK(r == c.result);
    if (r != ParseResult::kComplete || c.result != ParseResult::kComplete) continue;
    CHECK(p.status == c.status);
    CHECK(p.length == c.length);
    CHECK(p.close == c.close);
  }
}

TEST_CASE("load generator finds the next response after a chunked one", "[bench][loadgen]") {
  // The bug this parser fixed: Node's "0\r\n\r\n" was left in the buffer and read as the next
  // response, so every answer was followed by a read error.
  const std::string one =
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  std::string in = one + one;
  ParsedResponse p;
  REQUIRE(parse_response(in, p) == ParseResult::kComplete);
  REQUIRE(p.length == one.size());
  in.erase(0, p.length);
  REQUIRE(parse_response(in, p) == ParseResult::kComplete);
  CHECK(p.length == in.size());
  CHECK(p.status == 200);
}
