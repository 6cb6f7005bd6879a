#include "daemon/survey/engine.h"

#include "daemon/survey/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>

namespace yuer::survey {

namespace {

constexpr const char* kBirthPrompt = "请先回复孩子的出生日期，比如：2025-3-5";
constexpr const char* kPhonePrompt = "好的。请再回复登记时留的手机号的后4位数字（只用来核对是哪一家）。";
constexpr const char* kSummaryHelp = "没问题请回复“确认”；要修改哪一项，请回复“改”加序号，比如：改3";

const std::pair<Phase, const char*> kPhaseNames[] = {
    {Phase::kNew, "new"},         {Phase::kAskBirth, "ask_birth"}, {Phase::kAskPhone, "ask_phone"},
    {Phase::kAsking, "asking"},   {Phase::kSummary, "summary"},    {Phase::kPaused, "paused"},
    {Phase::kDone, "done"}};

const char* phase_name(Phase p) {
  for (auto [ph, name] : kPhaseNames)
    if (ph == p) return name;
  return "new";
}

std::optional<Phase> phase_from(const std::string& s) {
  for (auto [ph, name] : kPhaseNames)
    if (s == name) return ph;
  return std::nullopt;
}

std::string chinese_date(const std::string& iso) {
  auto d = parse_iso_date(iso);
  if (!d) return iso;
  return fmt::format("{}年{}月{}日", static_cast<int>(d->year()), static_cast<unsigned>(d->month()),
                     static_cast<unsigned>(d->day()));
}

EValue env_get(const Survey& s, const std::map<std::string, Answer>& answers, int age_months, int age_days,
               const std::string& id, int depth = 0) {
  if (id == "age_months") return EValue::integer(age_months);
  if (id == "age_days") return EValue::integer(age_days);
  if (auto it = answers.find(id); it != answers.end()) return it->second.value();
  if (const Calc* c = s.find_calc(id); c && depth < 32)
    return c->expr.eval([&](const std::string& x) { return env_get(s, answers, age_months, age_days, x, depth + 1); });
  return EValue::missing();
}

// Cuts `line` into pieces of at most `max` bytes at UTF-8 boundaries.
std::vector<std::string> cut_line(const std::string& line, std::size_t max) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (line.size() - pos > max) {
    std::size_t end = pos + max;
    while (end > pos && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) --end;
    out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  out.push_back(line.substr(pos));
  return out;
}

}  // namespace

std::vector<std::string> pack_replies(const std::vector<std::string>& replies) {
  std::vector<std::string> chunks;
  for (const auto& r : replies) {
    std::string cur;
    std::size_t start = 0;
    while (start <= r.size()) {
      auto nl = r.find('\n', start);
      std::string line = r.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      start = nl == std::string::npos ? r.size() + 1 : nl + 1;
      for (auto& piece : cut_line(line, kMaxReplyBytes)) {
        if (!cur.empty() && cur.size() + 1 + piece.size() > kMaxReplyBytes) {
          chunks.push_back(cur);
          cur.clear();
        }
        cur += (cur.empty() ? "" : "\n") + piece;
      }
    }
    while (!cur.empty() && cur.back() == '\n') cur.pop_back();
    if (!cur.empty()) chunks.push_back(cur);
  }
  for (std::size_t i = 0; chunks.size() > kMaxRepliesPerTurn && i + 1 < chunks.size();) {
    if (chunks[i].size() + 2 + chunks[i + 1].size() <= kMaxReplyBytes) {
      chunks[i] += "\n\n" + chunks[i + 1];
      chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    } else {
      ++i;
    }
  }
  if (chunks.size() > kMaxRepliesPerTurn) {
    chunks.resize(kMaxRepliesPerTurn);
    std::string note = "……（内容太长，后面的省略了）";
    auto& last = chunks.back();
    if (last.size() + note.size() > kMaxReplyBytes) last = cut_line(last, kMaxReplyBytes - note.size())[0];
    last += note;
  }
  return chunks;
}

nlohmann::json ConversationState::to_json() const {
  nlohmann::json kids = nlohmann::json::array();
  for (const auto& c : children) kids.push_back({{"child_id", c.child_id}, {"birth_date", c.birth_date}, {"unit", c.unit_code}});
  nlohmann::json ans = nlohmann::json::object();
  for (const auto& [id, a] : answers) ans[id] = a.to_json();
  return {{"v", 1},
          {"survey", survey_id},
          {"survey_version", survey_version},
          {"phase", phase_name(phase)},
          {"paused_from", phase_name(paused_from)},
          {"interview_date", interview_date},
          {"recall_shifted", recall_shifted},
          {"children", kids},
          {"child", child},
          {"answers", ans},
          {"path", path},
          {"current", current},
          {"correcting", correcting},
          {"typed_birth_date", typed_birth_date},
          {"identify_attempts", identify_attempts},
          {"completed", completed}};
}

Result<ConversationState> ConversationState::from_json(const nlohmann::json& j) {
  auto bad = [](std::string what) { return fail("survey.bad_state", "conversation state: " + what); };
  if (!j.is_object() || j.value("v", 0) != 1) return bad("not a version-1 object");
  try {
    ConversationState s;
    s.survey_id = j.at("survey").get<std::string>();
    s.survey_version = j.at("survey_version").get<int>();
    auto ph = phase_from(j.at("phase").get<std::string>());
    auto pf = phase_from(j.at("paused_from").get<std::string>());
    if (!ph || !pf) return bad("unknown phase");
    s.phase = *ph;
    s.paused_from = *pf;
    s.interview_date = j.at("interview_date").get<std::string>();
    s.recall_shifted = j.at("recall_shifted").get<bool>();
    for (const auto& c : j.at("children"))
      s.children.push_back({c.at("child_id").get<std::string>(), c.at("birth_date").get<std::string>(), c.at("unit").get<std::string>()});
    s.child = j.at("child").get<std::size_t>();
    if (!s.children.empty() && s.child >= s.children.size()) return bad("child index out of range");
    for (const auto& [id, a] : j.at("answers").items()) {
      auto ans = Answer::from_json(a);
      if (!ans) return ans.error();
      s.answers[id] = *ans;
    }
    s.path = j.at("path").get<std::vector<std::string>>();
    s.current = j.at("current").get<std::string>();
    s.correcting = j.at("correcting").get<bool>();
    s.typed_birth_date = j.at("typed_birth_date").get<std::string>();
    s.identify_attempts = j.at("identify_attempts").get<int>();
    s.completed = j.at("completed").get<int>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
}

struct Engine::Out {
  std::vector<std::string> messages;
  std::vector<CompletedResponse> completed;
  void say(std::string m) { messages.push_back(std::move(m)); }
};

int Engine::age_of(const ConversationState& st) const {
  if (st.children.empty()) return 0;
  auto b = parse_iso_date(st.children[st.child].birth_date);
  auto on = parse_iso_date(st.interview_date);
  return b && on ? completed_months(*b, *on) : 0;
}

std::function<EValue(const std::string&)> Engine::lookup(const std::map<std::string, Answer>& answers, int age_months,
                                                         int age_days) const {
  return [this, &answers, age_months, age_days](const std::string& id) {
    return env_get(survey_, answers, age_months, age_days, id);
  };
}

std::vector<const Question*> Engine::visible(const std::map<std::string, Answer>& answers, int age_months) const {
  std::vector<const Question*> out;
  std::map<std::string, Answer> kept;
  for (const auto& q : survey_.questions) {
    if (!q.when.eval(lookup(kept, age_months, age_months * 30)).truthy()) continue;
    out.push_back(&q);
    if (auto it = answers.find(q.id); it != answers.end()) kept.emplace(q.id, it->second);
  }
  return out;
}

void Engine::prune(ConversationState& st) const {
  std::set<std::string> shown;
  for (const auto* q : visible(st.answers, age_of(st))) shown.insert(q->id);
  for (auto it = st.answers.begin(); it != st.answers.end();)
    it = shown.count(it->first) ? std::next(it) : st.answers.erase(it);
  st.path.erase(std::remove_if(st.path.begin(), st.path.end(), [&](const auto& id) { return !st.answers.count(id); }),
                st.path.end());
}

std::string Engine::question_text(const ConversationState& st, const Question& q) const {
  auto shown = visible(st.answers, age_of(st));
  std::size_t k = 0;
  for (std::size_t i = 0; i < shown.size(); ++i)
    if (shown[i]->id == q.id) k = i + 1;
  std::string t;
  if (!q.intro.empty()) t += q.intro + "\n\n";
  t += fmt::format("【第{}题，共{}题】{}", k, shown.size(), q.prompt);
  for (std::size_t i = 0; i < q.options.size(); ++i) t += fmt::format("\n{}. {}", i + 1, q.options[i].text);
  switch (q.type) {
    case QuestionType::kSingle: t += "\n请回复数字"; break;
    case QuestionType::kMultiple: t += "\n可以选多个，比如回复：1 3"; break;
    case QuestionType::kInteger: t += "\n请回复一个数字"; break;
    case QuestionType::kDate: t += "\n比如：2025-3-5"; break;
    case QuestionType::kText: break;
  }
  if (q.dont_know) t += "（不知道就回复“不知道”）";
  if (!q.required) t += "\n不想回答可以回复“跳过”";
  return t;
}

void Engine::ask(ConversationState& st, const std::string& id, Out& out, std::string lead) const {
  const Question* q = survey_.find(id);
  st.current = id;
  st.phase = Phase::kAsking;
  std::string text = lead.empty() ? "" : lead + "\n\n";
  text += question_text(st, *q);
  if (auto it = st.answers.find(id); it != st.answers.end()) text += "\n（您之前的回答：" + describe(*q, it->second) + "）";
  out.say(text);
}

void Engine::advance(ConversationState& st, const TurnContext&, Out& out, std::string lead) const {
  prune(st);
  for (const auto* q : visible(st.answers, age_of(st)))
    if (!st.answers.count(q->id)) return ask(st, q->id, out, std::move(lead));
  st.correcting = false;
  show_summary(st, out, std::move(lead));
}

std::vector<std::string> Engine::summary_lines(const ConversationState& st) const {
  std::vector<std::string> lines;
  for (const auto* q : visible(st.answers, age_of(st)))
    if (auto it = st.answers.find(q->id); it != st.answers.end())
      lines.push_back(fmt::format("{}. {}：{}", lines.size() + 1, q->label, describe(*q, it->second)));
  return lines;
}

void Engine::show_summary(ConversationState& st, Out& out, std::string lead) const {
  st.phase = Phase::kSummary;
  st.current.clear();
  std::string text = lead.empty() ? "" : lead + "\n\n";
  text += "都填完了，请核对";
  if (st.children.size() > 1) text += chinese_date(st.children[st.child].birth_date) + "出生的孩子的";
  text += "回答：";
  for (const auto& l : summary_lines(st)) text += "\n" + l;
  text += "\n\n";
  text += kSummaryHelp;
  out.say(text);
}

void Engine::start_child(ConversationState& st, const TurnContext& ctx, Out& out) const {
  st.answers.clear();
  st.path.clear();
  st.correcting = false;
  std::string lead;
  if (st.children.size() > 1)
    lead = fmt::format("下面填第{}个孩子（{}出生）的情况。", st.child + 1, chinese_date(st.children[st.child].birth_date));
  advance(st, ctx, out, lead);
}

void Engine::begin_children(ConversationState& st, std::vector<ChildRef> kids, const TurnContext& ctx, Out& out) const {
  std::vector<ChildRef> eligible;
  for (auto& k : kids) {
    auto b = parse_iso_date(k.birth_date);
    if (!b) continue;
    int m = completed_months(*b, ctx.today);
    if (m >= survey_.min_age_months && m <= survey_.max_age_months) eligible.push_back(std::move(k));
  }
  st.interview_date = format_date(ctx.today);
  st.children = std::move(eligible);
  st.child = 0;
  if (st.children.empty()) {
    st.phase = Phase::kDone;
    out.say(fmt::format("您家孩子不在这次调查的月龄范围（{}–{}个月）内，不用填写。谢谢您！", survey_.min_age_months,
                        survey_.max_age_months));
    return;
  }
  if (st.children.size() > 1) out.say(fmt::format("您家有{}个孩子要填，我们一个一个来，每个孩子分开回答。", st.children.size()));
  start_child(st, ctx, out);
}

void Engine::on_identify(ConversationState& st, std::string_view message, const TurnContext& ctx, Out& out) const {
  if (st.phase == Phase::kAskBirth) {
    Question date_q;
    date_q.id = "birth_date";
    date_q.type = QuestionType::kDate;
    auto a = parse_answer(date_q, message, ctx.today);
    if (!a) return out.say(a.error().message + "\n" + kBirthPrompt);
    st.typed_birth_date = a->text;
    st.phase = Phase::kAskPhone;
    return out.say(kPhonePrompt);
  }
  std::string last4 = last4_digits(message);
  if (last4.empty()) return out.say("请回复手机号的后4位数字，比如：1234");
  std::vector<store::Family> matches;
  if (ctx.roster) matches = match_last4(ctx.roster->by_birth_date(st.typed_birth_date), last4);
  if (!matches.empty()) {
    std::vector<ChildRef> kids;
    std::set<std::string> seen;
    for (const auto& m : matches)
      for (const auto& f : household(*ctx.roster, m))
        if (seen.insert(f.child_id).second) kids.push_back({f.child_id, f.birth_date, f.unit_code});
    std::stable_sort(kids.begin(), kids.end(), [](const auto& a, const auto& b) { return a.birth_date < b.birth_date; });
    return begin_children(st, std::move(kids), ctx, out);
  }
  if (++st.identify_attempts < 2) {
    st.phase = Phase::kAskBirth;
    return out.say("没有找到这个出生日期和手机尾号的登记。请核对后，重新回复孩子的出生日期，比如：2025-3-5");
  }
  out.say("还是没有找到登记信息。没关系，我们先继续填写，工作人员之后会核对。");
  begin_children(st, {ChildRef{"", st.typed_birth_date, ""}}, ctx, out);
}

void Engine::on_answer(ConversationState& st, std::string_view message, const TurnContext& ctx, Out& out) const {
  const Question* q = survey_.find(st.current);
  if (!q) return advance(st, ctx, out, "");
  auto interview = parse_iso_date(st.interview_date).value_or(ctx.today);
  auto a = parse_answer(*q, message, interview);
  if (!a) return out.say(a.error().message + "\n\n" + question_text(st, *q));
  if (!q->constraint.empty() && a->kind != Answer::Kind::kDontKnow && a->kind != Answer::Kind::kSkipped) {
    int age = age_of(st);
    auto base = lookup(st.answers, age, age * 30);
    EValue v = a->value();
    bool ok = q->constraint.eval([&](const std::string& id) { return id == "value" ? v : base(id); }).truthy();
    if (!ok) return out.say(q->constraint_message + "\n\n" + question_text(st, *q));
  }
  st.answers[q->id] = *a;
  st.path.erase(std::remove(st.path.begin(), st.path.end(), q->id), st.path.end());
  st.path.push_back(q->id);
  if (format_date(ctx.today) != st.interview_date) st.recall_shifted = true;
  advance(st, ctx, out, "");
}

void Engine::confirm(ConversationState& st, const TurnContext& ctx, Out& out) const {
  CompletedResponse r;
  r.child = st.children[st.child];
  r.matched = !r.child.child_id.empty();
  r.interview_date = st.interview_date;
  r.age_months = age_of(st);
  r.recall_shifted = st.recall_shifted;
  r.answers = nlohmann::json::object();
  for (const auto* q : visible(st.answers, r.age_months))
    if (auto it = st.answers.find(q->id); it != st.answers.end()) r.answers[q->id] = it->second.to_json();
  out.completed.push_back(std::move(r));
  ++st.completed;
  if (st.child + 1 < st.children.size()) {
    ++st.child;
    out.say(fmt::format("第{}个孩子的问卷已提交，谢谢！", st.child));
    return start_child(st, ctx, out);
  }
  st.phase = Phase::kDone;
  st.current.clear();
  out.say(survey_.outro.empty() ? "问卷已提交，谢谢您！" : survey_.outro);
}

Turn Engine::handle(ConversationState& st, std::string_view message, const TurnContext& ctx) const {
  Out out;
  Command cmd = parse_command(message);
  auto go_back = [&] {
    st.correcting = false;
    if (st.path.empty()) {
      if (st.current.empty()) return advance(st, ctx, out, "已经是第一题了。");
      return ask(st, st.current, out, "已经是第一题了。");
    }
    std::string id = st.path.back();
    st.path.pop_back();
    ask(st, id, out, "好的，回到上一题。");
  };
  auto restart = [&] {
    st.answers.clear();
    st.path.clear();
    st.correcting = false;
    advance(st, ctx, out, "好的，我们从头开始。");
  };
  auto pause = [&] {
    st.paused_from = st.phase;
    st.phase = Phase::kPaused;
    out.say("好的，先到这里。您填的内容已经保存，想继续时给我发任意一条消息，就可以接着填。");
  };
  switch (st.phase) {
    case Phase::kNew: {
      st.survey_id = survey_.id;
      st.survey_version = survey_.version;
      std::vector<store::Family> fams;
      if (ctx.roster && !ctx.external_userid.empty()) fams = ctx.roster->by_external_userid(ctx.external_userid);
      std::string intro = survey_.intro.empty() ? "您好！" + survey_.title : survey_.intro;
      if (fams.empty()) {
        st.phase = Phase::kAskBirth;
        out.say(intro + "\n\n" + kBirthPrompt);
        break;
      }
      out.say(intro);
      std::vector<ChildRef> kids;
      std::set<std::string> seen;
      for (const auto& f : fams)
        for (const auto& h : household(*ctx.roster, f))
          if (seen.insert(h.child_id).second) kids.push_back({h.child_id, h.birth_date, h.unit_code});
      std::stable_sort(kids.begin(), kids.end(), [](const auto& a, const auto& b) { return a.birth_date < b.birth_date; });
      begin_children(st, std::move(kids), ctx, out);
      break;
    }
    case Phase::kAskBirth:
    case Phase::kAskPhone:
      if (cmd.kind == CommandKind::kExit) pause();
      else on_identify(st, message, ctx, out);
      break;
    case Phase::kAsking:
      if (cmd.kind == CommandKind::kPrevious) go_back();
      else if (cmd.kind == CommandKind::kRestart) restart();
      else if (cmd.kind == CommandKind::kExit) pause();
      else if (cmd.kind == CommandKind::kCorrect) ask(st, st.current, out, "填完后会请您核对，到时候可以修改任何一题。现在请先回答这一题：");
      else on_answer(st, message, ctx, out);
      break;
    case Phase::kSummary:
      if (cmd.kind == CommandKind::kConfirm) {
        confirm(st, ctx, out);
      } else if (cmd.kind == CommandKind::kCorrect) {
        auto shown = visible(st.answers, age_of(st));
        std::vector<const Question*> answered;
        for (const auto* q : shown)
          if (st.answers.count(q->id)) answered.push_back(q);
        if (cmd.number < 1 || cmd.number > static_cast<int>(answered.size())) {
          out.say(fmt::format("没有第{}项，请回复 改1 到 改{} 之间的一项。", cmd.number, answered.size()));
        } else {
          st.correcting = true;
          ask(st, answered[static_cast<std::size_t>(cmd.number - 1)]->id, out, "好的，请重新回答这一题。");
        }
      } else if (cmd.kind == CommandKind::kPrevious) {
        go_back();
      } else if (cmd.kind == CommandKind::kRestart) {
        restart();
      } else if (cmd.kind == CommandKind::kExit) {
        pause();
      } else {
        out.say(std::string("没看明白。") + kSummaryHelp);
      }
      break;
    case Phase::kPaused: {
      st.phase = st.paused_from;
      const std::string lead = "欢迎回来，我们接着填。";
      if (st.phase == Phase::kAskBirth) out.say(lead + "\n" + kBirthPrompt);
      else if (st.phase == Phase::kAskPhone) out.say(lead + "\n" + kPhonePrompt);
      else if (st.phase == Phase::kSummary) show_summary(st, out, lead);
      else if (st.phase == Phase::kAsking && survey_.find(st.current)) ask(st, st.current, out, lead);
      else advance(st, ctx, out, lead);
      break;
    }
    case Phase::kDone:
      if (cmd.kind == CommandKind::kRestart && !st.children.empty()) {
        st.child = 0;
        st.interview_date = format_date(ctx.today);
        st.recall_shifted = false;
        out.say("好的，我们重新填写，新的回答会替换之前提交的。");
        start_child(st, ctx, out);
      } else {
        out.say("问卷已经填好了，谢谢您！如果要重新填写，请回复“重新开始”。");
      }
      break;
  }
  return Turn{pack_replies(out.messages), std::move(out.completed)};
}

}  // namespace yuer::survey
