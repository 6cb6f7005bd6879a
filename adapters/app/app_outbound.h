// Self-built app (自建应用) outbound channels: route "app" = message/send to one member (touser;
// text, markdown or a template card, msgtype template_card), route "app_card" =
// message/update_template_card after a member's click, route "appchat" = appchat/send to an
// app-created internal group chat. Both use the app's access
// token (AccessToken, per corp and secret). https://developer.work.weixin.qq.com/document/path/90236
// and /90248.
#pragma once

#include "adapters/wecom/api_client.h"
#include "daemon/model/outbound_channel.h"

#include <cstdint>
#include <memory>

namespace yuer::adapters::app {

inline constexpr const char* kCardUpdateRoute = "app_card";

struct OutboundSettings {
  std::int64_t agent_id = 0;
};

// `api` and `token` must outlive the channels.
std::unique_ptr<model::OutboundChannel> make_message_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                             OutboundSettings settings);
std::unique_ptr<model::OutboundChannel> make_card_update_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                                 OutboundSettings settings);
std::unique_ptr<model::OutboundChannel> make_appchat_channel(wecom::ApiClient& api, wecom::AccessToken& token,
                                                             OutboundSettings settings);

// Wire bodies, for tests.
std::string message_body(const model::OutboxItem& item, std::int64_t agent_id);
std::string appchat_body(const model::OutboxItem& item);
// '' when the content is not {"response_code", "replace_name"} (strings).
std::string card_update_body(const model::OutboxItem& item, std::int64_t agent_id);
// A single member userid (no '|', not @all, ≤ 64 bytes).
bool member_target(const std::string& target);

}  // namespace yuer::adapters::app
