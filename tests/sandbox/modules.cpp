// The sandbox's modules: one line each (see module.h). Dispatch tries them in this order after
// the core endpoints (gettoken, webhook/send, message/send, appchat/send).
#include "tests/sandbox/module.h"

#include "tests/sandbox/aibot.h"
#include "tests/sandbox/appchat.h"
#include "tests/sandbox/customer_groups.h"
#include "tests/sandbox/group_msg.h"
#include "tests/sandbox/kf.h"
#include "tests/sandbox/media.h"
#include "tests/sandbox/template_card.h"

namespace yuer::sandbox {

std::vector<std::unique_ptr<Module>> make_modules(Context& ctx) {
  std::vector<std::unique_ptr<Module>> m;
  m.push_back(make_media_module(ctx));
  m.push_back(make_appchat_module(ctx));
  m.push_back(make_template_card_module(ctx));
  m.push_back(make_customer_groups_module(ctx));
  m.push_back(make_group_msg_module(ctx));
  m.push_back(make_kf_module(ctx));
  m.push_back(make_aibot_module(ctx));
  return m;
}

}  // namespace yuer::sandbox
