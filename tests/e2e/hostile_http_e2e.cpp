// Hostile HTTP input against the real yuerd binary (issue 9), over raw sockets on 127.0.0.1:
// slowloris headers and bodies, oversized request lines, headers and bodies (Content-Length and
// chunked), 1,500 idle connections and the connection cap, signed callbacks carrying bad UTF-8 or
// XML entity tricks, and replayed or stale callbacks. The unit tests (daemon/net/http_server_test,
// adapters/wecom/*_test) pin the same rules on the classes; this file checks what the daemon as
// started in production does: its config keys, its fd limit, its /metrics and its store.
#include "tests/e2e/yuerd_fixture.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace yuer::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Verb = http::Verb;

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

// yuerd with extra [server] keys (the fixture's config has a [server] table already, so they are
// put into it rather than appended) and any other tables appended.
std::unique_ptr<YuerdFixture> make_yuerd(const std::string& server_keys, const std::string& extra_toml = {}) {
  auto d = std::make_unique<YuerdFixture>(extra_toml);
  std::ifstream in(d->config_path());
  std::stringstream all;
  all << in.rdbuf();
  std::string cfg = all.str();
  const std::string listen = "listen = \"127.0.0.1:0\"\n";
  const auto at = cfg.find(listen);
  REQUIRE(at != std::string::npos);
  cfg.insert(at + listen.size(), server_keys);
  std::ofstream(d->config_path(), std::ios::trunc) << cfg;
  return d;
}

int port_of(const YuerdFixture& d) {
  std::smatch m;
  const std::string base = d.url("");
  REQUIRE(std::regex_search(base, m, std::regex(":([0-9]+)$")));
  return std::stoi(m[1]);
}

// One raw TCP connection to 127.0.0.1:port. Never throws; every wait is bounded.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Sends everything; false once the peer closed or reset.
  bool send(std::string_view s) {
    while (!s.empty()) {
      if (fd_ < 0) return false;
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads what is there within `wait`: appended to `in_`. False when the peer closed (EOF or reset).
  bool pump(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return true;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  // True when the peer closes within `limit` (whatever it sent before is kept in received()).
  bool closed_within(std::chrono::milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end)
      if (!pump(50ms)) return true;
    return false;
  }
  // Waits for one whole response (head, and a Content-Length body). 0 when none came in `limit`.
  unsigned read_status(std::chrono::milliseconds limit = 10s) {
    const auto end = Clock::now() + limit;
    for (;;) {
      const auto head_end = in_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::smatch m;
        const std::string head = in_.substr(0, head_end);
        std::size_t body = 0;
        if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) body = std::stoul(m[1]);
        if (in_.size() >= head_end + 4 + body) {
          last_head_ = head;
          last_body_ = in_.substr(head_end + 4, body);
          in_.erase(0, head_end + 4 + body);
          if (std::regex_search(head, m, std::regex("^HTTP/1\\.[01] ([0-9]{3})"))) return std::stoul(m[1]);
          return 0;
        }
      }
      if (Clock::now() >= end) return 0;
      if (!pump(50ms) && in_.find("\r\n\r\n") == std::string::npos) return 0;
    }
  }
  const std::string& last_head() const { return last_head_; }
  const std::string& last_body() const { return last_body_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string in_, last_head_, last_body_;
};

net::ClientResponse must(Verb verb, const std::string& url, const std::string& body = {}) {
  auto rsp = net::http_request(verb, url, body, {}, 20s);
  INFO(url << (rsp ? "" : " -> " + rsp.error().message));
  REQUIRE(rsp.has_value());
  return *rsp;
}

std::int64_t rows(const YuerdFixture& d, const std::string& where = "1") {
  SQLite::Database db(d.store_path(), SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT COUNT(*) FROM inbox WHERE " + where).getInt64();
}

// The value of one /metrics series ("name{labels}" exactly as rendered), or -1 when absent.
double metric(const YuerdFixture& d, const std::string& series) {
  const std::string text = must(Verb::get, d.url("/metrics")).body;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string text_xml(std::uint64_t msg_id, const std::string& content = "你好") {
  return "<xml><ToUserName><![CDATA[" + std::string(kCorpId) +
         "]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>" + std::to_string(now_s()) +
         "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" + content + "]]></Content><MsgId>" +
         std::to_string(msg_id) + "</MsgId><AgentID>1000002</AgentID></xml>";
}

unsigned post_callback(const YuerdFixture& d, std::uint64_t msg_id) {
  auto r = sign_post(d.app_crypt(), "", "/wecom/callback/app", text_xml(msg_id), false, now_s(),
                     "n" + std::to_string(msg_id));
  auto rsp = net::http_request(Verb::post, d.url(r.target), r.body, {{"Content-Type", "text/xml"}}, 20s);
  return rsp ? rsp->status : 0;
}

std::string post_head(const std::string& target, const std::string& extra) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n" + extra + "\r\n";
}

TEST_CASE("slowloris: dribbled headers and bodies are cut off at read_timeout while other clients are served",
          "[e2e][hostile]") {
  auto d = make_yuerd("read_timeout_ms = 1500\n");
  d->start();
  const int port = port_of(*d);
  auto valid = sign_post(d->app_crypt(), "", "/wecom/callback/app", text_xml(1), false, now_s(), "slow");

  // 30 clients dribble a header one byte per 100 ms (never ending it), 30 send a valid callback
  // header and then its body one byte per 100 ms (the body would take minutes).
  struct Slow {
    std::unique_ptr<Raw> raw;
    bool body;
    std::optional<Clock::duration> closed_after;
  };
  std::vector<Slow> slow;
  const auto start = Clock::now();
  for (int i = 0; i < 60; ++i) {
    const bool body = i % 2 == 1;
    auto raw = std::make_unique<Raw>(port);
    REQUIRE(raw->ok());
    REQUIRE(raw->send(body ? post_head(valid.target, "Content-Length: " + std::to_string(valid.body.size()) + "\r\n")
                           : "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
    slow.push_back({std::move(raw), body, std::nullopt});
  }

  std::atomic<bool> done{false};
  std::atomic<int> served{0}, stored{0}, failed{0};
  std::thread others([&] {
    // Meanwhile: /healthz and fresh callbacks from other clients, all answered (no Catch
    // assertions on this thread).
    for (std::uint64_t id = 100; !done; ++id) {
      auto h = net::http_request(Verb::get, d->url("/healthz"), {}, {}, 20s);
      if (h && h->status == 200) ++served;
      else ++failed;
      if (post_callback(*d, id) == 200) ++served, ++stored;
      else ++failed;
    }
  });

  std::size_t sent = 0;
  const auto give_up = start + 30s;
  for (bool open = true; open && Clock::now() < give_up;) {
    open = false;
    for (auto& s : slow) {
      if (s.closed_after) continue;
      const char byte = s.body ? valid.body[std::min(sent, valid.body.size() - 2)] : 'a';
      if (!s.raw->send(std::string_view(&byte, 1)) || !s.raw->pump(0ms)) s.closed_after = Clock::now() - start;
      else open = true;
    }
    ++sent;
    std::this_thread::sleep_for(100ms);
  }
  done = true;
  others.join();

  for (const auto& s : slow) {
    CAPTURE(s.body);
    REQUIRE(s.closed_after);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*s.closed_after).count();
    CAPTURE(ms);
    CHECK(ms >= 1000);   // not before read_timeout (1.5 s, less the time to connect them all)
    CHECK(ms < 15'000);  // cut off, not served: the body alone would need ~500 bytes x 100 ms
  }
  CHECK(sent < 150);  // every slow client was gone long before its request could have completed
  CHECK(served >= 4);
  CHECK(failed == 0);
  // Only the fresh callbacks were stored: none of the dribbled bodies.
  CHECK(rows(*d) == stored);
  CHECK(rows(*d, "dedupe_key = 'msg:1'") == 0);
  WARN("slowloris: 60 slow clients cut off after at most "
       << std::chrono::duration_cast<std::chrono::milliseconds>(
              std::max_element(slow.begin(), slow.end(), [](const Slow& a, const Slow& b) {
                return *a.closed_after < *b.closed_after;
              })->closed_after.value())
              .count()
       << " ms (read_timeout 1500 ms, " << sent << " bytes dribbled each); " << served
       << " requests of other clients answered meanwhile");
  CHECK(d->stop() == 0);
}

TEST_CASE("oversized request lines, headers and bodies get 431 or 413 without being read, then the connection closes",
          "[e2e][hostile]") {
  auto d = make_yuerd("");  // defaults: header_limit_bytes 8192; callback.max_body_bytes 65536
  d->start();
  const int port = port_of(*d);
  auto valid = sign_post(d->app_crypt(), "", "/wecom/callback/app", text_xml(5), false, now_s(), "big");

  std::string many_headers;
  for (int i = 0; i < 200; ++i) many_headers += "X-H" + std::to_string(i) + ": " + std::string(50, 'v') + "\r\n";
  struct Case {
    const char* label;
    std::string request;  // sent whole; nothing of a body follows the head
    unsigned status;
  };
  const Case cases[] = {
      {"20 KB request line", "GET /healthz?" + std::string(20'000, 'q') + " HTTP/1.1\r\nHost: h\r\n\r\n", 431},
      {"200 headers, 11 KB", "GET /healthz HTTP/1.1\r\nHost: h\r\n" + many_headers + "\r\n", 431},
      {"one 9 KB header", "GET /healthz HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n", 431},
      {"callback Content-Length 10 GB", post_head(valid.target, "Content-Length: 10000000000\r\n"), 413},
      {"callback Content-Length one over max_body_bytes", post_head(valid.target, "Content-Length: 65537\r\n"), 413},
      {"callback chunk size of 2^64-1", post_head(valid.target, "Transfer-Encoding: chunked\r\n") + "ffffffffffffffff\r\n",
       413},
      {"admin API Content-Length 2 MB (before any token check)",
       "POST /api/v1/inbox HTTP/1.1\r\nHost: h\r\nContent-Length: 2097152\r\n\r\n", 413},
      {"Content-Length that overflows 64 bits", post_head(valid.target, "Content-Length: 99999999999999999999999\r\n"),
       400},
      {"Content-Length together with chunked (request smuggling)",
       post_head(valid.target, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    Raw raw(port);
    REQUIRE(raw.ok());
    REQUIRE(raw.send(c.request));
    CHECK(raw.read_status() == c.status);  // answered although no body byte was sent
    CHECK(raw.last_head().find("onnection: close") != std::string::npos);
    CHECK(raw.closed_within(10s));
  }

  // A chunked body that keeps growing: refused once it passes the limit, while we are still sending.
  {
    Raw raw(port);
    REQUIRE(raw.ok());
    REQUIRE(raw.send(post_head(valid.target, "Transfer-Encoding: chunked\r\n")));
    const std::string chunk = "1000\r\n" + std::string(4096, 'c') + "\r\n";
    std::size_t body_sent = 0;
    unsigned status = 0;
    for (int i = 0; i < 256; ++i) {  // up to 1 MB
      if (!raw.send(chunk)) break;
      body_sent += 4096;
      raw.pump(10ms);
      if ((status = raw.read_status(0ms)) != 0) break;
    }
    if (status == 0) status = raw.read_status();
    CAPTURE(body_sent);
    CHECK(status == 413);
    CHECK(body_sent < 512 * 1024);  // answered long before the client was done
    CHECK(raw.closed_within(10s));
  }

  // Everything above was counted under its route; nothing reached the store; yuerd still serves.
  CHECK(metric(*d, "yuer_http_requests_total{route=\"wecom_app\",status=\"413\"}") == 4);
  CHECK(metric(*d, "yuer_http_requests_total{route=\"unknown\",status=\"431\"}") == 3);
  CHECK(rows(*d) == 0);
  CHECK(must(Verb::get, d->url("/healthz")).status == 200);
  CHECK(must(Verb::post, d->url(valid.target), valid.body).status == 200);
  CHECK(rows(*d) == 1);
  CHECK(d->stop() == 0);
}

// Lowers this process's soft open-file limit while yuerd is started (it inherits it), as systemd
// does for a service (1024), then restores it for the test's own sockets.
struct SoftNofileDuringStart {
  rlimit saved{};
  bool lowered = false;
  explicit SoftNofileDuringStart(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved);
    rlimit low = saved;
    low.rlim_cur = std::min(soft, saved.rlim_max);
    lowered = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
  }
  void restore() {
    if (lowered) ::setrlimit(RLIMIT_NOFILE, &saved);
    lowered = false;
  }
  ~SoftNofileDuringStart() { restore(); }
};

TEST_CASE("1,500 idle connections: /healthz and callbacks are still answered, the cap closes extra connections",
          "[e2e][hostile]") {
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 5000) {
    WARN("hard open-file limit " << lim.rlim_max << " is below 5000: not run");
    return;
  }
  // yuerd's own soft limit starts at 1024 (systemd's default for services) with the default
  // max_connections 4096: it must raise it itself, or accept() fails with EMFILE near 1,000.
  auto d = make_yuerd("read_timeout_ms = 60000\n");
  {
    SoftNofileDuringStart low(1024);
    d->start();
  }
  // The test's own soft limit is back at the hard one.
  rlimit mine{};
  ::getrlimit(RLIMIT_NOFILE, &mine);
  if (mine.rlim_cur != RLIM_INFINITY && mine.rlim_cur < 2000) {
    mine.rlim_cur = std::min<rlim_t>(mine.rlim_max, 4000);
    ::setrlimit(RLIMIT_NOFILE, &mine);
  }
  CHECK(d->log_text().find("open-file limit raised from 1024") != std::string::npos);
  const int port = port_of(*d);
  constexpr int kIdle = 1500;
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<Raw>(port));
    REQUIRE(idle.back()->ok());
  }
  // Wait until yuerd holds them all (the kernel completes connects before accept()).
  double open = 0;
  for (auto until = Clock::now() + 60s; Clock::now() < until; std::this_thread::sleep_for(200ms))
    if ((open = metric(*d, "yuer_http_connections")) >= kIdle) break;
  CHECK(open >= kIdle);
  for (int i = 0; i < 5; ++i) CHECK(must(Verb::get, d->url("/healthz")).status == 200);
  CHECK(post_callback(*d, 11) == 200);
  CHECK(rows(*d) == 1);
  // None of the idle ones was dropped meanwhile.
  int still_open = 0;
  for (auto& r : idle) still_open += r->pump(0ms) ? 1 : 0;
  CHECK(still_open == kIdle);
  CHECK(metric(*d, "yuer_http_connections_rejected_total") == 0);
  idle.clear();
  CHECK(d->stop() == 0);

  // With a cap of 200: the extra connections are closed at once and counted, and so is anyone
  // else's while the cap is reached; the idle ones are closed at read_timeout, and then /healthz
  // and callbacks get through again.
  auto capped = make_yuerd("max_connections = 200\nread_timeout_ms = 8000\n");
  capped->start();
  const int cport = port_of(*capped);
  std::vector<std::unique_ptr<Raw>> flood;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(std::make_unique<Raw>(cport));
    REQUIRE(flood.back()->ok());
  }
  const auto flooded = Clock::now();
  std::vector<bool> closed(flood.size(), false);
  std::size_t cut = 0;
  auto count_closed = [&] {
    for (std::size_t i = 0; i < flood.size(); ++i)
      if (!closed[i] && !flood[i]->pump(0ms)) closed[i] = true, ++cut;
  };
  while (cut < 100 && Clock::now() < flooded + 5s) {
    count_closed();
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(500ms);
  count_closed();
  CHECK(cut == 100);  // 300 - max_connections, long before read_timeout
  auto refused = net::http_request(Verb::get, capped->url("/healthz"), {}, {}, 3s);
  CHECK_FALSE(refused.has_value());  // the cap holds for everyone
  for (std::size_t i = 0; i < flood.size(); ++i)
    if (!closed[i]) CHECK(flood[i]->closed_within(20s));  // read_timeout ends the idle ones
  CHECK(must(Verb::get, capped->url("/healthz")).status == 200);
  CHECK(metric(*capped, "yuer_http_connections_rejected_total") >= 101);
  CHECK(post_callback(*capped, 12) == 200);
  CHECK(rows(*capped) == 1);
  CHECK(capped->stop() == 0);
}

// A TCP listener that counts who connects to it: the target of external-entity references, to
// prove yuerd never fetches one.
class Tripwire {
 public:
  Tripwire() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Tripwire() { ::close(fd_); }
  int port() const { return port_; }
  int connections() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return count_;
      ::close(c);
      ++count_;
    }
  }

 private:
  int fd_ = -1, port_ = 0, count_ = 0;
};

TEST_CASE("signed callbacks with bad UTF-8 or XML entity tricks are refused, counted by reason, nothing stored",
          "[e2e][hostile]") {
  auto d = make_yuerd("");
  d->start();
  Tripwire trip;
  const std::string url = "http://127.0.0.1:" + std::to_string(trip.port()) + "/x";
  auto xml = [](const std::string& content) {
    return "<xml><ToUserName><![CDATA[" + std::string(kCorpId) +
           "]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1700000000</CreateTime>"
           "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" +
           content + "]]></Content><MsgId>77</MsgId></xml>";
  };
  auto robot = [](const std::string& content) {
    return R"({"msgid":"M77","aibotid":"AIBOTID","chattype":"single","from":{"userid":"u1"},"msgtype":"text",)"
           R"("text":{"content":")" +
           content + R"("}})";
  };
  const std::string laughs =
      "<!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>";
  const std::string system_entity = "<!DOCTYPE xml [<!ENTITY x SYSTEM \"" + url + "\">]>";
  const std::string file_entity = "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>";
  const std::string parameter_entity = "<!DOCTYPE xml [<!ENTITY % p SYSTEM \"" + url + "\"> %p;]>";
  auto with_body = [](const std::string& prolog, const std::string& ref) {
    return prolog + "<xml><MsgType>text</MsgType><Content>" + ref + "</Content><MsgId>78</MsgId></xml>";
  };

  struct Case {
    const char* label;
    bool robot;          // intelligent robot (JSON) instead of the app (XML)
    std::string plain;   // the decrypted payload, encrypted and signed correctly
    std::string reason;  // yuer_callback_rejects_total reason and the error code's tail
  };
  const Case cases[] = {
      {"XML: overlong NUL C0 80", false, xml("a\xc0\x80"), "not_utf8"},
      {"XML: overlong '/' E0 80 AF", false, xml("..\xe0\x80\xaf..\xe0\x80\xaf" "etc"), "not_utf8"},
      {"XML: overlong 4-byte F0 80 80 AF", false, xml("\xf0\x80\x80\xaf"), "not_utf8"},
      {"XML: UTF-16 surrogate ED A0 80", false, xml("\xed\xa0\x80"), "not_utf8"},
      {"XML: stray FF", false, xml("\xff"), "not_utf8"},
      {"XML: GBK bytes (宝宝)", false, xml("\xb1\xa6\xb1\xa6"), "not_utf8"},
      {"XML: truncated sequence at the end", false, xml("x") + "\xe5\xae", "not_utf8"},
      {"XML: character reference to a surrogate", false,
       "<xml><MsgType>text</MsgType><FromUserName>&#xD800;</FromUserName><MsgId>79</MsgId></xml>", "not_utf8"},
      {"JSON: overlong NUL C0 80", true, robot("a\xc0\x80"), "not_utf8"},
      {"JSON: overlong E0 80 AF", true, robot("\xe0\x80\xaf"), "not_utf8"},
      {"JSON: surrogate ED B0 80", true, robot("\xed\xb0\x80"), "not_utf8"},
      {"JSON: Latin-1 byte", true, robot("caf\xe9"), "not_utf8"},
      {"JSON: lone surrogate escape \\ud800", true, robot("\\ud800"), "bad_payload"},
      {"XML: billion laughs", false, with_body(laughs, "&d;"), "bad_payload"},
      {"XML: external entity to a local URL", false, with_body(system_entity, "&x;"), "bad_payload"},
      {"XML: external entity to /etc/passwd", false, with_body(file_entity, "&x;"), "bad_payload"},
      {"XML: external parameter entity", false, with_body(parameter_entity, "x"), "bad_payload"},
  };
  int nonce = 0;
  std::map<std::string, int> app_reasons, bot_reasons;
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto req = sign_post(c.robot ? d->bot_crypt() : d->app_crypt(), "",
                         c.robot ? "/wecom/callback/bot/county" : "/wecom/callback/app", c.plain, c.robot, now_s(),
                         "h" + std::to_string(++nonce));
    auto rsp = must(Verb::post, d->url(req.target), req.body);
    CHECK(rsp.status == 400);
    CHECK(rsp.body.find("callback." + c.reason) != std::string::npos);
    ++(c.robot ? bot_reasons : app_reasons)[c.reason];
  }
  // The same tricks in the (unsigned) XML envelope never reach the signature check.
  auto good = sign_post(d->app_crypt(), "", "/wecom/callback/app", xml("ok"), false, now_s(), "env");
  const std::string enc = good.body.substr(good.body.find("<Encrypt><![CDATA[") + 18);
  const std::string enc_only = enc.substr(0, enc.find("]]>"));
  const std::string envelopes[] = {
      laughs + "<xml><Encrypt>&d;</Encrypt></xml>",
      system_entity + "<xml><Encrypt><![CDATA[" + enc_only + "]]></Encrypt><X>&x;</X></xml>",
      parameter_entity + "<xml><Encrypt><![CDATA[" + enc_only + "]]></Encrypt></xml>",
  };
  for (const auto& body : envelopes) {
    auto rsp = must(Verb::post, d->url(good.target), body);
    CHECK(rsp.status == 400);
    CHECK(rsp.body.find("callback.bad_envelope") != std::string::npos);
  }

  CHECK(rows(*d) == 0);
  CHECK(trip.connections() == 0);  // no entity was ever fetched
  for (const auto& [reason, n] : app_reasons)
    CHECK(metric(*d, "yuer_callback_rejects_total{receiver=\"app\",reason=\"" + reason + "\"}") == n);
  for (const auto& [reason, n] : bot_reasons)
    CHECK(metric(*d, "yuer_callback_rejects_total{receiver=\"bot/county\",reason=\"" + reason + "\"}") == n);
  CHECK(metric(*d, "yuer_callback_rejects_total{receiver=\"app\",reason=\"bad_envelope\"}") == 3);
  // The untouched request is stored: the refusals were about the input, not the daemon.
  CHECK(must(Verb::post, d->url(good.target), good.body).status == 200);
  CHECK(rows(*d) == 1);
  CHECK(d->stop() == 0);
}

TEST_CASE("replayed callbacks are acknowledged but never stored again, stale and future timestamps are refused",
          "[e2e][hostile]") {
  // A short replay window so that a captured request can be replayed after it within the test.
  auto d = make_yuerd("", "\n[callback]\nreplay_window_s = 4\n");
  d->start();
  // An event without MsgId (deduplicated by its content) and a robot message.
  const std::string event =
      "<xml><ToUserName><![CDATA[" + std::string(kCorpId) +
      "]]></ToUserName><FromUserName><![CDATA[u9]]></FromUserName><CreateTime>1700000000</CreateTime>"
      "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event><AgentID>1000002</AgentID></xml>";
  const std::string robot =
      R"({"msgid":"R1","aibotid":"AIBOTID","chattype":"single","from":{"userid":"u9"},"msgtype":"text",)"
      R"("text":{"content":"覆盖率"}})";
  struct Case {
    const char* label;
    bool json;
    std::string path, receiver, plain;
  };
  const Case cases[] = {{"app event without MsgId", false, "/wecom/callback/app", "app", event},
                        {"robot message", true, "/wecom/callback/bot/county", "bot/county", robot}};
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto crypt = c.json ? d->bot_crypt() : d->app_crypt();
    const std::int64_t ts = now_s();
    auto captured = sign_post(crypt, "", c.path, c.plain, c.json, ts, "replay1");
    CHECK(must(Verb::post, d->url(captured.target), captured.body).status == 200);
    // The identical request again, 4 times in a row and 8 at once: each answered 200 (WeCom takes
    // anything else as a failure and retries), none processed or stored again.
    for (int i = 0; i < 4; ++i) CHECK(must(Verb::post, d->url(captured.target), captured.body).status == 200);
    std::atomic<int> ok{0};
    std::vector<std::thread> burst;
    for (int i = 0; i < 8; ++i)
      burst.emplace_back([&] {
        auto r = net::http_request(Verb::post, d->url(captured.target), captured.body, {}, 20s);
        if (r && r->status == 200) ++ok;
      });
    for (auto& t : burst) t.join();
    CHECK(ok == 8);
    const std::string labels = "{receiver=\"" + c.receiver + "\",result=\"";
    CHECK(metric(*d, "yuer_callback_accepted_total" + labels + "stored\"}") == 1);
    CHECK(metric(*d, "yuer_callback_accepted_total" + labels + "replay\"}") == 12);
    CHECK(rows(*d, "receiver = '" + c.receiver + "'") == 1);
    CHECK(rows(*d, "receiver = '" + c.receiver + "' AND deliveries = 1") == 1);  // replays never reach the store

    // Timestamps outside the window, either way, correctly signed: refused.
    for (std::int64_t off : {-10, -3600, 10, 86'400}) {
      CAPTURE(off);
      auto r = sign_post(crypt, "", c.path, c.plain, c.json, now_s() + off, "off" + std::to_string(off));
      auto rsp = must(Verb::post, d->url(r.target), r.body);
      CHECK(rsp.status == 403);
      CHECK(rsp.body.find("callback.stale_timestamp") != std::string::npos);
    }
    // The captured request once its timestamp has left the window: refused too.
    while (now_s() <= ts + 4) std::this_thread::sleep_for(200ms);
    auto late = must(Verb::post, d->url(captured.target), captured.body);
    CHECK(late.status == 403);
    CHECK(late.body.find("callback.stale_timestamp") != std::string::npos);
    CHECK(metric(*d, "yuer_callback_rejects_total{receiver=\"" + c.receiver + "\",reason=\"stale_timestamp\"}") == 5);
    CHECK(rows(*d, "receiver = '" + c.receiver + "'") == 1);
  }
  CHECK(d->stop() == 0);
}

}  // namespace
}  // namespace yuer::test
