// InboundEvent: one callback from WeCom, decrypted and verified, as the inbox stores it.
// Invariant: (receiver, dedupe_key) identifies the delivery; WeCom retries carry the same key.
#pragma once

#include <cstdint>
#include <string>

namespace yuer::model {

struct InboundEvent {
  std::string receiver;     // configured receiver: "app" or "bot/<name>"
  std::string channel;      // adapter that parsed it: "app", "aibot"
  std::string kind;         // "text", "image", "event:change_external_chat", "event:kf_msg_or_event", ...
  std::string dedupe_key;   // "msg:<MsgId>" for messages, "sha256:<hex of plaintext>" for events
  std::string from_user;    // WeCom userid / external id as sent (an opaque id, never a name)
  std::int64_t created_at = 0;   // CreateTime / create_time from WeCom, unix seconds (0 if absent)
  std::int64_t received_at = 0;  // our clock, unix seconds
  std::string payload;      // the decrypted plaintext exactly as received (XML or JSON)
};

// One stored row of the inbox.
struct InboxRow {
  std::int64_t id = 0;
  InboundEvent event;
  int deliveries = 1;  // how many times WeCom delivered it (1 + acknowledged retries)
};

}  // namespace yuer::model
