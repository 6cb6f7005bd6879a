// yuerd: the yuer daemon. `yuerd --config FILE` runs it; `yuerd --check-config FILE` validates.
#include "daemon/yuerd/app.h"
#include "daemon/yuerd/config.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
  using namespace yuer::yuerd;
  // A file-size limit (RLIMIT_FSIZE) must show as a failed write (the store answers 503 and
  // recovers), not kill the daemon.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App cli{"yuerd — the yuer daemon (育儿群助手)"};
  std::string config_path;
  std::string check_path;
  auto* run_opt = cli.add_option("--config", config_path, "run with this TOML config file");
  auto* check_opt = cli.add_option("--check-config", check_path, "validate this config file and exit");
  run_opt->excludes(check_opt);
  cli.set_version_flag("--version", std::string("yuerd ") + "0.1.0");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (config_path.empty() && check_path.empty()) {
    std::cerr << "yuerd: one of --config FILE or --check-config FILE is required\n" << cli.help();
    return kExitUsage;
  }
  const std::string& path = check_path.empty() ? config_path : check_path;
  auto settings = load_config(path);
  if (!settings) {
    std::cerr << "yuerd: " << settings.error().message << "\n";
    return kExitUsage;
  }
  if (!check_path.empty()) {
    std::cout << path << ": ok\n";
    return kExitOk;
  }
  return run_daemon(std::move(*settings), path);
}
