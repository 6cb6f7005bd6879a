#include "adapters/app/app_callback.h"

namespace yuer::adapters::app {

wecom::ReceiverConfig callback_config(std::string name, std::string token, std::string aes_key,
                                      std::string receive_id) {
  wecom::ReceiverConfig c;
  c.name = std::move(name);
  c.channel = kChannel;
  c.format = wecom::EnvelopeFormat::kXml;
  c.token = std::move(token);
  c.aes_key = std::move(aes_key);
  c.receive_id = std::move(receive_id);
  return c;
}

}  // namespace yuer::adapters::app
