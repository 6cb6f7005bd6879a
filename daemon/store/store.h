// Store: every SQL statement of yuer lives behind these interfaces, so a PostgreSQL store can be
// added without touching callers. The SQLite implementation is touched from one thread only (the
// store executor); values cross the hop, never references into io-thread state.
#pragma once

#include "daemon/base/result.h"
#include "daemon/model/inbound_event.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace yuer::store {

class FieldCipher;  // field_cipher.h

// A broken environment (disk full, read-only file, corrupt database): thrown by store methods.
// `code` is one of "store.full", "store.readonly", "store.corrupt", "store.io", "store.busy".
class StoreError : public std::runtime_error {
 public:
  StoreError(std::string code, const std::string& what) : std::runtime_error(what), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

struct InsertResult {
  std::int64_t id = 0;
  bool duplicate = false;
};

struct InboxQuery {
  std::optional<std::string> receiver;  // exact receiver name
  std::optional<std::string> kind;      // exact kind
  std::int64_t after_id = 0;            // rows with id > after_id (paging forward, polling)
  std::int64_t before_id = 0;           // when > 0: rows with id < before_id (paging newest-first)
  int limit = 100;                      // clamped to 1..1000
  bool newest_first = true;
};

class InboxStore {
 public:
  virtual ~InboxStore() = default;
  // Inserts the events in one transaction and returns one result per event, in order. A duplicate
  // (same receiver and dedupe_key, also within the batch) is not inserted again; its row's
  // delivery count grows by one. Returns after the transaction is committed (durable per
  // Settings::synchronous). Throws StoreError; then nothing of the batch is committed.
  virtual std::vector<InsertResult> insert_inbox(const std::vector<model::InboundEvent>& events) = 0;
  // Rows matching every filter of `query`, ordered by id (newest first unless asked otherwise), at
  // most the clamped limit. Throws StoreError.
  virtual std::vector<model::InboxRow> list_inbox(const InboxQuery& query) = 0;
  // Number of inbox rows (duplicates count once). Throws StoreError.
  virtual std::int64_t count_inbox() = 0;
};

struct Settings {
  std::string path = "var/yuer.db";
  // "full" (default; fsync on every commit) or "normal" (WAL: durable against a process crash,
  // not against power loss). The callback path acknowledges only after the commit returns.
  std::string synchronous = "full";
  int busy_timeout_ms = 5000;
  // Open without write access (offline inspection next to a running daemon): no migration is
  // applied (a file that needs one fails with "store.migrate") and every write throws
  // StoreError{"store.readonly"}.
  bool read_only = false;
  // [privacy] field_key_*: when set, personal fields are sealed at rest (field_cipher.h) and
  // open_sqlite_store() seals plain or older-key values at start; when null, a store holding
  // sealed values is refused (Error{"store.key"}).
  std::shared_ptr<const FieldCipher> field_cipher;
  // false: open_sqlite_store neither checks nor seals personal fields (yuerctl migrate, which
  // holds no key and reads none).
  bool field_pass = true;
};

class Store : public InboxStore {
 public:
  // Schema version the store is at after open (the number of the last applied migration).
  virtual int schema_version() = 0;
  // Runs PRAGMA quick_check; returns "ok" or SQLite's first complaint.
  virtual std::string quick_check() = 0;
  // Personal-field values sealed (from plain text) or re-sealed (from an older key) when this
  // store was opened (field_cipher.h).
  virtual std::int64_t sealed_at_open() { return 0; }
};

// Opens (creating it and its parent folder if missing) the SQLite store at settings.path: WAL,
// synchronous per settings, foreign keys, busy timeout, and applies pending numbered migrations in
// one transaction (schema version kept in PRAGMA user_version). Fails with
// Error{"store.too_new"} when the file's schema is newer than this binary knows,
// Error{"store.open"} when the file cannot be opened or is not a database, or
// Error{"store.migrate"} when a migration fails (nothing applied), or Error{"store.key"} when sealed
// personal fields cannot be opened with settings.field_cipher (none, a missing old key, a wrong
// key; nothing changed). With a cipher it then seals every plain or older-key personal field
// under the current key, in one transaction (docs/privacy.md "Keys and rotation"). The returned
// store must be used from one thread at a time (the store executor); it may be created on another
// thread.
Result<std::unique_ptr<Store>> open_sqlite_store(const Settings& settings);

// Number of the newest migration compiled into this binary.
int latest_schema_version();

}  // namespace yuer::store
