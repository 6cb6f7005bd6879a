#include "adapters/kf/sync_page.h"

#include "adapters/wecom/callback_parse.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <limits>

namespace yuer::adapters::kf {
namespace {

using nlohmann::json;

constexpr int kOriginCustomer = 3;  // sync_msg origin: sent by the WeChat customer (the parent)

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    return u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ? static_cast<std::int64_t>(u)
                                                                                        : 0;
  }
  return it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

// send_time (seconds) in milliseconds; 0 for a time that cannot be one (negative, or overflowing).
std::int64_t to_ms(std::int64_t seconds) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 1000;
  return seconds < 0 || seconds > kMax ? 0 : seconds * 1000;
}

}  // namespace

std::optional<Doorbell> parse_doorbell(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default)) return std::nullopt;
  auto root = doc.child("xml");
  Doorbell d{wecom::xml_text(root.child("OpenKfId")), wecom::xml_text(root.child("Token"))};
  if (d.open_kfid.empty()) return std::nullopt;
  return d;
}

SyncPage parse_sync_page(const json& body, std::string_view open_kfid, std::int64_t received_at) {
  SyncPage page;
  if (!body.is_object()) return page;
  page.next_cursor = str(body, "next_cursor");
  page.has_more = int_of(body, "has_more") == 1;
  auto list = body.find("msg_list");
  if (list == body.end() || !list->is_array()) return page;
  for (const auto& m : *list) {
    if (!m.is_object()) continue;
    const std::string msgid = str(m, "msgid");
    if (msgid.empty()) continue;
    model::InboundEvent e;
    e.receiver = kReceiver;
    e.channel = kReceiver;
    const std::string msgtype = str(m, "msgtype");
    e.kind = "kf:" + msgtype;
    if (msgtype == "event") {
      auto ev = m.find("event");
      if (ev != m.end() && ev->is_object()) e.kind += ":" + str(*ev, "event_type");
    }
    e.dedupe_key = "msg:" + msgid;
    e.from_user = str(m, "external_userid");
    e.created_at = int_of(m, "send_time");
    e.received_at = received_at;
    e.payload = m.dump(-1, ' ', false, json::error_handler_t::replace);
    if (int_of(m, "origin") == kOriginCustomer && !e.from_user.empty()) {
      const std::string own = str(m, "open_kfid");
      page.customer.push_back({own.empty() ? std::string(open_kfid) : own, e.from_user, to_ms(e.created_at), msgid});
    }
    page.events.push_back(std::move(e));
  }
  return page;
}

}  // namespace yuer::adapters::kf
