// Online backup of a store file (SQLite's backup API): a consistent copy taken beside a running
// yuerd (WAL readers do not block its writer), checked with integrity_check before it is given its
// final name. Used by `yuerctl backup`; restoring is copying the file back while yuerd is stopped
// (README "Reliability").
#pragma once

#include "daemon/base/result.h"

#include <cstdint>
#include <string>

namespace yuer::store {

struct BackupReport {
  std::int64_t pages = 0;     // pages copied
  std::int64_t bytes = 0;     // size of the backup file
  int schema_version = 0;     // of the copy
};

// Copies the store at `from` to `to` (which must not exist; written as `to`.partial and renamed
// after the check). Errors: store.backup_source (missing or not a database), store.backup_target
// (exists, or cannot be written), store.backup_check (the copy failed integrity_check; removed).
Result<BackupReport> backup_store(const std::string& from, const std::string& to);

}  // namespace yuer::store
