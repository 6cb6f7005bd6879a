// 微信客服 inputs: the kf/sync_msg answer page (JSON from WeCom, parse_sync_page) and the
// kf_msg_or_event doorbell (decrypted XML, parse_doorbell), adapters/kf/sync_page.h.
#include "adapters/kf/sync_page.h"
#include "adapters/wecom/callback_parse.h"
#include "tests/fuzz/fuzz_targets.h"

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <string>

namespace yuer::fuzz {
namespace {

using nlohmann::json;

// The text of the first child element `name` of the root <xml>, its text and CDATA parts joined
// (what adapters/wecom's payload parser reads).
std::string joined(const pugi::xml_document& doc, const char* name) {
  std::string out;
  for (auto c : doc.child("xml").child(name).children())
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  return out;
}

void check_page(const json& body, const adapters::kf::SyncPage& page) {
  std::size_t items = 0;
  if (body.is_object())
    if (auto l = body.find("msg_list"); l != body.end() && l->is_array()) items = l->size();
  require(page.events.size() <= items, "more events than msg_list items");
  require(page.customer.size() <= page.events.size(), "more parent messages than events");
  const bool has_more = body.is_object() && body.contains("has_more") && body["has_more"].is_number_integer() &&
                        body["has_more"].get<std::int64_t>() == 1;
  require(page.has_more == has_more, "has_more is 1 exactly when the page says so");
  for (const auto& e : page.events) {
    require(e.receiver == adapters::kf::kReceiver && e.channel == adapters::kf::kReceiver, "receiver/channel kf");
    require(e.kind.rfind("kf:", 0) == 0, "kind prefix kf:");
    require(e.dedupe_key.size() > 4 && e.dedupe_key.rfind("msg:", 0) == 0, "dedupe key msg:<msgid>");
    require(e.received_at == 1700000000, "received_at is ours");
    // The stored payload is valid JSON (bad UTF-8 replaced), an object with that msgid.
    const json back = json::parse(e.payload, nullptr, false);
    require(!back.is_discarded() && back.is_object(), "payload re-parses as a JSON object");
    require(back.contains("msgid") && back["msgid"].is_string() && !back["msgid"].get<std::string>().empty(),
            "payload keeps its msgid");
  }
  for (const auto& c : page.customer) {
    require(!c.external_userid.empty(), "parent message without external_userid");
    require(!c.open_kfid.empty(), "parent message without open_kfid");
    require(c.send_ms >= 0 && c.send_ms % 1000 == 0, "send_ms is whole seconds, not negative");
  }
}

}  // namespace

int kf_sync_msg(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const json body = json::parse(in.begin(), in.end(), nullptr, false);
  if (!body.is_discarded()) {
    const auto page = adapters::kf::parse_sync_page(body, "wkFUZZ", 1700000000);
    check_page(body, page);
    // The same page parsed again gives the same events (KfSync replays pages after a crash).
    const auto again = adapters::kf::parse_sync_page(body, "wkFUZZ", 1700000000);
    require(again.events.size() == page.events.size() && again.next_cursor == page.next_cursor, "deterministic");
    for (std::size_t i = 0; i < page.events.size(); ++i)
      require(again.events[i].dedupe_key == page.events[i].dedupe_key && again.events[i].payload == page.events[i].payload,
              "deterministic events");
    return 0;
  }
  // Not JSON: a doorbell. When the callback parser stored it as kf_msg_or_event, the doorbell
  // reader must see the same OpenKfId (otherwise a stored doorbell would ring nothing).
  auto d = adapters::kf::parse_doorbell(in);
  if (d) require(!d->open_kfid.empty(), "doorbell without an OpenKfId");
  auto fields = adapters::wecom::parse_xml_payload(in);
  if (fields && fields->kind == "event:kf_msg_or_event") {
    pugi::xml_document doc;
    doc.load_buffer(in.data(), in.size(), pugi::parse_default);
    const std::string id = joined(doc, "OpenKfId");
    require(id.empty() == !d.has_value(), "doorbell found exactly when the stored event has an OpenKfId");
    if (d) {
      require(d->open_kfid == id, "doorbell OpenKfId as stored");
      require(d->token == joined(doc, "Token"), "doorbell Token as stored");
    }
  }
  return 0;
}

}  // namespace yuer::fuzz
