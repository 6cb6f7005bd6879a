#include "daemon/net/http_server.h"

#include "daemon/net/http_client.h"
#include "daemon/net/http_test_support.h"

#include <catch2/catch.hpp>

#include <ifaddrs.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

namespace yuer::net {
namespace {

using namespace testing;
using Match = Route::Match;

std::vector<Route> routing_table() {
  return {text_route("/healthz", Match::kExact, "healthz"), text_route("/api/", Match::kPrefix, "api"),
          text_route("/api/v1/", Match::kPrefix, "api_v1"), text_route("/api/v1/special", Match::kExact, "special"),
          text_route("/api", Match::kExact, "api_root"), text_route("/api/v1/spe", Match::kPrefix, "spe")};
}

std::string to_hex(std::size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

ServerSettings small_limits() {
  ServerSettings s;
  s.default_body_limit = 64;
  s.header_limit = 1024;
  return s;
}

TEST_CASE("http server routes exact and prefix paths, longest match wins", "[net][http_server]") {
  TestServer srv(ServerSettings{}, routing_table());
  auto [target, status, body] = GENERATE(table<std::string, unsigned, std::string>({
      {"/healthz", 200, "healthz"},
      {"/healthz?verbose=1", 200, "healthz"},
      {"/healthz/", 404, ""},
      {"/healthzz", 404, ""},
      {"/api", 200, "api_root"},
      {"/api/", 200, "api"},
      {"/api/x", 200, "api"},
      {"/api/v1/x", 200, "api_v1"},
      {"/api/v1/special", 200, "special"},
      {"/api/v1/special?x=1", 200, "special"},
      {"/api/v1/specialx", 200, "spe"},
      {"/api/v1/sp", 200, "api_v1"},
      {"/nope", 404, ""},
      {"/", 404, ""},
  }));
  CAPTURE(target);
  auto res = http_request(http::Verb::get, srv.url(target), {}, {}, 5s);
  INFO(error_text(res));
  REQUIRE(res.has_value());
  CHECK(res->status == status);
  if (status == 200) CHECK(res->body == body);
  if (status == 404) CHECK(res->body == R"({"error":{"code":"http.not_found","message":"no such path"}})");
}

TEST_CASE("http server answers limit and syntax violations, then closes", "[net][http_server]") {
  struct Case {
    const char* label;
    std::string request;
    unsigned status;
    bool closes;
  };
  const std::string big_header = "X-Big: " + std::string(2000, 'a') + "\r\n";
  auto post = [](const std::string& target, const std::string& body) {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
  };
  auto chunked = [](const std::string& target, std::size_t n) {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
           to_hex(n) + "\r\n" + std::string(n, 'c') + "\r\n0\r\n\r\n";
  };
  const Case cases[] = {
      {"body at the route limit", post("/small", std::string(16, 'b')), 200, false},
      {"body over the route limit", post("/small", std::string(17, 'b')), 413, true},
      {"chunked body over the route limit", chunked("/small", 40), 413, true},
      {"chunked body within the route limit", chunked("/small", 10), 200, false},
      {"body over the default limit on a route without its own", post("/default", std::string(65, 'b')), 413, true},
      {"body within a route limit above the default", post("/big", std::string(1000, 'b')), 200, false},
      {"body over the default limit on an unknown path", post("/nope", std::string(65, 'b')), 413, true},
      {"unknown path keeps the connection", get_request("/nope"), 404, false},
      {"header over header_limit", get_request("/small", big_header), 431, true},
      {"garbage request line", "NOT HTTP AT ALL\r\n\r\n", 400, true},
      {"bad header line", "GET /small HTTP/1.1\r\nno colon here\r\n\r\n", 400, true},
      {"two content lengths", "POST /small HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, true},
  };
  TestServer srv(small_limits(), {text_route("/small", Match::kExact, "small", 16),
                                  text_route("/default", Match::kExact, "default"),
                                  text_route("/big", Match::kExact, "big", 4096)});
  for (const auto& c : cases) {
    CAPTURE(c.label);
    RawClient client(srv.port());
    REQUIRE(client.send(c.request));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->status == c.status);
    if (c.closes) {
      CHECK(res->head.find("connection: close") != std::string::npos);
      CHECK(client.closed_within(5s));
    } else {
      REQUIRE(client.send(get_request("/small")));
      auto next = client.read_response();
      REQUIRE(next);
      CHECK(next->status == 200);
    }
  }
}

TEST_CASE("http server keep-alive follows HTTP/1.0 and 1.1 rules", "[net][http_server]") {
  auto [label, request, keeps] = GENERATE(table<std::string, std::string, bool>({
      {"1.1 default", "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", true},
      {"1.1 Connection: close", "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", false},
      {"1.0 default", "GET /a HTTP/1.0\r\n\r\n", false},
      {"1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  }));
  CAPTURE(label);
  TestServer srv(ServerSettings{}, {text_route("/a", Match::kExact, "a")});
  RawClient client(srv.port());
  const int rounds = keeps ? 5 : 1;
  for (int i = 0; i < rounds; ++i) {
    CAPTURE(i);
    REQUIRE(client.send(request));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "a");
  }
  if (!keeps) CHECK(client.closed_within(5s));
  else CHECK(srv.server().connection_count() == 1);
}

TEST_CASE("http server answers pipelined requests in order", "[net][http_server]") {
  TestServer srv(ServerSettings{}, {text_route("/a", Match::kExact, "a"), text_route("/b", Match::kExact, "b")});
  RawClient client(srv.port());
  REQUIRE(client.send(get_request("/a") + get_request("/b") + get_request("/a")));
  for (const char* expected : {"a", "b", "a"}) {
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->body == expected);
  }
}

awaitable<http::Response> reply_chunked(http::Request req) {
  auto res = http::make_response(req, http::Status::ok, "chunked body");
  res.chunked(true);
  co_return res;
}

awaitable<http::Response> echo_body(http::Request req) {
  co_return http::make_response(req, http::Status::ok, req.body());
}

TEST_CASE("http server assembles requests that arrive in pieces", "[net][http_server]") {
  Route echo;
  echo.path = "/echo";
  echo.label = "echo";
  echo.handler = [](http::Request req) { return echo_body(std::move(req)); };
  TestServer srv(ServerSettings{}, {echo});
  const std::string body = "0123456789abcdefghij";
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string chunked_request = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "a\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n";
  auto [label, wire, split] = GENERATE_COPY(table<std::string, std::string, std::size_t>({
      {"inside the request line", request, 7},
      {"inside the header", request, 30},
      {"between header and body", request, request.size() - body.size()},
      {"inside the body", request, request.size() - 5},
      {"inside a chunk", chunked_request, chunked_request.size() - 20},
      {"before the last chunk", chunked_request, chunked_request.size() - 5},
  }));
  CAPTURE(label);
  RawClient client(srv.port());
  for (int round = 0; round < 2; ++round) {  // the second round runs on a kept-alive connection
    REQUIRE(client.send(wire.substr(0, split)));
    std::this_thread::sleep_for(20ms);
    REQUIRE(client.send(wire.substr(split)));
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == body);
  }
}

TEST_CASE("http server answers pipelined requests with bodies", "[net][http_server]") {
  Route echo;
  echo.path = "/echo";
  echo.label = "echo";
  echo.handler = [](http::Request req) { return echo_body(std::move(req)); };
  TestServer srv(ServerSettings{}, {echo});
  RawClient client(srv.port());
  std::string wire;
  for (const char* b : {"one", "", "three"})
    wire += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(std::strlen(b)) + "\r\n\r\n" + b;
  REQUIRE(client.send(wire));
  for (const char* expected : {"one", "", "three"}) {
    auto res = client.read_response();
    REQUIRE(res);
    CHECK(res->body == expected);
  }
}

TEST_CASE("http server writes chunked responses through Beast's serializer", "[net][http_server]") {
  Route r;
  r.path = "/chunked";
  r.label = "chunked";
  r.handler = [](http::Request req) { return reply_chunked(std::move(req)); };
  TestServer srv(ServerSettings{}, {r});
  auto res = http_request(http::Verb::get, srv.url("/chunked"), {}, {}, 5s);
  INFO(error_text(res));
  REQUIRE(res.has_value());
  CHECK(res->status == 200);
  CHECK(res->body == "chunked body");
}

TEST_CASE("http server sends 100 Continue when the client expects it", "[net][http_server]") {
  TestServer srv(ServerSettings{}, {text_route("/up", Match::kExact, "up")});
  RawClient client(srv.port());
  REQUIRE(client.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto cont = client.read_response();
  REQUIRE(cont);
  CHECK(cont->status == 100);
  REQUIRE(client.send("hello"));
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("http server cuts off a slowloris client after read_timeout", "[net][http_server]") {
  ServerSettings s;
  s.read_timeout = 300ms;
  TestServer srv(s, {text_route("/a", Match::kExact, "a")});
  auto [label, first_request] = GENERATE(table<std::string, bool>({{"first request", true}, {"keep-alive request", false}}));
  CAPTURE(label);
  RawClient client(srv.port());
  if (!first_request) {
    REQUIRE(client.send(get_request("/a")));
    REQUIRE(client.read_response());
  }
  REQUIRE(client.send("GET /a HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  bool closed = false;
  // A header byte every 100 ms for at most 10 s; the server must drop us well before that.
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!client.send("a")) closed = true;
    else closed = client.closed_within(100ms);
  }
  CHECK(closed);
}

TEST_CASE("http server enforces max_connections by closing the extra connection", "[net][http_server]") {
  ServerSettings s;
  s.io_threads = GENERATE(1, 3);
  CAPTURE(s.io_threads);
  s.max_connections = 2;
  s.read_timeout = 60s;  // the two silent connections must outlive the test
  TestServer srv(s, {text_route("/a", Match::kExact, "a")});
  auto first = std::make_unique<RawClient>(srv.port());
  RawClient second(srv.port());
  REQUIRE(srv.wait_for_connections(2));

  RawClient third(srv.port());
  CHECK(third.closed_within(5s));
  CHECK(srv.metrics_text().find("yuer_http_connections_rejected_total 1") != std::string::npos);
  CHECK(srv.metrics_text().find("yuer_http_connections 2") != std::string::npos);

  first.reset();
  REQUIRE(srv.wait_for_connections(1));
  RawClient fourth(srv.port());
  REQUIRE(fourth.send(get_request("/a")));
  auto res = fourth.read_response();
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("http server turns a handler exception into 500 and keeps serving", "[net][http_server]") {
  auto [label, route] = GENERATE(table<std::string, int>({{"throws inside the coroutine", 0}, {"throws before it", 1}}));
  CAPTURE(label);
  Route boom;
  boom.path = "/boom";
  boom.label = "boom";
  if (route == 0) boom.handler = [](http::Request req) { return throw_inside(std::move(req)); };
  else boom.handler = [](http::Request) -> awaitable<http::Response> { throw std::logic_error("no awaitable"); };
  ServerSettings s;
  s.io_threads = GENERATE(1, 2);
  CAPTURE(s.io_threads);
  TestServer srv(s, {std::move(boom), text_route("/ok", Match::kExact, "ok")});

  RawClient client(srv.port());
  REQUIRE(client.send(get_request("/boom")));
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body == R"({"error":{"code":"http.internal","message":"internal error"}})");
  REQUIRE(client.send(get_request("/ok")));
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->status == 200);
  CHECK(srv.metrics_text().find(R"(yuer_http_requests_total{route="boom",status="500"} 1)") != std::string::npos);
}

Route slow_route(std::chrono::milliseconds delay, std::atomic<int>* entered) {
  Route r;
  r.path = "/slow";
  r.label = "slow";
  r.handler = [delay, entered](http::Request req) { return reply_slowly(std::move(req), delay, entered); };
  return r;
}

bool wait_until(const std::atomic<int>& v, int n, std::chrono::milliseconds bound = 5s) {
  auto end = std::chrono::steady_clock::now() + bound;
  while (v.load() < n) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// With io_threads > 1 the first connection is served by an extra io thread, and the route (not
// any_thread) runs on the main one; with any_thread it runs on the connection's thread.
ServerSettings threads_of(std::size_t n) {
  ServerSettings s;
  s.io_threads = n;
  return s;
}

TEST_CASE("http server stop lets an in-flight request finish", "[net][http_server]") {
  std::atomic<int> entered{0};
  const std::size_t threads = GENERATE(1, 2);
  const bool any_thread = GENERATE(false, true);
  CAPTURE(threads, any_thread);
  auto slow = slow_route(200ms, &entered);
  slow.any_thread = any_thread;
  TestServer srv(threads_of(threads), {std::move(slow), text_route("/a", Match::kExact, "a")});
  RawClient client(srv.port());
  REQUIRE(client.send(get_request("/slow")));
  REQUIRE(wait_until(entered, 1));

  srv.begin_stop(10s);
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "slow");
  CHECK(res->head.find("connection: close") != std::string::npos);
  CHECK(srv.stop(10s));
  CHECK(srv.server().connection_count() == 0);
  RawClient late(srv.port());
  CHECK((!late.connected() || late.closed_within(5s)));
}

TEST_CASE("http server stop cancels a request still running after the grace period", "[net][http_server]") {
  std::atomic<int> entered{0};
  const std::size_t threads = GENERATE(1, 2);
  const bool any_thread = GENERATE(false, true);
  CAPTURE(threads, any_thread);
  auto slow = slow_route(60s, &entered);
  slow.any_thread = any_thread;
  TestServer srv(threads_of(threads), {std::move(slow)});
  RawClient client(srv.port());
  REQUIRE(client.send(get_request("/slow")));
  REQUIRE(wait_until(entered, 1));
  CHECK(srv.stop(100ms, 10s));
  CHECK(client.closed_within(5s));
  CHECK(srv.server().connection_count() == 0);
}

TEST_CASE("http server stop closes idle keep-alive connections without waiting for grace", "[net][http_server]") {
  const std::size_t threads = GENERATE(1, 3);
  CAPTURE(threads);
  TestServer srv(threads_of(threads), {text_route("/a", Match::kExact, "a")});
  RawClient client(srv.port());
  REQUIRE(client.send(get_request("/a")));
  REQUIRE(client.read_response());
  RawClient silent(srv.port());  // connected, never sent a byte
  REQUIRE(srv.wait_for_connections(2));
  CHECK(srv.stop(10min, 10s));  // the bound is far below the grace
  CHECK(client.closed_within(5s));
  CHECK(silent.closed_within(5s));
}

TEST_CASE("http server counts requests by route and status", "[net][http_server]") {
  TestServer srv(ServerSettings{}, routing_table());
  for (const char* target : {"/healthz", "/healthz", "/api/x", "/missing"}) {
    auto res = http_request(http::Verb::get, srv.url(target), {}, {}, 5s);
    INFO(error_text(res));
    REQUIRE(res.has_value());
  }
  const std::string text = srv.metrics_text();
  CAPTURE(text);
  CHECK(text.find(R"(yuer_http_requests_total{route="healthz",status="200"} 2)") != std::string::npos);
  CHECK(text.find(R"(yuer_http_requests_total{route="api",status="200"} 1)") != std::string::npos);
  CHECK(text.find(R"(yuer_http_requests_total{route="unknown",status="404"} 1)") != std::string::npos);
  CHECK(text.find("# TYPE yuer_http_connections gauge") != std::string::npos);
}

// An IPv4 address of this host outside 127.0.0.0/8, or "" if it has none.
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (auto* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr;
    if ((ntohl(a.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &a, buf, sizeof buf)) found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

TEST_CASE("http server serves loopback_only routes to loopback peers only", "[net][http_server]") {
  ServerSettings s;
  s.listen = "0.0.0.0:0";
  auto local = text_route("/local", Match::kExact, "local");
  local.loopback_only = true;
  TestServer srv(s, {local, text_route("/open", Match::kExact, "open")});
  const std::string other = non_loopback_ipv4();
  auto [peer, target, status] = GENERATE(table<std::string, std::string, unsigned>({
      {"127.0.0.1", "/local", 200},
      {"127.0.0.1", "/open", 200},
      {"other", "/local", 403},
      {"other", "/open", 200},
  }));
  CAPTURE(peer, target, other);
  if (peer == "other" && other.empty()) {
    WARN("no non-loopback IPv4 address on this host; case skipped");
    return;
  }
  RawClient client(srv.port(), 5s, peer == "other" ? other.c_str() : peer.c_str());
  REQUIRE(client.connected());
  REQUIRE(client.send(get_request(target)));
  auto res = client.read_response();
  REQUIRE(res);
  CHECK(res->status == status);
  if (status == 403) CHECK(client.closed_within(5s));
}

bool ipv6_loopback_available() {
  std::ifstream f("/proc/net/if_inet6");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("00000000000000000000000000000001", 0) == 0) return true;
  return false;
}

TEST_CASE("http server listen accepts literals and localhost, rejects the rest", "[net][http_server]") {
  auto [listen, ok] = GENERATE(table<std::string, bool>({
      {"127.0.0.1:0", true},
      {"localhost:0", true},
      {"0.0.0.0:0", true},
      {"[::1]:0", true},
      {"::1:0", true},
      {"127.0.0.1", false},
      {"127.0.0.1:", false},
      {"127.0.0.1:65536", false},
      {"127.0.0.1:http", false},
      {"example.com:80", false},
      {"999.1.1.1:80", false},
      {":80", false},
  }));
  CAPTURE(listen);
  if (listen.find(':') != listen.rfind(':') && !ipv6_loopback_available()) return;
  asio::io_context ioc;
  metrics::Registry registry;
  ServerSettings s;
  s.listen = listen;
  HttpServer server(ioc, s, registry);
  auto ep = server.listen();
  INFO(error_text(ep));
  CHECK(ep.has_value() == ok);
  if (!ep) {
    CHECK(ep.error().code == "server.listen");
    CHECK(ep.error().message.rfind("cannot listen on " + listen + ": ", 0) == 0);
  }
}

TEST_CASE("http server listen reports a port already in use", "[net][http_server]") {
  TestServer first(ServerSettings{}, {});
  asio::io_context ioc;
  metrics::Registry registry;
  ServerSettings s;
  s.listen = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(ioc, s, registry);
  auto ep = second.listen();
  REQUIRE_FALSE(ep.has_value());
  CHECK(ep.error().code == "server.listen");
  CHECK(ep.error().message.find("cannot listen on " + s.listen + ": ") == 0);
}

std::string this_thread_name() {
  std::ostringstream out;
  out << std::this_thread::get_id();
  return out.str();
}

awaitable<http::Response> reply_thread(http::Request req) {
  co_return http::make_response(req, http::Status::ok, this_thread_name());
}

Route thread_route(std::string path, bool any_thread) {
  Route r;
  r.path = std::move(path);
  r.label = "thread";
  r.any_thread = any_thread;
  r.handler = [](http::Request req) { return reply_thread(std::move(req)); };
  return r;
}


TEST_CASE("http server spreads connections over io_threads, other routes run on the main thread",
          "[net][http_server]") {
  TestServer srv(threads_of(3), {thread_route("/here", true), thread_route("/main", false)});
  std::vector<std::unique_ptr<RawClient>> clients;
  std::set<std::string> here;
  std::set<std::string> main;
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 6; ++i) {
      if (round == 0) clients.push_back(std::make_unique<RawClient>(srv.port()));
      auto& c = *clients[static_cast<std::size_t>(i)];
      for (const char* path : {"/here", "/main"}) {
        REQUIRE(c.send(get_request(path)));
        auto res = c.read_response();
        REQUIRE(res);
        REQUIRE(res->status == 200);
        (std::string_view(path) == "/here" ? here : main).insert(res->body);
      }
    }
  // Round-robin: six connections on three threads; the main-thread route always on one of them.
  CHECK(main.size() == 1);
  CHECK(here.size() == 3);
  CHECK(here.count(*main.begin()) == 1);
  CHECK(srv.metrics_text().find(R"(yuer_http_requests_total{route="thread",status="200"} 24)") != std::string::npos);
  CHECK(srv.stop(10s));
  CHECK(srv.server().connection_count() == 0);
}

// Many connections on three threads at once, each with several requests, while stop() runs:
// every request either gets its answer or the connection closes; nothing hangs or crashes.
TEST_CASE("http server with several io threads answers concurrent clients and stops cleanly", "[net][http_server]") {
  TestServer srv(threads_of(3), {thread_route("/here", true), thread_route("/main", false)});
  constexpr int kClients = 12;
  constexpr int kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] {
      RawClient c(srv.port());
      for (int r = 0; r < kRequests; ++r) {
        if (!c.send(get_request((r + i) % 2 ? "/here" : "/main"))) return;
        auto res = c.read_response();
        if (!res || res->status != 200) return;
        ok.fetch_add(1);
      }
    });
  for (auto& t : clients) t.join();
  CHECK(ok.load() == kClients * kRequests);
  CHECK(srv.stop(10s));
  CHECK(srv.server().connection_count() == 0);
}

}  // namespace
}  // namespace yuer::net
