#include "daemon/net/https_client.h"

#include "daemon/net/http_test_support.h"
#include "tests/support/process.h"

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <thread>

namespace yuer::net {
namespace {

using namespace testing;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

awaitable<http::Response> echo(http::Request req) {
  std::string body = std::string(req.method_string()) + " " + std::string(req.target()) + "\n" + req.body();
  co_return http::make_response(req, http::Status::ok, std::move(body));
}

std::vector<Route> routes(std::atomic<int>* slow_entered) {
  Route e;
  e.path = "/echo";
  e.match = Route::Match::kPrefix;
  e.label = "echo";
  e.handler = [](http::Request req) { return echo(std::move(req)); };
  Route s;
  s.path = "/slow";
  s.label = "slow";
  s.handler = [slow_entered](http::Request req) { return reply_slowly(std::move(req), 10s, slow_entered); };
  return {e, s};
}

// Runs `n` requests one after the other on a fresh io_context with one client; returns the results.
struct Call {
  http::Verb method = http::Verb::get;
  std::string url;
  std::string body;
};

awaitable<std::vector<Result<ClientResponse>>> run_calls(HttpsClient* client, std::vector<Call> calls,
                                                         std::chrono::milliseconds pause) {
  std::vector<Result<ClientResponse>> out;
  for (auto& c : calls) {
    out.push_back(co_await client->request(c.method, c.url, c.body));
    if (pause.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, pause);
      co_await t.async_wait(use_awaitable);
    }
  }
  co_return out;
}

struct Outcome {
  std::vector<Result<ClientResponse>> results;
  std::uint64_t opened = 0;
};

Outcome call_all(HttpsClientSettings settings, std::vector<Call> calls, std::chrono::milliseconds pause = 0ms) {
  asio::io_context ioc;
  HttpsClient client(ioc.get_executor(), std::move(settings));
  auto fut = asio::co_spawn(ioc, run_calls(&client, std::move(calls), pause), asio::use_future);
  ioc.run();
  Outcome o;
  o.results = fut.get();
  o.opened = client.connections_opened();
  return o;
}

TEST_CASE("https client: plain http to loopback, keep-alive reuse", "[net][https_client]") {
  std::atomic<int> slow{0};
  TestServer server({}, routes(&slow));
  auto o = call_all({}, {{http::Verb::get, server.url("/echo/a?x=1"), ""},
                         {http::Verb::post, server.url("/echo/b"), "{\"k\":1}"},
                         {http::Verb::get, server.url("/echo/c"), ""}});
  REQUIRE(o.results.size() == 3);
  for (auto& r : o.results) REQUIRE(error_text(r) == "");
  CHECK(o.results[0]->status == 200);
  CHECK(o.results[0]->body == "GET /echo/a?x=1\n");
  CHECK(o.results[1]->body == "POST /echo/b\n{\"k\":1}");
  CHECK(o.opened == 1);
}

TEST_CASE("https client: a pooled connection the server closed is replaced once", "[net][https_client]") {
  std::atomic<int> slow{0};
  ServerSettings s;
  s.idle_timeout = 100ms;
  TestServer server(s, routes(&slow));
  auto o = call_all({}, {{http::Verb::post, server.url("/echo/1"), "a"}, {http::Verb::post, server.url("/echo/2"), "b"}},
                    400ms);
  REQUIRE(o.results.size() == 2);
  REQUIRE(error_text(o.results[1]) == "");
  CHECK(o.results[1]->body == "POST /echo/2\nb");
  CHECK(o.opened == 2);
}

TEST_CASE("https client: failures are values with a code and no secret", "[net][https_client]") {
  std::atomic<int> slow{0};
  TestServer server({}, routes(&slow));
  unsigned short closed_port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  struct Case {
    const char* label;
    std::string url;
    const char* code;
  };
  const std::string secret = "key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";
  std::vector<Case> cases = {
      {"plain http to a public host", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?" + secret, "http.insecure"},
      {"plain http to a private address", "http://10.1.2.3:8080/x?" + secret, "http.insecure"},
      {"not a URL", "qyapi.weixin.qq.com/x?" + secret, "http.bad_url"},
      {"ftp", "ftp://127.0.0.1/x", "http.bad_url"},
      {"closed port", "http://127.0.0.1:" + std::to_string(closed_port) + "/x?" + secret, "http.unreachable"},
      {"slow answer", server.url("/slow?" + secret), "http.timeout"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    HttpsClientSettings settings;
    settings.request_timeout = 300ms;
    auto o = call_all(settings, {{http::Verb::post, c.url, ""}});
    REQUIRE(o.results.size() == 1);
    REQUIRE_FALSE(o.results[0].has_value());
    CHECK(o.results[0].error().code == c.code);
    CHECK(o.results[0].error().message.find("693a91f6") == std::string::npos);
  }
}

TEST_CASE("https client: loopback host names", "[net][https_client]") {
  auto [host, loopback] = GENERATE(table<std::string, bool>({{"127.0.0.1", true}, {"127.9.9.9", true},
                                                             {"::1", true}, {"localhost", true},
                                                             {"10.0.0.1", false}, {"qyapi.weixin.qq.com", false},
                                                             {"localhost.evil.example", false}, {"", false}}));
  CAPTURE(host);
  CHECK(is_loopback_host(host) == loopback);
}

// --- TLS: a self-signed certificate made at test time, served by a tiny TLS server ---

std::string pem_of(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

std::string pem_of(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed certificate whose subjectAltName is `san` ("IP:127.0.0.1", "DNS:other.example").
SelfSigned make_cert(const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("yuer test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  REQUIRE(ext);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  SelfSigned out{pem_of(x), pem_of(key)};
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

awaitable<void> serve_tls(tcp::acceptor* acceptor, ssl::context* ctx) {
  for (;;) {
    auto [ec, sock] = co_await acceptor->async_accept(use_tuple);
    if (ec) co_return;
    ssl::stream<tcp::socket> stream(std::move(sock), *ctx);
    if (auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple); hec) continue;
    boost::beast::flat_buffer buf;
    http::Request req;
    if (auto [rec, n] = co_await boost::beast::http::async_read(stream, buf, req, use_tuple); rec) continue;
    auto res = http::make_response(req, http::Status::ok, "tls ok " + std::string(req.target()));
    res.keep_alive(false);
    co_await boost::beast::http::async_write(stream, res, use_tuple);
  }
}

class TlsServer {
 public:
  explicit TlsServer(const SelfSigned& cert) {
    ctx_.use_certificate_chain(asio::buffer(cert.cert_pem));
    ctx_.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, serve_tls(&acceptor_, &ctx_), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsServer() {
    asio::post(ioc_, [this] { acceptor_.close(); });
    thread_.join();
  }
  unsigned short port() const { return port_; }

 private:
  asio::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_server};
  tcp::acceptor acceptor_{ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  unsigned short port_ = 0;
  std::thread thread_;
};

TEST_CASE("https client: certificate and host name verification", "[net][https_client][tls]") {
  struct Case {
    const char* label;
    const char* san;
    bool trusted;
    const char* host;
    bool ok;
  };
  const Case cases[] = {
      {"trusted, IP matches", "IP:127.0.0.1", true, "127.0.0.1", true},
      {"trusted, DNS name matches", "DNS:localhost", true, "localhost", true},
      {"untrusted self-signed", "IP:127.0.0.1", false, "127.0.0.1", false},
      {"trusted, wrong host name", "DNS:qyapi.weixin.qq.com", true, "localhost", false},
      {"trusted, IP not in the certificate", "DNS:localhost", true, "127.0.0.1", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto cert = make_cert(c.san);
    TlsServer server(cert);
    test::TempDir dir;
    HttpsClientSettings settings;
    settings.use_system_ca = !c.trusted;  // untrusted: the system store, which does not know this cert
    if (c.trusted) settings.extra_ca_file = dir.write("ca.pem", cert.cert_pem);
    settings.connect_timeout = 3s;
    auto o = call_all(settings, {{http::Verb::get,
                                  "https://" + std::string(c.host) + ":" + std::to_string(server.port()) + "/hello", ""}});
    REQUIRE(o.results.size() == 1);
    CHECK(o.results[0].has_value() == c.ok);
    if (c.ok && o.results[0]) CHECK(o.results[0]->body == "tls ok /hello");
    if (!c.ok && !o.results[0]) CHECK(o.results[0].error().code == "http.tls");
  }
}

}  // namespace
}  // namespace yuer::net
