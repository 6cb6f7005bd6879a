#include "daemon/store/backup.h"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <system_error>

namespace yuer::store {

namespace fs = std::filesystem;

Result<BackupReport> backup_store(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec))
    return fail("store.backup_source", fmt::format("{}: 不是存储文件 (no such store file)", from));
  if (fs::exists(to, ec))
    return fail("store.backup_target", fmt::format("{}: 已存在，不会覆盖 (exists; not overwritten)", to));
  const std::string partial = to + ".partial";
  fs::remove(partial, ec);
  BackupReport report;
  try {
    SQLite::Database src(from, SQLite::OPEN_READONLY);
    src.setBusyTimeout(5000);
    // A file that is not a database shows itself on the first read.
    (void)src.execAndGet("PRAGMA user_version").getInt();
    try {
      SQLite::Database dst(partial, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      SQLite::Backup backup(dst, src);
      // All pages in one step: one read transaction on the source, so the copy is one snapshot.
      backup.executeStep(-1);
      report.pages = backup.getTotalPageCount();
      const std::string check = dst.execAndGet("PRAGMA integrity_check").getString();
      if (check != "ok") {
        fs::remove(partial, ec);
        return fail("store.backup_check", fmt::format("{}: 备份文件校验失败 (integrity_check: {})", to, check));
      }
      report.schema_version = dst.execAndGet("PRAGMA user_version").getInt();
      // Leave a self-contained file: no -wal beside the copy.
      dst.exec("PRAGMA journal_mode = DELETE");
    } catch (const SQLite::Exception& e) {
      fs::remove(partial, ec);
      return fail("store.backup_target", fmt::format("{}: 无法写入备份 (cannot write the backup: {})", to, e.what()));
    }
  } catch (const SQLite::Exception& e) {
    fs::remove(partial, ec);
    return fail("store.backup_source", fmt::format("{}: 无法读取存储 (cannot read the store: {})", from, e.what()));
  }
  fs::rename(partial, to, ec);
  if (ec) {
    fs::remove(partial, ec);
    return fail("store.backup_target", fmt::format("{}: 无法改名 (cannot rename the finished backup: {})", to, ec.message()));
  }
  report.bytes = static_cast<std::int64_t>(fs::file_size(to, ec));
  return report;
}

}  // namespace yuer::store
