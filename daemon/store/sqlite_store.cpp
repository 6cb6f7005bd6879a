#include "daemon/store/sqlite_store.h"

#include "daemon/store/migrations.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

namespace yuer::store {
namespace {

// The common case (a new event) is a plain insert that ignores only the (receiver, dedupe_key)
// conflict. An upsert with RETURNING does both in one statement but costs about 1.5x the CPU per
// row (measured: RETURNING opens an ephemeral table per step), and duplicates are rare: WeCom
// retries. Later events of a batch see earlier ones (same transaction), which covers duplicates
// inside a batch.
constexpr const char* kInsertInbox =
    "INSERT INTO inbox (receiver, channel, kind, dedupe_key, from_user, created_at, received_at, payload) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (receiver, dedupe_key) DO NOTHING";
constexpr const char* kCountDelivery =
    "UPDATE inbox SET deliveries = deliveries + 1 WHERE receiver = ?1 AND dedupe_key = ?2 RETURNING id";

// Checkpoint the WAL every ~40 MB instead of SQLite's default ~4 MB. Inserts with random dedupe
// keys ("sha256:" events) dirty a different index page per row, so each commit appends many pages;
// checkpointing less often writes a page rewritten by several commits once. Measured with 256-row
// batches of random keys: 2x the rows/s and 1.4x rows per CPU-second; sequential MsgIds unchanged.
// journal_size_limit trims the WAL file back after a checkpoint following a burst.
constexpr int kWalAutocheckpointPages = 10000;
constexpr int kJournalSizeLimitBytes = 64 * 1024 * 1024;

int user_version(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

bool in_transaction(SQLite::Database& db) { return sqlite3_get_autocommit(db.getHandle()) == 0; }

Error open_error(const SQLite::Exception& e, const std::string& path) {
  const int primary = e.getErrorCode() & 0xff;
  if (primary == SQLITE_NOTADB)
    return fail("store.open", fmt::format("{} is not a SQLite database ({})", path, e.what()));
  return fail("store.open", fmt::format("cannot open database {}: {}", path, e.what()));
}

Error too_new(const std::string& path, int version) {
  return fail("store.too_new", fmt::format("{} has schema version {}, newer than this binary's {}; run a newer yuerd "
                                           "or restore a backup",
                                           path, version, latest_schema_version()));
}

// Applies every migration newer than the file's version in one IMMEDIATE transaction, so two
// processes opening a fresh file cannot both migrate it.
Result<void> migrate(SQLite::Database& db, const std::string& path) {
  const auto all = internal::migrations();
  const int latest = latest_schema_version();
  std::string_view current_name = "(begin)";
  try {
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    const int version = user_version(db);
    if (version > latest)
      return too_new(path, version);
    if (version == latest) return {};
    for (const auto& m : all) {
      if (m.version <= version) continue;
      current_name = m.name;
      db.exec(std::string(m.sql));
    }
    current_name = "(user_version)";
    db.exec(fmt::format("PRAGMA user_version = {}", latest));
    current_name = "(commit)";
    tx.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return fail("store.migrate",
                fmt::format("{}: migration {} failed, nothing applied: {}", path, current_name, e.what()));
  }
}

}  // namespace

std::string store_error_code(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_FULL:
      return "store.full";
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return "store.readonly";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "store.corrupt";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "store.busy";
    default:
      return "store.io";
  }
}

StoreError to_store_error(const SQLite::Exception& e, std::string_view path, std::string_view operation) {
  // SQLiteCpp reports its own misuse with code -1; that is not an SQLite result code.
  const int code = e.getExtendedErrorCode() > 0 ? e.getExtendedErrorCode() : e.getErrorCode();
  return StoreError(store_error_code(code), fmt::format("{}: {} failed: {} (sqlite {})", path, operation, e.what(), code));
}

SqliteStore::SqliteStore(std::string path, SQLite::Database db, std::shared_ptr<const FieldCipher> cipher)
    : path_(std::move(path)),
      cipher_(std::move(cipher)),
      db_(std::move(db)),
      insert_(db_, kInsertInbox),
      count_delivery_(db_, kCountDelivery) {}

void SqliteStore::abort_transaction() noexcept {
  insert_.tryReset();
  count_delivery_.tryReset();
  // SQLite may already have rolled back on its own (SQLITE_FULL during COMMIT, for example).
  if (in_transaction(db_)) db_.tryExec("ROLLBACK");
}

std::vector<InsertResult> SqliteStore::insert_inbox(const std::vector<model::InboundEvent>& events) {
  std::vector<InsertResult> results;
  if (events.empty()) return results;
  results.reserve(events.size());
  try {
    // IMMEDIATE takes the write lock up front, so BUSY shows here (after busy_timeout) and never
    // as a deadlock halfway through the batch.
    db_.exec("BEGIN IMMEDIATE");
    std::string sealed;
    for (const auto& e : events) {
      // The strings outlive the step; binding without copies matters for payload-sized rows.
      insert_.bindNoCopy(1, e.receiver);
      insert_.bindNoCopy(2, e.channel);
      insert_.bindNoCopy(3, e.kind);
      insert_.bindNoCopy(4, e.dedupe_key);
      insert_.bindNoCopy(5, e.from_user);
      insert_.bind(6, static_cast<std::int64_t>(e.created_at));
      insert_.bind(7, static_cast<std::int64_t>(e.received_at));
      if (cipher_) {
        sealed = cipher_->seal(e.payload, "inbox.payload");
        insert_.bindNoCopy(8, sealed);
      } else {
        insert_.bindNoCopy(8, e.payload);
      }
      const int inserted = insert_.exec();
      insert_.reset();
      if (inserted == 1) {
        results.push_back(InsertResult{sqlite3_last_insert_rowid(db_.getHandle()), false});
        continue;
      }
      count_delivery_.bindNoCopy(1, e.receiver);
      count_delivery_.bindNoCopy(2, e.dedupe_key);
      if (!count_delivery_.executeStep()) throw SQLite::Exception("insert_inbox: conflicting row not found");
      results.push_back(InsertResult{count_delivery_.getColumn(0).getInt64(), true});
      count_delivery_.reset();
    }
    db_.exec("COMMIT");
  } catch (const SQLite::Exception& e) {
    abort_transaction();
    throw to_store_error(e, path_, "insert_inbox");
  } catch (...) {
    abort_transaction();
    throw;
  }
  return results;
}

std::vector<model::InboxRow> SqliteStore::list_inbox(const InboxQuery& query) {
  std::string sql =
      "SELECT id, receiver, channel, kind, dedupe_key, from_user, created_at, received_at, payload, deliveries "
      "FROM inbox WHERE id > :after";
  if (query.before_id > 0) sql += " AND id < :before";
  if (query.receiver) sql += " AND receiver = :receiver";
  if (query.kind) sql += " AND kind = :kind";
  sql += query.newest_first ? " ORDER BY id DESC" : " ORDER BY id ASC";
  sql += " LIMIT :limit";

  std::vector<model::InboxRow> rows;
  try {
    SQLite::Statement s(db_, sql);
    s.bind(":after", static_cast<std::int64_t>(query.after_id));
    if (query.before_id > 0) s.bind(":before", static_cast<std::int64_t>(query.before_id));
    if (query.receiver) s.bindNoCopy(":receiver", *query.receiver);
    if (query.kind) s.bindNoCopy(":kind", *query.kind);
    s.bind(":limit", std::clamp(query.limit, 1, 1000));
    while (s.executeStep()) {
      model::InboxRow row;
      row.id = s.getColumn(0).getInt64();
      row.event.receiver = s.getColumn(1).getString();
      row.event.channel = s.getColumn(2).getString();
      row.event.kind = s.getColumn(3).getString();
      row.event.dedupe_key = s.getColumn(4).getString();
      row.event.from_user = s.getColumn(5).getString();
      row.event.created_at = s.getColumn(6).getInt64();
      row.event.received_at = s.getColumn(7).getInt64();
      row.event.payload = open_field(cipher_.get(), s.getColumn(8).getString(), "inbox.payload");
      row.deliveries = s.getColumn(9).getInt();
      rows.push_back(std::move(row));
    }
  } catch (const SQLite::Exception& e) {
    throw to_store_error(e, path_, "list_inbox");
  }
  return rows;
}

std::int64_t SqliteStore::count_inbox() {
  try {
    return db_.execAndGet("SELECT count(*) FROM inbox").getInt64();
  } catch (const SQLite::Exception& e) {
    throw to_store_error(e, path_, "count_inbox");
  }
}

int SqliteStore::schema_version() {
  try {
    return user_version(db_);
  } catch (const SQLite::Exception& e) {
    throw to_store_error(e, path_, "schema_version");
  }
}

std::string SqliteStore::quick_check() {
  try {
    return db_.execAndGet("PRAGMA quick_check").getString();
  } catch (const SQLite::Exception& e) {
    throw to_store_error(e, path_, "quick_check");
  }
}

int latest_schema_version() {
  const auto all = internal::migrations();
  return all.empty() ? 0 : all.back().version;
}

namespace {

// `protect`: run the personal-field pass (only the main store's open; the parts' connections
// open after it).
Result<std::unique_ptr<Store>> open_main(const Settings& settings, bool protect) {
  const std::string& path = settings.path;
  if (settings.synchronous != "full" && settings.synchronous != "normal")
    return fail("store.open", fmt::format("store.synchronous must be \"full\" or \"normal\", not \"{}\"",
                                          settings.synchronous));

  if (!settings.read_only && path != ":memory:") {
    const auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return fail("store.open", fmt::format("cannot create folder {} for {}: {}", parent.string(), path, ec.message()));
  }

  const int flags = (settings.read_only ? SQLite::OPEN_READONLY : SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) |
                    SQLite::OPEN_NOMUTEX;
  std::optional<SQLite::Database> db;
  try {
    db.emplace(path, flags, settings.busy_timeout_ms);
    // Read before changing anything: a newer file must be left exactly as it is, and this is
    // where a file that is not a database shows itself.
    const int version = user_version(*db);
    const int latest = latest_schema_version();
    if (version > latest)
      return too_new(path, version);
    if (settings.read_only && version < latest)
      return fail("store.migrate", fmt::format("{} has schema version {} and needs migrating to {}, but it was opened "
                                               "read-only",
                                               path, version, latest));
    if (!settings.read_only) {
      const std::string mode = db->execAndGet("PRAGMA journal_mode = WAL").getString();
      // The durability promise of synchronous=normal holds only in WAL mode.
      if (mode != "wal" && mode != "memory")
        return fail("store.open", fmt::format("{}: cannot switch to WAL journal mode (got \"{}\"); is the folder on "
                                              "a local file system?",
                                              path, mode));
      db->exec(fmt::format("PRAGMA wal_autocheckpoint = {}", kWalAutocheckpointPages));
      db->exec(fmt::format("PRAGMA journal_size_limit = {}", kJournalSizeLimitBytes));
    }
    db->exec("PRAGMA synchronous = " + settings.synchronous);
    db->exec("PRAGMA foreign_keys = ON");
  } catch (const SQLite::Exception& e) {
    return open_error(e, path);
  }

  if (!settings.read_only) {
    if (auto migrated = migrate(*db, path); !migrated) return migrated.error();
  }
  std::int64_t sealed = 0;
  if (protect && settings.field_pass && !settings.read_only && path != ":memory:") {
    auto p = protect_fields(*db, path, settings.field_cipher.get());
    if (!p) return p.error();
    sealed = *p;
  }

  try {
    auto store = std::make_unique<SqliteStore>(path, std::move(*db), settings.field_cipher);
    store->set_sealed_at_open(sealed);
    return std::unique_ptr<Store>(std::move(store));
  } catch (const SQLite::Exception& e) {
    return open_error(e, path);
  }
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const Settings& settings) { return open_main(settings, true); }

Result<SQLite::Database> open_sqlite_connection(const Settings& settings, std::string_view what) {
  if (settings.path == ":memory:")
    return fail("store.open", fmt::format("{} needs a store file (a second connection cannot see \":memory:\")", what));
  {
    // Creates and migrates the file (or refuses it) exactly as the main store does.
    auto main = open_main(settings, false);
    if (!main) return main.error();
  }
  const int flags = (settings.read_only ? SQLite::OPEN_READONLY : SQLite::OPEN_READWRITE) | SQLite::OPEN_NOMUTEX;
  try {
    SQLite::Database db(settings.path, flags, settings.busy_timeout_ms);
    db.exec("PRAGMA synchronous = " + settings.synchronous);
    return db;
  } catch (const SQLite::Exception& e) {
    return fail("store.open", fmt::format("cannot open {} in {}: {}", what, settings.path, e.what()));
  }
}

}  // namespace yuer::store
