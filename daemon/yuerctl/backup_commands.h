// `yuerctl backup --store FILE --to FILE`: an online SQLite backup of the store (offline command:
// works on the file, beside a running yuerd or not). Registered from main.cpp with one call.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>

namespace yuer::yuerctl {

// Adds the subcommand to `cli`; the returned function, called after parsing, runs it when it was
// chosen and returns its exit code (nullopt otherwise).
std::function<std::optional<int>()> add_backup_commands(CLI::App& cli);

}  // namespace yuer::yuerctl
