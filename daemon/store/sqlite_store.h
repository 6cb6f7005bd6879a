// SqliteStore: the SQLite implementation of Store. Internal to daemon/store (callers use store.h
// and open_sqlite_store); tests beside it reach the connection for fault injection.
// Invariant: outside a call, no transaction is open and no statement is mid-step.
#pragma once

#include "daemon/store/field_cipher.h"
#include "daemon/store/store.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::store {

// The StoreError code for an SQLite result code (primary or extended): "store.full",
// "store.readonly", "store.corrupt", "store.busy", or "store.io" for anything else.
std::string store_error_code(int sqlite_code);

// Wraps `e` into a StoreError whose message names the file and the operation.
StoreError to_store_error(const SQLite::Exception& e, std::string_view path, std::string_view operation);

// Another connection to the store file at `settings.path` for one part of the store (`what`,
// e.g. "the outbox"): migrates the file first through open_sqlite_store (same errors), then opens
// it with the settings' synchronous mode and busy timeout. ":memory:" is refused (a second
// connection cannot see it).
Result<SQLite::Database> open_sqlite_connection(const Settings& settings, std::string_view what);

// Personal fields sealed at rest (field_cipher.h), for open_sqlite_store's start-up pass and tests.
struct ProtectedColumn {
  const char* table;
  const char* column;
  const char* key_columns;  // the row's primary key, comma-separated
  const char* name;         // "table.column": the associated data of its sealed values
};
const std::vector<ProtectedColumn>& protected_columns();

// The respondent key of a response not matched to the roster: its birth date is kept as a keyed
// hash under `cipher` (plain without one) so the upsert can find it without the date in clear.
std::string unmatched_respondent_key(const FieldCipher* cipher, const std::string& channel, const std::string& user,
                                     const std::string& birth_date);

// open_sqlite_store's pass over the personal fields (see there): refuses sealed values it cannot
// open (Error{"store.key"}, nothing changed), then seals the rest under the current key in one
// transaction. Returns how many values changed.
Result<std::int64_t> protect_fields(SQLite::Database& db, const std::string& path, const FieldCipher* cipher);

// A list kept in one TEXT column, ';'-joined (tags, chat ids); empty parts are dropped on reading.
inline std::string join_semicolon(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ";") + i;
  return out;
}
inline std::vector<std::string> split_semicolon(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The common part of a store that keeps its own connection (outbox, group tasks, kf, ...): the
// connection, the file's path, and transaction helpers that turn SQLite errors into StoreError
// naming the file and "<what> <op>". Statements a subclass caches are members declared after this
// base, so they are finalized before the connection closes.
class SqliteConnection {
 protected:
  SqliteConnection(std::string path, SQLite::Database db, std::string what)
      : path_(std::move(path)), db_(std::move(db)), what_(std::move(what)) {}
  ~SqliteConnection() = default;

  // Runs `f` in one IMMEDIATE transaction and commits; on an SQLite error it rolls back, calls
  // on_write_error() and throws StoreError.
  template <class F>
  auto write(const char* op, F&& f) {
    try {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      auto r = f();
      tx.commit();
      return r;
    } catch (const SQLite::Exception& e) {
      on_write_error();
      throw to_store_error(e, path_, what_ + " " + op);
    }
  }

  // Runs `f` (reads); an SQLite error becomes StoreError.
  template <class F>
  auto read(const char* op, F&& f) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      throw to_store_error(e, path_, what_ + " " + op);
    }
  }

  // After a failed write: e.g. reset cached statements left mid-step. Must not throw.
  virtual void on_write_error() noexcept {}

  std::string path_;
  SQLite::Database db_;
  std::string what_;
};

class SqliteStore final : public Store {
 public:
  // Takes an opened, configured and migrated connection. Throws SQLite::Exception when a
  // statement cannot be prepared.
  SqliteStore(std::string path, SQLite::Database db, std::shared_ptr<const FieldCipher> cipher = nullptr);

  std::vector<InsertResult> insert_inbox(const std::vector<model::InboundEvent>& events) override;
  std::vector<model::InboxRow> list_inbox(const InboxQuery& query) override;
  std::int64_t count_inbox() override;
  int schema_version() override;
  std::string quick_check() override;
  std::int64_t sealed_at_open() override { return sealed_at_open_; }
  void set_sealed_at_open(std::int64_t n) { sealed_at_open_ = n; }

  // For tests (fault injection: max_page_count, a competing write lock). Same threading rule.
  SQLite::Database& database() { return db_; }

 private:
  // Leaves the connection usable after a failed write: resets statements, rolls back if open.
  void abort_transaction() noexcept;

  std::string path_;
  std::shared_ptr<const FieldCipher> cipher_;
  std::int64_t sealed_at_open_ = 0;
  SQLite::Database db_;          // declared first: statements are finalized before it closes
  SQLite::Statement insert_;          // new event; does nothing on a duplicate
  SQLite::Statement count_delivery_;  // duplicate: deliveries + 1, returns the row's id
};

}  // namespace yuer::store
