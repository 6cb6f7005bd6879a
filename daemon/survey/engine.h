// The survey conversation: a pure state machine per (channel, user, round). Each parent message
// goes in with the stored state; the new state and the replies to send come out. It never sends
// on its own (a parent who goes quiet gets nothing from here), and one parent message yields at
// most kMaxRepliesPerTurn replies of at most kMaxReplyBytes each, which fits 微信客服's limits:
// https://developer.work.weixin.qq.com/document/path/94677 (send_msg: within 48 hours of the
// customer's last message at most 5 messages; text content at most 2048 bytes).
#pragma once

#include "daemon/base/result.h"
#include "daemon/survey/answer.h"
#include "daemon/survey/definition.h"
#include "daemon/survey/roster.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey {

inline constexpr std::size_t kMaxRepliesPerTurn = 5;
inline constexpr std::size_t kMaxReplyBytes = 2000;  // under kf's 2048-byte text limit

// One child being surveyed in this conversation.
struct ChildRef {
  std::string child_id;    // roster child id; '' when the respondent could not be matched
  std::string birth_date;  // YYYY-MM-DD (roster, or as the parent typed it when unmatched)
  std::string unit_code;   // roster unit; ''  when unmatched
  bool operator==(const ChildRef&) const = default;
};

enum class Phase { kNew, kAskBirth, kAskPhone, kAsking, kSummary, kPaused, kDone };

// Everything the conversation needs to resume, days later or after a restart (to_json/from_json).
struct ConversationState {
  std::string survey_id;
  int survey_version = 0;
  Phase phase = Phase::kNew;
  Phase paused_from = Phase::kNew;  // kPaused: where 退出 left off
  std::string interview_date;       // YYYY-MM-DD of the first question: "昨天" means the day before
  bool recall_shifted = false;      // some answer came on a later day than interview_date
  std::vector<ChildRef> children;
  std::size_t child = 0;            // index into children
  std::map<std::string, Answer> answers;  // of the current child
  std::vector<std::string> path;          // answered question ids, in order (for 上一题)
  std::string current;                    // question being asked
  bool correcting = false;                // answering a 改N: back to the summary afterwards
  std::string typed_birth_date;           // identification in progress
  int identify_attempts = 0;
  int completed = 0;                      // children confirmed in this conversation

  nlohmann::json to_json() const;
  // Fails with Error{"survey.bad_state", …} for JSON not written by to_json.
  static Result<ConversationState> from_json(const nlohmann::json& j);
};

// A child's confirmed answers, for the caller to store (one response per child per round; a
// later confirmation for the same child replaces it).
struct CompletedResponse {
  ChildRef child;
  bool matched = false;
  std::string interview_date;
  int age_months = 0;
  bool recall_shifted = false;
  nlohmann::json answers;  // question id → Answer::to_json(), only questions that were asked
};

struct Turn {
  std::vector<std::string> replies;          // to send, in order; 1..kMaxRepliesPerTurn
  std::vector<CompletedResponse> completed;  // children confirmed by this message
};

struct TurnContext {
  std::chrono::year_month_day today;  // the date of the parent's message (Asia/Shanghai)
  std::string external_userid;        // '' when the channel has none
  const RosterView* roster = nullptr; // must not be null
};

class Engine {
 public:
  // `survey` must outlive the engine.
  explicit Engine(const Survey& survey) : survey_(survey) {}

  // Handles one parent message. Never fails: unreadable input gives a re-ask in Chinese.
  Turn handle(ConversationState& state, std::string_view message, const TurnContext& ctx) const;

  // The questions the current child would be asked given `answers` and age, in order.
  std::vector<const Question*> visible(const std::map<std::string, Answer>& answers, int age_months) const;

  // Summary lines ("3. 昨天吃过母乳：吃过"), numbered as 改N expects.
  std::vector<std::string> summary_lines(const ConversationState& state) const;

  // The text that asks `q` in `state` (intro, "【第k题，共n题】", prompt, numbered options, hints),
  // exactly as the replies carry it; channels that show a question their own way (app cards)
  // find it in a reply with this.
  std::string question_text(const ConversationState& st, const Question& q) const;

 private:
  struct Out;
  void begin_children(ConversationState& st, std::vector<ChildRef> kids, const TurnContext& ctx, Out& out) const;
  void start_child(ConversationState& st, const TurnContext& ctx, Out& out) const;
  void ask(ConversationState& st, const std::string& id, Out& out, std::string lead) const;
  void advance(ConversationState& st, const TurnContext& ctx, Out& out, std::string lead) const;
  void show_summary(ConversationState& st, Out& out, std::string lead) const;
  void confirm(ConversationState& st, const TurnContext& ctx, Out& out) const;
  void on_answer(ConversationState& st, std::string_view message, const TurnContext& ctx, Out& out) const;
  void on_identify(ConversationState& st, std::string_view message, const TurnContext& ctx, Out& out) const;
  int age_of(const ConversationState& st) const;
  std::function<EValue(const std::string&)> lookup(const std::map<std::string, Answer>& answers, int age_months,
                                                   int age_days) const;
  void prune(ConversationState& st) const;

  const Survey& survey_;
};

// Packs replies into at most kMaxRepliesPerTurn messages of at most kMaxReplyBytes, splitting
// only at line breaks (a single longer line is cut at a UTF-8 boundary). Exposed for tests.
std::vector<std::string> pack_replies(const std::vector<std::string>& replies);

}  // namespace yuer::survey
