// Template cards after they were sent (§7): message/update_template_card with single-use response
// codes (DOC 94945), and the control call that plays a member clicking a card, which sends the
// template_card_event callback (§6.3) with a fresh response code.
#pragma once

#include "tests/sandbox/module.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace yuer::sandbox {

// Checks an app's interactive template card (button_interaction, vote_interaction,
// multiple_interaction) the way message/send does (DOC 90236, field limits of DOC 101032,
// reference §7.2): task_id required, [0-9A-Za-z_-@], ≤ 128 bytes; main_title.title (or, for
// button cards, sub_title_text); button_list 1..6 with text and unique keys ≤ 1024 bytes;
// checkbox with question_key, mode 0/1 and option_list 1..20 (unique ids ≤ 128 bytes, text);
// select_list 1..3 of option_list 1..10; submit_button with text and key. Notice cards pass
// (their fields are not checked yet). nullopt = fine, else the errmsg detail (errcode 40058;
// WeCom's exact codes for these are not documented [UNCERTAIN]).
std::optional<std::string> check_interactive_card(const nlohmann::json& card);

std::unique_ptr<Module> make_template_card_module(Context& ctx);

}  // namespace yuer::sandbox
