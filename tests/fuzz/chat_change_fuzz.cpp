// The customer-group change_external_chat event (decrypted XML) through parse_chat_change
// (adapters/customer_group/chat_change.h), checked against what the callback parser stored.
#include "adapters/customer_group/chat_change.h"
#include "adapters/wecom/callback_parse.h"
#include "tests/fuzz/fuzz_targets.h"

#include <pugixml.hpp>

#include <string>

namespace yuer::fuzz {
namespace {

std::string joined(const pugi::xml_document& doc, const char* name) {
  std::string out;
  for (auto c : doc.child("xml").child(name).children())
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  return out;
}

}  // namespace

int chat_change(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto change = adapters::customer_group::parse_chat_change(in);
  if (change) require(!change->chat_id.empty(), "change without a ChatId");
  // ChangeDoorbell hands an event to the groups engine when its stored kind is
  // event:change_external_chat: then parse_chat_change must read the same ChatId and versions.
  const auto fields = adapters::wecom::parse_xml_payload(in);
  if (!fields || fields->kind != "event:change_external_chat") return 0;
  pugi::xml_document doc;
  doc.load_buffer(in.data(), in.size(), pugi::parse_default);
  const std::string chat_id = joined(doc, "ChatId");
  require(chat_id.empty() == !change.has_value(), "change found exactly when the stored event has a ChatId");
  if (!change) return 0;
  require(change->chat_id == chat_id, "ChatId as stored");
  require(change->change_type == joined(doc, "ChangeType"), "ChangeType as stored");
  require(change->last_mem_ver == joined(doc, "LastMemVer"), "LastMemVer as stored");
  require(change->cur_mem_ver == joined(doc, "CurMemVer"), "CurMemVer as stored");
  return 0;
}

}  // namespace yuer::fuzz
