// Self-built app (自建应用) callback: XML envelope, receiveid = corpid. Also carries customer-contact
// (客户联系) and 微信客服 events, which WeCom sends to the app's callback URL.
// https://developer.work.weixin.qq.com/document/path/96466
#pragma once

#include "adapters/wecom/callback_endpoint.h"

namespace yuer::adapters::app {

inline constexpr const char* kChannel = "app";

// Receiver settings for the app's callback URL; `receive_id` is the corpid.
wecom::ReceiverConfig callback_config(std::string name, std::string token, std::string aes_key,
                                      std::string receive_id);

}  // namespace yuer::adapters::app
