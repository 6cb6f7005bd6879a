// Group robot webhook (群机器人 / 消息推送) outbound channel, route "robot": one target per group, each
// with its own webhook key (a secret: it lives only in memory and in the request URL, never in
// logs or stored rows). https://developer.work.weixin.qq.com/document/path/99110
#pragma once

#include "adapters/wecom/api_client.h"
#include "daemon/model/outbound_channel.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace yuer::adapters::robot {

struct Settings {
  std::map<std::string, std::string> keys;  // target (group name) → webhook key
  // DOC 99110: 20 messages per minute per robot; we stay under it with a margin.
  int per_key_per_window = 18;
  std::chrono::milliseconds window{60000};
  // Reference §12: per IP per API 20 000 calls/min; all robots together stay under it.
  int route_per_minute = 18000;
};

// Builds the channel; `api` must outlive it.
std::unique_ptr<model::OutboundChannel> make_channel(wecom::ApiClient& api, Settings settings);

// The JSON body of webhook/send for `item` (text or markdown).
std::string webhook_body(const model::OutboxItem& item);

}  // namespace yuer::adapters::robot
