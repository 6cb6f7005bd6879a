// Imports of organisation units and of the family roster: decode the uploaded bytes, parse the
// CSV, check every row, plan what changes (created / updated / unchanged) and, when asked and
// allowed, write it in ONE transaction. A dry run (the default) writes nothing.
// The check and plan steps are pure functions (tested by tables); run_*_import adds the store.
#pragma once

#include "daemon/org/phone_key.h"
#include "daemon/org/validate.h"
#include "daemon/store/org_store.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::org {

// Uploads above this size are refused before they are decoded or parsed (the admin API route's
// body limit too).
inline constexpr std::size_t kMaxImportBytes = 20 * 1024 * 1024;

// One problem: the 1-based row (the header is row 1; 0 = the file as a whole), the column as
// the file names it ('' for the row or the file) and a Chinese reason.
struct RowIssue {
  std::size_t row = 0;
  std::string column;
  std::string reason;
};

struct ImportReport {
  std::size_t rows = 0;   // data rows (header and blank lines not counted)
  std::size_t valid = 0;  // data rows without a problem
  std::vector<RowIssue> invalid;
  std::size_t created = 0;    // rows that are (or would be) new
  std::size_t updated = 0;    // rows that change an existing record
  std::size_t unchanged = 0;  // rows equal to what is stored
  bool applied = false;       // written to the store
  std::string encoding;       // UTF-8, UTF-8-BOM or GB18030 ('' when undecodable)
};

struct ImportOptions {
  bool dry_run = true;
  bool skip_invalid = false;  // write the valid rows even when some are invalid
};

// A column of an import file: the key (English) and the Chinese header; either is accepted.
struct Column {
  std::string_view key;
  std::string_view label;
  bool required = true;  // the header must have it
};

// org CSV: 区划代码 (code), 名称 (name).
const std::vector<Column>& org_columns();
// roster CSV: 儿童编号, 出生日期, 性别?, 区划代码, 照护人姓名?, 照护人手机, 外部联系人ID?, 项目标签? (? = optional column).
const std::vector<Column>& roster_columns();

// Rows of an org file checked against `existing` units: valid units, and the report's rows,
// valid and invalid filled. A unit's parent must exist (stored or earlier/later in the file),
// except for a province.
struct OrgRows {
  ImportReport report;
  std::vector<store::OrgUnit> units;  // valid rows, in file order
};
OrgRows check_org_file(std::string_view bytes, const std::vector<store::OrgUnit>& existing);

// Rows of a roster file checked against the stored unit codes (the township of each family must
// exist), the import date and the phone key.
struct RosterRows {
  ImportReport report;
  std::vector<store::Family> families;  // valid rows, in file order
};
RosterRows check_roster_file(std::string_view bytes, const std::set<std::string>& unit_codes,
                             std::chrono::year_month_day today, const PhoneKey& key);

// Plans: fills created/updated/unchanged of `report` and returns what must be written.
std::vector<store::OrgUnit> plan_units(const std::vector<store::OrgUnit>& rows, const std::vector<store::OrgUnit>& existing,
                                       ImportReport& report);
std::vector<store::Family> plan_families(const std::vector<store::Family>& rows,
                                         const std::map<std::string, store::Family>& existing, ImportReport& report);

// Check, plan and (when options allow: not a dry run, and no invalid row unless skip_invalid)
// write in one transaction. Call on the store executor. Throws StoreError when the store fails
// (nothing written then).
ImportReport run_org_import(store::OrgStore& store, std::string_view bytes, ImportOptions options, std::int64_t now_ms);
ImportReport run_roster_import(store::OrgStore& store, std::string_view bytes, ImportOptions options,
                               const PhoneKey& key, std::int64_t now_ms);

}  // namespace yuer::org
