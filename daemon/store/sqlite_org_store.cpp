// The SQLite OrgStore: its own connection to the store file (WAL lets it write beside the other
// parts' connections).
#include "daemon/store/org_store.h"

#include "daemon/store/sqlite_store.h"

#include <SQLiteCpp/Transaction.h>

#include <algorithm>

namespace yuer::store {
namespace {

constexpr const char* kFamilyColumns =
    "child_id, birth_date, sex, unit_code, caregiver_name, phone_hash, phone_masked, external_userid, tags, "
    "created_ms, updated_ms";

constexpr const char* kName = "family.caregiver_name";
constexpr const char* kBirth = "family.birth_date";

Family read_family(SQLite::Statement& q, const FieldCipher* cipher) {
  Family f;
  f.child_id = q.getColumn(0).getString();
  f.birth_date = open_field(cipher, q.getColumn(1).getString(), kBirth);
  f.sex = q.getColumn(2).getString();
  f.unit_code = q.getColumn(3).getString();
  f.caregiver_name = open_field(cipher, q.getColumn(4).getString(), kName);
  f.phone_hash = q.getColumn(5).getString();
  f.phone_masked = q.getColumn(6).getString();
  f.external_userid = q.getColumn(7).getString();
  f.tags = split_semicolon(q.getColumn(8).getString());
  f.created_ms = q.getColumn(9).getInt64();
  f.updated_ms = q.getColumn(10).getInt64();
  return f;
}

// Upper bound of the codes starting with `prefix` (codes are ASCII digits): prefix + '\x7f'.
std::string prefix_end(const std::string& prefix) { return prefix + "\x7f"; }

class SqliteOrgStore final : public OrgStore {
  template <class F>
  auto write(const char* op, F&& f) {
    try {
      SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
      f();
      tx.commit();
    } catch (const SQLite::Exception& e) {
      throw to_store_error(e, path_, std::string("org ") + op);
    }
  }

  template <class F>
  auto read(const char* op, F&& f) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      throw to_store_error(e, path_, std::string("org ") + op);
    }
  }

 public:
  SqliteOrgStore(std::string path, SQLite::Database db, std::shared_ptr<const FieldCipher> cipher)
      : path_(std::move(path)), db_(std::move(db)), cipher_(std::move(cipher)) {}

  std::vector<OrgUnit> units(const std::string& prefix) override {
    return read("units", [&] {
      SQLite::Statement q(db_,
                          "SELECT code, name, level, parent, created_ms, updated_ms FROM org_unit "
                          "WHERE code >= ?1 AND code < ?2 ORDER BY code");
      q.bind(1, prefix);
      q.bind(2, prefix_end(prefix));
      std::vector<OrgUnit> out;
      while (q.executeStep()) {
        OrgUnit u;
        u.code = q.getColumn(0).getString();
        u.name = q.getColumn(1).getString();
        u.level = q.getColumn(2).getInt();
        u.parent = q.getColumn(3).getString();
        u.created_ms = q.getColumn(4).getInt64();
        u.updated_ms = q.getColumn(5).getInt64();
        out.push_back(std::move(u));
      }
      return out;
    });
  }

  void write_units(const std::vector<OrgUnit>& units, std::int64_t now_ms) override {
    write("write units", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO org_unit (code, name, level, parent, created_ms, updated_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (code) DO UPDATE SET "
                          "name = excluded.name, level = excluded.level, parent = excluded.parent, "
                          "updated_ms = excluded.updated_ms");
      for (const auto& u : units) {
        q.bind(1, u.code);
        q.bind(2, u.name);
        q.bind(3, u.level);
        q.bind(4, u.parent);
        q.bind(5, now_ms);
        q.exec();
        q.reset();
      }
    });
  }

  std::map<std::string, Family> families_by_child(const std::vector<std::string>& child_ids) override {
    return read("families by child", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kFamilyColumns + " FROM family WHERE child_id = ?1");
      std::map<std::string, Family> out;
      for (const auto& id : child_ids) {
        q.bind(1, id);
        if (q.executeStep()) {
          auto f = read_family(q, cipher_.get());
          out.emplace(f.child_id, std::move(f));
        }
        q.reset();
      }
      return out;
    });
  }

  void write_families(const std::vector<Family>& families, std::int64_t now_ms) override {
    write("write families", [&] {
      SQLite::Statement q(db_,
                          "INSERT INTO family (child_id, birth_date, sex, unit_code, caregiver_name, phone_hash, "
                          "phone_masked, external_userid, tags, created_ms, updated_ms) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) ON CONFLICT (child_id) DO UPDATE SET "
                          "birth_date = excluded.birth_date, sex = excluded.sex, unit_code = excluded.unit_code, "
                          "caregiver_name = excluded.caregiver_name, phone_hash = excluded.phone_hash, "
                          "phone_masked = excluded.phone_masked, external_userid = excluded.external_userid, "
                          "tags = excluded.tags, updated_ms = excluded.updated_ms");
      for (const auto& f : families) {
        q.bind(1, f.child_id);
        q.bind(2, seal_field(cipher_.get(), f.birth_date, kBirth));
        q.bind(3, f.sex);
        q.bind(4, f.unit_code);
        q.bind(5, seal_field(cipher_.get(), f.caregiver_name, kName));
        q.bind(6, f.phone_hash);
        q.bind(7, f.phone_masked);
        q.bind(8, f.external_userid);
        q.bind(9, join_semicolon(f.tags));
        q.bind(10, now_ms);
        q.exec();
        q.reset();
      }
    });
  }

  std::vector<Family> families(const FamilyQuery& query) override {
    return read("families", [&] {
      SQLite::Statement q(db_, std::string("SELECT ") + kFamilyColumns +
                                   " FROM family WHERE unit_code >= ?1 AND unit_code < ?2 AND child_id > ?3 "
                                   "ORDER BY child_id LIMIT ?4");
      q.bind(1, query.unit_prefix);
      q.bind(2, prefix_end(query.unit_prefix));
      q.bind(3, query.after_child_id);
      q.bind(4, std::clamp(query.limit, 1, 10000));
      std::vector<Family> out;
      while (q.executeStep()) out.push_back(read_family(q, cipher_.get()));
      return out;
    });
  }

  std::int64_t count_families(const std::string& prefix) override {
    return read("count families", [&] {
      SQLite::Statement q(db_, "SELECT count(*) FROM family WHERE unit_code >= ?1 AND unit_code < ?2");
      q.bind(1, prefix);
      q.bind(2, prefix_end(prefix));
      q.executeStep();
      return q.getColumn(0).getInt64();
    });
  }

 private:
  std::string path_;
  SQLite::Database db_;
  std::shared_ptr<const FieldCipher> cipher_;  // sealed names and birth dates (field_cipher.h); null = plain
};

}  // namespace

Result<std::unique_ptr<OrgStore>> open_sqlite_org_store(const Settings& settings) {
  auto db = open_sqlite_connection(settings, "the organisation and roster");
  if (!db) return db.error();
  return std::unique_ptr<OrgStore>(std::make_unique<SqliteOrgStore>(settings.path, std::move(*db), settings.field_cipher));
}

}  // namespace yuer::store
