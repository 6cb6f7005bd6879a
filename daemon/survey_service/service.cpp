#include "daemon/survey_service/service.h"

#include "daemon/survey/text.h"

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

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

bool is_code(const std::string& s) {
  return s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

// One kf inbox row as the consumer sees it.
struct Row {
  std::int64_t id = 0;
  bool text = false;   // a parent's text message
  bool enter = false;  // enter_session event
  std::string user;    // external_userid
  std::string open_kfid;
  std::string content;  // text
  std::string scene;    // enter_session
  std::int64_t send_time = 0;
};

Row read_row(const model::InboxRow& r) {
  Row row;
  row.id = r.id;
  json j = json::parse(r.event.payload, nullptr, false);
  if (!j.is_object()) return row;
  row.open_kfid = str(j, "open_kfid");
  row.send_time = num(j, "send_time");
  if (row.send_time == 0) row.send_time = r.event.created_at ? r.event.created_at : r.event.received_at;
  if (r.event.kind == "kf:text" && num(j, "origin") == 3) {
    row.user = str(j, "external_userid");
    auto t = j.find("text");
    if (t != j.end() && t->is_object()) row.content = str(*t, "content");
    row.text = !row.user.empty();
  } else if (r.event.kind == "kf:event:enter_session") {
    auto e = j.find("event");
    if (e != j.end() && e->is_object()) {
      row.user = str(*e, "external_userid");
      row.scene = str(*e, "scene");
      if (row.open_kfid.empty()) row.open_kfid = str(*e, "open_kfid");
    }
    row.enter = !row.user.empty() && !row.scene.empty();
  }
  return row;
}

// What the store thread reads for a page, and each row's round.
struct Prepared {
  std::map<std::int64_t, store::SurveyRound> rounds;                    // every round
  std::vector<std::pair<std::int64_t, std::string>> row_round;          // per row: round (0: none), township
  std::vector<store::SurveyBindingWrite> bindings;                      // new bindings (enter_session)
  std::map<std::pair<std::string, std::int64_t>, std::string> states;   // (user, round) → JSON
  std::map<std::int64_t, std::vector<store::Family>> rosters;           // rounds not cached yet
};

awaitable<std::int64_t> load_cursor(store::SurveyStore* s) { co_return s->cursor(kKfCursor); }

awaitable<std::vector<model::InboxRow>> load_rows(store::InboxStore* inbox, std::int64_t after, int limit) {
  store::InboxQuery q;
  q.receiver = kKfChannel;
  q.after_id = after;
  q.limit = limit;
  q.newest_first = false;
  co_return inbox->list_inbox(q);
}

std::vector<store::Family> round_roster(store::SurveyStore* s, store::OrgStore* org, std::int64_t round) {
  std::vector<std::string> ids;
  for (const auto& e : s->eligible(round)) ids.push_back(e.child_id);
  std::vector<store::Family> out;
  for (auto& [id, f] : org->families_by_child(ids)) out.push_back(std::move(f));
  return out;
}

awaitable<Prepared> prepare(store::SurveyStore* s, store::OrgStore* org, std::vector<Row> rows,
                            std::set<std::int64_t> cached) {
  Prepared p;
  for (auto& r : s->rounds(false)) p.rounds.emplace(r.id, r);
  std::int64_t newest_open = 0;
  for (const auto& [id, r] : p.rounds)
    if (r.state == "open") newest_open = id;
  std::map<std::string, std::optional<store::SurveyBinding>> bound;
  for (const auto& row : rows) {
    if (row.user.empty()) {
      p.row_round.emplace_back(0, "");
      continue;
    }
    if (!bound.contains(row.user)) bound[row.user] = s->binding(kKfChannel, row.user);
    auto& b = bound[row.user];
    if (row.enter) {
      auto link = s->kf_link_by_scene(row.scene);
      if (link) {
        b = store::SurveyBinding{link->round_id, link->unit_code};
        p.bindings.push_back({kKfChannel, row.user, *b});
      }
      p.row_round.emplace_back(0, "");
      continue;
    }
    if (!row.text) {
      p.row_round.emplace_back(0, "");
      continue;
    }
    // A parent who never opened a round's link answers the newest open round.
    if (!b && newest_open) {
      b = store::SurveyBinding{newest_open, ""};
      p.bindings.push_back({kKfChannel, row.user, *b});
    }
    if (!b) {
      p.row_round.emplace_back(0, "");
      continue;
    }
    p.row_round.emplace_back(b->round_id, b->unit_code);
    auto key = std::make_pair(row.user, b->round_id);
    if (!p.states.contains(key))
      if (auto st = s->conversation(kKfChannel, row.user, b->round_id)) p.states[key] = *st;
    if (!cached.contains(b->round_id) && !p.rosters.contains(b->round_id))
      p.rosters[b->round_id] = round_roster(s, org, b->round_id);
  }
  co_return p;
}

awaitable<void> save_page(store::SurveyStore* s, std::vector<store::SurveyBindingWrite> bindings,
                          std::vector<store::SurveyTurnWrite> turns, std::int64_t cursor, std::int64_t now) {
  s->save_turns(bindings, turns, kKfCursor, cursor, now);
  co_return;
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
      send_(std::move(send)),
      timer_(io) {
  for (const auto& d : definitions_) engines_[d.id] = std::make_unique<survey::Engine>(d);
}

Service::~Service() = default;

const survey::Survey* Service::definition(const std::string& id) const {
  for (const auto& d : definitions_)
    if (d.id == id) return &d;
  return nullptr;
}

void Service::stop() {
  stopping_ = true;
  timer_.cancel();
}

void Service::poke() {
  poked_ = true;
  timer_.cancel();
}

awaitable<void> Service::run() {
  for (;;) {
    try {
      cursor_ = co_await asio::co_spawn(store_pool_, load_cursor(&surveys_), asio::use_awaitable);
      break;
    } catch (const store::StoreError& e) {
      spdlog::error("survey: cannot read the kf cursor ({}): {}", e.code(), e.what());
    }
    timer_.expires_after(settings_.retry_after);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
  }
  spdlog::info("survey: kf consumer starts after inbox row {}", cursor_);
  while (!stopping_) {
    std::vector<model::InboxRow> rows;
    bool ok = true;
    try {
      rows = co_await asio::co_spawn(store_pool_, load_rows(&inbox_, cursor_, settings_.page), asio::use_awaitable);
      if (!rows.empty()) ok = co_await handle_page(std::move(rows));
    } catch (const store::StoreError& e) {
      spdlog::error("survey: page after inbox row {} not handled ({}): {}", cursor_, e.code(), e.what());
      ok = false;
    }
    if (stopping_) break;
    if (ok && !rows.empty()) continue;  // more may be waiting
    if (poked_ && ok) {
      poked_ = false;
      continue;
    }
    timer_.expires_after(ok ? settings_.poll : settings_.retry_after);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

awaitable<bool> Service::handle_page(std::vector<model::InboxRow> raw) {
  std::vector<Row> rows;
  for (const auto& r : raw) rows.push_back(read_row(r));
  const std::int64_t last = raw.back().id;
  if (rosters_loaded_gen_ != roster_gen_) {
    rosters_.clear();  // the roster changed: every round's snapshot families are read again
    rosters_loaded_gen_ = roster_gen_;
  }
  const std::uint64_t gen = roster_gen_;
  // This page's rosters (shared with the cache; a roster_changed() during the store hop below
  // empties the cache only at the next page).
  auto rosters = rosters_;
  std::set<std::int64_t> cached;
  for (const auto& [id, r] : rosters) cached.insert(id);
  Prepared p = co_await asio::co_spawn(store_pool_, prepare(&surveys_, &org_, rows, std::move(cached)),
                                       asio::use_awaitable);
  for (auto& [id, fams] : p.rosters) {
    auto r = std::make_shared<const survey::VectorRoster>(std::move(fams));
    rosters[id] = r;
    if (gen == roster_gen_) rosters_[id] = r;  // read before a change that came meanwhile: not kept
  }

  std::map<std::pair<std::string, std::int64_t>, survey::ConversationState> live;
  std::vector<Reply> replies;
  std::vector<store::SurveyTurnWrite> turns;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const auto [round_id, township] = p.row_round[i];
    if (!row.text || round_id == 0) continue;
    auto rit = p.rounds.find(round_id);
    if (rit == p.rounds.end() || rit->second.state != "open") continue;
    auto eit = engines_.find(rit->second.survey_id);
    if (eit == engines_.end()) {
      spdlog::warn("survey: round {} uses survey {} that is not loaded; message not answered", round_id,
                   rit->second.survey_id);
      continue;
    }
    const auto key = std::make_pair(row.user, round_id);
    auto lit = live.find(key);
    if (lit == live.end()) {
      survey::ConversationState st;
      if (auto sit = p.states.find(key); sit != p.states.end()) {
        auto parsed = survey::ConversationState::from_json(json::parse(sit->second, nullptr, false));
        if (parsed) st = std::move(*parsed);
        else spdlog::error("survey: round {} inbox row {}: stored state unreadable, starting over", round_id, row.id);
      }
      lit = live.emplace(key, std::move(st)).first;
    }
    survey::TurnContext ctx{china_date(row.send_time), row.user, rosters[round_id].get()};
    survey::Turn turn = eit->second->handle(lit->second, row.content, ctx);
    const std::string target = row.open_kfid + "/" + row.user;
    for (std::size_t k = 0; k < turn.replies.size() && k < survey::kMaxRepliesPerTurn; ++k)
      replies.push_back({target, turn.replies[k], "survey:kf:" + std::to_string(row.id) + ":" + std::to_string(k),
                         row.send_time * 1000 + kKfWindowMs});
    store::SurveyTurnWrite w;
    w.channel = kKfChannel;
    w.user_id = row.user;
    w.round_id = round_id;
    w.state = lit->second.to_json().dump(-1, ' ', false, json::error_handler_t::replace);
    for (const auto& c : turn.completed) {
      store::SurveyResponse r;
      r.round_id = round_id;
      r.child_id = c.matched ? c.child.child_id : "";
      r.unit_code = c.matched ? c.child.unit_code : township;
      r.birth_date = c.child.birth_date;
      r.interview_date = c.interview_date;
      r.age_months = c.age_months;
      r.recall_shifted = c.recall_shifted;
      r.answers = c.answers.dump(-1, ' ', false, json::error_handler_t::replace);
      w.responses.push_back(std::move(r));
    }
    turns.push_back(std::move(w));
  }
  if (!replies.empty()) {
    auto sent = co_await send_(std::move(replies));
    if (!sent) {
      spdlog::error("survey: replies of inbox rows {}..{} not queued ({}): {}; tried again", raw.front().id, last,
                    sent.error().code, sent.error().message);
      co_return false;
    }
  }
  co_await asio::co_spawn(store_pool_, save_page(&surveys_, std::move(p.bindings), std::move(turns), last,
                                                 unix_ms(clock_)),
                          asio::use_awaitable);
  turns_ += static_cast<std::uint64_t>(std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.text; }));
  cursor_ = last;
  co_return true;
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
