// Intelligent robot (智能机器人) asynchronous replies, route "aibot": the target is the
// response_url of the callback being answered (https://developer.work.weixin.qq.com/document/path/101138),
// which works once and for one hour; the body is markdown (≤ 20480 bytes). Only URLs of the
// configured API base are accepted (/cgi-bin/aibot/response?response_code=…), so a stored row can
// never make yuerd post elsewhere.
#pragma once

#include "adapters/wecom/api_client.h"
#include "daemon/model/outbound_channel.h"

#include <memory>
#include <string>

namespace yuer::adapters::aibot {

inline constexpr const char* kReplyRoute = "aibot";

// Builds the channel; `api` must outlive it. `api_base` is the ApiClient's base (no trailing /).
std::unique_ptr<model::OutboundChannel> make_reply_channel(wecom::ApiClient& api, std::string api_base);

// The path and query of `response_url` under `api_base`, or "" when it is not a response_url there.
std::string response_path(const std::string& api_base, const std::string& response_url);

// The JSON body of a response_url reply: {"msgtype":"markdown","markdown":{"content":…}}.
std::string reply_body(const std::string& content);

}  // namespace yuer::adapters::aibot
