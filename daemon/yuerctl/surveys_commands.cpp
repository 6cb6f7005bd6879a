#include "daemon/yuerctl/surveys_commands.h"

#include "daemon/net/http_client.h"
#include "daemon/yuerctl/table.h"

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace yuer::yuerctl {
namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kRuntime = 1;
constexpr int kUsage = 2;

int die(int code, const std::string& message) {
  std::cerr << "yuerctl: " << message << "\n";
  return code;
}

std::string pct(const json& v) {
  if (!v.is_number()) return "-";
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << v.get<double>() << "%";
  return o.str();
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') out += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

class Commands final : public SurveysCommands {
 public:
  Commands(CLI::App& cli, const std::string& url, const std::string& token_file, const std::string& tz)
      : url_(url), token_file_(token_file), tz_(tz) {
    root_ = cli.add_subcommand("surveys", "feeding survey rounds (调查轮次), coverage, indicators and exports");
    root_->require_subcommand(1);
    list_ = root_->add_subcommand("list", "rounds with coverage and their kf links");
    list_->add_option("--unit", unit_, "only rounds touching this unit (code or prefix)");
    list_->add_flag("--json", json_, "print JSON");
    open_ = root_->add_subcommand("open", "open a round: snapshots the eligible roster (the denominator)");
    open_->add_option("--name", name_, "round name, e.g. 2026年第1轮")->required();
    open_->add_option("--unit", units_, "unit code (repeat for several)")->required();
    open_->add_option("--opens", opens_, "first day, YYYY-MM-DD")->required();
    open_->add_option("--closes", closes_, "last day, YYYY-MM-DD")->required();
    open_->add_option("--survey", survey_, "survey definition id")->capture_default_str();
    open_->add_flag("--json", json_, "print JSON");
    close_ = root_->add_subcommand("close", "close a round");
    close_->add_option("id", id_, "round id")->required();
    close_->add_flag("--json", json_, "print JSON");
    invite_ = root_->add_subcommand("invite", "invite members (WeCom userids) to answer a round in the app");
    invite_->add_option("id", id_, "round id")->required();
    invite_->add_option("--userid", userids_, "member userid (repeat for several)")->required();
    invite_->add_flag("--json", json_, "print JSON");
    coverage_ = root_->add_subcommand("coverage", "responded/eligible of a unit and the units under it");
    coverage_->add_option("id", id_, "round id")->required();
    coverage_->add_option("--unit", unit_, "unit code (default: the round's top unit)");
    coverage_->add_flag("--json", json_, "print JSON");
    missing_ = root_->add_subcommand("missing", "families of a township or village who have not answered");
    missing_->add_option("id", id_, "round id")->required();
    missing_->add_option("--unit", unit_, "township or village code")->required();
    missing_->add_flag("--json", json_, "print JSON");
    indicators_ = root_->add_subcommand("indicators", "WHO IYCF indicators of a unit (numerator/denominator)");
    indicators_->add_option("id", id_, "round id")->required();
    indicators_->add_option("--unit", unit_, "unit code (default: the round's top unit)");
    indicators_->add_flag("--json", json_, "print JSON");
    unmatched_ = root_->add_subcommand("unmatched", "responses not matched to the roster (for the coordinator)");
    unmatched_->add_option("id", id_, "round id")->required();
    unmatched_->add_option("--unit", unit_, "only this township (code or prefix)");
    unmatched_->add_flag("--json", json_, "print JSON");
    export_ = root_->add_subcommand("export", "download coverage, indicators and responses as CSV or XLSX");
    export_->add_option("id", id_, "round id")->required();
    export_->add_option("--format", format_, "csv or xlsx")->check(CLI::IsMember({"csv", "xlsx"}))->capture_default_str();
    export_->add_option("--unit", unit_, "unit code (default: the round's top unit)");
    export_->add_flag("--identifying", identifying_, "include child ids, birth dates and masked phones");
    export_->add_option("-o,--output", output_, "file to write (default: survey-ID.FORMAT)");
  }

  bool selected() const override { return root_->parsed(); }

  int run() override {
    if (*list_) return cmd_list();
    if (*open_) return cmd_open();
    if (*close_) return cmd_close();
    if (*invite_) return cmd_invite();
    if (*coverage_) return cmd_coverage();
    if (*missing_) return cmd_missing();
    if (*indicators_) return cmd_indicators();
    if (*unmatched_) return cmd_unmatched();
    if (*export_) return cmd_export();
    return die(kUsage, "unknown surveys command");
  }

 private:
  bool token(std::string& out, std::string& error) const {
    struct stat st {};
    if (::stat(token_file_.c_str(), &st) != 0) {
      error = "cannot read token file " + token_file_ + " (use --token-file or YUER_ADMIN_TOKEN_FILE)";
      return false;
    }
    if (st.st_mode & 077) {
      error = "token file " + token_file_ + " is readable by group or others; chmod 600 it";
      return false;
    }
    std::ifstream in(token_file_);
    std::getline(in, out);
    while (!out.empty() && (out.back() == '\r' || out.back() == ' ')) out.pop_back();
    if (out.empty()) error = "token file " + token_file_ + " is empty";
    return !out.empty();
  }

  // One call; `raw` gets the body. Returns kOk on 2xx.
  int call(http::Verb verb, const std::string& path, const std::string& body, std::string& raw) const {
    std::string tok, error;
    if (!token(tok, error)) return die(kUsage, error);
    std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer " + tok}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto rsp = net::http_request(verb, url_ + path, body, headers, std::chrono::milliseconds(120000));
    if (!rsp) return die(kRuntime, "cannot reach yuerd at " + url_ + ": " + rsp.error().message);
    if (rsp->status == 401) return die(kRuntime, "yuerd refused the admin token from " + token_file_);
    if (rsp->status / 100 != 2) {
      auto j = json::parse(rsp->body, nullptr, false);
      std::string msg = j.is_object() && j.contains("error") ? j["error"].value("message", "") : rsp->body;
      return die(kRuntime, "yuerd answered " + std::to_string(rsp->status) + ": " + msg);
    }
    raw = std::move(rsp->body);
    return kOk;
  }

  int call_json(http::Verb verb, const std::string& path, const std::string& body, json& out) const {
    std::string raw;
    if (int rc = call(verb, path, body, raw)) return rc;
    out = json::parse(raw, nullptr, false);
    if (out.is_discarded()) return die(kRuntime, "yuerd answered with a body that is not JSON");
    if (json_) std::cout << out.dump(2) << "\n";
    return kOk;
  }

  std::string round_path(const char* what) const {
    std::string p = "/api/v1/surveys/" + std::to_string(id_) + (what[0] ? std::string("/") + what : "");
    if (!unit_.empty()) p += "?unit=" + url_escape(unit_);
    return p;
  }

  static void print_round(const json& r) {
    std::cout << "第 " << r.value("id", 0) << " 轮  " << r.value("name", "") << "  (" << r.value("survey", "") << ")  "
              << r.value("opens", "") << " ~ " << r.value("closes", "") << "  "
              << (r.value("state", "") == "open" ? "进行中" : "已结束") << "  已调查 " << r.value("responded", 0)
              << " / 应调查 " << r.value("eligible", 0) << "  " << pct(r["percent"]) << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r.value("kf_links", json::array())) rows.push_back({l.value("unit", ""), l.value("url", "")});
    if (!rows.empty()) print_table(std::cout, {"乡镇", "微信客服链接"}, rows);
  }

  int cmd_list() {
    json out;
    if (int rc = call_json(http::Verb::get, "/api/v1/surveys" + (unit_.empty() ? "" : "?unit=" + url_escape(unit_)), "",
                           out))
      return rc;
    if (json_) return kOk;
    for (const auto& r : out["rounds"]) print_round(r);
    std::cout << "共 " << out["rounds"].size() << " 轮\n";
    return kOk;
  }

  int cmd_open() {
    json body = {{"survey", survey_}, {"name", name_}, {"units", units_}, {"opens", opens_}, {"closes", closes_}};
    json out;
    if (int rc = call_json(http::Verb::post, "/api/v1/surveys", body.dump(), out)) return rc;
    if (!json_) print_round(out["round"]);
    return kOk;
  }

  int cmd_close() {
    json out;
    if (int rc = call_json(http::Verb::post, "/api/v1/surveys/" + std::to_string(id_) + "/close", "{}", out)) return rc;
    if (!json_) print_round(out["round"]);
    return kOk;
  }

  int cmd_invite() {
    json body = {{"userids", userids_}};
    json out;
    if (int rc = call_json(http::Verb::post, "/api/v1/surveys/" + std::to_string(id_) + "/invite", body.dump(), out))
      return rc;
    if (!json_) std::cout << "已邀请 " << out.value("invited", 0) << " 位成员（重复邀请不会重复发送）\n";
    return kOk;
  }

  static std::vector<std::string> coverage_cells(const json& u) {
    std::string flag = u.value("below_target", false) ? "低于目标" : "";
    std::string target = u["target_percent"].is_number() ? std::to_string(u["target_percent"].get<int>()) + "%" : "-";
    return {u.value("code", ""), u.value("name", ""), std::to_string(u.value("responded", 0)),
            std::to_string(u.value("eligible", 0)), pct(u["percent"]), target, flag};
  }

  int cmd_coverage() {
    json out;
    if (int rc = call_json(http::Verb::get, round_path("coverage"), "", out)) return rc;
    if (json_) return kOk;
    std::vector<std::vector<std::string>> rows = {coverage_cells(out["unit"])};
    for (const auto& c : out["children"]) rows.push_back(coverage_cells(c));
    print_table(std::cout, {"代码", "单位", "已调查", "应调查", "覆盖率", "目标", ""}, rows);
    return kOk;
  }

  int cmd_missing() {
    json out;
    if (int rc = call_json(http::Verb::get, round_path("missing"), "", out)) return rc;
    if (json_) return kOk;
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : out["families"])
      rows.push_back({f.value("family_id", ""), f.value("village", "") + " " + f.value("village_name", ""),
                      f.value("birth_date", ""), f.value("phone_masked", "")});
    print_table(std::cout, {"儿童编号", "村", "出生日期", "电话"}, rows);
    std::cout << "未调查 " << rows.size() << " 户\n";
    return kOk;
  }

  int cmd_indicators() {
    json out;
    if (int rc = call_json(http::Verb::get, round_path("indicators"), "", out)) return rc;
    if (json_) return kOk;
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : out["indicators"])
      rows.push_back({i.value("id", ""), i.value("name", ""), std::to_string(i.value("numerator", 0)),
                      std::to_string(i.value("denominator", 0)), pct(i["percent"])});
    print_table(std::cout, {"指标", "名称", "分子", "分母", "%"}, rows);
    return kOk;
  }

  int cmd_unmatched() {
    json out;
    if (int rc = call_json(http::Verb::get, round_path("unmatched"), "", out)) return rc;
    if (json_) return kOk;
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : out["responses"])
      rows.push_back({std::to_string(r.value("id", 0)), r.value("unit", ""), r.value("birth_date", ""),
                      r.value("interview_date", ""), std::to_string(r.value("age_months", 0))});
    print_table(std::cout, {"编号", "乡镇", "填写的出生日期", "调查日期", "月龄"}, rows);
    std::cout << "未匹配 " << rows.size() << " 份\n";
    return kOk;
  }

  int cmd_export() {
    std::string path = "/api/v1/surveys/" + std::to_string(id_) + "/export?format=" + format_;
    if (!unit_.empty()) path += "&unit=" + url_escape(unit_);
    if (identifying_) path += "&identifying=1";
    std::string raw;
    if (int rc = call(http::Verb::get, path, "", raw)) return rc;
    std::string file = output_.empty() ? "survey-" + std::to_string(id_) + "." + format_ : output_;
    std::ofstream out(file, std::ios::binary);
    out << raw;
    out.close();
    if (!out) return die(kRuntime, "cannot write " + file);
    std::cout << "已写入 " << file << "（" << raw.size() << " 字节）\n";
    return kOk;
  }

  const std::string& url_;
  const std::string& token_file_;
  const std::string& tz_;
  CLI::App* root_ = nullptr;
  CLI::App *list_ = nullptr, *open_ = nullptr, *close_ = nullptr, *coverage_ = nullptr, *missing_ = nullptr,
           *indicators_ = nullptr, *unmatched_ = nullptr, *export_ = nullptr;
  std::string unit_, name_, opens_, closes_, survey_ = "feeding", format_ = "csv", output_;
  std::vector<std::string> units_;
  std::vector<std::string> userids_;
  CLI::App* invite_ = nullptr;
  std::int64_t id_ = 0;
  bool json_ = false;
  bool identifying_ = false;
};

}  // namespace

std::unique_ptr<SurveysCommands> add_surveys_commands(CLI::App& cli, const std::string& url,
                                                      const std::string& token_file, const std::string& tz) {
  return std::make_unique<Commands>(cli, url, token_file, tz);
}

}  // namespace yuer::yuerctl
