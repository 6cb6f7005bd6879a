// The request header through which HttpServer tells handlers the peer's IP address (per-peer
// lockout of wrong admin tokens). The server removes any value a client sent under this name and
// sets its own before a handler runs.
#pragma once

#include <string_view>

namespace yuer::http {

inline constexpr std::string_view kPeerHeader = "X-Yuer-Peer";

}  // namespace yuer::http
