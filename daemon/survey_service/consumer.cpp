#include "daemon/survey_service/consumer.h"

#include "daemon/survey_service/service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <set>

namespace yuer::survey_service {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

std::int64_t unix_ms(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(c.now().time_since_epoch()).count();
}

bool conversational(const Message& m) { return m.kind == Message::Kind::kText || m.kind == Message::Kind::kClick; }

// What the store thread reads for a page, and each row's round.
struct Prepared {
  std::map<std::int64_t, store::SurveyRound> rounds;                    // every round
  std::vector<std::pair<std::int64_t, std::string>> row_round;          // per row: round (0: none), township
  std::vector<store::SurveyBindingWrite> bindings;                      // new bindings
  std::map<std::pair<std::string, std::int64_t>, std::string> states;   // (user, round) → JSON
  std::map<std::int64_t, std::vector<store::Family>> rosters;           // rounds not cached yet
};

std::vector<store::Family> round_roster(store::SurveyStore* s, store::OrgStore* org, std::int64_t round) {
  std::vector<std::string> ids;
  for (const auto& e : s->eligible(round)) ids.push_back(e.child_id);
  std::vector<store::Family> out;
  for (auto& [id, f] : org->families_by_child(ids)) out.push_back(std::move(f));
  return out;
}

awaitable<Prepared> prepare(store::SurveyStore* s, store::OrgStore* org, std::string channel, bool bind_newest,
                            std::vector<Message> rows, std::set<std::int64_t> cached) {
  Prepared p;
  for (auto& r : s->rounds(false)) p.rounds.emplace(r.id, r);
  std::int64_t newest_open = 0;
  for (const auto& [id, r] : p.rounds)
    if (r.state == "open") newest_open = id;
  std::map<std::string, std::optional<store::SurveyBinding>> bound;
  for (const auto& row : rows) {
    if (row.user.empty() || !(conversational(row) || row.kind == Message::Kind::kBind)) {
      p.row_round.emplace_back(0, "");
      continue;
    }
    if (!bound.contains(row.user)) bound[row.user] = s->binding(channel, row.user);
    auto& b = bound[row.user];
    if (row.kind == Message::Kind::kBind) {
      if (auto link = s->kf_link_by_scene(row.scene)) {
        b = store::SurveyBinding{link->round_id, link->unit_code};
        p.bindings.push_back({channel, row.user, *b});
      }
      p.row_round.emplace_back(0, "");
      continue;
    }
    if (!b && bind_newest && newest_open) {
      b = store::SurveyBinding{newest_open, ""};
      p.bindings.push_back({channel, row.user, *b});
    }
    if (!b) {
      p.row_round.emplace_back(0, "");
      continue;
    }
    p.row_round.emplace_back(b->round_id, b->unit_code);
    auto key = std::make_pair(row.user, b->round_id);
    if (!p.states.contains(key))
      if (auto st = s->conversation(channel, row.user, b->round_id)) p.states[key] = *st;
    if (!cached.contains(b->round_id) && !p.rosters.contains(b->round_id))
      p.rosters[b->round_id] = round_roster(s, org, b->round_id);
  }
  co_return p;
}

awaitable<void> save_page(store::SurveyStore* s, std::vector<store::SurveyBindingWrite> bindings,
                          std::vector<store::SurveyTurnWrite> turns, std::string cursor_name, std::int64_t cursor,
                          std::int64_t now) {
  s->save_turns(bindings, turns, cursor_name, cursor, now);
  co_return;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

store::SurveyResponse response_of(const survey::CompletedResponse& c, std::int64_t round_id, const std::string& township) {
  store::SurveyResponse r;
  r.round_id = round_id;
  r.child_id = c.matched ? c.child.child_id : "";
  r.unit_code = c.matched ? c.child.unit_code : township;
  r.birth_date = c.child.birth_date;
  r.interview_date = c.interview_date;
  r.age_months = c.age_months;
  r.recall_shifted = c.recall_shifted;
  r.answers = dump(c.answers);
  return r;
}

}  // namespace

awaitable<std::int64_t> load_cursor(store::SurveyStore* s, std::string name) { co_return s->cursor(name); }

awaitable<std::vector<model::InboxRow>> load_rows(store::InboxStore* inbox, std::string receiver, std::int64_t after,
                                                  int limit) {
  store::InboxQuery q;
  q.receiver = receiver;
  q.after_id = after;
  q.limit = limit;
  q.newest_first = false;
  co_return inbox->list_inbox(q);
}

std::string reply_key(const std::string& channel, std::int64_t row_id, std::size_t i) {
  return "survey:" + channel + ":" + std::to_string(row_id) + ":" + std::to_string(i);
}

Input ChannelRules::input(const Message& m, const survey::ConversationState&, const survey::Survey&) const {
  if (m.kind != Message::Kind::kText) return Input{false, "", ""};
  return Input{true, m.text, ""};
}

Consumer::Consumer(boost::asio::any_io_executor io, boost::asio::thread_pool& store_pool, store::InboxStore& inbox,
                   store::SurveyStore& surveys, store::OrgStore& org, const std::vector<survey::Survey>& definitions,
                   const std::map<std::string, std::unique_ptr<survey::Engine>>& engines,
                   std::unique_ptr<ChannelRules> rules, const Clock& clock, ConsumerSettings settings, SendReplies send)
    : io_(io),
      store_pool_(store_pool),
      inbox_(inbox),
      surveys_(surveys),
      org_(org),
      definitions_(definitions),
      engines_(engines),
      rules_(std::move(rules)),
      clock_(clock),
      settings_(settings),
      send_(std::move(send)),
      timer_(io) {}

Consumer::~Consumer() = default;

void Consumer::stop() {
  stopping_ = true;
  timer_.cancel();
}

void Consumer::poke() {
  poked_ = true;
  timer_.cancel();
}

awaitable<void> Consumer::run() {
  const std::string name = rules_->name();
  for (;;) {
    try {
      cursor_ = co_await asio::co_spawn(store_pool_, load_cursor(&surveys_, name), asio::use_awaitable);
      break;
    } catch (const store::StoreError& e) {
      spdlog::error("survey: cannot read the {} cursor ({}): {}", name, e.code(), e.what());
    }
    timer_.expires_after(settings_.retry_after);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
  }
  spdlog::info("survey: {} consumer starts after inbox row {}", name, cursor_);
  while (!stopping_) {
    std::vector<model::InboxRow> rows;
    bool ok = true;
    try {
      rows = co_await asio::co_spawn(store_pool_, load_rows(&inbox_, name, cursor_, settings_.page),
                                     asio::use_awaitable);
      if (!rows.empty()) ok = co_await handle_page(std::move(rows));
    } catch (const store::StoreError& e) {
      spdlog::error("survey: {} page after inbox row {} not handled ({}): {}", name, cursor_, e.code(), e.what());
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

awaitable<bool> Consumer::handle_page(std::vector<model::InboxRow> raw) {
  const std::string name = rules_->name();
  std::vector<Message> rows;
  for (const auto& r : raw) rows.push_back(rules_->read(r));
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
  Prepared p = co_await asio::co_spawn(
      store_pool_, prepare(&surveys_, &org_, name, rules_->bind_unknown_to_newest(), rows, std::move(cached)),
      asio::use_awaitable);
  for (auto& [id, fams] : p.rosters) {
    auto r = std::make_shared<const survey::VectorRoster>(std::move(fams));
    rosters[id] = r;
    if (gen == roster_gen_) rosters_[id] = r;  // read before a change that came meanwhile: not kept
  }

  std::map<std::pair<std::string, std::int64_t>, survey::ConversationState> live;
  std::vector<Reply> replies;
  std::vector<store::SurveyTurnWrite> turns;
  std::uint64_t answered = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Message& row = rows[i];
    const auto [round_id, township] = p.row_round[i];
    if (!conversational(row)) continue;
    if (round_id == 0) {
      spdlog::info("survey: {} inbox row {}: the sender is in no round; ignored", name, row.id);
      continue;
    }
    auto rit = p.rounds.find(round_id);
    if (rit == p.rounds.end() || rit->second.state != "open") {
      spdlog::info("survey: {} inbox row {}: round {} is not open; ignored", name, row.id, round_id);
      continue;
    }
    auto eit = engines_.find(rit->second.survey_id);
    const survey::Survey* def = nullptr;
    for (const auto& d : definitions_)
      if (d.id == rit->second.survey_id) def = &d;
    if (eit == engines_.end() || !def) {
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
    std::vector<Reply> out;
    const Input in = rules_->input(row, lit->second, *def);
    if (!in.turn) {
      if (in.reply.empty()) spdlog::info("survey: {} inbox row {}: nothing to answer; ignored", name, row.id);
      else out.push_back(rules_->text_reply(row, in.reply));
    } else {
      const survey::ConversationState before = lit->second;
      survey::TurnContext ctx{china_date(row.send_time), rules_->external_userid(row), rosters[round_id].get()};
      survey::Turn turn = eit->second->handle(lit->second, in.text, ctx);
      out = rules_->replies(TurnView{row, rit->second, *def, *eit->second, before, lit->second, turn});
      store::SurveyTurnWrite w;
      w.channel = name;
      w.user_id = row.user;
      w.round_id = round_id;
      w.state = dump(lit->second.to_json());
      for (const auto& c : turn.completed) w.responses.push_back(response_of(c, round_id, township));
      turns.push_back(std::move(w));
      ++answered;
    }
    for (std::size_t k = 0; k < out.size(); ++k) {
      out[k].key = reply_key(name, row.id, k);
      replies.push_back(std::move(out[k]));
    }
  }
  if (!replies.empty()) {
    auto sent = co_await send_(std::move(replies));
    if (!sent) {
      spdlog::error("survey: {} replies of inbox rows {}..{} not queued ({}): {}; tried again", name, raw.front().id,
                    last, sent.error().code, sent.error().message);
      co_return false;
    }
  }
  co_await asio::co_spawn(
      store_pool_, save_page(&surveys_, std::move(p.bindings), std::move(turns), name, last, unix_ms(clock_)),
      asio::use_awaitable);
  turns_ += answered;
  cursor_ = last;
  co_return true;
}

}  // namespace yuer::survey_service
