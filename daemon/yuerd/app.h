// App: wires the parts of yuerd together, starts them in dependency order, runs the io thread and
// stops in reverse order on SIGTERM/SIGINT (draining in-flight requests); SIGHUP reloads what can
// be reloaded. Durability never depends on a graceful stop.
#pragma once

#include "daemon/yuerd/config.h"

#include <string>

namespace yuer::yuerd {

// Exit codes of yuerd (PRODUCT.md "Interfaces").
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;
// The store file is damaged (not a database, or PRAGMA quick_check at start complains): restore a
// backup (README "Reliability"). Distinct from 1 so systemd's RestartPreventExitStatus= can stop
// restarting a daemon that cannot get better by itself.
inline constexpr int kExitCorruptStore = 3;

// Runs the daemon with `settings` (loaded from `config_path`, re-read on SIGHUP) until a stop
// signal or a fatal error. Returns the process exit code.
int run_daemon(Settings settings, const std::string& config_path);

}  // namespace yuer::yuerd
