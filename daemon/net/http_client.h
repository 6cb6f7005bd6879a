// HttpClient: a small blocking HTTP/1.1 client over plain TCP for yuerctl, tests and tools talking
// to loopback services (the daemon's admin API, the sandbox control API). Not for WeCom: the
// HTTPS client with certificate checks comes with the delivery work.
#pragma once

#include "daemon/base/result.h"
#include "daemon/net/http_types.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace yuer::net {

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Sends one request to `url` ("http://host:port/path?query") and returns the response.
// Fails with Error{"http.unreachable"|"http.timeout"|"http.bad_url"|"http.protocol", message} —
// never throws for network problems.
Result<ClientResponse> http_request(http::Verb method, const std::string& url, std::string body = {},
                                    std::vector<std::pair<std::string, std::string>> headers = {},
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace yuer::net
