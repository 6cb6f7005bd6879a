#include "daemon/net/http_server.h"
#include "daemon/net/fd_limit.h"
#include "daemon/net/peer_header.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <exception>
#include <list>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>

#include <pthread.h>

namespace yuer::net {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using std::chrono::milliseconds;

// Read size while waiting for the next request; the flat_buffer keeps its capacity across requests.
constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response on a request we did not read to the end, we read and discard what the
// client is still sending for a short while (nginx "lingering close"): closing a socket with unread
// data sends RST, which can make the client lose the response.
constexpr milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 1024 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr milliseconds kAcceptBackoff{50};
// Deadlines are enforced by one sweep per server instead of a timer per socket operation (see
// sweep_loop): a timeout fires between its deadline and one sweep interval later.
constexpr milliseconds kMinSweep{5};
constexpr milliseconds kMaxSweep{250};
using clock = std::chrono::steady_clock;

constexpr const char* kRequestsName = "yuer_http_requests_total";
constexpr const char* kRequestsHelp = "HTTP requests answered, by route and status code";

// Counters for one route label, looked up by status without touching the registry's map (and its
// mutex) after the first request with that status. Safe from any io thread: the slot per status
// is an atomic pointer, and two threads that miss at once get the same Counter from the registry.
class StatusCounters {
 public:
  // Creates the series for `common` up front so it shows in /metrics before the first request.
  StatusCounters(metrics::Registry& registry, std::string label, unsigned common)
      : registry_(registry), label_(std::move(label)) {
    get(common);
  }
  metrics::Counter& get(unsigned status) {
    if (status >= kSlots) return lookup(status);
    if (auto* c = by_status_[status].load(std::memory_order_acquire)) return *c;
    auto& c = lookup(status);
    by_status_[status].store(&c, std::memory_order_release);
    return c;
  }

 private:
  static constexpr unsigned kSlots = 600;  // HTTP status codes are 100..599
  metrics::Counter& lookup(unsigned status) {
    return registry_.counter(kRequestsName, kRequestsHelp, {{"route", label_}, {"status", std::to_string(status)}});
  }
  metrics::Registry& registry_;
  std::string label_;
  std::array<std::atomic<metrics::Counter*>, kSlots> by_status_{};
};

struct RouteEntry {
  RouteEntry(Route r, std::size_t limit, metrics::Registry& registry)
      : route(std::move(r)), body_limit(limit), counters(registry, route.label, 200) {}
  Route route;
  std::size_t body_limit;
  StatusCounters counters;

  bool matches(std::string_view path) const {
    if (route.match == Route::Match::kExact) return path == route.path;
    return path.substr(0, route.path.size()) == route.path;
  }
};

}  // namespace
namespace server_detail {
struct Shard;
}  // namespace server_detail
namespace {
using server_detail::Shard;

// One accepted connection. Lives in its Shard's `conns` from accept until after its coroutine has
// ended, so the session and stop() can both reach it by reference. Touched on its shard's thread only.
struct Conn {
  Conn(tcp::socket s, Shard& sh) : stream(std::move(s)), shard(sh) {}
  // Beast's own timeouts stay off (expiry "never"): each of its timed operations starts and
  // cancels a timer wait, which cost more than the request parsing. The sweep closes the stream
  // when `deadline` has passed instead.
  beast::tcp_stream stream;
  Shard& shard;
  clock::time_point deadline = clock::time_point::max();  // for the socket operation under way
  beast::flat_buffer buffer;
  asio::cancellation_signal cancel;
  std::string head;  // formatted response head, reused
  bool idle = true;  // waiting for the first byte of a request: stop() closes it at once
  bool peer_loopback = false;
  std::string peer;  // the peer's address, handed to handlers in http::kPeerHeader
  bool done = false;  // the session coroutine has ended; erasure is pending
};

// The socket operations that follow must complete within `d` (from now), or the sweep closes the
// connection (they then fail with operation_aborted). Like Beast's expires_after.
void expires_after(Conn& c, milliseconds d) { c.deadline = clock::now() + d; }
// No deadline: while a route handler runs, only the handler bounds its time (as before).
void expires_never(Conn& c) { c.deadline = clock::time_point::max(); }

// Sweep interval: an eighth of the shortest timeout, within [kMinSweep, kMaxSweep].
milliseconds sweep_interval(const ServerSettings& s) {
  const milliseconds shortest = std::min({s.read_timeout, s.idle_timeout, s.write_timeout, kLingerTime});
  return std::clamp(shortest / 8, kMinSweep, kMaxSweep);
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  return a.is_loopback();
}

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  auto bad = [&](const std::string& why) { return Error{"server.listen", "cannot listen on " + listen + ": " + why}; };
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("expected host:port");
  std::string host = listen.substr(0, colon);
  std::string_view port_text = std::string_view(listen).substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
    return bad("bad port");
  if (host == "localhost") return tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port));
  error_code aec;
  auto addr = asio::ip::make_address(host, aec);
  if (aec) return bad("host must be an IPv4/IPv6 literal or localhost");
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

// Feeds the bytes already buffered to `parser` (the header, or with eager(true) the body too), so
// the common request that arrived in one read needs no Beast read operation (each of which ends
// with a post when it does no I/O). need_more: the parser wants bytes from the socket.
error_code parse_buffered(bhttp::request_parser<bhttp::string_body>& parser, beast::flat_buffer& buffer) {
  error_code ec;
  if (buffer.size() != 0) {
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec && ec != bhttp::error::need_more) return ec;
  }
  const bool complete = parser.eager() ? parser.is_done() : parser.is_header_done();
  return complete ? error_code{} : error_code(bhttp::error::need_more);
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// Status for a failed read, or nullopt when the connection should just be closed (peer gone,
// timeout, shutdown): nobody is waiting for an answer then.
std::optional<http::Status> status_for_read_error(const error_code& ec) {
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
    return http::Status::request_header_fields_too_large;
  if (ec == bhttp::error::body_limit) return http::Status::payload_too_large;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return std::nullopt;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) return http::Status::bad_request;
  return std::nullopt;
}

const char* error_code_for(http::Status s) {
  switch (s) {
    case http::Status::request_header_fields_too_large: return "http.header_too_large";
    case http::Status::payload_too_large: return "http.body_too_large";
    case http::Status::bad_request: return "http.bad_request";
    case http::Status::not_found: return "http.not_found";
    case http::Status::forbidden: return "http.forbidden";
    default: return "http.internal";
  }
}

const char* message_for(http::Status s) {
  switch (s) {
    case http::Status::request_header_fields_too_large: return "request header too large";
    case http::Status::payload_too_large: return "request body too large";
    case http::Status::bad_request: return "malformed HTTP request";
    case http::Status::not_found: return "no such path";
    case http::Status::forbidden: return "this path is served to local clients only";
    default: return "internal error";
  }
}

http::Response error_response(unsigned version, bool keep_alive, http::Status status) {
  http::Request shape;
  shape.version(version);
  shape.keep_alive(keep_alive);
  return http::make_error(shape, status, error_code_for(status), message_for(status));
}

}  // namespace

namespace server_detail {

// One io thread's share of the connections: its executor, its connections and its timeout sweep.
// `conns` and `sweeper` are touched on that thread only. Shard 0 is the main io_context.
struct Shard {
  Shard(asio::any_io_executor ex, bool is_main) : executor(std::move(ex)), sweeper(executor), main(is_main) {}
  asio::any_io_executor executor;
  asio::steady_timer sweeper;  // wakes sweep_loop
  std::list<Conn> conns;
  bool main;
};

// Everything the server's coroutines share. The acceptor, `waiters` and `next_shard` are touched on
// the main io thread only; each shard's connections on its own thread; the rest is atomic or
// immutable once start() ran.
struct State : std::enable_shared_from_this<State> {
  State(asio::io_context& ioc, ServerSettings s, metrics::Registry& registry)
      : main(ioc),
        settings(std::move(s)),
        metrics(registry),
        acceptor(ioc),
        sweep_every(sweep_interval(settings)),
        unknown(registry, "unknown", 404),
        rejected(registry.counter("yuer_http_connections_rejected_total",
                                  "Connections closed at accept because max_connections was reached")),
        live(std::make_shared<std::atomic<std::size_t>>(0)) {
    registry.gauge("yuer_http_connections", "Open HTTP connections",
                   [live = live] { return static_cast<double>(live->load(std::memory_order_relaxed)); });
    shards.push_back(std::make_unique<Shard>(ioc.get_executor(), true));
    for (std::size_t i = 1; i < std::max<std::size_t>(settings.io_threads, 1); ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
      guards.emplace_back(contexts.back()->get_executor());
      shards.push_back(std::make_unique<Shard>(contexts.back()->get_executor(), false));
    }
    next_shard = shards.size() > 1 ? 1 : 0;
  }

  // The extra io threads' contexts, declared first so that they are destroyed after everything
  // bound to them (sockets in `shards`, timers). Threads are joined by ~HttpServer.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;

  asio::io_context& main;
  ServerSettings settings;
  metrics::Registry& metrics;
  tcp::acceptor acceptor;
  milliseconds sweep_every;
  std::vector<std::unique_ptr<RouteEntry>> routes;  // longest path first; exact before prefix
  StatusCounters unknown;
  metrics::Counter& rejected;
  std::shared_ptr<std::atomic<std::size_t>> live;  // shared with the gauge, which may outlive us
  std::vector<std::unique_ptr<Shard>> shards;
  std::size_t next_shard = 0;  // set to 1 when there are extra threads: the main one comes last
  std::atomic<bool> accepting = false;
  std::atomic<bool> stopping = false;
  std::atomic<bool> forced = false;
  std::vector<asio::steady_timer*> waiters;  // stop() calls waiting for the last connection

  RouteEntry* find(std::string_view path) {
    for (auto& r : routes)
      if (r->matches(path)) return r.get();
    return nullptr;
  }

  void notify() {
    for (auto* t : waiters) t->cancel();
  }
  bool drained() const { return live->load() == 0 && !accepting; }

  void launch(Shard& shard, tcp::socket sock);
  void session_done(std::list<Conn>::iterator it, std::exception_ptr e);
};

}  // namespace server_detail

struct HttpServer::Impl final : server_detail::State {
  using State::State;
};

namespace {

using server_detail::State;

// Status line and header fields of `res`, formatted into `out` (whose capacity is reused).
void format_head(const http::Response& res, std::string& out) {
  out.clear();
  out += "HTTP/";
  out += static_cast<char>('0' + res.version() / 10);
  out += '.';
  out += static_cast<char>('0' + res.version() % 10);
  out += ' ';
  char code[8];
  auto end = std::to_chars(code, code + sizeof code, res.result_int()).ptr;
  out.append(code, end);
  out += ' ';
  out += res.reason();
  out += "\r\n";
  for (const auto& f : res) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

// Writes `res`, bounded by write_timeout. Returns false if the connection is unusable afterwards.
// `c` and `res` belong to the caller's frame, which outlives this call (it is awaited at once).
// Beast's serializer walks nested buffer-sequence adaptors for every response (about a third of
// the server's instructions for a small answer, measured with callgrind); a string body needs
// only its head formatted once and one gather write. Chunked responses still use the serializer.
awaitable<bool> write_response(State& self, Conn& c, http::Response& res) {
  expires_after(c, self.settings.write_timeout);
  if (res.chunked()) {
    bhttp::response_serializer<bhttp::string_body> sr{res};
    auto [ec, n] = co_await bhttp::async_write(c.stream, sr, use_tuple);
    co_return !ec;
  }
  format_head(res, c.head);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(c.head), asio::buffer(res.body())};
  auto [ec, n] = co_await asio::async_write(c.stream, buffers, use_tuple);
  co_return !ec;
}

// Answers a request that cannot be served (bad syntax, limits) and ends the connection without
// resetting it. `c` and `counters` outlive the call (awaited at once by the session).
awaitable<void> reject(State& self, Conn& c, StatusCounters& counters, http::Status status, unsigned version) {
  auto res = error_response(version, false, status);
  counters.get(static_cast<unsigned>(status)).inc();
  if (!co_await write_response(self, c, res)) co_return;
  error_code ec;
  c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  c.buffer.clear();
  expires_after(c, std::min(kLingerTime, self.settings.read_timeout));
  for (std::size_t drained = 0; drained < kLingerBytes && !self.forced.load(std::memory_order_relaxed);) {
    auto [rec, n] = co_await c.stream.async_read_some(c.buffer.prepare(kReadChunk), use_tuple);
    if (rec) break;
    drained += n;
  }
}

// Runs a route's handler where it is called (the main io_context). Handlers outlive the server's
// coroutines (routes are never removed), so a pointer is enough.
awaitable<http::Response> call_handler(const Handler* handler, http::Request req) {
  co_return co_await (*handler)(std::move(req));
}

awaitable<void> run_session(std::shared_ptr<State> self, Conn* conn) {
  Conn& c = *conn;
  const ServerSettings& s = self->settings;
  // The first request must arrive whole within read_timeout of the accept; later ones get
  // idle_timeout for their first byte, then read_timeout for the rest.
  expires_after(c, s.read_timeout);
  for (bool first = true;; first = false) {
    if (c.buffer.size() == 0) {
      c.idle = true;
      if (self->stopping.load(std::memory_order_relaxed)) co_return;
      if (!first) expires_after(c, s.idle_timeout);
      auto [ec, n] = co_await c.stream.async_read_some(c.buffer.prepare(kReadChunk), use_tuple);
      if (ec) co_return;
      c.buffer.commit(n);
      c.idle = false;
      if (!first) expires_after(c, s.read_timeout);
    } else if (!first) {
      expires_after(c, s.read_timeout);  // pipelined request already in the buffer
    }

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(s.header_limit, UINT32_MAX)));
    // Beast checks Content-Length against body_limit when the header completes, before we know
    // the route: no limit until then; the route's limit is checked and set right after.
    parser.body_limit(boost::none);
    if (auto ec = parse_buffered(parser, c.buffer); ec) {
      if (ec == bhttp::error::need_more) std::tie(ec, std::ignore) =
          co_await bhttp::async_read_header(c.stream, c.buffer, parser, use_tuple);
      if (ec) {
        if (auto status = status_for_read_error(ec)) co_await reject(*self, c, self->unknown, *status, 11);
        co_return;
      }
    }

    RouteEntry* route = self->find(path_of(parser.get().target()));
    StatusCounters& counters = route ? route->counters : self->unknown;
    const std::size_t limit = route ? route->body_limit : s.default_body_limit;
    const unsigned version = parser.get().version();
    if (route && route->route.loopback_only && !c.peer_loopback) {
      co_await reject(*self, c, counters, http::Status::forbidden, version);
      co_return;
    }
    if (auto cl = parser.content_length(); cl && *cl > limit) {
      co_await reject(*self, c, counters, http::Status::payload_too_large, version);
      co_return;
    }
    if (!parser.is_done()) {
      parser.body_limit(limit);
      if (version >= 11 && c.buffer.size() == 0 &&
          beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(kContinue), use_tuple);
        if (ec) co_return;
      }
      parser.eager(true);
      if (auto ec = parse_buffered(parser, c.buffer); ec) {
        if (ec == bhttp::error::need_more) std::tie(ec, std::ignore) =
            co_await bhttp::async_read(c.stream, c.buffer, parser, use_tuple);
        if (ec) {
          if (auto status = status_for_read_error(ec)) co_await reject(*self, c, counters, *status, version);
          co_return;
        }
      }
    }

    http::Request req = parser.release();
    // Only the server says who the peer is: a client's own header of that name is dropped.
    req.erase(http::kPeerHeader);
    req.set(http::kPeerHeader, c.peer);
    const bool keep_alive = req.keep_alive();
    expires_never(c);
    http::Response res;
    if (!route) {
      res = http::make_error(req, http::Status::not_found, error_code_for(http::Status::not_found),
                             message_for(http::Status::not_found));
    } else {
      std::exception_ptr failure;
      bool drop = false;
      try {
        if (route->route.any_thread || c.shard.main)
          res = co_await route->route.handler(std::move(req));
        else  // runs on the main io_context; resumes here
          res = co_await asio::co_spawn(self->main, call_handler(&route->route.handler, std::move(req)),
                                        use_awaitable);
      } catch (const DropConnection&) {
        drop = true;
      } catch (...) {
        failure = std::current_exception();
      }
      if (drop) {
        error_code ec;
        c.stream.socket().set_option(tcp::socket::linger(true, 0), ec);  // RST, not FIN
        c.stream.close();
        co_return;
      }
      if (failure) {
        if (self->forced) co_return;  // cancelled by stop() after the grace period
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          spdlog::error("http route {}: handler failed: {}", route->route.label, e.what());
        } catch (...) {
          spdlog::error("http route {}: handler failed with a non-standard exception", route->route.label);
        }
        res = error_response(version, keep_alive, http::Status::internal_server_error);
      }
    }
    if (!keep_alive || self->stopping.load(std::memory_order_relaxed)) res.keep_alive(false);
    if (!res.has_content_length() && !res.chunked()) res.prepare_payload();
    counters.get(res.result_int()).inc();
    if (!co_await write_response(*self, c, res)) co_return;
    if (res.need_eof()) {
      error_code ec;
      c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

awaitable<void> accept_loop(std::shared_ptr<State> self) {
  for (;;) {
    // Round-robin: the socket is opened on the executor of the shard that will serve it.
    Shard& shard = *self->shards[self->next_shard];
    auto [ec, sock] = co_await self->acceptor.async_accept(shard.executor, use_tuple);
    if (self->stopping || !self->acceptor.is_open() || ec == asio::error::operation_aborted) break;
    if (ec) {
      // EMFILE and friends: back off instead of spinning; the pending connection stays queued.
      spdlog::warn("http accept failed: {}", ec.message());
      asio::steady_timer t(co_await asio::this_coro::executor, kAcceptBackoff);
      co_await t.async_wait(use_tuple);
      continue;
    }
    if (self->live->load() >= self->settings.max_connections) {
      // Count first: a client that sees the close may read the metric at once.
      self->rejected.inc();
      sock.close(ec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    self->next_shard = (self->next_shard + 1) % self->shards.size();
    self->launch(shard, std::move(sock));
  }
  self->accepting = false;
  self->notify();
}

// Closes every connection of `shard` whose socket operation is past its deadline, once per
// sweep_every, until the server has stopped and drained. Runs on the shard's thread. A closed
// stream fails the pending operation with operation_aborted, which the session treats like Beast's
// timeout: close without an answer.
awaitable<void> sweep_loop(std::shared_ptr<State> self, Shard* shard) {
  for (;;) {
    shard->sweeper.expires_after(self->sweep_every);
    co_await shard->sweeper.async_wait(use_tuple);  // cancelled by stop_server once drained
    if (self->stopping && self->drained()) break;
    const auto now = clock::now();
    for (auto& c : shard->conns)
      if (!c.done && c.deadline <= now) {
        c.deadline = clock::time_point::max();
        c.stream.close();
      }
  }
}

void log_task_end(const char* task, std::exception_ptr e, bool stopping) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    if (stopping) spdlog::debug("{} ended during stop: {}", task, ex.what());
    else spdlog::warn("{} ended: {}", task, ex.what());
  } catch (...) {
    spdlog::warn("{} ended with a non-standard exception", task);
  }
}

// Runs `fn(shard)` on every shard's thread (at once for the main one).
template <class Fn>
void for_each_shard(const std::shared_ptr<State>& self, Fn fn) {
  for (auto& sh : self->shards) asio::dispatch(sh->executor, [self, shard = sh.get(), fn] { fn(*shard); });
}

awaitable<void> stop_server(std::shared_ptr<State> self, milliseconds grace) {
  self->stopping = true;
  error_code ec;
  self->acceptor.close(ec);
  for_each_shard(self, [](Shard& shard) {
    for (auto& c : shard.conns)
      if (c.idle && !c.done) c.stream.close();
  });

  asio::steady_timer wake(co_await asio::this_coro::executor);
  self->waiters.push_back(&wake);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!self->drained()) {
    if (!self->forced && std::chrono::steady_clock::now() >= deadline) {
      // Grace is over: cancel handlers (terminal, the only type co_spawn and Beast listen to by
      // default) and close the sockets so reads and writes end too.
      self->forced = true;
      for_each_shard(self, [](Shard& shard) {
        for (auto& c : shard.conns) {
          if (c.done) continue;
          c.cancel.emit(asio::cancellation_type::terminal);
          c.stream.close();
        }
      });
      continue;
    }
    // Woken by notify() when a connection ends; the poll interval only guards against a
    // notification lost between the threads.
    const auto poll = std::chrono::steady_clock::now() + self->sweep_every;
    wake.expires_at(self->forced ? poll : std::min(deadline, poll));
    co_await wake.async_wait(use_tuple);
  }
  std::erase(self->waiters, &wake);
  for_each_shard(self, [](Shard& shard) { shard.sweeper.cancel(); });
  // The extra io threads end once their last handler has run (see ~HttpServer).
  self->guards.clear();
}

}  // namespace

// On the main io thread: counts the connection, then starts its session on the shard's thread.
void server_detail::State::launch(Shard& shard, tcp::socket sock) {
  live->fetch_add(1);
  asio::dispatch(shard.executor, [self = shared_from_this(), sh = &shard, sock = std::move(sock)]() mutable {
    error_code ec;
    auto peer = sock.remote_endpoint(ec);
    auto it = sh->conns.emplace(sh->conns.end(), std::move(sock), *sh);
    it->peer_loopback = !ec && is_loopback(peer.address());
    if (!ec) it->peer = peer.address().to_string();
    asio::co_spawn(sh->executor, run_session(self, &*it),
                   asio::bind_cancellation_slot(it->cancel.slot(), [self, it](std::exception_ptr e) {
                     self->session_done(it, e);
                   }));
  });
}

// On the connection's shard thread.
void server_detail::State::session_done(std::list<Conn>::iterator it, std::exception_ptr e) {
  log_task_end("http session", e, stopping);
  it->done = true;
  // co_spawn still holds the cancellation slot while this handler runs; erase the connection (and
  // its signal) once the spawn has fully unwound.
  asio::post(it->shard.executor, [self = shared_from_this(), it] {
    it->shard.conns.erase(it);
    self->live->fetch_sub(1);
    if (self->stopping) asio::dispatch(self->main, [self] { self->notify(); });
  });
}

HttpServer::HttpServer(boost::asio::io_context& ioc, ServerSettings settings, metrics::Registry& metrics)
    : impl_(std::make_shared<Impl>(ioc, std::move(settings), metrics)) {}

HttpServer::~HttpServer() {
  // After a completed stop() the extra threads are ending by themselves; otherwise stop them here.
  // Their unfinished connections then hold `impl_` (through coroutine frames that are never
  // destroyed), so nothing bound to a destroyed io_context is ever touched.
  const bool clean = impl_->stopping && impl_->drained();
  impl_->guards.clear();
  if (!clean)
    for (auto& ctx : impl_->contexts) ctx->stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

void HttpServer::add_route(Route route) {
  if (!route.handler) throw std::invalid_argument("route " + route.path + " has no handler");
  std::size_t limit = route.body_limit ? route.body_limit : impl_->settings.default_body_limit;
  auto entry = std::make_unique<RouteEntry>(std::move(route), limit, impl_->metrics);
  auto before = [](const std::unique_ptr<RouteEntry>& a, const std::unique_ptr<RouteEntry>& b) {
    if (a->route.path.size() != b->route.path.size()) return a->route.path.size() > b->route.path.size();
    return a->route.match == Route::Match::kExact && b->route.match != Route::Match::kExact;
  };
  auto pos = std::upper_bound(impl_->routes.begin(), impl_->routes.end(), entry, before);
  impl_->routes.insert(pos, std::move(entry));
}

Result<boost::asio::ip::tcp::endpoint> HttpServer::listen() {
  auto ep = parse_listen(impl_->settings.listen);
  if (!ep) return ep.error();
  // Every connection is a descriptor: raise the soft RLIMIT_NOFILE to fit max_connections, or
  // lower the cap to what fits (fd_limit.h), so the cap is reached before EMFILE is.
  impl_->settings.max_connections = fit_connections_to_fd_limit(impl_->settings.max_connections);
  auto& acc = impl_->acceptor;
  auto fail = [&](const error_code& ec) {
    error_code ignored;
    acc.close(ignored);
    return Error{"server.listen", "cannot listen on " + impl_->settings.listen + ": " + ec.message()};
  };
  error_code ec;
  if (acc.open(ep->protocol(), ec); ec) return fail(ec);
  if (acc.set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail(ec);
  if (acc.bind(*ep, ec); ec) return fail(ec);
  if (acc.listen(tcp::socket::max_listen_connections, ec); ec) return fail(ec);
  auto local = acc.local_endpoint(ec);
  if (ec) return fail(ec);
  return local;
}

void HttpServer::start() {
  impl_->accepting = true;
  auto self = impl_;
  for (std::size_t i = 0; i < impl_->contexts.size(); ++i) {
    impl_->threads.emplace_back([ctx = impl_->contexts[i].get(), main = &impl_->main] {
      try {
        ctx->run();
      } catch (...) {
        // A handler threw out of the loop (a bug): end the daemon the way the main loop would.
        spdlog::critical("http io thread failed");
        asio::post(*main, [e = std::current_exception()] { std::rethrow_exception(e); });
      }
    });
    const std::string name = "yuerd-io" + std::to_string(i + 1);
    pthread_setname_np(impl_->threads.back().native_handle(), name.c_str());
  }
  for (auto& sh : impl_->shards)
    asio::co_spawn(sh->executor, sweep_loop(self, sh.get()), [self](std::exception_ptr e) {
      log_task_end("http timeout sweep", e, self->stopping);
    });
  asio::co_spawn(impl_->acceptor.get_executor(), accept_loop(self), [self](std::exception_ptr e) {
    log_task_end("http accept loop", e, self->stopping);
    if (e) {
      self->accepting = false;
      self->notify();
    }
  });
}

awaitable<void> HttpServer::stop(std::chrono::milliseconds grace) { return stop_server(impl_, grace); }

std::size_t HttpServer::connection_count() const { return impl_->live->load(std::memory_order_relaxed); }

}  // namespace yuer::net
