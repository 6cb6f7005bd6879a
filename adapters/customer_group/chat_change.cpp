#include "adapters/customer_group/chat_change.h"

#include <pugixml.hpp>

namespace yuer::adapters::customer_group {
namespace {

// An element's text and CDATA parts joined, as adapters/wecom's payload parser reads them (which
// decided that the event is a change_external_chat): `text()` would stop at the first part, so
// <Event>change_<![CDATA[external_chat]]></Event> was stored as that event but ignored here.
std::string text_of(pugi::xml_node element) {
  std::string out;
  for (auto child : element.children())
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
  return out;
}

}  // namespace

std::optional<ChatChange> parse_chat_change(std::string_view xml) {
  pugi::xml_document doc;
  // parse_default does not expand entities beyond the XML built-ins, and there is no DTD support.
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default)) return std::nullopt;
  auto root = doc.child("xml");
  if (text_of(root.child("Event")) != "change_external_chat") return std::nullopt;
  ChatChange c;
  c.chat_id = text_of(root.child("ChatId"));
  if (c.chat_id.empty()) return std::nullopt;
  c.change_type = text_of(root.child("ChangeType"));
  c.update_detail = text_of(root.child("UpdateDetail"));
  c.mem_change_cnt = root.child("MemChangeCnt").text().as_int();
  c.last_mem_ver = text_of(root.child("LastMemVer"));
  c.cur_mem_ver = text_of(root.child("CurMemVer"));
  return c;
}

}  // namespace yuer::adapters::customer_group
