#include "daemon/survey_service/service.h"

#include "daemon/survey/text.h"
#include "daemon/survey_service/reports.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace yuer::survey_service {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

Error bad(std::string code, std::string message) { return Error{std::move(code), std::move(message)}; }

std::int64_t unix_ms(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(c.now().time_since_epoch()).count();
}

bool is_code(const std::string& s) {
  return s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

struct OpenPlan {
  std::optional<Error> error;
  std::string top;
  std::vector<std::string> townships;  // level-4 units in the round
  std::vector<store::EligibleChild> eligible;
};

awaitable<OpenPlan> plan_round(store::OrgStore* org, std::vector<std::string> codes, std::string opens,
                               int min_months, int max_months) {
  OpenPlan plan;
  auto all = org->units("");
  std::map<std::string, store::OrgUnit> by_code;
  for (auto& u : all) by_code.emplace(u.code, u);
  auto on = survey::parse_iso_date(opens);
  std::set<std::string> townships;
  std::set<std::string> seen;
  std::vector<std::vector<std::string>> chains;  // each unit's ancestors, top first
  for (const auto& code : codes) {
    auto it = by_code.find(code);
    if (it == by_code.end()) {
      plan.error = bad("survey.unknown_unit", "没有这个单位：" + code + "（请先导入组织单位）");
      co_return plan;
    }
    std::vector<std::string> chain;
    for (std::string c = code; !c.empty();) {
      chain.insert(chain.begin(), c);
      auto p = by_code.find(c);
      c = p == by_code.end() ? "" : p->second.parent;
    }
    chains.push_back(std::move(chain));
    const auto prefix = unit_prefix(code, it->second.level);
    for (const auto& u : all)
      if (u.code.starts_with(prefix) && u.level == 4) townships.insert(u.code);
    if (it->second.level == 5 && !it->second.parent.empty()) townships.insert(it->second.parent);
    store::FamilyQuery q;
    q.unit_prefix = prefix;
    q.limit = 10000;
    for (;;) {
      auto page = org->families(q);
      for (const auto& f : page) {
        auto born = survey::parse_iso_date(f.birth_date);
        if (!born) continue;
        int m = survey::completed_months(*born, *on);
        if (survey::days_between(*born, *on) < 0 || m < min_months || m > max_months) continue;
        if (seen.insert(f.child_id).second) plan.eligible.push_back({f.child_id, f.unit_code, f.birth_date});
      }
      if (page.size() < 10000) break;
      q.after_child_id = page.back().child_id;
    }
  }
  // The deepest unit every chain shares.
  for (std::size_t i = 0;; ++i) {
    bool same = true;
    for (const auto& c : chains)
      if (i >= c.size() || c[i] != chains.front()[i]) same = false;
    if (!same) break;
    plan.top = chains.front()[i];
  }
  if (plan.top.empty()) plan.top = chains.front().front();
  plan.townships.assign(townships.begin(), townships.end());
  co_return plan;
}

awaitable<void> store_bindings(store::SurveyStore* s, std::vector<store::SurveyBindingWrite> b, std::int64_t now) {
  s->save_turns(b, {}, "", 0, now);
  co_return;
}

// [0-9A-Za-z_.@-], 1..64 bytes: what member userids look like (DOC 90195: 1~64 bytes).
bool is_userid(const std::string& u) {
  return !u.empty() && u.size() <= 64 && u.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz"
                                                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.@-") == std::string::npos;
}

awaitable<std::int64_t> store_open(store::SurveyStore* s, store::SurveyRound r, std::vector<store::EligibleChild> e,
                                   std::int64_t now) {
  co_return s->open_round(r, e, now);
}
awaitable<std::optional<store::SurveyRound>> store_round(store::SurveyStore* s, std::int64_t id) {
  co_return s->round(id);
}
awaitable<bool> store_close(store::SurveyStore* s, std::int64_t id, std::int64_t now) {
  co_return s->close_round(id, now);
}
awaitable<std::vector<store::SurveyKfLink>> store_links(store::SurveyStore* s, std::int64_t id) {
  co_return s->kf_links(id);
}
awaitable<void> store_put_links(store::SurveyStore* s, std::int64_t id, std::vector<store::SurveyKfLink> links) {
  s->put_kf_links(id, links);
  co_return;
}
awaitable<std::vector<std::string>> round_townships(store::OrgStore* org, store::SurveyRound r) {
  std::set<std::string> out;
  auto all = org->units("");
  std::map<std::string, store::OrgUnit> by_code;
  for (auto& u : all) by_code.emplace(u.code, u);
  for (const auto& code : r.units) {
    auto it = by_code.find(code);
    if (it == by_code.end()) continue;
    const auto prefix = unit_prefix(code, it->second.level);
    for (const auto& u : all)
      if (u.code.starts_with(prefix) && u.level == 4) out.insert(u.code);
    if (it->second.level == 5 && !it->second.parent.empty()) out.insert(it->second.parent);
  }
  co_return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace

std::chrono::year_month_day china_date(std::int64_t unix_seconds) {
  using namespace std::chrono;
  const auto days = floor<std::chrono::days>(sys_seconds(seconds(unix_seconds + 8 * 3600)));
  return year_month_day(days);
}

std::string unit_prefix(const std::string& code, int level) {
  static constexpr std::size_t kDigits[] = {12, 2, 4, 6, 9, 12};
  const std::size_t n = level >= 1 && level <= 5 ? kDigits[level] : 12;
  return code.substr(0, std::min(n, code.size()));
}

std::string scene_of(std::int64_t round_id, const std::string& township) {
  return "s" + std::to_string(round_id) + "_" + township;
}

std::optional<std::pair<std::int64_t, std::string>> parse_scene(const std::string& scene) {
  auto us = scene.find('_');
  if (scene.size() < 3 || scene[0] != 's' || us == std::string::npos) return std::nullopt;
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(scene.data() + 1, scene.data() + us, id);
  if (ec != std::errc() || p != scene.data() + us || id <= 0) return std::nullopt;
  std::string code = scene.substr(us + 1);
  if (!is_code(code)) return std::nullopt;
  return std::make_pair(id, code);
}

Service::Service(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
                 store::SurveyStore& surveys, store::OrgStore& org, std::vector<survey::Survey> definitions,
                 model::KfContactApi* links, const Clock& clock, Settings settings, SendReplies send)
    : io_(io),
      store_pool_(store_pool),
      inbox_(inbox),
      surveys_(surveys),
      org_(org),
      definitions_(std::move(definitions)),
      links_(links),
      clock_(clock),
      settings_(std::move(settings)),
      send_(std::move(send)) {
  for (const auto& d : definitions_) engines_[d.id] = std::make_unique<survey::Engine>(d);
  ConsumerSettings cs{settings_.poll, settings_.retry_after, settings_.page};
  kf_ = std::make_unique<Consumer>(io, store_pool, inbox, surveys, org, definitions_, engines_, make_kf_rules(), clock,
                                   cs, send_);
  if (settings_.app)
    app_ = std::make_unique<Consumer>(io, store_pool, inbox, surveys, org, definitions_, engines_, make_app_rules(),
                                      clock, cs, send_);
}

Service::~Service() = default;

const survey::Survey* Service::definition(const std::string& id) const {
  for (const auto& d : definitions_)
    if (d.id == id) return &d;
  return nullptr;
}

void Service::stop() {
  kf_->stop();
  if (app_) app_->stop();
}

void Service::poke() {
  kf_->poke();
  if (app_) app_->poke();
}

awaitable<void> Service::run() { co_await kf_->run(); }

awaitable<void> Service::run_app() {
  if (app_) co_await app_->run();
}

void Service::roster_changed() {
  kf_->roster_changed();
  if (app_) app_->roster_changed();
}

awaitable<Result<Invited>> Service::invite(std::int64_t round_id, std::vector<std::string> userids) {
  if (!app_) co_return bad("survey.no_app", "没有配置自建应用（[wecom.app]），不能邀请成员");
  if (userids.empty() || userids.size() > 1000) co_return bad("survey.bad_request", "userids：请给 1 到 1000 个成员账号");
  std::set<std::string> seen;
  std::vector<std::string> members;
  for (auto& u : userids) {
    if (!is_userid(u)) co_return bad("survey.bad_request", "userids：成员账号只能是字母、数字和 _ . @ -，最长 64 字节：" + u);
    if (seen.insert(u).second) members.push_back(std::move(u));
  }
  auto r = co_await asio::co_spawn(store_pool_, store_round(&surveys_, round_id), asio::use_awaitable);
  if (!r) co_return bad("survey.not_found", "没有这一轮调查：" + std::to_string(round_id));
  if (r->state != "open") co_return bad("survey.closed", "这一轮调查已经结束：" + std::to_string(round_id));
  std::vector<store::SurveyBindingWrite> bindings;
  for (const auto& u : members) bindings.push_back({kAppChannel, u, store::SurveyBinding{round_id, ""}});
  co_await asio::co_spawn(store_pool_, store_bindings(&surveys_, std::move(bindings), unix_ms(clock_)),
                          asio::use_awaitable);
  const survey::Survey* def = definition(r->survey_id);
  const std::string text = invitation_text(*r, def ? def->title : std::string("调查"));
  std::vector<Reply> invitations;
  for (const auto& u : members) {
    Reply m;
    m.route = kAppChannel;
    m.target = u;
    m.text = text;
    m.key = "survey:invite:" + std::to_string(round_id) + ":" + u;
    invitations.push_back(std::move(m));
  }
  auto sent = co_await send_(std::move(invitations));
  if (!sent) co_return sent.error();
  spdlog::info("survey: round {}: {} members invited through the app", round_id, members.size());
  app_->poke();
  co_return Invited{members.size()};
}

awaitable<Result<store::SurveyRound>> Service::open_round(OpenRequest req) {
  const survey::Survey* def = definition(req.survey);
  if (!def) co_return bad("survey.unknown_survey", "没有这个调查：" + req.survey);
  if (req.name.empty() || req.name.size() > 120) co_return bad("survey.bad_request", "name：请填写 1 到 120 字节的名称");
  if (req.units.empty()) co_return bad("survey.bad_request", "units：至少一个单位代码");
  for (const auto& u : req.units)
    if (!is_code(u)) co_return bad("survey.bad_request", "units：单位代码应为 12 位数字：" + u);
  auto opens = survey::parse_iso_date(req.opens);
  auto closes = survey::parse_iso_date(req.closes);
  if (!opens || !closes) co_return bad("survey.bad_request", "opens/closes：日期格式应为 YYYY-MM-DD");
  if (survey::days_between(*opens, *closes) < 0) co_return bad("survey.bad_request", "closes 不能早于 opens");
  OpenPlan plan = co_await asio::co_spawn(
      store_pool_, plan_round(&org_, req.units, req.opens, def->min_age_months, def->max_age_months), asio::use_awaitable);
  if (plan.error) co_return *plan.error;
  store::SurveyRound r;
  r.survey_id = def->id;
  r.survey_version = def->version;
  r.unit_code = plan.top;
  r.opens_on = req.opens;
  r.closes_on = req.closes;
  r.name = req.name;
  r.units = req.units;
  const std::int64_t id = co_await asio::co_spawn(store_pool_, store_open(&surveys_, r, plan.eligible, unix_ms(clock_)),
                                                  asio::use_awaitable);
  spdlog::info("survey: round {} opened ({} units, {} eligible, {} townships)", id, req.units.size(),
               plan.eligible.size(), plan.townships.size());
  co_await ensure_links(id);
  auto got = co_await asio::co_spawn(store_pool_, store_round(&surveys_, id), asio::use_awaitable);
  co_return *got;
}

awaitable<void> Service::ensure_links(std::int64_t round_id) {
  if (!links_ || settings_.open_kfid.empty()) co_return;
  auto r = co_await asio::co_spawn(store_pool_, store_round(&surveys_, round_id), asio::use_awaitable);
  if (!r) co_return;
  auto have = co_await asio::co_spawn(store_pool_, store_links(&surveys_, round_id), asio::use_awaitable);
  auto townships = co_await asio::co_spawn(store_pool_, round_townships(&org_, *r), asio::use_awaitable);
  std::set<std::string> done;
  for (const auto& l : have) done.insert(l.unit_code);
  bool added = false;
  for (const auto& t : townships) {
    if (done.contains(t)) continue;
    const std::string scene = scene_of(round_id, t);
    auto a = co_await links_->add_contact_way(settings_.open_kfid, scene);
    if (a.outcome.kind != model::OutcomeKind::kDelivered) {
      spdlog::warn("survey: round {} township {}: no kf link ({} {})", round_id, t, a.outcome.errcode, a.outcome.reason);
      continue;
    }
    have.push_back({round_id, t, settings_.open_kfid, scene, a.url});
    added = true;
  }
  if (added) co_await asio::co_spawn(store_pool_, store_put_links(&surveys_, round_id, have), asio::use_awaitable);
}

awaitable<Result<store::SurveyRound>> Service::close_round(std::int64_t id) {
  bool found = co_await asio::co_spawn(store_pool_, store_close(&surveys_, id, unix_ms(clock_)), asio::use_awaitable);
  if (!found) co_return bad("survey.not_found", "没有这一轮调查：" + std::to_string(id));
  auto r = co_await asio::co_spawn(store_pool_, store_round(&surveys_, id), asio::use_awaitable);
  spdlog::info("survey: round {} closed", id);
  co_return *r;
}

}  // namespace yuer::survey_service
