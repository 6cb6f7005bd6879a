#include "daemon/org/importer.h"

#include "daemon/org/csv.h"
#include "daemon/org/encoding.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace yuer::org {
namespace {

// The data records of an upload with the field index of each column (-1: column absent), or
// nothing when the file as a whole is unusable (reported as row 0, or row 1 for the header).
struct Table {
  std::vector<CsvRecord> records;  // data rows only
  std::vector<int> index;          // per column
  std::vector<std::string> names;  // per column: the header as written in the file, or the label
};

std::optional<Table> read_table(std::string_view bytes, const std::vector<Column>& columns, ImportReport& report) {
  auto file_issue = [&](std::size_t row, std::string column, std::string reason) {
    report.invalid.push_back({row, std::move(column), std::move(reason)});
  };
  if (bytes.size() > kMaxImportBytes) {
    file_issue(0, "", fmt::format("文件大小 {:.1f} MB 超过上限 {} MB，未读取", bytes.size() / 1048576.0, kMaxImportBytes / 1048576));
    return std::nullopt;
  }
  if (bytes.empty()) {
    file_issue(0, "", "文件为空");
    return std::nullopt;
  }
  auto decoded = decode_to_utf8(bytes);
  if (!decoded) {
    file_issue(0, "", decoded.error().message);
    return std::nullopt;
  }
  report.encoding = decoded->encoding;
  auto records = parse_csv(decoded->text);
  if (!records) {
    file_issue(0, "", records.error().message);
    return std::nullopt;
  }
  if (records->empty()) {
    file_issue(0, "", "文件为空（没有表头，也没有数据行）");
    return std::nullopt;
  }
  Table t;
  t.index.assign(columns.size(), -1);
  t.names.resize(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) t.names[i] = std::string(columns[i].label);
  const CsvRecord& header = records->front();
  bool header_ok = true;
  std::string expected;
  for (const auto& c : columns) expected += (expected.empty() ? "" : "、") + std::string(c.label);
  // Spreadsheets often save empty columns to the right of the table: empty header cells at the
  // end are ignored (and so are empty fields beyond the header in data rows, see check_width).
  std::size_t header_cells = header.fields.size();
  while (header_cells > 0 && trim(header.fields[header_cells - 1]).empty()) --header_cells;
  for (std::size_t f = 0; f < header_cells; ++f) {
    const std::string name(trim(header.fields[f]));
    if (name.empty()) {
      file_issue(header.row, "", fmt::format("第 {} 列没有列名", f + 1));
      header_ok = false;
      continue;
    }
    auto it = std::find_if(columns.begin(), columns.end(),
                           [&](const Column& c) { return name == c.key || name == c.label; });
    if (it == columns.end()) {
      file_issue(header.row, name, fmt::format("多余的列“{}”（第 {} 列）；可用的列：{}", name, f + 1, expected));
      header_ok = false;
      continue;
    }
    const auto k = static_cast<std::size_t>(it - columns.begin());
    if (t.index[k] >= 0) {
      file_issue(header.row, name, fmt::format("列“{}”出现了两次", name));
      header_ok = false;
      continue;
    }
    t.index[k] = static_cast<int>(f);
    t.names[k] = name;
  }
  for (std::size_t k = 0; k < columns.size(); ++k)
    if (columns[k].required && t.index[k] < 0) {
      file_issue(header.row, std::string(columns[k].label), fmt::format("缺少列“{}”", columns[k].label));
      header_ok = false;
    }
  report.rows = records->size() - 1;
  if (!header_ok) return std::nullopt;
  if (records->size() == 1) {
    file_issue(0, "", "文件只有表头，没有数据行");
    return std::nullopt;
  }
  t.records.assign(std::make_move_iterator(records->begin() + 1), std::make_move_iterator(records->end()));
  return t;
}

// The field of column `k` in `rec` ('' when the file has no such column).
std::string_view field(const Table& t, const CsvRecord& rec, std::size_t k) {
  const int i = t.index[k];
  if (i < 0 || static_cast<std::size_t>(i) >= rec.fields.size()) return {};
  return rec.fields[static_cast<std::size_t>(i)];
}

// A row whose field count differs from the header's: reported, not read further.
bool check_width(const Table& t, const CsvRecord& rec, std::size_t header_width, ImportReport& report) {
  if (rec.fields.size() == header_width) return true;
  if (rec.fields.size() > header_width) {
    std::size_t used = rec.fields.size();
    while (used > header_width && trim(rec.fields[used - 1]).empty()) --used;
    if (used == header_width) return true;  // only empty cells beyond the table
    report.invalid.push_back({rec.row, "", fmt::format("本行有 {} 列，比表头多 {} 列（多余的列；字段中含逗号时请加英文双引号）",
                                                       used, used - header_width)});
    return false;
  }
  else
    report.invalid.push_back({rec.row, "", fmt::format("本行只有 {} 列，比表头少 {} 列（缺少列）", rec.fields.size(),
                                                       header_width - rec.fields.size())});
  (void)t;
  return false;
}

std::size_t header_width(const Table& t) {
  int w = 0;
  for (int i : t.index) w = std::max(w, i + 1);
  return static_cast<std::size_t>(w);
}

void sort_issues(ImportReport& r) {
  std::stable_sort(r.invalid.begin(), r.invalid.end(), [](const RowIssue& a, const RowIssue& b) { return a.row < b.row; });
}

bool file_level_problem(const ImportReport& r) {
  return std::any_of(r.invalid.begin(), r.invalid.end(), [](const RowIssue& i) { return i.row <= 1; });
}

enum OrgCol { kOrgCode, kOrgName };
enum RosterCol { kChildId, kBirthDate, kSex, kUnitCode, kCaregiverName, kPhone, kExternalUserid, kTags };

}  // namespace

const std::vector<Column>& org_columns() {
  static const std::vector<Column> cols = {{"code", "区划代码"}, {"name", "名称"}};
  return cols;
}

const std::vector<Column>& roster_columns() {
  static const std::vector<Column> cols = {
      {"child_id", "儿童编号"},          {"birth_date", "出生日期"},       {"sex", "性别", false},
      {"unit_code", "区划代码"},          {"caregiver_name", "照护人姓名", false},
      {"caregiver_phone", "照护人手机"}, {"external_userid", "外部联系人ID", false},
      {"tags", "项目标签", false}};
  return cols;
}

OrgRows check_org_file(std::string_view bytes, const std::vector<store::OrgUnit>& existing) {
  OrgRows out;
  auto& report = out.report;
  auto table = read_table(bytes, org_columns(), report);
  if (!table) return out;
  const std::size_t width = header_width(*table);
  std::set<std::string> stored;
  for (const auto& u : existing) stored.insert(u.code);

  struct Candidate {
    std::size_t row;
    DivisionCode code;
    std::string name;
  };
  std::vector<Candidate> candidates;
  std::map<std::string, std::size_t> first_row;  // code → row it first appeared on
  for (const auto& rec : table->records) {
    if (!check_width(*table, rec, width, report)) continue;
    bool ok = true;
    auto code = parse_division_code(field(*table, rec, kOrgCode));
    if (!code) {
      report.invalid.push_back({rec.row, table->names[kOrgCode], code.error().message});
      ok = false;
    } else if (auto [it, fresh] = first_row.emplace(code->code, rec.row); !fresh) {
      report.invalid.push_back({rec.row, table->names[kOrgCode], fmt::format("区划代码与第 {} 行重复", it->second)});
      ok = false;
    }
    auto name = check_unit_name(field(*table, rec, kOrgName));
    if (!name) {
      report.invalid.push_back({rec.row, table->names[kOrgName], name.error().message});
      ok = false;
    }
    if (ok) candidates.push_back({rec.row, *code, *name});
  }
  // Parents first: a unit is accepted when its parent is stored or an accepted row of this file.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.code.level < b.code.level; });
  std::set<std::string> accepted;
  std::vector<std::pair<std::size_t, store::OrgUnit>> units;
  for (const auto& c : candidates) {
    if (c.code.level != Level::kProvince && !stored.count(c.code.parent) && !accepted.count(c.code.parent)) {
      const auto parent_level = static_cast<Level>(static_cast<int>(c.code.level) - 1);
      report.invalid.push_back(
          {c.row, table->names[kOrgCode],
           fmt::format("上级{}单位 {} 不存在（请先导入它，或在同一文件中列出）", level_name(parent_level), c.code.parent)});
      continue;
    }
    accepted.insert(c.code.code);
    store::OrgUnit u;
    u.code = c.code.code;
    u.name = c.name;
    u.level = static_cast<int>(c.code.level);
    u.parent = c.code.parent;
    units.emplace_back(c.row, std::move(u));
  }
  std::stable_sort(units.begin(), units.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [row, u] : units) out.units.push_back(std::move(u));
  report.valid = out.units.size();
  sort_issues(report);
  return out;
}

RosterRows check_roster_file(std::string_view bytes, const std::set<std::string>& unit_codes,
                             std::chrono::year_month_day today, const PhoneKey& key) {
  RosterRows out;
  auto& report = out.report;
  auto table = read_table(bytes, roster_columns(), report);
  if (!table) return out;
  const std::size_t width = header_width(*table);
  std::map<std::string, std::size_t> first_row;
  for (const auto& rec : table->records) {
    if (!check_width(*table, rec, width, report)) continue;
    const auto before = report.invalid.size();
    auto issue = [&](RosterCol col, const Error& e) { report.invalid.push_back({rec.row, table->names[col], e.message}); };
    store::Family f;
    if (auto id = check_child_id(field(*table, rec, kChildId)); !id) {
      issue(kChildId, id.error());
    } else if (auto [it, fresh] = first_row.emplace(*id, rec.row); !fresh) {
      issue(kChildId, Error{"roster.duplicate_child_id", fmt::format("儿童编号与第 {} 行重复", it->second)});
    } else {
      f.child_id = *id;
    }
    if (auto d = check_birth_date(field(*table, rec, kBirthDate), today); !d) issue(kBirthDate, d.error());
    else f.birth_date = *d;
    if (auto s = check_sex(field(*table, rec, kSex)); !s) issue(kSex, s.error());
    else f.sex = *s;
    if (auto code = parse_division_code(field(*table, rec, kUnitCode)); !code) {
      issue(kUnitCode, code.error());
    } else if (code->level != Level::kTownship && code->level != Level::kVillage) {
      issue(kUnitCode, Error{"roster.bad_unit", fmt::format("区划代码应为乡镇级或村级，这里是{}代码", level_name(code->level))});
    } else if (!unit_codes.count(township_of(*code))) {
      issue(kUnitCode, Error{"roster.unknown_township",
                             fmt::format("乡镇 {} 不在组织单位中（请先用 yuerctl org import 导入）", township_of(*code))});
    } else {
      f.unit_code = code->code;
    }
    if (auto n = check_person_name(field(*table, rec, kCaregiverName)); !n) issue(kCaregiverName, n.error());
    else f.caregiver_name = *n;
    if (auto p = check_mobile(field(*table, rec, kPhone)); !p) {
      issue(kPhone, p.error());
    } else {
      f.phone_hash = key.hash(*p);
      f.phone_masked = mask_mobile(*p);
    }
    if (auto e = check_external_userid(field(*table, rec, kExternalUserid)); !e) issue(kExternalUserid, e.error());
    else f.external_userid = *e;
    if (auto t = parse_tags(field(*table, rec, kTags)); !t) issue(kTags, t.error());
    else f.tags = *t;
    if (report.invalid.size() == before) out.families.push_back(std::move(f));
  }
  report.valid = out.families.size();
  sort_issues(report);
  return out;
}

std::vector<store::OrgUnit> plan_units(const std::vector<store::OrgUnit>& rows, const std::vector<store::OrgUnit>& existing,
                                       ImportReport& report) {
  std::map<std::string, const store::OrgUnit*> by_code;
  for (const auto& u : existing) by_code.emplace(u.code, &u);
  std::vector<store::OrgUnit> writes;
  for (const auto& u : rows) {
    auto it = by_code.find(u.code);
    if (it == by_code.end()) ++report.created, writes.push_back(u);
    else if (it->second->name != u.name) ++report.updated, writes.push_back(u);
    else ++report.unchanged;
  }
  return writes;
}

std::vector<store::Family> plan_families(const std::vector<store::Family>& rows,
                                         const std::map<std::string, store::Family>& existing, ImportReport& report) {
  std::vector<store::Family> writes;
  for (const auto& f : rows) {
    auto it = existing.find(f.child_id);
    if (it == existing.end()) ++report.created, writes.push_back(f);
    else if (!it->second.same_data(f)) ++report.updated, writes.push_back(f);
    else ++report.unchanged;
  }
  return writes;
}

ImportReport run_org_import(store::OrgStore& store, std::string_view bytes, ImportOptions options, std::int64_t now_ms) {
  const auto existing = store.units("");
  auto rows = check_org_file(bytes, existing);
  auto writes = plan_units(rows.units, existing, rows.report);
  auto& r = rows.report;
  if (!options.dry_run && !file_level_problem(r) && (r.invalid.empty() || options.skip_invalid)) {
    if (!writes.empty()) store.write_units(writes, now_ms);
    r.applied = true;
  }
  return std::move(r);
}

ImportReport run_roster_import(store::OrgStore& store, std::string_view bytes, ImportOptions options,
                               const PhoneKey& key, std::int64_t now_ms) {
  std::set<std::string> codes;
  for (const auto& u : store.units("")) codes.insert(u.code);
  auto rows = check_roster_file(bytes, codes, shanghai_date(now_ms), key);
  std::vector<std::string> ids;
  ids.reserve(rows.families.size());
  for (const auto& f : rows.families) ids.push_back(f.child_id);
  auto writes = plan_families(rows.families, store.families_by_child(ids), rows.report);
  auto& r = rows.report;
  if (!options.dry_run && !file_level_problem(r) && (r.invalid.empty() || options.skip_invalid)) {
    if (!writes.empty()) store.write_families(writes, now_ms);
    r.applied = true;
  }
  return std::move(r);
}

}  // namespace yuer::org
