#include "daemon/net/http_client.h"

#include "daemon/net/http_test_support.h"

#include <catch2/catch.hpp>

namespace yuer::net {
namespace {

using namespace testing;

awaitable<http::Response> echo(http::Request req) {
  std::string body = std::string(req.method_string()) + " " + std::string(req.target()) + "\n" +
                     std::string(req["X-Test"]) + "\n" + req.body();
  auto res = http::make_response(req, http::Status::created, std::move(body));
  res.set("X-Reply", "yes");
  co_return res;
}

awaitable<http::Response> big(http::Request req) {
  co_return http::make_response(req, http::Status::ok, std::string(3 * 1024 * 1024, 'z'));
}

std::vector<Route> client_routes(std::atomic<int>* slow_entered) {
  Route e;
  e.path = "/echo";
  e.match = Route::Match::kPrefix;
  e.label = "echo";
  e.handler = [](http::Request req) { return echo(std::move(req)); };
  Route b;
  b.path = "/big";
  b.label = "big";
  b.handler = [](http::Request req) { return big(std::move(req)); };
  Route s;
  s.path = "/slow";
  s.label = "slow";
  s.handler = [slow_entered](http::Request req) { return reply_slowly(std::move(req), 60s, slow_entered); };
  return {e, b, s};
}

// A one-connection TCP server on 127.0.0.1 that reads once and answers `reply` verbatim (no reply
// if empty), then closes. Every wait is bounded.
class RawServer {
 public:
  explicit RawServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("raw server: cannot listen");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  ~RawServer() {
    thread_.join();
    ::close(fd_);
  }
  unsigned short port() const { return port_; }

 private:
  void serve() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    pollfd q{c, POLLIN, 0};
    char buf[4096];
    if (::poll(&q, 1, 5000) > 0) (void)::recv(c, buf, sizeof buf, 0);
    if (!reply_.empty()) (void)::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    else (void)::poll(&q, 1, 2000);  // hold the connection; the client gives up first
    ::close(c);
  }

  std::string reply_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::thread thread_;
};

unsigned short closed_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes away
}

std::string header(const ClientResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (boost::beast::iequals(k, name)) return v;
  return {};
}

TEST_CASE("http client sends method, target, headers and body", "[net][http_client]") {
  std::atomic<int> entered{0};
  TestServer srv(ServerSettings{}, client_routes(&entered));
  auto [method, target, body] = GENERATE(table<http::Verb, std::string, std::string>({
      {http::Verb::get, "/echo", ""},
      {http::Verb::get, "/echo/a?x=1&y=%20z", ""},
      {http::Verb::post, "/echo", R"({"k":"v"})"},
      {http::Verb::put, "/echo/p", std::string(100000, 'p')},
      {http::Verb::delete_, "/echo/d", ""},
  }));
  CAPTURE(target);
  auto res = http_request(method, srv.url(target), body, {{"X-Test", "hello"}}, 5s);
  INFO(error_text(res));
  REQUIRE(res.has_value());
  CHECK(res->status == 201);
  CHECK(res->body == std::string(http::beast_http::to_string(method)) + " " + target + "\nhello\n" + body);
  CHECK(header(*res, "X-Reply") == "yes");
}

TEST_CASE("http client reads a large response", "[net][http_client]") {
  std::atomic<int> entered{0};
  TestServer srv(ServerSettings{}, client_routes(&entered));
  auto res = http_request(http::Verb::get, srv.url("/big"));
  INFO(error_text(res));
  REQUIRE(res.has_value());
  CHECK(res->body.size() == 3 * 1024 * 1024);
}

TEST_CASE("http client rejects URLs it cannot use", "[net][http_client]") {
  auto url = GENERATE(as<std::string>{}, "", "not a url", "/relative/path", "ftp://127.0.0.1/x",
                      "https://127.0.0.1/x", "http://", "http:///path", "http://user:pw@127.0.0.1/",
                      "http://127.0.0.1:0/", "http://127.0.0.1:99999/");
  CAPTURE(url);
  auto res = http_request(http::Verb::get, url);
  REQUIRE_FALSE(res.has_value());
  CHECK(res.error().code == "http.bad_url");
}

TEST_CASE("http client classifies network failures", "[net][http_client]") {
  SECTION("nobody listening") {
    auto res = http_request(http::Verb::get, "http://127.0.0.1:" + std::to_string(closed_port()) + "/", {}, {}, 5s);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == "http.unreachable");
  }
  SECTION("server answers garbage") {
    RawServer raw("SMTP READY\r\n\r\n");
    auto res = http_request(http::Verb::get, "http://127.0.0.1:" + std::to_string(raw.port()) + "/", {}, {}, 5s);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == "http.protocol");
  }
  SECTION("server closes without answering") {
    RawServer raw("");
    auto res = http_request(http::Verb::get, "http://127.0.0.1:" + std::to_string(raw.port()) + "/", {}, {}, 300ms);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == "http.timeout");
  }
  SECTION("handler slower than the timeout") {
    std::atomic<int> entered{0};
    TestServer srv(ServerSettings{}, client_routes(&entered));
    auto res = http_request(http::Verb::get, srv.url("/slow"), {}, {}, 300ms);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == "http.timeout");
  }
}

}  // namespace
}  // namespace yuer::net
