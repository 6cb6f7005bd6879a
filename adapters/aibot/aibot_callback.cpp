#include "adapters/aibot/aibot_callback.h"

namespace yuer::adapters::aibot {

wecom::ReceiverConfig callback_config(std::string name, std::string token, std::string aes_key) {
  wecom::ReceiverConfig c;
  c.name = std::move(name);
  c.channel = kChannel;
  c.format = wecom::EnvelopeFormat::kJson;
  c.token = std::move(token);
  c.aes_key = std::move(aes_key);
  c.receive_id = "";
  return c;
}

}  // namespace yuer::adapters::aibot
