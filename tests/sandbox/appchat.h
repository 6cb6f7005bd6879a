// appchat/create, appchat/update, appchat/get (§5.2, DOC 90245–90247): app-created internal group
// chats. Groups created here join Context::fixture.internal_groups with the creating app's id, so
// the core's appchat/send reaches them.
#pragma once

#include "tests/sandbox/module.h"

namespace yuer::sandbox {

std::unique_ptr<Module> make_appchat_module(Context& ctx);

}  // namespace yuer::sandbox
