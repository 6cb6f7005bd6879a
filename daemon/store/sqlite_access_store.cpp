// The SQLite AccessStore: its own connection to the store file.
#include "daemon/store/access_store.h"

#include "daemon/store/sqlite_store.h"

#include <algorithm>

namespace yuer::store {
namespace {

AdminToken read_token(SQLite::Statement& q) {
  AdminToken t;
  t.id = q.getColumn(0).getInt64();
  t.name = q.getColumn(1).getString();
  t.role = q.getColumn(2).getString();
  t.unit_code = q.getColumn(3).getString();
  t.secret_hash = q.getColumn(4).getString();
  t.created_by = q.getColumn(5).getString();
  t.created_ms = q.getColumn(6).getInt64();
  t.revoked_ms = q.getColumn(7).getInt64();
  return t;
}

class SqliteAccessStore final : public AccessStore, private SqliteConnection {
 public:
  SqliteAccessStore(std::string path, SQLite::Database db)
      : SqliteConnection(std::move(path), std::move(db), "admin tokens and audit") {}

  std::vector<AdminToken> tokens() override {
    return read("tokens", [&] {
      SQLite::Statement q(db_,
                          "SELECT id, name, role, unit_code, secret_hash, created_by, created_ms, revoked_ms "
                          "FROM admin_token ORDER BY id");
      std::vector<AdminToken> out;
      while (q.executeStep()) out.push_back(read_token(q));
      return out;
    });
  }

  Result<std::int64_t> add_token(const AdminToken& t) override {
    bool taken = read("token lookup", [&] {
      SQLite::Statement q(db_, "SELECT 1 FROM admin_token WHERE name = ? OR secret_hash = ?");
      q.bind(1, t.name);
      q.bind(2, t.secret_hash);
      return q.executeStep();
    });
    if (taken) return Error{"tokens.duplicate", "令牌名称已存在：" + t.name};
    return write("add token", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO admin_token (name, role, unit_code, secret_hash, created_by, created_ms) "
                          "VALUES (?, ?, ?, ?, ?, ?)");
      q.bind(1, t.name);
      q.bind(2, t.role);
      q.bind(3, t.unit_code);
      q.bind(4, t.secret_hash);
      q.bind(5, t.created_by);
      q.bind(6, t.created_ms);
      q.exec();
      return Result<std::int64_t>(db_.getLastInsertRowid());
    });
  }

  bool revoke_token(std::int64_t id, std::int64_t now_ms) override {
    return write("revoke token", [&] {
      SQLite::Statement q(db_, "UPDATE admin_token SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0");
      q.bind(1, now_ms);
      q.bind(2, id);
      return q.exec() == 1;
    });
  }

  std::int64_t append_audit(const AuditEntry& e) override {
    return write("append audit", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO audit_log (at_ms, actor, role, actor_unit, unit, method, path, query, status, "
                          "before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      q.bind(1, e.at_ms);
      q.bind(2, e.actor);
      q.bind(3, e.role);
      q.bind(4, e.actor_unit);
      q.bind(5, e.unit);
      q.bind(6, e.method);
      q.bind(7, e.path);
      q.bind(8, e.query);
      q.bind(9, e.status);
      q.bind(10, e.before_json);
      q.bind(11, e.after_json);
      q.exec();
      return static_cast<std::int64_t>(db_.getLastInsertRowid());
    });
  }

  std::vector<AuditEntry> audit(const AuditQuery& query) override {
    return read("audit", [&] {
      SQLite::Statement q(db_,
                          "SELECT id, at_ms, actor, role, actor_unit, unit, method, path, query, status, before_json, "
                          "after_json FROM audit_log WHERE substr(unit, 1, length(?1)) = ?1 AND (?2 = 0 OR id < ?2) "
                          "ORDER BY id DESC LIMIT ?3");
      q.bind(1, query.unit_prefix);
      q.bind(2, query.before_id);
      q.bind(3, std::clamp(query.limit, 1, 1000));
      std::vector<AuditEntry> out;
      while (q.executeStep()) {
        AuditEntry e;
        e.id = q.getColumn(0).getInt64();
        e.at_ms = q.getColumn(1).getInt64();
        e.actor = q.getColumn(2).getString();
        e.role = q.getColumn(3).getString();
        e.actor_unit = q.getColumn(4).getString();
        e.unit = q.getColumn(5).getString();
        e.method = q.getColumn(6).getString();
        e.path = q.getColumn(7).getString();
        e.query = q.getColumn(8).getString();
        e.status = q.getColumn(9).getInt();
        e.before_json = q.getColumn(10).getString();
        e.after_json = q.getColumn(11).getString();
        out.push_back(std::move(e));
      }
      return out;
    });
  }
};

}  // namespace

Result<std::unique_ptr<AccessStore>> open_sqlite_access_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the admin tokens and audit log");
  if (!db) return db.error();
  return std::unique_ptr<AccessStore>(std::make_unique<SqliteAccessStore>(settings.path, std::move(*db)));
}

}  // namespace yuer::store
