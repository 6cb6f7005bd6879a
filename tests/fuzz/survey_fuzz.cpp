// Survey definitions (TOML + the expression language) and what parents type: answers to every
// question type, conversation commands, stored answer / conversation JSON, and whole conversations
// through the engine with the shipped feeding survey.
#include "daemon/survey/answer.h"
#include "daemon/survey/definition.h"
#include "daemon/survey/engine.h"
#include "daemon/survey/expr.h"
#include "daemon/survey/roster.h"
#include "tests/fuzz/fuzz_targets.h"

#include <fstream>
#include <sstream>
#include <string>

namespace yuer::fuzz {
namespace {

using namespace yuer::survey;

const std::chrono::year_month_day kToday{std::chrono::year(2026), std::chrono::month(11), std::chrono::day(23)};

const Survey& feeding() {
  static const Survey s = [] {
    std::ifstream in(std::string(YUER_SOURCE_DIR) + "/templates/surveys/feeding.toml", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto r = load_survey(text.str(), "feeding.toml");
    require(r.has_value(), "templates/surveys/feeding.toml does not load");
    return *r;
  }();
  return s;
}

const VectorRoster& roster() {
  static const VectorRoster r = [] {
    std::vector<store::Family> f(3);
    f[0].child_id = "C1", f[0].birth_date = "2026-05-10", f[0].unit_code = "440103001000";
    f[0].phone_hash = std::string(64, 'a'), f[0].phone_masked = "138****1234", f[0].external_userid = "wmFuzz1";
    f[1].child_id = "C2", f[1].birth_date = "2025-01-02", f[1].unit_code = "440103001000";
    f[1].phone_hash = std::string(64, 'a'), f[1].phone_masked = "138****1234";
    f[2].child_id = "C3", f[2].birth_date = "2026-05-10", f[2].unit_code = "440103002000";
    f[2].phone_hash = std::string(64, 'b'), f[2].phone_masked = "139****5678";
    return VectorRoster(std::move(f));
  }();
  return r;
}

void check_turn(const Turn& t) {
  require(!t.replies.empty() && t.replies.size() <= kMaxRepliesPerTurn, "reply count outside 1..5");
  for (const auto& r : t.replies) require(r.size() <= kMaxReplyBytes, "reply over kMaxReplyBytes");
}

void conversation(std::string_view in, bool known_user) {
  Engine engine(feeding());
  ConversationState state;
  TurnContext ctx{kToday, known_user ? "wmFuzz1" : "", &roster()};
  int turns = 0;
  while (!in.empty() && turns++ < 200) {
    auto at = in.find('\n');
    std::string_view msg = in.substr(0, at);
    in = at == std::string_view::npos ? std::string_view{} : in.substr(at + 1);
    check_turn(engine.handle(state, msg, ctx));
    auto again = ConversationState::from_json(state.to_json());
    require(again.has_value(), "conversation state does not survive its JSON");
    require(again->to_json() == state.to_json(), "conversation state JSON is not stable");
  }
}

}  // namespace

int survey_definition(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = load_survey(in, "fuzz.toml");
  if (s) {
    require(validate(*s, "fuzz.toml").empty(), "a loaded survey fails its own validator");
    Engine engine(*s);
    ConversationState state;
    check_turn(engine.handle(state, "1", TurnContext{kToday, "wmFuzz1", &roster()}));
  } else {
    require(!s.error().message.empty(), "definition error without a message");
  }
  auto e = Expr::parse(in.substr(0, 4096));
  if (e) {
    (void)e->identifiers();
    (void)e->code_comparisons();
    (void)e->eval([](const std::string& id) {
      if (id == "age_months") return EValue::integer(7);
      if (id == "value") return EValue::str("yes");
      return EValue::missing();
    });
  }
  return 0;
}

int survey_answer(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Survey& s = feeding();
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  switch (data[0] % 3) {
    case 0: {
      const Question& q = s.questions[data[1] % s.questions.size()];
      auto a = parse_answer(q, in, kToday);
      if (a) {
        auto back = Answer::from_json(a->to_json());
        require(back.has_value() && *back == *a, "answer JSON round trip");
        (void)describe(q, *a);
      } else {
        require(!a.error().message.empty(), "re-ask without a reason");
      }
      break;
    }
    case 1: {
      auto c = parse_command(in);
      if (c.kind == CommandKind::kCorrect) require(c.number > 0, "改N with N <= 0");
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (!j.is_discarded()) {
        (void)Answer::from_json(j);
        auto st = ConversationState::from_json(j);
        if (st) {
          auto again = ConversationState::from_json(st->to_json());
          require(again.has_value() && again->to_json() == st->to_json(), "state JSON round trip");
          Engine engine(s);
          check_turn(engine.handle(*st, "1", TurnContext{kToday, "wmFuzz1", &roster()}));
        }
      }
      break;
    }
    default: conversation(in, data[1] % 2 == 0); break;
  }
  return 0;
}

}  // namespace yuer::fuzz
