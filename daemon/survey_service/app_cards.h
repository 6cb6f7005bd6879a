// Template cards (模板卡片) for the survey's app channel, and reading the app's callback rows.
// Pure functions. A single-choice question becomes
//   - a button_interaction card when its choices fit button_list (≤ 6 buttons), else
//   - a vote_interaction card (checkbox mode 0 = single choice, ≤ 20 options, submit_button),
// https://developer.work.weixin.qq.com/document/path/90236 (模板卡片消息) and /101032 (field
// limits); other questions (and single-choice ones with more than 20 choices) stay text.
// Keys name the child, the question and the choice: "q:<child>:<question id>:<choice>", choice =
// the option's number ("1".."n"), "dk" (不知道) or "skip" (跳过); a vote card's question_key is
// "q:<child>:<question id>" and its option ids are the choices. task_id: "s<round>_<round
// created ms>_<inbox row id>" (unique per app, [0-9A-Za-z_], ≤ 128 bytes; a replayed row gives
// the same task_id, and the outbox drops the replayed send by its key).
#pragma once

#include "daemon/model/inbound_event.h"
#include "daemon/survey/definition.h"
#include "daemon/survey_service/consumer.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey_service {

inline constexpr std::size_t kMaxCardButtons = 6;       // button_interaction.button_list
inline constexpr std::size_t kMaxVoteOptions = 20;      // vote_interaction.checkbox.option_list

struct CardChoice {
  std::string id;    // "1".."n", "dk", "skip"
  std::string text;  // the option text, 不知道, 跳过
};

// The choices a single-choice question shows: its options in order, then 不知道 (dont_know) and
// 跳过 (not required). Empty for other question types.
std::vector<CardChoice> card_choices(const survey::Question& q);

// The card asking `q` of child `child`: nullopt when the question is not single choice or has
// more than kMaxVoteOptions choices. `title` goes to main_title.title ("第3题，共12题"), `body`
// to sub_title_text.
std::optional<nlohmann::json> question_card(const survey::Question& q, std::size_t child, const std::string& title,
                                            const std::string& body, const std::string& task_id);

std::string card_key(std::size_t child, const std::string& question, const std::string& choice);

struct CardAnswer {
  std::size_t child = 0;
  std::string question;
  std::string choice;
  bool operator==(const CardAnswer&) const = default;
};
// nullopt for a key that is not ours.
std::optional<CardAnswer> parse_card_key(std::string_view key);
// What a click (Message::Kind::kClick) answers: the vote card's selected option (SelectedItems),
// else the button's EventKey. nullopt when neither is ours.
std::optional<CardAnswer> click_answer(const Message& m);
// What the engine reads for a choice: the option number, 不知道, 跳过.
std::string choice_input(const std::string& choice);
// The choice's text ("吃过"), '' when the question has no such choice.
std::string choice_text(const survey::Question& q, const std::string& choice);

// One app callback row (XML): a member's text (MsgType text) or a template_card_event; anything
// else is Kind::kOther. Never throws.
Message read_app_row(const model::InboxRow& row);

}  // namespace yuer::survey_service
