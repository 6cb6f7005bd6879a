// Organisation units and the family roster end to end: a real yuerd, CSV files imported through
// the real yuerctl. An org slice (1 province, 1 city, 2 counties, 10 townships) and 5,000 families
// go in; importing again changes nothing; GB18030 and UTF-8 with BOM files are accepted; a file
// with every kind of broken row, and each broken file, is reported precisely and changes nothing.
// Phone numbers and caregivers' names never reach yuerd's log.
#include "tests/e2e/yuerd_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iconv.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace yuer::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPhoneKey = "e2e-phone-key-0123456789abcdef";
const std::string kHeader = "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n";

// UTF-8 → GB18030 through glibc's iconv (what Excel in China writes).
std::string to_gb18030(const std::string& utf8) {
  iconv_t cd = ::iconv_open("GB18030", "UTF-8");
  REQUIRE(cd != reinterpret_cast<iconv_t>(-1));
  std::string out(utf8.size() * 2 + 16, '\0');
  char* src = const_cast<char*>(utf8.data());
  std::size_t src_left = utf8.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  const auto r = ::iconv(cd, &src, &src_left, &dst, &dst_left);
  ::iconv_close(cd);
  REQUIRE(r != static_cast<std::size_t>(-1));
  out.resize(out.size() - dst_left);
  return out;
}

// Today's date in Shanghai (UTC+8) minus `days`, as YYYY-MM-DD.
std::string date_days_ago(int days) {
  using namespace std::chrono;
  const auto today = floor<std::chrono::days>(system_clock::now() + hours(8));
  const year_month_day d{today - std::chrono::days(days)};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

std::string township(int i) { return fmt::format("44010{}00{}000", 3 + i / 5, 1 + i % 5); }

std::string org_csv() {
  std::string csv = "区划代码,名称\n440000000000,示范省\n440100000000,示范市\n440103000000,东区\n440104000000,西区\n";
  for (int i = 0; i < 10; ++i) csv += fmt::format("{},示范{}镇\n", township(i), i + 1);
  return csv;
}

std::string phone(int i) { return fmt::format("139{:08d}", 10000000 + i); }

std::string families_csv(int n) {
  std::string csv = kHeader;
  for (int i = 1; i <= n; ++i)
    csv += fmt::format("C{:05d},{},{},{},测试家长{},{},{},{}\n", i, date_days_ago(i % 1000), i % 2 ? "男" : "女",
                       township(i % 10), i, phone(i), i % 7 == 0 ? fmt::format("wmE2e{:05d}", i) : "",
                       i % 50 == 0 ? "特困；低保" : (i % 10 == 0 ? "特困" : ""));
  return csv;
}

struct Env {
  YuerdFixture yuerd{"\n[roster]\nphone_key_file = \"secrets/phone_key\"\n"};
  std::string token_file;
  int runs = 0;

  Env() {
    yuerd.dir().write("secrets/phone_key", kPhoneKey);
    token_file = yuerd.dir().path() + "/secrets/admin_token";
    yuerd.start();
  }

  RunResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {YUERCTL_BIN, "--url", yuerd.url(""), "--token-file", token_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 120s, yuerd.dir().path() + fmt::format("/yuerctl-{}.log", ++runs));
  }

  std::string file(const std::string& name, const std::string& content) { return yuerd.dir().write(name, content); }

  // yuerctl ... --json; REQUIREs `want` as exit code and returns the report.
  json import(const std::string& what, const std::string& path, std::vector<std::string> flags, int want) {
    std::vector<std::string> args = {what, "import", path, "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = ctl(args);
    INFO(r.output);
    REQUIRE(r.code == want);
    return json::parse(r.output);
  }

  json get(const std::string& path) {
    auto r = net::http_request(http::Verb::get, yuerd.url(path), "",
                               {{"Authorization", "Bearer " + yuerd.secrets().admin_token}}, 30s);
    REQUIRE(r.has_value());
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }

  std::int64_t families(const std::string& unit = "") {
    return get("/api/v1/roster?limit=1" + (unit.empty() ? "" : "&unit=" + unit))["total"].get<std::int64_t>();
  }
};

// The issue for `row` (and `column`, when given) in `report`; FAILs when there is none.
json issue(const json& report, std::size_t row, const std::string& column = "") {
  for (const auto& i : report["invalid"])
    if (i["row"] == row && (column.empty() || i["column"] == column)) return i;
  FAIL("no issue for row " << row << " " << column << " in " << report.dump());
  return {};
}

bool reason_has(const json& i, const std::string& needle) {
  return i["reason"].get<std::string>().find(needle) != std::string::npos;
}

TEST_CASE("org and roster: import a province slice and 5000 families, idempotent, broken files change nothing",
          "[e2e][org]") {
  Env env;

  // Organisation units: a dry run writes nothing, --apply writes 14, again changes nothing.
  const auto org_file = env.file("org.csv", org_csv());
  auto dry = env.ctl({"org", "import", org_file});
  CHECK(dry.code == 0);
  CHECK(dry.output.find("试运行") != std::string::npos);
  CHECK(env.get("/api/v1/org")["units"].empty());
  auto org = env.import("org", org_file, {"--apply"}, 0);
  CHECK(org["created"] == 14);
  CHECK(org["applied"] == true);
  CHECK(env.get("/api/v1/org")["units"].size() == 14);
  auto org_again = env.import("org", org_file, {"--apply"}, 0);
  CHECK(org_again["created"] == 0);
  CHECK(org_again["updated"] == 0);
  CHECK(org_again["unchanged"] == 14);
  // A township whose county is unknown, and a bad code: reported, nothing written.
  auto org_bad = env.import("org", env.file("org-bad.csv", "区划代码,名称\n440105001000,孤立镇\n44010300100,短码镇\n"),
                            {"--apply"}, 1);
  CHECK(reason_has(issue(org_bad, 2, "区划代码"), "上级县级单位 440105000000 不存在"));
  CHECK(reason_has(issue(org_bad, 3, "区划代码"), "12位数字"));
  CHECK(org_bad["applied"] == false);
  CHECK(env.get("/api/v1/org")["units"].size() == 14);
  auto org_table = env.ctl({"org", "list", "--prefix", "440103"});
  CHECK(org_table.code == 0);
  CHECK(org_table.output.find("示范1镇") != std::string::npos);
  CHECK(org_table.output.find("共 6 个单位") != std::string::npos);

  // 5,000 families, UTF-8 with BOM.
  const auto roster_file = env.file("roster.csv", "\xEF\xBB\xBF" + families_csv(5000));
  auto first = env.import("roster", roster_file, {"--apply"}, 0);
  CHECK(first["encoding"] == "UTF-8-BOM");
  CHECK(first["rows"] == 5000);
  CHECK(first["valid"] == 5000);
  CHECK(first["created"] == 5000);
  CHECK(first["invalid"].empty());
  CHECK(env.families() == 5000);
  CHECK(env.families(township(3)) == 500);
  auto again = env.import("roster", roster_file, {"--apply"}, 0);
  CHECK(again["created"] == 0);
  CHECK(again["updated"] == 0);
  CHECK(again["unchanged"] == 5000);
  CHECK(env.families() == 5000);

  // GB18030 (Excel's "CSV (comma delimited)" in China): accepted; the same rows in UTF-8 are unchanged.
  std::string small = kHeader;
  for (int i = 1; i <= 10; ++i)
    small += fmt::format("G{:03d},{},女,{},测试家长乙{},{},,特困；低保\n", i, date_days_ago(30 * i), township(i % 10), i,
                         phone(90000 + i));
  auto gb = env.import("roster", env.file("roster-gb.csv", to_gb18030(small)), {"--apply"}, 0);
  CHECK(gb["encoding"] == "GB18030");
  CHECK(gb["created"] == 10);
  auto utf8 = env.import("roster", env.file("roster-utf8.csv", small), {"--apply"}, 0);
  CHECK(utf8["encoding"] == "UTF-8");
  CHECK(utf8["unchanged"] == 10);
  auto g1 = env.get("/api/v1/roster?unit=" + township(1) + "&limit=10000");
  bool found = false;
  for (const auto& f : g1["families"])
    if (f["child_id"] == "G001") {
      found = true;
      CHECK(f["tags"] == json::array({"特困", "低保"}));
      CHECK(f["phone_masked"] == "139****0001");
      CHECK_FALSE(f.contains("caregiver_name"));
    }
  CHECK(found);
  const std::int64_t total = 5010;
  REQUIRE(env.families() == total);

  // Every kind of broken row in one file (plus a good row updating C00001): nothing is written.
  std::string broken = kHeader;
  broken += fmt::format("C00001,{},男,{},测试家长1,{},,特困\n", date_days_ago(1), township(1), phone(1));  // row 2: valid update
  broken += fmt::format("B1,{},男,4401030010,测试家长B,{},,\n", date_days_ago(5), phone(70001));              // row 3: bad code
  broken += fmt::format("B2,{},男,440103009000,测试家长B,{},,\n", date_days_ago(5), phone(70002));            // row 4: unknown township
  broken += fmt::format("B3,{},男,{},测试家长B,{},,\n", date_days_ago(-3), township(0), phone(70003));         // row 5: future
  broken += fmt::format("B4,{},男,{},测试家长B,{},,\n", date_days_ago(1200), township(0), phone(70004));      // row 6: > 36 months
  broken += fmt::format("B5,{},男,{},测试家长B,12812345678,,\n", date_days_ago(5), township(0));              // row 7: bad phone
  broken += fmt::format("B6,{},男,{},测试家长B,{},,\n", date_days_ago(5), township(0), phone(70006));         // row 8
  broken += fmt::format("B6,{},男,{},测试家长B,{},,\n", date_days_ago(6), township(0), phone(70007));         // row 9: duplicate id
  broken += fmt::format("B8,{},男,{},测试家长B,{},,,多余\n", date_days_ago(5), township(0), phone(70008));    // row 10: extra field
  broken += fmt::format("B9,{},男,{},测试家长B,{}\n", date_days_ago(5), township(0), phone(70009));           // row 11: missing fields
  auto bad = env.import("roster", env.file("roster-broken.csv", broken), {"--apply"}, 1);
  CHECK(bad["applied"] == false);
  CHECK(bad["rows"] == 10);
  CHECK(bad["valid"] == 2);
  CHECK(reason_has(issue(bad, 3, "区划代码"), "12位数字"));
  CHECK(reason_has(issue(bad, 4, "区划代码"), "乡镇 440103009000 不在组织单位中"));
  CHECK(reason_has(issue(bad, 5, "出生日期"), "晚于导入日期"));
  CHECK(reason_has(issue(bad, 6, "出生日期"), "超过36月龄"));
  CHECK(reason_has(issue(bad, 7, "照护人手机"), "11位"));
  CHECK(reason_has(issue(bad, 9, "儿童编号"), "与第 8 行重复"));
  CHECK(reason_has(issue(bad, 10), "多余的列"));
  CHECK(reason_has(issue(bad, 11), "缺少列"));
  CHECK(bad["invalid"].size() == 8);
  CHECK(env.families() == total);
  // The human report names each row and says nothing was written.
  auto table = env.ctl({"roster", "import", env.yuerd.dir().path() + "/roster-broken.csv", "--apply"});
  CHECK(table.code == 1);
  CHECK(table.output.find("行号") != std::string::npos);
  CHECK(table.output.find("未导入") != std::string::npos);
  CHECK(table.output.find(phone(70001)) == std::string::npos);

  // Broken files: each reported, nothing changed.
  struct BrokenFile {
    const char* label;
    std::string content;
    std::size_t row;
    std::string needle;
  };
  const std::vector<BrokenFile> files = {
      {"wrong encoding (UTF-16)", std::string("\xFF\xFE\x41\x00\x2C\x00\x42\x00", 8), 0, "既不是 UTF-8 也不是 GB18030"},
      {"missing column", "儿童编号,出生日期,区划代码\nX1," + date_days_ago(3) + "," + township(0) + "\n", 1,
       "缺少列“照护人手机”"},
      {"extra column", "儿童编号,出生日期,区划代码,照护人手机,备注\nX1," + date_days_ago(3) + "," + township(0) + "," +
                           phone(1) + ",x\n",
       1, "多余的列“备注”"},
      {"empty file", "", 0, "文件为空"},
  };
  for (const auto& f : files) {
    CAPTURE(f.label);
    auto r = env.import("roster", env.file("broken-file.csv", f.content), {"--apply", "--skip-invalid"}, 1);
    CHECK(r["applied"] == false);
    REQUIRE_FALSE(r["invalid"].empty());
    CHECK(r["invalid"][0]["row"] == f.row);
    CHECK(reason_has(r["invalid"][0], f.needle));
    CHECK(env.families() == total);
  }
  {
    // 50 MB: refused before it is read or sent.
    const auto big = env.yuerd.dir().path() + "/big.csv";
    { std::ofstream(big) << kHeader; }
    std::filesystem::resize_file(big, 50u * 1024 * 1024);
    auto r = env.ctl({"roster", "import", big, "--apply"});
    CHECK(r.code == 1);
    CHECK(r.output.find("超过上限 20 MB") != std::string::npos);
    CHECK(env.families() == total);
  }

  // --skip-invalid writes the good rows of the broken file (C00001 updated, B6 created).
  auto skipped = env.import("roster", env.yuerd.dir().path() + "/roster-broken.csv", {"--apply", "--skip-invalid"}, 0);
  CHECK(skipped["applied"] == true);
  CHECK(skipped["updated"] == 1);
  CHECK(skipped["created"] == 1);
  CHECK(env.families() == total + 1);

  // Listings show masked phones only; bad arguments exit 2.
  auto list = env.ctl({"roster", "list", "--unit", township(1), "--limit", "5"});
  CHECK(list.code == 0);
  CHECK(list.output.find("139****") != std::string::npos);
  CHECK(list.output.find(phone(1)) == std::string::npos);
  CHECK(list.output.find("共 501 户") != std::string::npos);
  CHECK(env.ctl({"roster", "import"}).code == 2);
  CHECK(env.ctl({"roster", "import", env.yuerd.dir().path() + "/no-such.csv"}).code == 2);

  REQUIRE(env.yuerd.stop() == 0);
  const auto log = env.yuerd.log_text();
  CHECK(log.find("roster import: rows=5000") != std::string::npos);
  for (int i : {1, 2, 4999, 5000, 90001, 70001, 70006})
    CHECK(log.find(phone(i)) == std::string::npos);
  CHECK(log.find("测试家长") == std::string::npos);
  CHECK(log.find(kPhoneKey) == std::string::npos);
}

}  // namespace
}  // namespace yuer::test
