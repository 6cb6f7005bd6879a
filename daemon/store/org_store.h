// OrgStore: durable organisation units (administrative division codes) and the family roster
// (migration 0005). Used from one thread only (the store executor). Every write is one committed
// transaction before the call returns; a failed write changes nothing.
#pragma once

#include "daemon/base/result.h"
#include "daemon/store/store.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace yuer::store {

// One administrative unit (组织单位).
struct OrgUnit {
  std::string code;    // 12 digits
  std::string name;    // Chinese
  int level = 0;       // 1 province, 2 city, 3 county, 4 township, 5 village
  std::string parent;  // '' for a province
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

// One roster family (花名册家庭). The phone is only ever here as hash + mask.
struct Family {
  std::string child_id;
  std::string birth_date;  // YYYY-MM-DD
  std::string sex;         // '' | 男 | 女
  std::string unit_code;
  std::string caregiver_name;
  std::string phone_hash;
  std::string phone_masked;
  std::string external_userid;
  std::vector<std::string> tags;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;

  // Same data (timestamps aside).
  bool same_data(const Family& o) const {
    return child_id == o.child_id && birth_date == o.birth_date && sex == o.sex && unit_code == o.unit_code &&
           caregiver_name == o.caregiver_name && phone_hash == o.phone_hash && phone_masked == o.phone_masked &&
           external_userid == o.external_userid && tags == o.tags;
  }
};

struct FamilyQuery {
  std::string unit_prefix;     // families whose unit code starts with this ('' = all)
  std::string after_child_id;  // paging: child ids greater than this
  int limit = 100;             // clamped to 1..10000
};

class OrgStore {
 public:
  virtual ~OrgStore() = default;
  // Units whose code starts with `prefix` ('' = all), by code. Throws StoreError.
  virtual std::vector<OrgUnit> units(const std::string& prefix) = 0;
  // Inserts or updates (by code) every unit in one transaction; created_ms kept on update. Throws StoreError.
  virtual void write_units(const std::vector<OrgUnit>& units, std::int64_t now_ms) = 0;
  // The stored families among `child_ids`, by child id. Throws StoreError.
  virtual std::map<std::string, Family> families_by_child(const std::vector<std::string>& child_ids) = 0;
  // Inserts or updates (by child id) every family in one transaction; created_ms kept on update.
  // Throws StoreError.
  virtual void write_families(const std::vector<Family>& families, std::int64_t now_ms) = 0;
  // Families by query, ordered by child id. Throws StoreError.
  virtual std::vector<Family> families(const FamilyQuery& query) = 0;
  // How many families have a unit code starting with `prefix`. Throws StoreError.
  virtual std::int64_t count_families(const std::string& prefix) = 0;
};

// Opens a connection to the store file for units and roster (migrating it first when needed),
// like open_sqlite_group_task_store.
Result<std::unique_ptr<OrgStore>> open_sqlite_org_store(const Settings& settings);

}  // namespace yuer::store
