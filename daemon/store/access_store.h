// AccessStore: scoped admin tokens (kept only as hashes) and the audit log (migration 0010). Used
// from one thread only (the store executor). Every write is one committed transaction before the
// call returns; a failed write changes nothing.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace yuer::store {

struct AdminToken {
  std::int64_t id = 0;
  std::string name;
  std::string role;
  std::string unit_code;
  std::string secret_hash;  // hex SHA-256 of the secret; the secret itself is never stored
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t revoked_ms = 0;
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t at_ms = 0;
  std::string actor;
  std::string role;
  std::string actor_unit;
  std::string unit;
  std::string method;
  std::string path;
  std::string query;
  int status = 0;
  std::string before_json;
  std::string after_json;
};

struct AuditQuery {
  std::string unit_prefix;     // rows whose unit starts with this; '' = all rows
  std::int64_t before_id = 0;  // paging, newest first: ids smaller than this (0 = from the newest)
  int limit = 100;             // clamped to 1..1000
};

class AccessStore {
 public:
  virtual ~AccessStore() = default;
  // All tokens (revoked ones too), by id. Throws StoreError.
  virtual std::vector<AdminToken> tokens() = 0;
  // Inserts a token; Error{"tokens.duplicate"} when the name is taken. Returns the new id.
  virtual Result<std::int64_t> add_token(const AdminToken& token) = 0;
  // Marks a token revoked at `now_ms`; false when there is no such (unrevoked) token.
  virtual bool revoke_token(std::int64_t id, std::int64_t now_ms) = 0;
  // Appends one audit row; returns its id. Throws StoreError.
  virtual std::int64_t append_audit(const AuditEntry& entry) = 0;
  // Audit rows, newest first. Throws StoreError.
  virtual std::vector<AuditEntry> audit(const AuditQuery& query) = 0;
};

// Opens the access part of the store (its own connection; migrates the file first).
Result<std::unique_ptr<AccessStore>> open_sqlite_access_store(const Settings& settings);

}  // namespace yuer::store
