// callback_load_bench: a lean loopback load generator for the callback benchmark. It replays the
// lines of a callback_requests_bench file ("<target>\t<body>\n") once each, in file order, as
// HTTP/1.1 POSTs over C keep-alive connections (closed loop: each connection sends its next
// request when the previous answer has arrived), for D seconds, and reports requests/s, latency
// percentiles, non-200 answers and socket errors. It replaces wrk + a Lua replay script, whose
// per-request Lua calls cost about as much CPU as the server under test.
//
//   callback_load_bench --url http://127.0.0.1:PORT --file FILE [--connections 64] [--duration 10]
//                       [--threads 1] [--timeout-ms 2000] [--content-type text/xml]
//
// Output: "Running ..." once every connection is open (the measurement starts there), then the
// figures and one machine-readable line starting with "BENCH " (same keys as bench/wrk/callback.lua).
// Exit code 0 when every answer was 200 and nothing failed, 1 otherwise, 2 on bad usage.
//
// The request file is mapped, not loaded: a request is its head (formatted per request) plus the
// body straight from the mapping in one gather write. Responses are parsed just enough to find
// the status, the end of the message (Content-Length, chunked, or up to EOF) and whether the
// server closes the connection afterwards (bench/http_response_parse.h).
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/as_tuple.hpp>

#include "bench/http_response_parse.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string file;
  std::size_t connections = 64;
  double duration_s = 10;
  std::size_t threads = 1;
  std::chrono::milliseconds timeout{2000};
  std::string content_type = "text/xml";
};

constexpr const char* kUsage =
    "usage: callback_load_bench --url http://127.0.0.1:PORT --file FILE [--connections 64] [--duration 10]\n"
    "                           [--threads 1] [--timeout-ms 2000] [--content-type text/xml]\n"
    "Replays the \"<target>\\t<body>\" lines of FILE once each as POSTs over keep-alive connections.\n";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "callback_load_bench: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

std::uint64_t parse_u64(const std::string& name, std::string_view text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) usage_error(name + " wants a non-negative integer");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value after " + a);
    std::string v = argv[++i];
    if (a == "--url") url = v;
    else if (a == "--file") o.file = v;
    else if (a == "--connections") o.connections = parse_u64(a, v);
    else if (a == "--duration") o.duration_s = static_cast<double>(parse_u64(a, v));
    else if (a == "--threads") o.threads = parse_u64(a, v);
    else if (a == "--timeout-ms") o.timeout = std::chrono::milliseconds(parse_u64(a, v));
    else if (a == "--content-type") o.content_type = v;
    else usage_error("unknown option " + a);
  }
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) usage_error("--url must start with http://");
  std::string_view rest = std::string_view(url).substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) usage_error("--url needs an explicit port");
  o.host = std::string(rest.substr(0, colon));
  o.port = std::string(rest.substr(colon + 1));
  if (o.file.empty()) usage_error("--file is required");
  if (o.connections == 0 || o.threads == 0 || o.duration_s <= 0) usage_error("connections, threads and duration must be > 0");
  o.threads = std::min(o.threads, o.connections);
  return o;
}

// The request file, mapped read-only, with the offset of every line.
class RequestFile {
 public:
  explicit RequestFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error("cannot stat " + path);
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    const char* at = data_;
    const char* end = data_ + size_;
    while (at < end) {
      const char* nl = static_cast<const char*>(std::memchr(at, '\n', static_cast<std::size_t>(end - at)));
      const char* line_end = nl ? nl : end;
      if (line_end > at) lines_.push_back({at, static_cast<std::size_t>(line_end - at)});
      at = line_end + 1;
    }
  }
  ~RequestFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  RequestFile(const RequestFile&) = delete;
  RequestFile& operator=(const RequestFile&) = delete;
  std::size_t size() const { return lines_.size(); }
  std::string_view line(std::size_t i) const { return lines_[i]; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::string_view> lines_;
};

// Latency histogram in microseconds: exact below 2048 µs, then 1024 sub-buckets per power of two
// (under 0.1 % relative error). One per thread, merged at the end.
class Histogram {
 public:
  Histogram() : counts_(kSize, 0) {}
  void record(std::uint64_t us) {
    ++counts_[index(us)];
    ++total_;
    max_ = std::max(max_, us);
  }
  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < kSize; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  double percentile_ms(double p) const {
    if (total_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kSize; ++i) {
      seen += counts_[i];
      if (seen >= std::max<std::uint64_t>(want, 1)) return static_cast<double>(value(i)) / 1000.0;
    }
    return static_cast<double>(max_) / 1000.0;
  }
  double max_ms() const { return static_cast<double>(max_) / 1000.0; }

 private:
  static constexpr std::size_t kExact = 2048;
  static constexpr std::size_t kSub = 1024;
  static constexpr std::size_t kSize = kExact + 40 * kSub;
  static std::size_t index(std::uint64_t us) {
    if (us < kExact) return static_cast<std::size_t>(us);
    const int e = std::bit_width(us) - 1;  // >= 11
    const std::size_t i = kExact + static_cast<std::size_t>(e - 11) * kSub + ((us >> (e - 10)) - kSub);
    return std::min(i, kSize - 1);
  }
  static std::uint64_t value(std::size_t i) {
    if (i < kExact) return i;
    const std::size_t e = 11 + (i - kExact) / kSub;
    const std::uint64_t m = (i - kExact) % kSub + kSub;
    return (m << (e - 10)) + (std::uint64_t{1} << (e - 10)) / 2;  // middle of the bucket
  }
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

struct Shared {
  const Options* options = nullptr;
  const RequestFile* file = nullptr;
  tcp::endpoint endpoint;
  std::string host_header;
  std::atomic<std::size_t> next{0};      // next line to send
  std::atomic<bool> measuring{false};    // set once every connection is open
  std::atomic<bool> stopping{false};     // the duration is over
  std::atomic<std::size_t> connected{0};
};

struct Counts {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t non200 = 0;
  unsigned first_bad_status = 0;
  std::uint64_t exhausted = 0;
  std::uint64_t connect_errors = 0;
  std::uint64_t read_errors = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t timeouts = 0;
};

// One connection: open, wait for the start, then request → response until the duration is over.
// A connection that fails is reopened (like wrk), the failure counted.
struct Connection {
  explicit Connection(asio::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  clock_type::time_point deadline = clock_type::time_point::max();  // of the request under way
  std::string head;
  std::string in;
  bool timed_out = false;
};

// One thread: its io_context, its connections and its figures. Request timeouts are enforced by
// one sweep per thread (every 50 ms), not a timer per request.
struct Worker {
  asio::io_context ioc{1};
  std::vector<std::unique_ptr<Connection>> conns;
  Histogram latency;
  Counts counts;
};

void format_head(std::string& out, const Shared& sh, std::string_view target, std::size_t body_size) {
  out.clear();
  out += "POST ";
  out += target;
  out += " HTTP/1.1\r\nHost: ";
  out += sh.host_header;
  out += "\r\nContent-Type: ";
  out += sh.options->content_type;
  out += "\r\nContent-Length: ";
  char num[24];
  auto e = std::to_chars(num, num + sizeof num, body_size).ptr;
  out.append(num, e);
  out += "\r\n\r\n";
}

asio::awaitable<void> sweep_timeouts(Shared* sh, Worker* w) {
  asio::steady_timer timer(w->ioc);
  while (!sh->stopping.load(std::memory_order_relaxed)) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(use_tuple);
    const auto now = clock_type::now();
    for (auto& c : w->conns)
      if (c->deadline <= now) {
        c->deadline = clock_type::time_point::max();
        c->timed_out = true;
        boost::system::error_code ignored;
        c->socket.close(ignored);
      }
  }
}

asio::awaitable<bool> open(Connection* c, Shared* sh, Counts* counts) {
  boost::system::error_code ec;
  c->socket.close(ec);
  auto [cec] = co_await c->socket.async_connect(sh->endpoint, use_tuple);
  if (cec) {
    ++counts->connect_errors;
    co_return false;
  }
  c->socket.set_option(tcp::no_delay(true), ec);
  c->in.clear();
  co_return true;
}

asio::awaitable<void> run_connection(Shared* sh, Worker* w, Connection* conn) {
  Connection& c = *conn;
  auto& counts = w->counts;
  bool open_ok = co_await open(&c, sh, &counts);
  sh->connected.fetch_add(1);
  {
    asio::steady_timer wait(w->ioc);
    while (!sh->measuring.load(std::memory_order_acquire)) {
      wait.expires_after(std::chrono::milliseconds(1));
      co_await wait.async_wait(use_tuple);
    }
  }
  std::array<char, 16 * 1024> chunk;
  while (!sh->stopping.load(std::memory_order_relaxed)) {
    if (!open_ok && !(open_ok = co_await open(&c, sh, &counts))) continue;
    const std::size_t i = sh->next.fetch_add(1, std::memory_order_relaxed);
    if (i >= sh->file->size()) {
      ++counts.exhausted;
      break;
    }
    const std::string_view line = sh->file->line(i);
    const auto tab = line.find('\t');
    const std::string_view target = line.substr(0, tab);
    const std::string_view body = tab == std::string_view::npos ? std::string_view() : line.substr(tab + 1);
    format_head(c.head, *sh, target, body.size());
    const std::array<asio::const_buffer, 2> out{asio::buffer(c.head), asio::buffer(body.data(), body.size())};
    const auto start = clock_type::now();
    c.timed_out = false;
    c.deadline = start + sh->options->timeout;
    ++counts.sent;
    auto [wec, wn] = co_await asio::async_write(c.socket, out, use_tuple);
    if (wec) {
      c.deadline = clock_type::time_point::max();
      if (sh->stopping) break;
      ++(c.timed_out ? counts.timeouts : counts.write_errors);
      open_ok = false;
      continue;
    }
    yuer::bench::ParsedResponse p;
    bool failed = false, eof = false;
    for (;;) {
      const auto r = yuer::bench::parse_response(c.in, p, eof);
      if (r == yuer::bench::ParseResult::kComplete) break;
      if (r == yuer::bench::ParseResult::kBad || eof) {
        failed = true;
        break;
      }
      auto [rec, n] = co_await c.socket.async_read_some(asio::buffer(chunk), use_tuple);
      if (rec == asio::error::eof) {
        eof = true;  // complete only if the body runs until the end of the connection
        continue;
      }
      if (rec) {
        failed = true;
        break;
      }
      c.in.append(chunk.data(), n);
    }
    c.deadline = clock_type::time_point::max();
    if (failed) {
      if (sh->stopping) break;
      ++(c.timed_out ? counts.timeouts : counts.read_errors);
      open_ok = false;
      continue;
    }
    if (sh->stopping) break;  // answered after the deadline: not counted (as wrk)
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count();
    w->latency.record(static_cast<std::uint64_t>(us));
    if (p.status == 200) {
      ++counts.ok;
    } else {
      ++counts.non200;
      if (counts.first_bad_status == 0) counts.first_bad_status = p.status;
    }
    c.in.erase(0, p.length);
    // The server ends the connection after this answer (Connection: close, HTTP/1.0, a body up to
    // EOF): open a new one for the next request, as wrk does; that is not an error.
    if (p.close) open_ok = false;
  }
  boost::system::error_code ec;
  c.socket.close(ec);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  try {
    RequestFile file(o.file);
    Shared sh;
    sh.options = &o;
    sh.file = &file;
    sh.host_header = o.host + ":" + o.port;
    {
      asio::io_context resolve_ctx;
      tcp::resolver resolver(resolve_ctx);
      sh.endpoint = *resolver.resolve(o.host, o.port).begin();
    }
    std::vector<std::unique_ptr<Worker>> workers;
    for (std::size_t t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
    for (std::size_t i = 0; i < o.connections; ++i) {
      Worker* w = workers[i % o.threads].get();
      w->conns.push_back(std::make_unique<Connection>(w->ioc));
      asio::co_spawn(w->ioc, run_connection(&sh, w, w->conns.back().get()), asio::detached);
    }
    for (auto& w : workers) asio::co_spawn(w->ioc, sweep_timeouts(&sh, w.get()), asio::detached);
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([w = w.get()] { w->ioc.run(); });

    while (sh.connected.load() < o.connections) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::printf("Running %.0fs test @ http://%s:%s, %zu connections, %zu threads, %zu requests loaded\n",
                o.duration_s, o.host.c_str(), o.port.c_str(), o.connections, o.threads, file.size());
    std::fflush(stdout);
    const auto start = clock_type::now();
    sh.measuring.store(true, std::memory_order_release);
    const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.duration_s));
    while (clock_type::now() < deadline && sh.next.load() <= file.size())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::chrono::duration<double> took = clock_type::now() - start;
    sh.stopping = true;
    for (auto& w : workers) w->ioc.stop();
    for (auto& t : threads) t.join();

    Histogram latency;
    Counts total;
    for (auto& w : workers) {
      latency.merge(w->latency);
      const Counts& c = w->counts;
      total.sent += c.sent;
      total.ok += c.ok;
      total.non200 += c.non200;
      if (total.first_bad_status == 0) total.first_bad_status = c.first_bad_status;
      total.exhausted += c.exhausted;
      total.connect_errors += c.connect_errors;
      total.read_errors += c.read_errors;
      total.write_errors += c.write_errors;
      total.timeouts += c.timeouts;
    }
    const double seconds = took.count();
    const std::uint64_t socket_errors = total.connect_errors + total.read_errors + total.write_errors + total.timeouts;
    const double rate = static_cast<double>(total.ok) / seconds;
    std::printf("callbacks acknowledged (200): %llu in %.2f s = %.0f/s\n", static_cast<unsigned long long>(total.ok),
                seconds, rate);
    std::printf("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", latency.percentile_ms(50),
                latency.percentile_ms(99), latency.max_ms());
    std::printf("requests loaded %zu, sent %llu; non-200 responses %llu; socket errors %llu "
                "(connect %llu, read %llu, write %llu, timeout %llu)\n",
                file.size(), static_cast<unsigned long long>(total.sent), static_cast<unsigned long long>(total.non200),
                static_cast<unsigned long long>(socket_errors), static_cast<unsigned long long>(total.connect_errors),
                static_cast<unsigned long long>(total.read_errors), static_cast<unsigned long long>(total.write_errors),
                static_cast<unsigned long long>(total.timeouts));
    if (total.non200 > 0)
      std::printf("ERROR: %llu responses were not 200 (first status %u)\n",
                  static_cast<unsigned long long>(total.non200), total.first_bad_status);
    if (total.exhausted > 0) std::printf("ERROR: the request file ran out; generate more requests for this duration\n");
    std::printf("BENCH ok=%llu non200=%llu socket_errors=%llu sent=%llu loaded=%zu exhausted=%llu seconds=%.3f "
                "rate=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f threads=%zu\n",
                static_cast<unsigned long long>(total.ok), static_cast<unsigned long long>(total.non200),
                static_cast<unsigned long long>(socket_errors), static_cast<unsigned long long>(total.sent), file.size(),
                static_cast<unsigned long long>(total.exhausted), seconds, rate, latency.percentile_ms(50),
                latency.percentile_ms(90), latency.percentile_ms(99), latency.max_ms(), o.threads);
    return (total.non200 > 0 || socket_errors > 0 || total.exhausted > 0) ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callback_load_bench: %s\n", e.what());
    return 1;
  }
}
