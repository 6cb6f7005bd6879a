#include "daemon/org/importer.h"

#include "daemon/store/store_testing.h"

#include <catch2/catch.hpp>

#include <string>

namespace yuer::org {
namespace {

using namespace std::chrono;

const year_month_day kToday{year(2026), month(11), day(23)};
const PhoneKey kKey("test-phone-key-0123456789");
// 2026-11-23 12:00 in Shanghai.
constexpr std::int64_t kNowMs = 1795363200000LL + 12 * 3600 * 1000LL;

const std::string kOrgCsv =
    "区划代码,名称\n"
    "440000000000,广东省\n"
    "440100000000,广州市\n"
    "440103000000,荔湾区\n"
    "440103001000,沙面街道\n"
    "440103002000,岭南街道\n";

const std::string kRosterHeader = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";

std::vector<store::OrgUnit> stored_units() {
  auto rows = check_org_file(kOrgCsv, {});
  REQUIRE(rows.report.invalid.empty());
  return rows.units;
}

std::set<std::string> unit_codes() {
  std::set<std::string> out;
  for (const auto& u : stored_units()) out.insert(u.code);
  return out;
}

TEST_CASE("org file: levels and parents derived, parents may follow their children in the file", "[org][import]") {
  auto rows = check_org_file(
      "code,name\n440103001000,沙面街道\n440103000000,荔湾区\n440100000000,广州市\n440000000000,广东省\n", {});
  CHECK(rows.report.invalid.empty());
  CHECK(rows.report.rows == 4);
  CHECK(rows.report.valid == 4);
  REQUIRE(rows.units.size() == 4);
  CHECK(rows.units[0].code == "440103001000");  // file order kept
  CHECK(rows.units[0].level == 4);
  CHECK(rows.units[0].parent == "440103000000");
  CHECK(rows.units[3].level == 1);
}

struct OrgBadCase {
  const char* label;
  std::string csv;
  std::size_t row;
  std::string column;
  std::string needle;
};

TEST_CASE("org file: every bad row is reported with its row, column and a Chinese reason", "[org][import]") {
  const std::vector<OrgBadCase> cases = {
      {"bad code", "区划代码,名称\n44010300100X,某镇\n", 2, "区划代码", "12位数字"},
      {"bad structure", "区划代码,名称\n440100001000,某镇\n", 2, "区划代码", "结构错误"},
      {"unknown parent county", "区划代码,名称\n440104001000,某镇\n", 2, "区划代码", "上级县级单位 440104000000 不存在"},
      {"duplicate code", "区划代码,名称\n440103003000,甲镇\n440103003000,乙镇\n", 3, "区划代码", "与第 2 行重复"},
      {"empty name", "区划代码,名称\n440103003000,\n", 2, "名称", "名称为空"},
      {"name not Chinese", "区划代码,名称\n440103003000,Town\n", 2, "名称", "中文"},
      {"extra field", "区划代码,名称\n440103003000,某镇,多\n", 2, "", "多 1 列"},
      {"missing field", "区划代码,名称\n440103003000\n", 2, "", "少 1 列"},
      {"missing column", "区划代码\n440103003000\n", 1, "名称", "缺少列“名称”"},
      {"extra column", "区划代码,名称,备注\n440103003000,某镇,x\n", 1, "备注", "多余的列“备注”"},
      {"empty file", "", 0, "", "文件为空"},
      {"header only", "区划代码,名称\n", 0, "", "没有数据行"},
      {"bad encoding", std::string("\xFF\xFE\x34\x00", 4), 0, "", "编码"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto rows = check_org_file(c.csv, stored_units());
    REQUIRE(rows.report.invalid.size() == 1);
    CHECK(rows.report.invalid[0].row == c.row);
    CHECK(rows.report.invalid[0].column == c.column);
    CAPTURE(rows.report.invalid[0].reason);
    CHECK(rows.report.invalid[0].reason.find(c.needle) != std::string::npos);
  }
}

TEST_CASE("org file: a child of an invalid parent row is invalid too", "[org][import]") {
  auto rows = check_org_file("区划代码,名称\n440104000000,Bad\n440104001000,某镇\n", stored_units());
  REQUIRE(rows.report.invalid.size() == 2);
  CHECK(rows.report.invalid[0].row == 2);
  CHECK(rows.report.invalid[1].row == 3);
  CHECK(rows.units.empty());
}

TEST_CASE("org plan: created, updated, unchanged", "[org][import]") {
  auto existing = stored_units();
  ImportReport report;
  auto rows = check_org_file("区划代码,名称\n440103001000,沙面街道\n440103002000,岭南街道（新）\n440103003000,华林街道\n", existing);
  REQUIRE(rows.report.invalid.empty());
  auto writes = plan_units(rows.units, existing, report);
  CHECK(report.created == 1);
  CHECK(report.updated == 1);
  CHECK(report.unchanged == 1);
  CHECK(writes.size() == 2);
}

std::string roster(const std::string& rows) { return kRosterHeader + rows; }

TEST_CASE("roster file: a good row becomes a family with a hashed and masked phone", "[org][import]") {
  auto rows = check_roster_file(roster("C001,2025-03-08,女,440103001000,王芳,138 1234 5678,wmABC,特困；低保\n"), unit_codes(),
                                kToday, kKey);
  REQUIRE(rows.report.invalid.empty());
  REQUIRE(rows.families.size() == 1);
  const auto& f = rows.families[0];
  CHECK(f.child_id == "C001");
  CHECK(f.birth_date == "2025-03-08");
  CHECK(f.sex == "女");
  CHECK(f.unit_code == "440103001000");
  CHECK(f.caregiver_name == "王芳");
  CHECK(f.phone_masked == "138****5678");
  CHECK(f.phone_hash == kKey.hash("13812345678"));
  CHECK(f.external_userid == "wmABC");
  CHECK(f.tags == std::vector<std::string>{"特困", "低保"});
}

TEST_CASE("roster file: optional columns may be left out, village codes map to their township", "[org][import]") {
  auto rows = check_roster_file("child_id,birth_date,unit_code,caregiver_phone\nC1,2024-01-01,440103001201,13900001111\n",
                                unit_codes(), kToday, kKey);
  REQUIRE(rows.report.invalid.empty());
  REQUIRE(rows.families.size() == 1);
  CHECK(rows.families[0].unit_code == "440103001201");
  CHECK(rows.families[0].tags.empty());
}

struct RosterBadCase {
  const char* label;
  std::string csv;
  std::size_t row;
  std::string column;
  std::string needle;
};

TEST_CASE("roster file: every kind of broken row is reported precisely", "[org][import]") {
  const std::string ok = "C001,2025-03-08,女,440103001000,王芳,13812345678,,特困\n";
  const std::vector<RosterBadCase> cases = {
      {"bad code", roster(ok + "C002,2025-03-08,男,4401030010,李,13812345679,,\n"), 3, "区划代码", "12位数字"},
      {"county code", roster(ok + "C002,2025-03-08,男,440103000000,李,13812345679,,\n"), 3, "区划代码", "乡镇级或村级"},
      {"unknown township", roster(ok + "C002,2025-03-08,男,440103009000,李,13812345679,,\n"), 3, "区划代码",
       "乡镇 440103009000 不在组织单位中"},
      {"future birth date", roster(ok + "C002,2026-12-01,男,440103001000,李,13812345679,,\n"), 3, "出生日期", "晚于导入日期"},
      {"over 36 months", roster(ok + "C002,2023-01-01,男,440103001000,李,13812345679,,\n"), 3, "出生日期", "超过36月龄"},
      {"bad birth date", roster(ok + "C002,2023-02-30,男,440103001000,李,13812345679,,\n"), 3, "出生日期", "不存在"},
      {"bad phone", roster(ok + "C002,2025-03-08,男,440103001000,李,12812345679,,\n"), 3, "照护人手机", "11位"},
      {"empty phone", roster(ok + "C002,2025-03-08,男,440103001000,李,,,\n"), 3, "照护人手机", "为空"},
      {"duplicate child id", roster(ok + "C001,2025-03-09,男,440103001000,李,13812345679,,\n"), 3, "儿童编号",
       "与第 2 行重复"},
      {"bad sex", roster(ok + "C002,2025-03-08,未知,440103001000,李,13812345679,,\n"), 3, "性别", "男"},
      {"extra field", roster(ok + "C002,2025-03-08,男,440103001000,李,13812345679,,,多余\n"), 3, "", "多 1 列"},
      {"missing field", roster(ok + "C002,2025-03-08,男,440103001000,李,13812345679\n"), 3, "", "少 2 列"},
      {"missing column", "儿童编号,出生日期,区划代码\nC1,2025-01-01,440103001000\n", 1, "照护人手机", "缺少列“照护人手机”"},
      {"extra column", "儿童编号,出生日期,区划代码,照护人手机,备注\nC1,2025-01-01,440103001000,13812345678,x\n", 1, "备注",
       "多余的列“备注”"},
      {"empty file", "", 0, "", "文件为空"},
      {"wrong encoding", std::string("\xFF\xFE") + "C\0" + "1\0", 0, "", "既不是 UTF-8 也不是 GB18030"},
      {"broken quote", roster(ok + "\"C002,2025-03-08\n"), 0, "", "引号"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.label);
    auto rows = check_roster_file(c.csv, unit_codes(), kToday, kKey);
    REQUIRE(rows.report.invalid.size() == 1);
    CAPTURE(rows.report.invalid[0].reason);
    CHECK(rows.report.invalid[0].row == c.row);
    CHECK(rows.report.invalid[0].column == c.column);
    CHECK(rows.report.invalid[0].reason.find(c.needle) != std::string::npos);
    // No reason quotes the phone number or the name.
    CHECK(rows.report.invalid[0].reason.find("1381234567") == std::string::npos);
    CHECK(rows.report.invalid[0].reason.find("王芳") == std::string::npos);
  }
}

TEST_CASE("roster file: empty columns to the right of the table (as spreadsheets save them) are ignored", "[org][import]") {
  auto rows = check_roster_file("儿童编号,出生日期,区划代码,照护人手机,,\n"
                                "C1,2025-01-01,440103001000,13812345678,,\n"
                                "C2,2025-01-01,440103001000,13812345679\n"
                                "C3,2025-01-01,440103001000,13812345670,,,\n",
                                unit_codes(), kToday, kKey);
  CHECK(rows.report.invalid.empty());
  CHECK(rows.families.size() == 3);
  auto gap = check_roster_file("儿童编号,,出生日期,区划代码,照护人手机\nC1,,2025-01-01,440103001000,13812345678\n",
                               unit_codes(), kToday, kKey);
  REQUIRE(gap.report.invalid.size() == 1);
  CHECK(gap.report.invalid[0].row == 1);
  CHECK(gap.report.invalid[0].reason.find("第 2 列没有列名") != std::string::npos);
}

TEST_CASE("roster file: a file above the size limit is refused before it is read", "[org][import]") {
  std::string big(kMaxImportBytes + 1, 'x');
  auto rows = check_roster_file(big, unit_codes(), kToday, kKey);
  REQUIRE(rows.report.invalid.size() == 1);
  CHECK(rows.report.invalid[0].row == 0);
  CHECK(rows.report.invalid[0].reason.find("超过上限 20 MB") != std::string::npos);
  CHECK(rows.report.rows == 0);
  CHECK(rows.report.encoding.empty());
}

TEST_CASE("roster file: one row with several problems reports each column", "[org][import]") {
  auto rows = check_roster_file(roster("C 1,2030-01-01,男,440103001000,李,123,,\n"), unit_codes(), kToday, kKey);
  REQUIRE(rows.report.invalid.size() == 3);
  CHECK(rows.report.invalid[0].column == "儿童编号");
  CHECK(rows.report.invalid[1].column == "出生日期");
  CHECK(rows.report.invalid[2].column == "照护人手机");
  CHECK(rows.report.valid == 0);
  CHECK(rows.report.rows == 1);
}

// --- run_*_import on a real SQLite store -------------------------------------------------

struct Env {
  store::testing::TempDir dir;
  std::unique_ptr<store::OrgStore> store;
  Env() {
    store::Settings s;
    s.path = dir.file("yuer.db");
    auto opened = store::open_sqlite_org_store(s);
    REQUIRE(opened.has_value());
    store = std::move(*opened);
  }
  ImportReport org(const std::string& csv, bool apply = true) {
    return run_org_import(*store, csv, {!apply, false}, kNowMs);
  }
  ImportReport families(const std::string& csv, bool apply = true, bool skip_invalid = false) {
    return run_roster_import(*store, csv, {!apply, skip_invalid}, kKey, kNowMs);
  }
};

TEST_CASE("import: dry run writes nothing, apply writes, re-import is unchanged", "[org][import]") {
  Env env;
  auto dry = env.org(kOrgCsv, false);
  CHECK(dry.created == 5);
  CHECK_FALSE(dry.applied);
  CHECK(env.store->units("").empty());
  auto done = env.org(kOrgCsv);
  CHECK(done.applied);
  CHECK(done.created == 5);
  CHECK(env.store->units("").size() == 5);
  auto again = env.org(kOrgCsv);
  CHECK(again.created == 0);
  CHECK(again.updated == 0);
  CHECK(again.unchanged == 5);

  const std::string families = roster("C001,2025-03-08,女,440103001000,王芳,13812345678,,特困\n"
                                      "C002,2024-03-08,男,440103002000,,13912345678,,\n");
  auto f1 = env.families(families);
  CHECK(f1.applied);
  CHECK(f1.created == 2);
  auto f2 = env.families(families);
  CHECK(f2.created == 0);
  CHECK(f2.updated == 0);
  CHECK(f2.unchanged == 2);
  auto f3 = env.families(roster("C002,2024-03-08,男,440103002000,,13912345670,,低保\n"));
  CHECK(f3.updated == 1);
  CHECK(env.store->count_families("") == 2);
  auto stored = env.store->families_by_child({"C002"});
  REQUIRE(stored.count("C002"));
  CHECK(stored["C002"].phone_masked == "139****5670");
  CHECK(stored["C002"].tags == std::vector<std::string>{"低保"});
}

TEST_CASE("import: all or nothing unless skip_invalid", "[org][import]") {
  Env env;
  REQUIRE(env.org(kOrgCsv).applied);
  const std::string mixed = roster("C001,2025-03-08,女,440103001000,王芳,13812345678,,\n"
                                   "C002,2025-03-08,男,440103001000,李,bad,,\n");
  auto refused = env.families(mixed);
  CHECK_FALSE(refused.applied);
  CHECK(refused.invalid.size() == 1);
  CHECK(refused.created == 1);  // what would be created
  CHECK(env.store->count_families("") == 0);
  auto skipped = env.families(mixed, true, true);
  CHECK(skipped.applied);
  CHECK(env.store->count_families("") == 1);
  // A file-level problem is never applied, even with skip_invalid.
  auto header = env.families("儿童编号,出生日期\nC9,2025-01-01\n", true, true);
  CHECK_FALSE(header.applied);
  CHECK(env.store->count_families("") == 1);
}

}  // namespace
}  // namespace yuer::org
