// Intelligent robot (智能机器人) callback in API mode: JSON envelope, receiveid is empty.
// https://developer.work.weixin.qq.com/document/path/101033
#pragma once

#include "adapters/wecom/callback_endpoint.h"

namespace yuer::adapters::aibot {

inline constexpr const char* kChannel = "aibot";

// Receiver settings for one robot's callback URL (receiveid "" as the robot pages require).
wecom::ReceiverConfig callback_config(std::string name, std::string token, std::string aes_key);

}  // namespace yuer::adapters::aibot
