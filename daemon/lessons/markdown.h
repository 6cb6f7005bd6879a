// Checks and conversions for the WeCom markdown subset used in lessons and message templates
// (robot webhook `markdown`, app message/send `markdown`): headings # to ######, **bold**, [text](url),
// `code`, > quotes, <font color="info|comment|warning">…</font>.
// https://developer.work.weixin.qq.com/document/path/99110 (群机器人配置说明, markdown类型)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace yuer::lessons {

// Problems that would show as broken text in the WeCom client, one Chinese/English sentence each,
// prefixed with the 1-based line number; empty when the text is fine. Checks: empty text, headings
// deeper than ###### or without a space, unbalanced ** on a line, links not written [text](http…),
// <font> without a known colour or not closed on the same line, any other HTML tag.
std::vector<std::string> markdown_problems(std::string_view text);

// The same text for routes that only carry plain text (kf text, customer-group task text): heading
// marks, ** and quote marks removed, <font> tags dropped, links written "text（url）".
std::string to_plain_text(std::string_view markdown);

}  // namespace yuer::lessons
