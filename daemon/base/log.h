// Logging set-up. One spdlog logger ("yuer") writing to stdout. Under systemd (JOURNAL_STREAM set)
// each line starts with a syslog priority prefix "<N>" so journald keeps the level; otherwise a
// timestamped line. Log ids and outcome codes, never payloads, secrets, names or phone numbers.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace yuer::log {

enum class Format { kAuto, kJournal, kText };

// Installs the "yuer" logger as spdlog's default. Safe to call again (SIGHUP changes the level).
void setup(spdlog::level::level_enum level, Format format = Format::kAuto);

// Parses "trace|debug|info|warn|error|critical|off"; returns false on anything else.
bool parse_level(std::string_view text, spdlog::level::level_enum& out);

}  // namespace yuer::log
