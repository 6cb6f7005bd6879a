#include "daemon/yuerctl/backup_commands.h"

#include "daemon/store/backup.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace yuer::yuerctl {
namespace {

struct BackupOptions {
  std::string store;
  std::string to;
  bool json = false;
};

int run_backup(const BackupOptions& o) {
  auto r = store::backup_store(o.store, o.to);
  if (!r) {
    std::cerr << "yuerctl: " << r.error().message << "\n";
    return 1;
  }
  if (o.json) {
    std::cout << nlohmann::json{{"to", o.to}, {"pages", r->pages}, {"bytes", r->bytes},
                                {"schema_version", r->schema_version}, {"integrity_check", "ok"}}
                     .dump()
              << "\n";
  } else {
    std::cout << "备份完成: " << o.to << " (" << r->bytes << " 字节, " << r->pages << " 页, 结构版本 "
              << r->schema_version << ", integrity_check ok)\n";
  }
  return 0;
}

}  // namespace

std::function<std::optional<int>()> add_backup_commands(CLI::App& cli) {
  auto o = std::make_shared<BackupOptions>();
  auto* cmd = cli.add_subcommand("backup", "offline: consistent copy of the store file (SQLite online backup; yuerd may run)");
  cmd->add_option("--store", o->store, "store file (store.path of yuerd.toml)")->required();
  cmd->add_option("--to", o->to, "backup file to write (must not exist)")->required();
  cmd->add_flag("--json", o->json, "JSON output");
  return [o, cmd]() -> std::optional<int> {
    if (!*cmd) return std::nullopt;
    return run_backup(*o);
  };
}

}  // namespace yuer::yuerctl
