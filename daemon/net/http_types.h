// HTTP message types handed between the server and route handlers. Cheap to include: Beast's
// message types only, no socket operations (those live in http_server.cpp).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace yuer::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Status = beast_http::status;
using Verb = beast_http::verb;

// Builds a response with the request's version and keep-alive, the given body and content type.
Response make_response(const Request& req, Status status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");

// JSON error body {"error":{"code":..,"message":..}} with the given status.
Response make_error(const Request& req, Status status, std::string_view code, std::string_view message);

}  // namespace yuer::http
