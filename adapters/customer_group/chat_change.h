// The change_external_chat event (客户群变更事件) as yuer reads it: a pure parser of the decrypted
// XML, never throwing on bad input (fuzzed: tests/fuzz, target `chat_change`).
// https://developer.work.weixin.qq.com/document/path/92130, reference §8.3.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yuer::adapters::customer_group {

// What yuer reads from a change_external_chat event (§8.3).
struct ChatChange {
  std::string chat_id;
  std::string change_type;    // create | update | dismiss
  std::string update_detail;  // add_member, del_member, ...
  int mem_change_cnt = 0;
  std::string last_mem_ver, cur_mem_ver;
};
// Parses the decrypted XML; nullopt when it is not a change_external_chat event with a ChatId.
std::optional<ChatChange> parse_chat_change(std::string_view xml);

}  // namespace yuer::adapters::customer_group
