// The admin API's JSON answers, in one place: UTF-8 JSON whose invalid byte sequences (from stored
// payloads) are replaced rather than thrown on.
#pragma once

#include "daemon/net/http_types.h"

#include <nlohmann/json.hpp>

namespace yuer::admin {

// A response carrying `body` as application/json with `status`.
inline http::Response reply(const http::Request& req, const nlohmann::json& body,
                            http::Status status = http::Status::ok) {
  return http::make_response(req, status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             "application/json; charset=utf-8");
}

}  // namespace yuer::admin
