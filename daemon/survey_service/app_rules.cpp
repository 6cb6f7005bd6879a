#include "daemon/survey_service/app_cards.h"
#include "daemon/survey_service/channel_rules.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace yuer::survey_service {
namespace {

using nlohmann::json;

constexpr const char* kOldCard =
    "这张卡片上的问题已经回答过了，请回答最新的一题。要改答案，可以在最后核对时回复“改”加题号。";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string trim_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "【第3题，共12题】…" → "第3题，共12题".
std::string header_of(const std::string& question_text, const std::string& fallback) {
  const std::string open = "【", close = "】";
  auto a = question_text.find(open);
  auto b = a == std::string::npos ? a : question_text.find(close, a);
  if (b == std::string::npos) return fallback;
  return question_text.substr(a + open.size(), b - a - open.size());
}

bool answered(const survey::ConversationState& before, const survey::ConversationState& after) {
  return after.phase != survey::Phase::kAsking || after.current != before.current || after.child != before.child;
}

class AppRules final : public ChannelRules {
 public:
  std::string name() const override { return kAppChannel; }
  bool bind_unknown_to_newest() const override { return false; }  // members are invited (Service::invite)
  Message read(const model::InboxRow& row) const override { return read_app_row(row); }
  std::string external_userid(const Message&) const override { return {}; }  // members have none

  Input input(const Message& m, const survey::ConversationState& st, const survey::Survey& s) const override {
    if (m.kind == Message::Kind::kText) return Input{true, m.text, ""};
    if (m.kind != Message::Kind::kClick) return Input{false, "", ""};
    auto a = click_answer(m);
    if (!a) {
      spdlog::warn("survey: app inbox row {}: a click on a card that is not a survey question; ignored", m.id);
      return Input{false, "", ""};
    }
    const survey::Question* q = s.find(a->question);
    if (st.phase != survey::Phase::kAsking || st.current != a->question || st.child != a->child || !q ||
        choice_text(*q, a->choice).empty()) {
      spdlog::info("survey: app inbox row {}: a click on an old card", m.id);
      return Input{false, "", kOldCard};
    }
    return Input{true, choice_input(a->choice), ""};
  }

  std::vector<Reply> replies(const TurnView& t) const override {
    std::vector<Reply> out;
    // The clicked card shows the answer it took (message/update_template_card, DOC 94888); only
    // button cards: a vote card greys itself out once submitted.
    if (t.message.kind == Message::Kind::kClick && !t.message.response_code.empty() &&
        t.message.card_type == "button_interaction" && answered(t.before, t.after))
      if (auto a = click_answer(t.message))
        if (const survey::Question* q = t.survey.find(a->question)) {
          const json update = {{"response_code", t.message.response_code},
                               {"replace_name", "已选择：" + choice_text(*q, a->choice)}};
          out.push_back(Reply{kAppCardRoute, t.message.reply_to, model::ContentKind::kTemplateCard, dump(update), "", 0});
        }
    const auto& texts = t.turn.replies;
    for (std::size_t k = 0; k < texts.size() && k < survey::kMaxRepliesPerTurn; ++k) {
      if (k + 1 == texts.size())
        if (auto card = card_reply(t, texts[k], out)) {
          out.push_back(std::move(*card));
          continue;
        }
      out.push_back(text_reply(t.message, texts[k]));
    }
    return out;
  }

  Reply text_reply(const Message& m, std::string text) const override {
    return Reply{kAppChannel, m.reply_to, model::ContentKind::kText, std::move(text), "", 0};
  }

 private:
  // The last reply as a card when it asks a single-choice question that fits one; what comes
  // before the question in that reply (a re-ask reason, a thank-you) goes out as text first.
  std::optional<Reply> card_reply(const TurnView& t, const std::string& last, std::vector<Reply>& out) const {
    if (t.after.phase != survey::Phase::kAsking) return std::nullopt;
    const survey::Question* q = t.survey.find(t.after.current);
    if (!q) return std::nullopt;
    const std::string qt = t.engine.question_text(t.after, *q);
    const auto at = last.rfind(qt);
    if (at == std::string::npos) return std::nullopt;
    const std::string lead = trim_newlines(last.substr(0, at));
    std::string body = (q->intro.empty() ? "" : q->intro + "\n") + q->prompt + last.substr(at + qt.size());
    body += "\n（点选项，或回复选项前的数字）";
    const std::string task = "s" + std::to_string(t.round.id) + "_" + std::to_string(t.round.created_ms) + "_" +
                             std::to_string(t.message.id);
    auto card = question_card(*q, t.after.child, header_of(qt, t.survey.title), body, task);
    if (!card) return std::nullopt;
    if (!lead.empty()) out.push_back(text_reply(t.message, lead));
    return Reply{kAppChannel, t.message.reply_to, model::ContentKind::kTemplateCard, dump(*card), "", 0};
  }
};

}  // namespace

std::unique_ptr<ChannelRules> make_app_rules() { return std::make_unique<AppRules>(); }

}  // namespace yuer::survey_service
