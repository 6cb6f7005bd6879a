#include "daemon/net/https_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/ssl.h>

#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>

namespace yuer::net {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// WeCom answers are small JSON; this only stops a runaway peer.
constexpr std::uint64_t kMaxResponseBody = 16ull * 1024 * 1024;

struct Target {
  bool tls = false;
  std::string host;  // no IPv6 brackets
  std::string port;
  unsigned short port_number = 443;
  std::string host_header;
  std::string target;  // origin-form
  std::string pool_key;
};

Result<Target> parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  // The URL itself may hold a secret: messages never repeat it.
  auto bad = [](const char* why) { return Error{"http.bad_url", std::string("bad URL: ") + why}; };
  if (!parsed) return bad("not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  Target t;
  if (u.scheme_id() == boost::urls::scheme::https) {
    t.tls = true;
  } else if (u.scheme_id() == boost::urls::scheme::http) {
    t.tls = false;
    t.port_number = 80;
  } else {
    return bad("only https:// (and http:// to loopback) is supported");
  }
  if (!u.has_authority() || u.encoded_host().empty()) return bad("no host");
  if (u.has_userinfo()) return bad("user info is not supported");
  t.host = u.host_address();
  t.port = std::to_string(t.port_number);
  if (u.has_port() && !u.port().empty()) {
    t.port = std::string(u.port());
    unsigned n = 0;
    auto [end, ec] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), n);
    if (ec != std::errc{} || end != t.port.data() + t.port.size() || n == 0 || n > 65535) return bad("bad port");
    t.port_number = static_cast<unsigned short>(n);
  }
  if (!t.tls && !is_loopback_host(t.host))
    return Error{"http.insecure", "plain http is allowed only to a loopback host, not to " + t.host};
  t.host_header = std::string(u.encoded_host_and_port());
  t.target = std::string(u.encoded_target());
  if (t.target.empty() || t.target.front() != '/') t.target.insert(0, "/");
  t.pool_key = (t.tls ? "https://" : "http://") + t.host + ":" + t.port;
  return t;
}

struct Conn {
  bool tls = false;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*secure) : *plain; }
  void close() {
    error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }
};

bool is_stale_connection_error(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated ||
         ec == bhttp::error::partial_message;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  error_code ec;
  auto addr = asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

struct HttpsClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor e, HttpsClientSettings s) : ex(std::move(e)), settings(std::move(s)) {
    error_code ec;
    if (settings.use_system_ca) {
      ctx.set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("TLS: cannot load the system CA store: " + ec.message());
    }
    if (!settings.extra_ca_file.empty()) {
      ctx.load_verify_file(settings.extra_ca_file, ec);
      if (ec) throw std::runtime_error("TLS: cannot load " + settings.extra_ca_file + ": " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  }

  asio::any_io_executor ex;
  HttpsClientSettings settings;
  ssl::context ctx{ssl::context::tls_client};
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::uint64_t opened = 0;

  std::unique_ptr<Conn> take_idle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto now = Clock::now();
    while (!it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      if (now - c->idle_since <= settings.max_idle_age) return c;
      c->close();
    }
    return nullptr;
  }

  void give_back(const std::string& key, std::unique_ptr<Conn> c) {
    auto& list = idle[key];
    if (list.size() >= settings.max_idle_per_host) {
      c->close();
      return;
    }
    c->idle_since = Clock::now();
    list.push_back(std::move(c));
  }

  awaitable<Result<std::unique_ptr<Conn>>> connect(Target t) {
    auto deadline = Clock::now() + settings.connect_timeout;
    std::vector<tcp::endpoint> endpoints;
    error_code aec;
    auto addr = asio::ip::make_address(t.host, aec);
    if (!aec) {
      endpoints.emplace_back(addr, t.port_number);
    } else {
      tcp::resolver resolver(ex);
      auto [rec, found] = co_await resolver.async_resolve(t.host, t.port, use_tuple);
      if (rec) co_return Error{"http.unreachable", "cannot resolve " + t.host + ": " + rec.message()};
      for (const auto& entry : found) endpoints.push_back(entry.endpoint());
    }
    auto c = std::make_unique<Conn>();
    c->tls = t.tls;
    if (t.tls)
      c->secure.emplace(ex, ctx);
    else
      c->plain.emplace(ex);
    c->tcp().expires_at(deadline);
    if (auto [ec, ep] = co_await c->tcp().async_connect(endpoints, use_tuple); ec) {
      if (ec == beast::error::timeout) co_return Error{"http.timeout", "timed out connecting to " + t.host_header};
      co_return Error{"http.unreachable", "cannot connect to " + t.host_header + ": " + ec.message()};
    }
    ++opened;
    if (t.tls) {
      // SNI is a host name only; an IP literal is checked against the certificate's IP entries.
      if (aec && !SSL_set_tlsext_host_name(c->secure->native_handle(), t.host.c_str()))
        co_return Error{"http.tls", "cannot set SNI for " + t.host};
      c->secure->set_verify_callback(ssl::host_name_verification(t.host));
      if (auto [ec] = co_await c->secure->async_handshake(ssl::stream_base::client, use_tuple); ec) {
        if (ec == beast::error::timeout) co_return Error{"http.timeout", "timed out in TLS handshake with " + t.host_header};
        std::string why = ec.message();
        long verify = SSL_get_verify_result(c->secure->native_handle());
        if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        co_return Error{"http.tls", "TLS handshake with " + t.host_header + " failed: " + why};
      }
    }
    co_return c;
  }

  template <class Stream>
  static awaitable<std::pair<error_code, bool>> exchange(Stream& stream, beast::flat_buffer& buffer,
                                                         const http::Request& req,
                                                         bhttp::response_parser<bhttp::string_body>& parser) {
    // Returns the error and whether the failure happened before any response byte arrived.
    if (auto [ec, n] = co_await bhttp::async_write(stream, req, use_tuple); ec) co_return std::pair{ec, true};
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    co_return std::pair{ec, !parser.got_some()};
  }

  awaitable<Result<ClientResponse>> run(http::Verb method, std::string url, std::string body,
                                        std::vector<std::pair<std::string, std::string>> headers) {
    auto self = shared_from_this();  // outlive the client while a request is in flight
    auto parsed = parse_target(url);
    if (!parsed) co_return parsed.error();
    Target t = std::move(*parsed);

    http::Request req{method, t.target, 11};
    req.set(bhttp::field::host, t.host_header);
    req.set(bhttp::field::user_agent, "yuer");
    for (auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    req.keep_alive(true);

    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Conn> c = attempt == 0 ? take_idle(t.pool_key) : nullptr;
      bool reused = c != nullptr;
      if (!c) {
        auto fresh = co_await connect(t);
        if (!fresh) co_return fresh.error();
        c = std::move(*fresh);
      }
      c->buffer.clear();
      c->tcp().expires_after(settings.request_timeout);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(kMaxResponseBody);
      if (method == http::Verb::head) parser.skip(true);
      std::pair<error_code, bool> r = c->tls ? co_await exchange(*c->secure, c->buffer, req, parser)
                                             : co_await exchange(*c->plain, c->buffer, req, parser);
      auto [ec, nothing_received] = r;
      if (ec) {
        c->close();
        if (reused && nothing_received && is_stale_connection_error(ec)) continue;
        if (ec == beast::error::timeout) co_return Error{"http.timeout", "timed out waiting for " + t.host_header};
        co_return Error{"http.protocol", "exchange with " + t.host_header + " failed: " + ec.message()};
      }
      auto res = parser.release();
      ClientResponse out;
      out.status = res.result_int();
      for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      bool keep = res.keep_alive() && !parser.need_eof();
      out.body = std::move(res.body());
      if (keep) {
        c->tcp().expires_never();
        give_back(t.pool_key, std::move(c));
      } else {
        c->close();
      }
      co_return out;
    }
  }
};

HttpsClient::HttpsClient(asio::any_io_executor ex, HttpsClientSettings settings)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(settings))) {}

HttpsClient::~HttpsClient() { close_idle(); }

awaitable<Result<ClientResponse>> HttpsClient::request(http::Verb method, std::string url, std::string body,
                                                       std::vector<std::pair<std::string, std::string>> headers) {
  return impl_->run(method, std::move(url), std::move(body), std::move(headers));
}

void HttpsClient::close_idle() {
  for (auto& [key, list] : impl_->idle)
    for (auto& c : list) c->close();
  impl_->idle.clear();
}

std::size_t HttpsClient::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [key, list] : impl_->idle) n += list.size();
  return n;
}

std::uint64_t HttpsClient::connections_opened() const { return impl_->opened; }

}  // namespace yuer::net
