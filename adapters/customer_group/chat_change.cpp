#include "adapters/customer_group/chat_change.h"

#include "adapters/wecom/callback_parse.h"

#include <pugixml.hpp>

namespace yuer::adapters::customer_group {
std::optional<ChatChange> parse_chat_change(std::string_view xml) {
  pugi::xml_document doc;
  // parse_default does not expand entities beyond the XML built-ins, and there is no DTD support.
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default)) return std::nullopt;
  auto root = doc.child("xml");
  if (wecom::xml_text(root.child("Event")) != "change_external_chat") return std::nullopt;
  ChatChange c;
  c.chat_id = wecom::xml_text(root.child("ChatId"));
  if (c.chat_id.empty()) return std::nullopt;
  c.change_type = wecom::xml_text(root.child("ChangeType"));
  c.update_detail = wecom::xml_text(root.child("UpdateDetail"));
  c.mem_change_cnt = root.child("MemChangeCnt").text().as_int();
  c.last_mem_ver = wecom::xml_text(root.child("LastMemVer"));
  c.cur_mem_ver = wecom::xml_text(root.child("CurMemVer"));
  return c;
}

}  // namespace yuer::adapters::customer_group
