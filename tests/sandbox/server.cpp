#include "tests/sandbox/server.h"

#include "daemon/base/embedded_file.h"
#include "tests/sandbox/callbacks.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>

std::span<const yuer::EmbeddedFile> sandbox_web_files();  // generated from web/ (CMakeLists.txt)

namespace yuer::sandbox {

struct SandboxServer::Impl {
  Impl(boost::asio::io_context& ioc, Sandbox& sb, std::string listen, metrics::Registry& metrics)
      : sandbox(sb), flush_timer(ioc), server(ioc, make_settings(std::move(listen)), metrics) {}

  static net::ServerSettings make_settings(std::string listen) {
    net::ServerSettings s;
    s.listen = std::move(listen);
    s.default_body_limit = 24 * 1024 * 1024;  // uploads: files up to 20 MB (§3.3), multipart overhead
    s.read_timeout = std::chrono::milliseconds(30'000);
    return s;
  }

  // Delivers what the sandbox emitted while answering a request: in emission order per URL (one
  // strand each), different URLs in parallel. Called on the io thread only.
  void deliver_emitted() {
    for (auto& job : sandbox.take_callbacks()) {
      auto it = strands.find(job.url);
      if (it == strands.end()) it = strands.emplace(job.url, boost::asio::make_strand(workers)).first;
      boost::asio::post(it->second, [sb = &sandbox, job = std::move(job)] {
        sb->record_callback(deliver_callback(job, sb->clock()), job.on_done);
      });
    }
  }

  Sandbox& sandbox;
  bool stopping = false;
  boost::asio::steady_timer flush_timer;  // also delivers what modules emit between requests
  boost::asio::thread_pool workers{8};
  std::map<std::string, boost::asio::strand<boost::asio::thread_pool::executor_type>> strands;
  net::HttpServer server;
};

namespace {

ApiRequest to_api(const http::Request& req) {
  return ApiRequest{std::string(req.method_string()), std::string(req.target()), req.body(),
                    std::string(req[http::beast_http::field::content_type])};
}

http::Response to_http(const http::Request& req, ApiReply reply) {
  auto res = http::make_response(req, static_cast<http::Status>(reply.status), std::move(reply.body),
                                 reply.content_type);
  return res;
}

// Runs on a worker thread: blocking HTTP toward the callback receiver.
awaitable<CallbackRecord> deliver_on_worker(CallbackJob job, Sandbox* sb) {
  co_return deliver_callback(job, sb->clock());
}

awaitable<http::Response> serve_api(SandboxServer::Impl* impl, http::Request req) {
  Sandbox* sb = &impl->sandbox;
  ApiRequest ar = to_api(req);
  std::string path = parse_target(ar.target).path;
  if (auto fault = sb->take_fault(path)) {
    if (fault->latency_ms > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                      std::chrono::milliseconds(fault->latency_ms));
      co_await timer.async_wait(use_tuple);
    }
    if (fault->drop_connection) {
      sb->fault_reply(*fault, ar);  // recorded with status 0
      throw net::DropConnection{};
    }
    if (fault->http_status != 0 || fault->errcode) co_return to_http(req, sb->fault_reply(*fault, ar));
  }
  ApiReply reply = sb->handle(ar);
  impl->deliver_emitted();
  co_return to_http(req, std::move(reply));
}

awaitable<http::Response> serve_control(SandboxServer::Impl* impl, http::Request req) {
  Sandbox* sb = &impl->sandbox;
  boost::asio::thread_pool* workers = &impl->workers;
  ApiRequest ar = to_api(req);
  std::string path = parse_target(ar.target).path;
  if (path == "/_sandbox/callbacks/app" || path == "/_sandbox/callbacks/verify") {
    if (ar.method != "POST")
      co_return to_http(req, control_error(405, "sandbox.method", "use POST"));
    auto prepared = sb->prepare_callback(ar);
    if (auto* reply = std::get_if<ApiReply>(&prepared)) co_return to_http(req, std::move(*reply));
    CallbackRecord rec = co_await boost::asio::co_spawn(
        workers->get_executor(), deliver_on_worker(std::get<CallbackJob>(std::move(prepared)), sb), use_awaitable);
    co_return to_http(req, control_json(sb->record_callback(std::move(rec))));
  }
  ApiReply reply = sb->handle(ar);
  impl->deliver_emitted();
  co_return to_http(req, std::move(reply));
}

// Callbacks a module emits outside a request (e.g. a robot's stream refresh planned while checking
// a passive reply) go out within 200 ms even when no request comes.
awaitable<void> flush_emitted(SandboxServer::Impl* impl) {
  while (!impl->stopping) {
    impl->flush_timer.expires_after(std::chrono::milliseconds(200));
    co_await impl->flush_timer.async_wait(use_tuple);
    if (impl->stopping) break;
    impl->deliver_emitted();
  }
}

// The chat view: "/" is web/index.html, "/web/<file>" the other files.
awaitable<http::Response> serve_web(http::Request req) {
  if (req.method() != http::Verb::get && req.method() != http::Verb::head)
    co_return http::make_error(req, http::Status::method_not_allowed, "sandbox.method", "use GET");
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/") path = "/index.html";
  if (path.rfind("/web/", 0) == 0) path.remove_prefix(4);
  const EmbeddedFile* f = find_embedded(sandbox_web_files(), path);
  if (!f) co_return http::make_error(req, http::Status::not_found, "sandbox.not_found", "no such page");
  auto res = http::make_response(req, http::Status::ok, std::string(f->body), f->content_type);
  res.set(http::beast_http::field::cache_control, "no-cache");
  co_return res;
}

}  // namespace

SandboxServer::SandboxServer(boost::asio::io_context& ioc, Sandbox& sandbox, std::string listen,
                             metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(ioc, sandbox, std::move(listen), metrics)) {
  Impl* impl = impl_.get();
  net::Route api;
  api.path = "/cgi-bin/";
  api.match = net::Route::Match::kPrefix;
  api.label = "wecom_api";
  api.handler = [impl](http::Request req) { return serve_api(impl, std::move(req)); };
  impl_->server.add_route(std::move(api));
  net::Route control;
  control.path = "/_sandbox/";
  control.match = net::Route::Match::kPrefix;
  control.label = "sandbox_control";
  control.handler = [impl](http::Request req) { return serve_control(impl, std::move(req)); };
  impl_->server.add_route(std::move(control));
  for (const char* path : {"/", "/web/"}) {
    net::Route web;
    web.path = path;
    web.match = path[1] == 0 ? net::Route::Match::kExact : net::Route::Match::kPrefix;
    web.label = "sandbox_web";
    web.handler = [](http::Request req) { return serve_web(std::move(req)); };
    impl_->server.add_route(std::move(web));
  }
}

SandboxServer::~SandboxServer() {
  impl_->workers.join();
}

Result<boost::asio::ip::tcp::endpoint> SandboxServer::start() {
  auto ep = impl_->server.listen();
  if (!ep) return ep;
  impl_->sandbox.set_base_url("http://" + ep->address().to_string() + ":" + std::to_string(ep->port()));
  impl_->server.start();
  boost::asio::co_spawn(impl_->flush_timer.get_executor(), flush_emitted(impl_.get()), boost::asio::detached);
  return ep;
}

awaitable<void> SandboxServer::stop(std::chrono::milliseconds grace) {
  impl_->stopping = true;
  impl_->flush_timer.cancel();
  co_await impl_->server.stop(grace);
}

}  // namespace yuer::sandbox
