// write_export read back (issue 7): the XLSX is opened as what it is, a zip of XML parts (unzip -p
// from Debian's unzip package, then pugixml), and its sheet names, Chinese headers, admin codes
// (text cells, not numbers Excel would show as 4.40103E+11) and numbers are checked against a
// small round built here by hand; the CSV starts with the UTF-8 BOM and has the same blocks.
#include "daemon/survey_service/export.h"

#include "daemon/store/org_store.h"
#include "daemon/store/store_testing.h"
#include "daemon/store/survey_store.h"
#include "daemon/survey/definition.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace yuer::survey_service {
namespace {

using store::testing::TempDir;

// One part of the zip at `path` (unzip -p), or nullopt when unzip fails or the part is missing.
std::optional<std::string> zip_part(const std::string& zip, const std::string& part) {
  const std::string cmd = "unzip -p '" + zip + "' '" + part + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0 || out.empty()) return std::nullopt;
  return out;
}

struct CellValue {
  std::string text;
  bool is_string = false;  // a text cell (inline or shared string), not a number
};
using Grid = std::vector<std::vector<CellValue>>;

struct Book {
  std::vector<std::string> names;      // sheet names in workbook order
  std::map<std::string, Grid> sheets;  // by name
};

// "B12" → column 1 (0-based).
std::size_t column_of(const std::string& ref) {
  std::size_t col = 0;
  for (char c : ref) {
    if (c < 'A' || c > 'Z') break;
    col = col * 26 + static_cast<std::size_t>(c - 'A' + 1);
  }
  return col - 1;
}

std::string text_of(pugi::xml_node si) {
  // <si><t>…</t></si> or rich text <si><r><t>…</t></r>…</si>; the same inside <is>.
  if (auto t = si.child("t")) return t.text().get();
  std::string s;
  for (auto r : si.children("r")) s += r.child("t").text().get();
  return s;
}

Book read_xlsx(const std::string& path) {
  Book book;
  auto wb = zip_part(path, "xl/workbook.xml");
  auto rels = zip_part(path, "xl/_rels/workbook.xml.rels");
  REQUIRE(wb.has_value());
  REQUIRE(rels.has_value());
  pugi::xml_document wdoc, rdoc, sdoc;
  REQUIRE(wdoc.load_string(wb->c_str()));
  REQUIRE(rdoc.load_string(rels->c_str()));
  std::map<std::string, std::string> target_of;
  for (auto r : rdoc.child("Relationships").children("Relationship"))
    target_of[r.attribute("Id").value()] = r.attribute("Target").value();
  std::vector<std::string> shared;
  if (auto ss = zip_part(path, "xl/sharedStrings.xml"); ss && sdoc.load_string(ss->c_str()))
    for (auto si : sdoc.child("sst").children("si")) shared.push_back(text_of(si));
  for (auto s : wdoc.child("workbook").child("sheets").children("sheet")) {
    const std::string name = s.attribute("name").value();
    book.names.push_back(name);
    const std::string target = target_of[s.attribute("r:id").value()];  // "worksheets/sheet1.xml"
    auto xml = zip_part(path, "xl/" + target);
    INFO(name << " → " << target);
    REQUIRE(xml.has_value());
    pugi::xml_document doc;
    REQUIRE(doc.load_string(xml->c_str()));
    Grid& g = book.sheets[name];
    for (auto row : doc.child("worksheet").child("sheetData").children("row")) {
      g.emplace_back();
      for (auto c : row.children("c")) {
        const std::size_t col = column_of(c.attribute("r").value());
        if (g.back().size() <= col) g.back().resize(col + 1);
        const std::string t = c.attribute("t").value();
        CellValue v;
        if (t == "inlineStr") v = {text_of(c.child("is")), true};
        else if (t == "s") {
          const auto i = static_cast<std::size_t>(c.child("v").text().as_ullong());
          v = {i < shared.size() ? shared[i] : std::string("?"), true};
        } else if (t == "str") v = {c.child("v").text().get(), true};
        else v = {c.child("v").text().get(), false};
        g.back()[col] = v;
      }
    }
  }
  return book;
}

// The column of `header` in the first row, or npos.
std::size_t col(const Grid& g, const std::string& header) {
  if (g.empty()) return std::string::npos;
  for (std::size_t i = 0; i < g[0].size(); ++i)
    if (g[0][i].text == header) return i;
  return std::string::npos;
}

// The row whose first cell is `code`, or nullptr.
const std::vector<CellValue>* row_of(const Grid& g, const std::string& code) {
  for (const auto& r : g)
    if (!r.empty() && r[0].text == code) return &r;
  return nullptr;
}

struct Env {
  TempDir dir;
  store::Settings settings;
  std::unique_ptr<store::OrgStore> org;
  std::unique_ptr<store::SurveyStore> surveys;
  std::vector<survey::Survey> defs;
  std::int64_t round = 0;
  std::int64_t response_c1 = 0;

  Env() {
    settings.path = dir.file("yuer.db");
    org = std::move(store::open_sqlite_org_store(settings).value());
    surveys = std::move(store::open_sqlite_survey_store(settings).value());
    auto loaded = survey::load_survey_dir(std::string(YUER_SOURCE_DIR) + "/templates/surveys");
    REQUIRE(loaded.has_value());
    defs = std::move(*loaded);
    org->write_units({{"440000000000", "示范省", 1, "", 0, 0},
                      {"440100000000", "示范市", 2, "440000000000", 0, 0},
                      {"440103000000", "东区", 3, "440100000000", 0, 0},
                      {"440103001000", "东一镇", 4, "440103000000", 0, 0},
                      {"440103002000", "东二镇", 4, "440103000000", 0, 0}},
                     1000);
    auto r = store::testing::march_round("440000000000");
    r.name = "2026年第1轮";
    r.units = {"440100000000"};
    round = surveys->open_round(r,
                                {{"c1", "440103001000", "2025-08-01"}, {"c2", "440103001000", "2025-09-01"},
                                 {"c3", "440103002000", "2024-01-01"}},
                                1000);
    // c1 (7 months): breastfed yesterday, a bottle; c3 (26 months: outside the WHO indicators).
    auto answer = [&](const std::string& user, const std::string& child, const std::string& unit, int months,
                      const std::string& answers) {
      store::SurveyResponse resp;
      resp.child_id = child;
      resp.unit_code = unit;
      resp.birth_date = child == "c1" ? "2025-08-01" : "2024-01-01";
      resp.interview_date = "2026-03-10";
      resp.age_months = months;
      resp.answers = answers;
      store::SurveyTurnWrite t{"kf", user, round, "{}", {resp}, "", 0};
      return surveys->save_turn(t, 2000).at(0);
    };
    response_c1 = answer("wm_1", "c1", "440103001000", 7,
                         R"({"ever_bf":{"code":"yes"},"first_bf":{"code":"lt1h"},"bf_yesterday":{"code":"yes"},)"
                         R"("bottle":{"code":"yes"}})");
    answer("wm_3", "c3", "440103002000", 26, R"({"ever_bf":{"code":"yes"},"bottle":{"code":"no"}})");
  }

  std::string write(const std::string& format, bool identifying) {
    ExportRequest req;
    req.round_id = round;
    req.format = format;
    req.identifying = identifying;
    req.path = dir.file("round." + format);
    const survey::Survey* def = nullptr;
    for (const auto& d : defs)
      if (d.id == "feeding") def = &d;
    REQUIRE(def);
    auto w = write_export(*surveys, *org, def, req);
    INFO((w ? std::string() : w.error().message));
    REQUIRE(w.has_value());
    return req.path;
  }
};

TEST_CASE("survey export: the XLSX read back has one sheet per level, Chinese headers, text codes and the numbers",
          "[survey_service][export]") {
  Env env;
  const Book book = read_xlsx(env.write("xlsx", false));
  CHECK(book.names == std::vector<std::string>{"省级", "市级", "县级", "乡镇级", "回答"});

  for (const auto& level : {"省级", "市级", "县级", "乡镇级"}) {
    INFO(level);
    const Grid& g = book.sheets.at(level);
    REQUIRE(g.size() >= 2);
    CHECK(g[0][0].text == "单位代码");
    CHECK(g[0][1].text == "单位名称");
    CHECK(col(g, "应调查户数") != std::string::npos);
    CHECK(col(g, "覆盖率(%)") != std::string::npos);
    for (const auto& r : g) CHECK(r[0].is_string);  // codes (and headers) are text cells
  }
  const Grid& towns = book.sheets.at("乡镇级");
  REQUIRE(towns.size() == 3);  // header + two townships
  const std::size_t e = col(towns, "应调查户数"), d = col(towns, "已调查户数"), p = col(towns, "覆盖率(%)"),
                    t = col(towns, "目标(%)"), below = col(towns, "低于目标");
  REQUIRE(below != std::string::npos);
  const auto* t1 = row_of(towns, "440103001000");
  const auto* t2 = row_of(towns, "440103002000");
  REQUIRE(t1);
  REQUIRE(t2);
  CHECK((*t1)[1].text == "东一镇");
  CHECK((*t1)[2].text == "440103000000");
  CHECK_FALSE((*t1)[e].is_string);
  CHECK((*t1)[e].text == "2");
  CHECK((*t1)[d].text == "1");
  CHECK((*t1)[p].text == "50");
  CHECK((*t1)[t].text == "90");
  CHECK((*t1)[below].text == "是");
  CHECK((*t2)[e].text == "1");
  CHECK((*t2)[d].text == "1");
  CHECK((*t2)[p].text == "100");
  CHECK((*t2)[below].text == "否");

  // The county sums its townships (3 eligible, 2 answered: 66.6 %, below 80 %).
  const Grid& county = book.sheets.at("县级");
  const auto* c = row_of(county, "440103000000");
  REQUIRE(c);
  CHECK((*c)[1].text == "东区");
  CHECK((*c)[col(county, "应调查户数")].text == "3");
  CHECK((*c)[col(county, "已调查户数")].text == "2");
  // 66.6 is stored as the double nearest to it ("%.16G": 66.59999999999999).
  CHECK(std::stod((*c)[col(county, "覆盖率(%)")].text) == Approx(66.6).margin(1e-9));
  CHECK((*c)[col(county, "目标(%)")].text == "80");
  CHECK((*c)[col(county, "低于目标")].text == "是");
  // An indicator's numerator and denominator: only c1 (7 months) is under 24 months.
  const auto* prov = row_of(book.sheets.at("省级"), "440000000000");
  REQUIRE(prov);
  const Grid& pg = book.sheets.at("省级");
  std::size_t bof_num = std::string::npos;
  for (std::size_t i = 0; i < pg[0].size(); ++i)
    if (pg[0][i].text.find("奶瓶") != std::string::npos && pg[0][i].text.ends_with("分子")) bof_num = i;
  REQUIRE(bof_num != std::string::npos);
  CHECK((*prov)[bof_num].text == "1");
  CHECK((*prov)[bof_num + 1].text == "1");  // its denominator
  CHECK((*prov)[bof_num + 2].text == "100");

  // Responses: Chinese question labels, option texts, no identifying columns unless asked.
  const Grid& resp = book.sheets.at("回答");
  REQUIRE(resp.size() == 3);
  CHECK(resp[0][0].text == "回答编号");
  CHECK(col(resp, "儿童编号") == std::string::npos);
  const std::size_t bottle = col(resp, "昨天用过奶瓶");
  REQUIRE(bottle != std::string::npos);
  const auto* r1 = row_of(resp, std::to_string(env.response_c1));
  REQUIRE(r1);
  CHECK_FALSE((*r1)[0].is_string);  // the response number is a number
  CHECK((*r1)[col(resp, "单位代码")].text == "440103001000");
  CHECK((*r1)[col(resp, "单位代码")].is_string);
  CHECK((*r1)[col(resp, "月龄")].text == "7");
  CHECK((*r1)[bottle].text == "用过");

  const Book ident = read_xlsx(env.write("xlsx", true));
  const Grid& ir = ident.sheets.at("回答");
  REQUIRE(col(ir, "儿童编号") != std::string::npos);
  CHECK(row_of(ir, std::to_string(env.response_c1)) != nullptr);
  CHECK((*row_of(ir, std::to_string(env.response_c1)))[col(ir, "儿童编号")].text == "c1");
}

TEST_CASE("survey export: the CSV starts with the UTF-8 BOM and has one block per level", "[survey_service][export]") {
  Env env;
  std::ifstream in(env.write("csv", false), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string csv = ss.str();
  REQUIRE(csv.size() > 3);
  CHECK(csv.substr(0, 3) == "\xEF\xBB\xBF");
  CHECK(csv.substr(3, std::string("【省级】\r\n单位代码,单位名称").size()) == "【省级】\r\n单位代码,单位名称");
  for (const char* block : {"【市级】", "【县级】", "【乡镇级】", "【回答】"}) CHECK(csv.find(block) != std::string::npos);
  CHECK(csv.find("\r\n440103001000,东一镇,440103000000,2,1,50,90,是,") != std::string::npos);
  CHECK(csv.find("c1") == std::string::npos);  // no child ids without the flag
}

}  // namespace
}  // namespace yuer::survey_service
