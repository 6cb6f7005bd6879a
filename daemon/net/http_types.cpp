#include "daemon/net/http_types.h"

#include <boost/beast/http/field.hpp>

#include <cstdio>

namespace yuer::http {
namespace {

// JSON string escaping (RFC 8259 §7). Bytes >= 0x80 pass through: messages are UTF-8.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

Response make_response(const Request& req, Status status, std::string body, std::string_view content_type) {
  Response res{status, req.version()};
  res.set(beast_http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response make_error(const Request& req, Status status, std::string_view code, std::string_view message) {
  std::string body;
  body.reserve(32 + code.size() + message.size());
  body += "{\"error\":{\"code\":";
  append_json_string(body, code);
  body += ",\"message\":";
  append_json_string(body, message);
  body += "}}";
  return make_response(req, status, std::move(body), "application/json");
}

}  // namespace yuer::http
