#include "daemon/survey_service/app_cards.h"

#include <pugixml.hpp>

#include <charconv>

namespace yuer::survey_service {
namespace {

using nlohmann::json;

std::string text_of(const pugi::xml_node& n) { return n.child_value(); }

std::optional<std::size_t> to_size(std::string_view s) {
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::vector<CardChoice> card_choices(const survey::Question& q) {
  std::vector<CardChoice> out;
  if (q.type != survey::QuestionType::kSingle) return out;
  for (std::size_t i = 0; i < q.options.size(); ++i) out.push_back({std::to_string(i + 1), q.options[i].text});
  if (q.dont_know) out.push_back({"dk", "不知道"});
  if (!q.required) out.push_back({"skip", "跳过"});
  return out;
}

std::optional<json> question_card(const survey::Question& q, std::size_t child, const std::string& title,
                                  const std::string& body, const std::string& task_id) {
  const auto choices = card_choices(q);
  if (choices.empty() || choices.size() > kMaxVoteOptions) return std::nullopt;
  json card = {{"task_id", task_id}, {"main_title", {{"title", title}}}, {"sub_title_text", body}};
  if (choices.size() <= kMaxCardButtons) {
    card["card_type"] = "button_interaction";
    json buttons = json::array();
    for (const auto& c : choices) {
      // The number in front lets a member who types match the button (1 = the first option).
      const std::string text = to_size(c.id) ? c.id + ". " + c.text : c.text;
      buttons.push_back({{"text", text}, {"style", 1}, {"key", card_key(child, q.id, c.id)}});
    }
    card["button_list"] = std::move(buttons);
  } else {
    card["card_type"] = "vote_interaction";
    json options = json::array();
    for (const auto& c : choices) options.push_back({{"id", c.id}, {"text", c.text}});
    card["checkbox"] = {{"question_key", "q:" + std::to_string(child) + ":" + q.id},
                        {"mode", 0},
                        {"option_list", std::move(options)}};
    card["submit_button"] = {{"text", "提交"}, {"key", card_key(child, q.id, "submit")}};
  }
  return card;
}

std::string card_key(std::size_t child, const std::string& question, const std::string& choice) {
  return "q:" + std::to_string(child) + ":" + question + ":" + choice;
}

std::optional<CardAnswer> parse_card_key(std::string_view key) {
  if (!key.starts_with("q:") || key.size() > 1024) return std::nullopt;
  key.remove_prefix(2);
  const auto c = key.find(':');
  const auto last = key.rfind(':');
  if (c == std::string_view::npos || last == c) return std::nullopt;
  auto child = to_size(key.substr(0, c));
  CardAnswer a;
  a.question = std::string(key.substr(c + 1, last - c - 1));
  a.choice = std::string(key.substr(last + 1));
  if (!child || a.question.empty() || a.choice.empty()) return std::nullopt;
  if (a.choice != "dk" && a.choice != "skip" && (!to_size(a.choice) || *to_size(a.choice) == 0)) return std::nullopt;
  a.child = *child;
  return a;
}

std::optional<CardAnswer> click_answer(const Message& m) {
  for (const auto& [question_key, option] : m.selected)
    if (auto a = parse_card_key(question_key + ":" + option)) return a;
  return parse_card_key(m.event_key);
}

std::string choice_input(const std::string& choice) {
  if (choice == "dk") return "不知道";
  if (choice == "skip") return "跳过";
  return choice;
}

std::string choice_text(const survey::Question& q, const std::string& choice) {
  for (const auto& c : card_choices(q))
    if (c.id == choice) return c.text;
  return {};
}

Message read_app_row(const model::InboxRow& row) {
  Message m;
  m.id = row.id;
  m.send_time = row.event.created_at ? row.event.created_at : row.event.received_at;
  const bool text = row.event.kind == "text";
  const bool click = row.event.kind == "event:template_card_event";
  if (!text && !click) return m;
  pugi::xml_document doc;
  // The callback endpoint stored it only after checking it (no DOCTYPE, UTF-8); parse it again here.
  if (!doc.load_buffer(row.event.payload.data(), row.event.payload.size(), pugi::parse_default))
    return m;
  const pugi::xml_node x = doc.child("xml");
  m.user = text_of(x.child("FromUserName"));
  m.reply_to = m.user;
  if (m.user.empty()) return m;
  if (text) {
    m.kind = Message::Kind::kText;
    m.text = text_of(x.child("Content"));
    return m;
  }
  m.kind = Message::Kind::kClick;
  m.event_key = text_of(x.child("EventKey"));
  m.task_id = text_of(x.child("TaskId"));
  m.card_type = text_of(x.child("CardType"));
  m.response_code = text_of(x.child("ResponseCode"));
  for (auto item : x.child("SelectedItems").children("SelectedItem")) {
    const std::string qk = text_of(item.child("QuestionKey"));
    for (auto id : item.child("OptionIds").children("OptionId")) m.selected.emplace_back(qk, text_of(id));
  }
  return m;
}

}  // namespace yuer::survey_service
