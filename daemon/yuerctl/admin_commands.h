// yuerctl tokens add|list|revoke and audit list: scoped admin tokens and the audit log
// (README "Access control"). Registered from main.cpp with one call.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

namespace yuer::yuerctl {

// The global options main.cpp parses; read after parsing.
struct CtlContext {
  const std::string* url;
  const std::string* token_file;
  const std::string* tz;
};

// Adds the commands to `cli`. The returned function, called after parsing, runs the chosen one
// and returns its exit code, or nullopt when none of these commands was chosen.
std::function<std::optional<int>()> add_admin_commands(CLI::App& cli, CtlContext ctx);

}  // namespace yuer::yuerctl
