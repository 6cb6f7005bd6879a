#include "daemon/survey_service/export.h"

#include "daemon/survey/coverage.h"
#include "daemon/survey/indicators.h"
#include "daemon/survey_service/service.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xlsxwriter.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace yuer::survey_service {
namespace {

// A text or a number (not std::variant: GCC 12 -O2 warns maybe-uninitialized on its copies).
struct Cell {
  Cell(std::string v) : text(std::move(v)) {}  // NOLINT: implicit on purpose
  Cell(const char* v) : text(v) {}             // NOLINT
  Cell(double v) : number(v), is_number(true) {}  // NOLINT
  std::string text;
  double number = 0;
  bool is_number = false;
};

class Writer {
 public:
  virtual ~Writer() = default;
  virtual void sheet(const std::string& name, const std::vector<std::string>& headers) = 0;
  virtual void row(const std::vector<Cell>& cells) = 0;
  virtual Result<void> finish() = 0;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

class CsvWriter final : public Writer {
 public:
  explicit CsvWriter(const std::string& path) : out_(path, std::ios::binary) { out_ << "\xEF\xBB\xBF"; }
  void sheet(const std::string& name, const std::vector<std::string>& headers) override {
    if (sheets_++) out_ << "\r\n";
    out_ << csv_field("【" + name + "】") << "\r\n";
    std::vector<Cell> h(headers.begin(), headers.end());
    row(h);
  }
  void row(const std::vector<Cell>& cells) override {
    bool first = true;
    for (const auto& c : cells) {
      if (!first) out_ << ',';
      first = false;
      if (!c.is_number) out_ << csv_field(c.text);
      else out_ << fmt::format("{}", c.number);
    }
    out_ << "\r\n";
  }
  Result<void> finish() override {
    out_.flush();
    if (!out_) return Error{"survey.export", "导出文件写入失败"};
    return {};
  }

 private:
  std::ofstream out_;
  int sheets_ = 0;
};

class XlsxWriter final : public Writer {
 public:
  explicit XlsxWriter(const std::string& path) {
    lxw_workbook_options options{};
    options.constant_memory = LXW_TRUE;  // rows go to disk as written: a province fits
    options.tmpdir = nullptr;
    wb_ = workbook_new_opt(path.c_str(), &options);
  }
  ~XlsxWriter() override {
    if (wb_) workbook_close(wb_);
  }
  void sheet(const std::string& name, const std::vector<std::string>& headers) override {
    if (!wb_) return;
    ws_ = workbook_add_worksheet(wb_, name.c_str());
    row_ = 0;
    std::vector<Cell> h(headers.begin(), headers.end());
    row(h);
  }
  void row(const std::vector<Cell>& cells) override {
    if (!ws_) return;
    lxw_col_t col = 0;
    for (const auto& c : cells) {
      if (!c.is_number) worksheet_write_string(ws_, row_, col, c.text.c_str(), nullptr);
      else worksheet_write_number(ws_, row_, col, c.number, nullptr);
      ++col;
    }
    ++row_;
  }
  Result<void> finish() override {
    if (!wb_) return Error{"survey.export", "无法创建 XLSX 文件"};
    lxw_error e = workbook_close(wb_);
    wb_ = nullptr;
    if (e != LXW_NO_ERROR) return Error{"survey.export", std::string("XLSX 写入失败：") + lxw_strerror(e)};
    return {};
  }

 private:
  lxw_workbook* wb_ = nullptr;
  lxw_worksheet* ws_ = nullptr;
  lxw_row_t row_ = 0;
};

const char* kLevelNames[] = {"", "省级", "市级", "县级", "乡镇级", "村级"};

double pct(std::int64_t num, std::int64_t den) {
  if (den <= 0) return 0;
  return static_cast<double>(num * 1000 / den) / 10.0;  // one decimal, rounded down
}

std::string answer_text(const survey::Question* q, const nlohmann::json& j) {
  auto a = survey::Answer::from_json(j);
  if (!a) return "";
  using K = survey::Answer::Kind;
  auto option_text = [&](const std::string& code) {
    if (q)
      for (const auto& o : q->options)
        if (o.code == code) return o.text;
    return code;
  };
  switch (a->kind) {
    case K::kCode: return option_text(a->code);
    case K::kCodes: {
      std::string s;
      for (const auto& c : a->codes) s += (s.empty() ? "" : "；") + option_text(c);
      return s;
    }
    case K::kInt: return std::to_string(a->n);
    case K::kDate:
    case K::kText: return a->text;
    case K::kDontKnow: return "不知道";
    case K::kSkipped: return "跳过";
  }
  return "";
}

}  // namespace

Result<void> write_export(store::SurveyStore& surveys, store::OrgStore& org, const survey::Survey* def,
                          const ExportRequest& req) {
  auto round = surveys.round(req.round_id);
  if (!round) return Error{"survey.not_found", "没有这一轮调查：" + std::to_string(req.round_id)};
  const std::string unit = req.unit.empty() ? round->unit_code : req.unit;
  auto units = org.units("");
  const store::OrgUnit* top = nullptr;
  for (const auto& u : units)
    if (u.code == unit) top = &u;
  if (!top) return Error{"survey.unknown_unit", "没有这个单位：" + unit};
  const std::string prefix = unit_prefix(top->code, top->level);

  std::map<std::string, survey::Ratio> counts;
  for (const auto& [code, c] : surveys.coverage_counts(req.round_id)) counts[code] = {c.responded, c.eligible};
  auto rows = survey::coverage(units, counts);
  std::set<std::string> eligible_ids;
  for (const auto& e : surveys.eligible(req.round_id)) eligible_ids.insert(e.child_id);
  std::map<std::string, survey::IndicatorTable> per_unit;
  surveys.for_each_response(req.round_id, [&](const store::SurveyResponse& r) {
    if (r.child_id.empty() || !eligible_ids.contains(r.child_id)) return;
    per_unit[r.unit_code] += survey::child_indicators(nlohmann::json::parse(r.answers, nullptr, false), r.age_months);
  });
  auto tables = survey::roll_up(units, per_unit);

  std::unique_ptr<Writer> w;
  if (req.format == "xlsx") w = std::make_unique<XlsxWriter>(req.path);
  else w = std::make_unique<CsvWriter>(req.path);

  std::vector<std::string> headers = {"单位代码", "单位名称", "上级代码", "应调查户数", "已调查户数", "覆盖率(%)", "目标(%)",
                                      "低于目标"};
  for (std::size_t k = 0; k < survey::kIndicatorCount; ++k) {
    const auto& in = survey::info(static_cast<survey::Indicator>(k));
    headers.push_back(std::string(in.name) + "分子");
    headers.push_back(std::string(in.name) + "分母");
    headers.push_back(std::string(in.name) + "(%)");
  }
  for (int level = top->level; level <= 5; ++level) {
    bool any = false;
    for (const auto& r : rows) {
      if (r.level != level || !r.code.starts_with(prefix)) continue;
      if (!any) w->sheet(kLevelNames[level], headers);
      any = true;
      std::vector<Cell> cells = {r.code, r.name, r.parent, static_cast<double>(r.eligible),
                                 static_cast<double>(r.responded), pct(r.responded, r.eligible),
                                 level == 4 ? Cell(90.0) : level == 3 ? Cell(80.0) : Cell(std::string()),
                                 std::string(r.flagged ? "是" : "否")};
      survey::IndicatorTable t;
      if (auto it = tables.find(r.code); it != tables.end()) t = it->second;
      for (std::size_t k = 0; k < survey::kIndicatorCount; ++k) {
        cells.push_back(static_cast<double>(t.r[k].num));
        cells.push_back(static_cast<double>(t.r[k].den));
        cells.push_back(pct(t.r[k].num, t.r[k].den));
      }
      w->row(cells);
    }
  }

  // Responses: one row per child, written as read.
  std::vector<std::string> rh = {"回答编号", "单位代码", "调查日期", "月龄", "回忆日偏移", "版本"};
  if (req.identifying) {
    rh.insert(rh.begin() + 1, {"儿童编号", "出生日期", "电话(掩码)"});
  }
  std::vector<const survey::Question*> qs;
  if (def)
    for (const auto& q : def->questions) {
      qs.push_back(&q);
      rh.push_back(q.label.empty() ? q.id : q.label);
    }
  w->sheet("回答", rh);
  std::vector<store::SurveyResponse> batch;
  auto flush = [&] {
    std::map<std::string, store::Family> fams;
    if (req.identifying) {
      std::vector<std::string> ids;
      for (const auto& r : batch)
        if (!r.child_id.empty()) ids.push_back(r.child_id);
      fams = org.families_by_child(ids);
    }
    for (const auto& r : batch) {
      std::vector<Cell> cells = {static_cast<double>(r.id), r.unit_code, r.interview_date,
                                 static_cast<double>(r.age_months), std::string(r.recall_shifted ? "是" : "否"),
                                 static_cast<double>(r.revision)};
      if (req.identifying) {
        auto f = fams.find(r.child_id);
        cells.insert(cells.begin() + 1, {r.child_id.empty() ? std::string("未匹配") : r.child_id, r.birth_date,
                                         f == fams.end() ? std::string() : f->second.phone_masked});
      }
      auto answers = nlohmann::json::parse(r.answers, nullptr, false);
      for (const auto* q : qs)
        cells.push_back(answers.is_object() && answers.contains(q->id) ? answer_text(q, answers[q->id]) : std::string());
      w->row(cells);
    }
    batch.clear();
  };
  surveys.for_each_response(req.round_id, [&](const store::SurveyResponse& r) {
    if (!r.unit_code.starts_with(prefix)) return;
    batch.push_back(r);
    if (batch.size() >= 500) flush();
  });
  flush();
  return w->finish();
}

}  // namespace yuer::survey_service
