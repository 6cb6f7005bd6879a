#include "daemon/net/http_client.h"

#include "daemon/net/asio.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>
#include <exception>
#include <optional>

namespace yuer::net {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

// Responses of the admin API (exports, metrics) can be large; this only stops runaway peers.
constexpr std::uint64_t kMaxResponseBody = 64ull * 1024 * 1024;

struct Target {
  std::string host;  // for the resolver: no IPv6 brackets
  std::string port;
  unsigned short port_number = 80;
  std::string host_header;
  std::string target;  // origin-form: path and query
};

Result<Target> parse_url(const std::string& url) {
  auto bad = [&](const char* why) { return Error{"http.bad_url", "bad URL \"" + url + "\": " + why}; };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return bad("not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http) return bad("only http:// is supported");
  if (!u.has_authority() || u.encoded_host().empty()) return bad("no host");
  if (u.has_userinfo()) return bad("user info is not supported");
  Target t;
  t.host = u.host_address();
  t.port = "80";
  if (u.has_port() && !u.port().empty()) {
    t.port = std::string(u.port());
    unsigned n = 0;
    auto [end, ec] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), n);
    if (ec != std::errc{} || end != t.port.data() + t.port.size() || n == 0 || n > 65535) return bad("bad port");
    t.port_number = static_cast<unsigned short>(n);
  }
  t.host_header = std::string(u.encoded_host_and_port());
  t.target = std::string(u.encoded_target());
  if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
  return t;
}

Error error_for(const error_code& ec, const char* phase, const Target& t) {
  std::string where = std::string(phase) + " " + t.host_header + ": " + ec.message();
  if (ec == beast::error::timeout) return Error{"http.timeout", "timed out: " + where};
  return Error{"http.protocol", where};
}

// Runs one exchange. Returns an Error for every expected failure; nothing here throws on purpose.
awaitable<Result<ClientResponse>> exchange(http::Verb method, Target t, std::string body,
                                           std::vector<std::pair<std::string, std::string>> headers,
                                           SteadyTime deadline) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);

  // Literal addresses skip the resolver (which would start a thread for getaddrinfo).
  std::vector<tcp::endpoint> endpoints;
  error_code aec;
  auto addr = asio::ip::make_address(t.host, aec);
  if (!aec) {
    endpoints.emplace_back(addr, t.port_number);
  } else {
    auto [rec, found] = co_await resolver.async_resolve(t.host, t.port, use_tuple);
    if (rec) co_return Error{"http.unreachable", "cannot resolve " + t.host_header + ": " + rec.message()};
    for (const auto& entry : found) endpoints.push_back(entry.endpoint());
  }
  if (std::chrono::steady_clock::now() >= deadline)
    co_return Error{"http.timeout", "timed out resolving " + t.host_header};

  stream.expires_at(deadline);
  if (auto [ec, ep] = co_await stream.async_connect(endpoints, use_tuple); ec) {
    if (ec == beast::error::timeout) co_return Error{"http.timeout", "timed out connecting to " + t.host_header};
    co_return Error{"http.unreachable", "cannot connect to " + t.host_header + ": " + ec.message()};
  }

  http::Request req{method, t.target, 11};
  req.set(bhttp::field::host, t.host_header);
  req.set(bhttp::field::user_agent, "yuer");
  for (auto& [name, value] : headers) req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();
  req.keep_alive(false);
  if (auto [ec, n] = co_await bhttp::async_write(stream, req, use_tuple); ec) co_return error_for(ec, "sending to", t);

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (method == http::Verb::head) parser.skip(true);
  if (auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple); ec)
    co_return error_for(ec, "reading from", t);

  auto res = parser.release();
  ClientResponse out;
  out.status = res.result_int();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

}  // namespace

Result<ClientResponse> http_request(http::Verb method, const std::string& url, std::string body,
                                    std::vector<std::pair<std::string, std::string>> headers,
                                    std::chrono::milliseconds timeout) {
  try {
    auto target = parse_url(url);
    if (!target) return target.error();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<Result<ClientResponse>> result;
    std::exception_ptr failure;
    asio::io_context ioc;  // destroyed first: a still-pending completion handler never runs
    asio::co_spawn(ioc, exchange(method, std::move(*target), std::move(body), std::move(headers), deadline),
                   [&](std::exception_ptr e, Result<ClientResponse> r) {
                     failure = e;
                     if (!e) result.emplace(std::move(r));
                   });
    // Name lookup is the one step tcp_stream cannot time out; bound the whole run instead.
    ioc.run_until(deadline + std::chrono::milliseconds(100));
    if (failure) std::rethrow_exception(failure);
    if (!result) return Error{"http.timeout", "timed out: " + url};
    return std::move(*result);
  } catch (const std::exception& e) {
    return Error{"http.protocol", std::string("request to ") + url + " failed: " + e.what()};
  } catch (...) {
    return Error{"http.protocol", "request to " + url + " failed"};
  }
}

}  // namespace yuer::net
