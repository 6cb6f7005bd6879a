// Temporary media uploads: webhook/upload_media for robots (§3.3) and media/upload for apps
// (§5.3). Uploaded ids land in Context::media, where message validation checks them.
#pragma once

#include "tests/sandbox/module.h"

namespace yuer::sandbox {

std::unique_ptr<Module> make_media_module(Context& ctx);

}  // namespace yuer::sandbox
