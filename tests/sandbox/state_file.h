// `wecom-sandbox --state FILE`: the sandbox's state kept in a JSON file across runs (written
// atomically: a temporary file in the same folder, fsync, rename).
#pragma once

#include "daemon/base/result.h"

#include <nlohmann/json.hpp>

#include <string>

namespace yuer::sandbox {

// Reads a state document written by write_state_file. Errors: state.unreadable (cannot open),
// state.bad_json, state.not_state (JSON but not a wecom-sandbox state of a known version).
Result<nlohmann::json> read_state_file(const std::string& path);

// Replaces `path` with `state`, atomically. Errors: state.write_failed (message names the path and
// the system error).
Result<void> write_state_file(const std::string& path, const nlohmann::json& state);

}  // namespace yuer::sandbox
