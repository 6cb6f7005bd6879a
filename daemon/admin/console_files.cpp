// The web console (issue 8): static HTML/JS/CSS from daemon/admin/web/, compiled into the binary
// (yuer_embed_files in CMakeLists.txt), served at / and /console/. The pages call /api/v1 with the
// token the user typed in (kept in the browser's sessionStorage); the files themselves hold no data.
#include "daemon/admin/admin_api.h"

#include "daemon/base/embedded_file.h"

#include <boost/url/parse.hpp>

std::span<const yuer::EmbeddedFile> admin_console_files();  // generated from web/ (CMakeLists.txt)

namespace yuer::admin {

awaitable<http::Response> AdminApi::console(http::Request req) {
  if (req.method() != http::Verb::get && req.method() != http::Verb::head)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");
  auto url = boost::urls::parse_origin_form(req.target());
  std::string path = url ? std::string(url->path()) : "/";
  if (path == "/" || path == "/console/") path = "/index.html";
  else if (path.starts_with("/console/")) path = path.substr(std::string_view("/console").size());
  const EmbeddedFile* f = find_embedded(admin_console_files(), path);
  if (!f) co_return http::make_error(req, http::Status::not_found, "console.not_found", "no such page: " + path);
  auto rsp = http::make_response(req, http::Status::ok, std::string(f->body), f->content_type);
  rsp.set(boost::beast::http::field::cache_control, "no-cache");
  rsp.set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src * data:; frame-ancestors 'none'");
  rsp.set("X-Content-Type-Options", "nosniff");
  co_return rsp;
}

}  // namespace yuer::admin
