// Pure parsers of what WeCom sends about 微信客服: the kf/sync_msg answer page and the
// kf_msg_or_event doorbell. No I/O, never throw on bad input (fuzzed: tests/fuzz, target
// `kf_sync_msg`). https://developer.work.weixin.qq.com/document/path/94670, reference §9.2-9.3.
#pragma once

#include "daemon/model/inbound_event.h"
#include "daemon/store/kf_store.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::adapters::kf {

inline constexpr const char* kReceiver = "kf";  // inbox receiver and channel of synced messages

// The doorbell's fields (decrypted kf_msg_or_event XML): nullopt when either is missing.
struct Doorbell {
  std::string open_kfid;
  std::string token;  // valid 10 minutes; lifts sync_msg's strict frequency limit
};
std::optional<Doorbell> parse_doorbell(std::string_view xml);

// One sync_msg answer page, as KfSync uses it.
struct SyncPage {
  // Every msg_list item that is an object with a non-empty string msgid, in order: receiver and
  // channel "kf", kind "kf:<msgtype>" or "kf:event:<event_type>", dedupe "msg:<msgid>", from_user
  // external_userid, created_at send_time, payload the item as compact JSON (bad UTF-8 replaced).
  std::vector<model::InboundEvent> events;
  // Messages of origin 3 (the parent) with an external_userid: they move the parent's window.
  // send_ms is send_time in milliseconds (0 when send_time is negative or too large).
  std::vector<store::KfCustomerMessage> customer;
  std::string next_cursor;  // "" when absent
  bool has_more = false;    // has_more == 1 (it can be 1 with an empty msg_list, §9.3)
};

// `body` is the parsed answer (any JSON value); items without an open_kfid get `open_kfid`.
SyncPage parse_sync_page(const nlohmann::json& body, std::string_view open_kfid, std::int64_t received_at);

}  // namespace yuer::adapters::kf
