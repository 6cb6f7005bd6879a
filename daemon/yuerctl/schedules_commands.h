// yuerctl schedules list|add|pause|resume|preview: scheduled pushes through the admin API.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace yuer::yuerctl {

// How the commands reach yuerd (main.cpp's token handling and error printing). Each returns an
// exit code (0 ok, 1 runtime failure, 2 usage) and fills `out` on success.
struct ApiCalls {
  std::function<int(const std::string& path, nlohmann::json& out)> get;
  std::function<int(const std::string& path, const std::string& body, nlohmann::json& out)> post;
  std::string* tz = nullptr;  // display zone (--tz)
};

// Adds `schedules` to `cli`. The returned function, called after parsing, runs the chosen
// subcommand and returns its exit code, or -1 when no schedules command was chosen.
std::function<int()> add_schedules_commands(CLI::App& cli, ApiCalls api);

}  // namespace yuer::yuerctl
