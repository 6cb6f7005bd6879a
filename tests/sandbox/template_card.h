// Template cards after they were sent (§7): message/update_template_card with single-use response
// codes (DOC 94945), and the control call that plays a member clicking a card, which sends the
// template_card_event callback (§6.3) with a fresh response code.
#pragma once

#include "tests/sandbox/module.h"

namespace yuer::sandbox {

std::unique_ptr<Module> make_template_card_module(Context& ctx);

}  // namespace yuer::sandbox
