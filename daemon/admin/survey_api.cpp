// The survey part of the admin API (contracts.md "Survey API"): rounds (list, open, close),
// coverage per unit with its children, missing families of a township or village, IYCF indicators,
// unmatched responses and exports. Every list takes `unit=` (a code or a prefix of one). The
// audit log and the access scopes are the central layer's (daemon/admin), not this file's.
#include "daemon/admin/admin_api.h"
#include "daemon/admin/reply.h"

#include "daemon/survey/coverage.h"
#include "daemon/survey/indicators.h"
#include "daemon/survey_service/export.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

namespace yuer::admin {
namespace {

using nlohmann::json;
namespace ss = survey_service;

double percent(std::int64_t num, std::int64_t den) {
  if (den <= 0) return 0;
  return std::round(1000.0 * static_cast<double>(num) / static_cast<double>(den)) / 10.0;
}

bool digits(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

// A round touches the prefix when one of its units is at or below it, or it is below one of them.
bool touches(const store::SurveyRound& r, const std::string& prefix, const std::map<std::string, int>& levels) {
  if (prefix.empty()) return true;
  std::vector<std::string> units = r.units.empty() ? std::vector<std::string>{r.unit_code} : r.units;
  for (const auto& u : units) {
    if (u.starts_with(prefix)) return true;
    auto it = levels.find(u);
    if (it != levels.end() && prefix.starts_with(ss::unit_prefix(u, it->second))) return true;
  }
  return false;
}

struct RoundView {
  store::SurveyRound round;
  std::int64_t eligible = 0, responded = 0;
  std::vector<store::SurveyKfLink> links;
};

awaitable<std::vector<RoundView>> list_rounds(store::SurveyStore* s, store::OrgStore* org, std::string prefix,
                                              std::int64_t only) {
  std::map<std::string, int> levels;
  for (const auto& u : org->units("")) levels[u.code] = u.level;
  std::vector<RoundView> out;
  for (auto& r : s->rounds(false)) {
    if (only && r.id != only) continue;
    if (!touches(r, prefix, levels)) continue;
    RoundView v;
    for (const auto& [code, c] : s->coverage_counts(r.id))
      if (code.starts_with(prefix)) {
        v.eligible += c.eligible;
        v.responded += c.responded;
      }
    for (auto& l : s->kf_links(r.id))
      if (l.unit_code.starts_with(prefix)) v.links.push_back(std::move(l));
    v.round = std::move(r);
    out.push_back(std::move(v));
  }
  co_return out;
}

json round_json(const RoundView& v) {
  json links = json::array();
  for (const auto& l : v.links) links.push_back({{"unit", l.unit_code}, {"url", l.url}, {"scene", l.scene}});
  return {{"id", v.round.id},
          {"survey", v.round.survey_id},
          {"name", v.round.name},
          {"units", v.round.units.empty() ? std::vector<std::string>{v.round.unit_code} : v.round.units},
          {"unit", v.round.unit_code},
          {"opens", v.round.opens_on},
          {"closes", v.round.closes_on},
          {"state", v.round.state},
          {"eligible", v.eligible},
          {"responded", v.responded},
          {"percent", percent(v.responded, v.eligible)},
          {"kf_links", std::move(links)}};
}

struct UnitsAndCounts {
  std::optional<store::SurveyRound> round;
  std::vector<store::OrgUnit> units;
  std::map<std::string, survey::Ratio> counts;
};

awaitable<UnitsAndCounts> load_coverage(store::SurveyStore* s, store::OrgStore* org, std::int64_t id) {
  UnitsAndCounts u;
  u.round = s->round(id);
  if (!u.round) co_return u;
  u.units = org->units("");
  for (const auto& [code, c] : s->coverage_counts(id)) u.counts[code] = {c.responded, c.eligible};
  co_return u;
}

json coverage_row(const survey::CoverageRow& r) {
  json j = {{"code", r.code},           {"name", r.name},
            {"level", r.level},         {"eligible", r.eligible},
            {"responded", r.responded}, {"percent", percent(r.responded, r.eligible)},
            {"target_percent", nullptr}, {"below_target", r.flagged}};
  if (r.level == 4) j["target_percent"] = 90;
  if (r.level == 3) j["target_percent"] = 80;
  return j;
}

struct Missing {
  std::optional<store::SurveyRound> round;
  std::vector<json> families;
};

awaitable<Missing> load_missing(store::SurveyStore* s, store::OrgStore* org, std::int64_t id, std::string prefix) {
  Missing m;
  m.round = s->round(id);
  if (!m.round) co_return m;
  std::set<std::string> answered;
  for (const auto& r : s->responses(id))
    if (!r.child_id.empty()) answered.insert(r.child_id);
  std::vector<std::string> ids;
  for (const auto& e : s->eligible(id))
    if (e.unit_code.starts_with(prefix) && !answered.contains(e.child_id)) ids.push_back(e.child_id);
  std::map<std::string, std::string> names;
  for (const auto& u : org->units(prefix.substr(0, std::min<std::size_t>(prefix.size(), 9)))) names[u.code] = u.name;
  auto fams = org->families_by_child(ids);
  for (const auto& e : s->eligible(id)) {
    if (!e.unit_code.starts_with(prefix) || answered.contains(e.child_id)) continue;
    auto f = fams.find(e.child_id);
    m.families.push_back({{"family_id", e.child_id},
                          {"village", e.unit_code},
                          {"village_name", names.contains(e.unit_code) ? names[e.unit_code] : ""},
                          {"birth_date", e.birth_date},
                          {"phone_masked", f == fams.end() ? "" : f->second.phone_masked},
                          {"has_wecom", f != fams.end() && !f->second.external_userid.empty()}});
  }
  co_return m;
}

struct Indicators {
  std::optional<store::SurveyRound> round;
  std::vector<store::OrgUnit> units;
  std::map<std::string, survey::IndicatorTable> tables;
};

awaitable<Indicators> load_indicators(store::SurveyStore* s, store::OrgStore* org, std::int64_t id) {
  Indicators out;
  out.round = s->round(id);
  if (!out.round) co_return out;
  out.units = org->units("");
  std::set<std::string> eligible;
  for (const auto& e : s->eligible(id)) eligible.insert(e.child_id);
  std::map<std::string, survey::IndicatorTable> per_unit;
  s->for_each_response(id, [&](const store::SurveyResponse& r) {
    if (r.child_id.empty() || !eligible.contains(r.child_id)) return;
    per_unit[r.unit_code] += survey::child_indicators(json::parse(r.answers, nullptr, false), r.age_months);
  });
  out.tables = survey::roll_up(out.units, per_unit);
  co_return out;
}

awaitable<std::vector<store::SurveyResponse>> load_unmatched(store::SurveyStore* s, std::int64_t id) {
  co_return s->unmatched(id);
}

awaitable<Result<void>> run_export(store::SurveyStore* s, store::OrgStore* org, const survey::Survey* def,
                                   ss::ExportRequest r) {
  co_return ss::write_export(*s, *org, def, r);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream o;
  o << in.rdbuf();
  return o.str();
}

}  // namespace

awaitable<http::Response> AdminApi::survey_api(http::Request req, std::string path) {
  auto url = boost::urls::parse_origin_form(req.target());
  std::map<std::string, std::string> params;
  for (auto p : url->params()) params[std::string(p.key)] = std::string(p.value);
  const std::string unit = params.contains("unit") ? params["unit"] : "";
  if (!unit.empty() && (!digits(unit) || unit.size() > 12))
    co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "unit 应为单位代码（12 位数字）或其前缀");

  if (path == "/api/v1/surveys") {
    if (req.method() == http::Verb::get) {
      auto rounds = co_await net::co_spawn(store_pool_, list_rounds(survey_store_, org_, unit, 0), net::use_awaitable);
      json items = json::array();
      for (const auto& v : rounds) items.push_back(round_json(v));
      co_return reply(req, {{"rounds", std::move(items)}});
    }
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET or POST");
    json body = json::parse(req.body(), nullptr, false);
    if (!body.is_object())
      co_return http::make_error(req, http::Status::unprocessable_entity, "survey.bad_request", "请求体应为 JSON 对象");
    ss::OpenRequest o;
    o.survey = body.value("survey", std::string("feeding"));
    auto get_str = [&](const char* k) {
      auto it = body.find(k);
      return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    o.name = get_str("name");
    o.opens = get_str("opens");
    o.closes = get_str("closes");
    if (auto it = body.find("units"); it != body.end() && it->is_array())
      for (const auto& u : *it)
        if (u.is_string()) o.units.push_back(u.get<std::string>());
    if (o.units.empty() && !get_str("unit").empty()) o.units.push_back(get_str("unit"));
    auto opened = co_await survey_service_->open_round(std::move(o));
    if (!opened) co_return http::make_error(req, http::Status::unprocessable_entity, opened.error().code, opened.error().message);
    auto views = co_await net::co_spawn(store_pool_, list_rounds(survey_store_, org_, "", opened->id), net::use_awaitable);
    co_return reply(req, {{"round", round_json(views.at(0))}}, http::Status::created);
  }

  // /api/v1/surveys/ID[/what]
  std::string rest = path.substr(std::string("/api/v1/surveys/").size());
  std::string what;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    what = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
  if (ec != std::errc() || p != rest.data() + rest.size() || id <= 0)
    co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such API: " + path);
  auto not_found = [&] {
    return http::make_error(req, http::Status::not_found, "survey.not_found", "没有这一轮调查：" + std::to_string(id));
  };

  if (what == "close") {
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
    auto closed = co_await survey_service_->close_round(id);
    if (!closed) co_return not_found();
    auto views = co_await net::co_spawn(store_pool_, list_rounds(survey_store_, org_, "", id), net::use_awaitable);
    co_return reply(req, {{"round", round_json(views.at(0))}});
  }
  if (what == "invite") {
    // {"userids": ["..."]}: members answer this round through the app (one invitation each, once).
    if (req.method() != http::Verb::post)
      co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use POST");
    json body = json::parse(req.body(), nullptr, false);
    std::vector<std::string> userids;
    if (body.is_object())
      if (auto it = body.find("userids"); it != body.end() && it->is_array())
        for (const auto& u : *it)
          if (u.is_string()) userids.push_back(u.get<std::string>());
    if (!body.is_object() || !body.contains("userids") || !body["userids"].is_array() ||
        userids.size() != body["userids"].size())
      co_return http::make_error(req, http::Status::unprocessable_entity, "survey.bad_request",
                                 "请求体应为 {\"userids\": [\"成员账号\", …]}");
    auto invited = co_await survey_service_->invite(id, std::move(userids));
    if (!invited) {
      const auto& e = invited.error();
      co_return http::make_error(req, e.code == "survey.not_found" ? http::Status::not_found
                                      : e.code == "survey.closed"  ? http::Status::conflict
                                                                   : http::Status::unprocessable_entity,
                                 e.code, e.message);
    }
    co_return reply(req, {{"round_id", id}, {"invited", invited->members}});
  }
  if (req.method() != http::Verb::get)
    co_return http::make_error(req, http::Status::method_not_allowed, "api.bad_method", "use GET");

  if (what.empty()) {
    auto views = co_await net::co_spawn(store_pool_, list_rounds(survey_store_, org_, unit, id), net::use_awaitable);
    if (views.empty()) co_return not_found();
    co_return reply(req, {{"round", round_json(views.front())}});
  }
  if (what == "coverage") {
    auto c = co_await net::co_spawn(store_pool_, load_coverage(survey_store_, org_, id), net::use_awaitable);
    if (!c.round) co_return not_found();
    const std::string code = unit.empty() ? c.round->unit_code : unit;
    auto rows = survey::coverage(c.units, c.counts);
    json me, children = json::array();
    for (const auto& r : rows) {
      if (r.code == code) me = coverage_row(r);
      else if (r.parent == code) children.push_back(coverage_row(r));
    }
    if (me.is_null())
      co_return http::make_error(req, http::Status::not_found, "survey.unknown_unit", "没有这个单位：" + code);
    co_return reply(req, {{"unit", std::move(me)}, {"children", std::move(children)}});
  }
  if (what == "missing") {
    if (unit.size() < 9)
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param",
                                 "missing 只给一个乡镇或村：unit 至少写到乡镇（9 位以上）");
    auto m = co_await net::co_spawn(store_pool_, load_missing(survey_store_, org_, id, unit), net::use_awaitable);
    if (!m.round) co_return not_found();
    co_return reply(req, {{"families", m.families}});
  }
  if (what == "indicators") {
    auto in = co_await net::co_spawn(store_pool_, load_indicators(survey_store_, org_, id), net::use_awaitable);
    if (!in.round) co_return not_found();
    const std::string code = unit.empty() ? in.round->unit_code : unit;
    survey::IndicatorTable t;
    if (auto it = in.tables.find(code); it != in.tables.end()) t = it->second;
    json items = json::array();
    for (std::size_t k = 0; k < survey::kIndicatorCount; ++k) {
      const auto& info = survey::info(static_cast<survey::Indicator>(k));
      items.push_back({{"id", std::string(info.code)},
                       {"name", std::string(info.name)},
                       {"numerator", t.r[k].num},
                       {"denominator", t.r[k].den},
                       {"percent", percent(t.r[k].num, t.r[k].den)}});
    }
    co_return reply(req, {{"unit", code}, {"indicators", std::move(items)}});
  }
  if (what == "unmatched") {
    auto rows = co_await net::co_spawn(store_pool_, load_unmatched(survey_store_, id), net::use_awaitable);
    json items = json::array();
    for (const auto& r : rows) {
      if (!r.unit_code.starts_with(unit)) continue;
      items.push_back({{"id", r.id},
                       {"unit", r.unit_code},
                       {"birth_date", r.birth_date},
                       {"channel", r.channel},
                       {"interview_date", r.interview_date},
                       {"age_months", r.age_months},
                       {"revision", r.revision}});
    }
    co_return reply(req, {{"responses", std::move(items)}});
  }
  if (what == "export") {
    ss::ExportRequest r;
    r.round_id = id;
    r.unit = unit.size() == 12 ? unit : "";
    r.format = params.contains("format") ? params["format"] : "csv";
    r.identifying = params.contains("identifying") && params["identifying"] == "1";
    if (r.format != "csv" && r.format != "xlsx")
      co_return http::make_error(req, http::Status::bad_request, "api.bad_param", "format 应为 csv 或 xlsx");
    std::error_code fec;
    auto dir = std::filesystem::temp_directory_path(fec);
    r.path = (dir / ("yuer-survey-" + std::to_string(::getpid()) + "-" + std::to_string(id) + "-" +
                     std::to_string(export_seq_++) + "." + r.format))
                 .string();
    const survey::Survey* def = nullptr;
    auto views = co_await net::co_spawn(store_pool_, list_rounds(survey_store_, org_, "", id), net::use_awaitable);
    if (views.empty()) co_return not_found();
    def = survey_service_->definition(views.front().round.survey_id);
    auto done = co_await net::co_spawn(store_pool_, run_export(survey_store_, org_, def, r), net::use_awaitable);
    std::string body;
    if (done) body = read_file(r.path);
    std::filesystem::remove(r.path, fec);
    if (!done) {
      const auto status = done.error().code == "survey.not_found" || done.error().code == "survey.unknown_unit"
                              ? http::Status::not_found
                              : http::Status::internal_server_error;
      co_return http::make_error(req, status, done.error().code, done.error().message);
    }
    auto rsp = http::make_response(req, http::Status::ok, std::move(body),
                                   r.format == "csv" ? "text/csv; charset=utf-8"
                                                     : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    rsp.set(boost::beast::http::field::content_disposition,
            "attachment; filename=\"survey-" + std::to_string(id) + (unit.empty() ? "" : "-" + unit) + "." + r.format +
                "\"");
    co_return rsp;
  }
  co_return http::make_error(req, http::Status::not_found, "api.not_found", "no such API: " + path);
}

}  // namespace yuer::admin
