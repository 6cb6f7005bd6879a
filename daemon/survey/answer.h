// Answers and the parsing of what parents type: option numbers (half/full width, Chinese
// numerals, "第三个"), option words and synonyms, several choices at once, integers ("三个月"),
// dates ("2026年3月5日", "3月5日"), and the conversation commands (上一题, 重新开始, 退出, 确认,
// 改3). Pure functions; a reply that cannot be read is an Error whose message is the Chinese
// reason the parent is shown before the question is asked again.
#pragma once

#include "daemon/base/result.h"
#include "daemon/survey/definition.h"
#include "daemon/survey/expr.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey {

// One stored answer.
struct Answer {
  enum class Kind { kCode, kCodes, kInt, kDate, kText, kDontKnow, kSkipped };
  Kind kind = Kind::kSkipped;
  std::string code;                // kCode
  std::vector<std::string> codes;  // kCodes, in option order
  std::int64_t n = 0;              // kInt
  std::string text;                // kDate (YYYY-MM-DD) or kText

  bool operator==(const Answer&) const = default;

  // JSON: {"code":"yes"} {"codes":["a","b"]} {"int":3} {"date":"2026-03-05"} {"text":"…"}
  // {"dk":true} {"skipped":true}.
  nlohmann::json to_json() const;
  // Fails with Error{"survey.bad_answer_json", …} for anything else.
  static Result<Answer> from_json(const nlohmann::json& j);
  // The value seen by expressions: don't know and skipped are missing.
  EValue value() const;
};

// The answer as the parent would read it in a summary: option texts joined with "、", "3次",
// "2026年3月5日", "不知道", "（跳过）".
std::string describe(const Question& q, const Answer& a);

// Parses a reply to `q`. `interview` is the date of the conversation (for dates without a year
// and the "not after today" check). Fails with Error{"survey.reask", reason in Chinese}.
Result<Answer> parse_answer(const Question& q, std::string_view reply, std::chrono::year_month_day interview);

enum class CommandKind { kNone, kPrevious, kRestart, kExit, kConfirm, kCorrect };

struct Command {
  CommandKind kind = CommandKind::kNone;
  int number = 0;  // kCorrect: the summary line number
};

// Recognises a conversation command anywhere in a short reply ("上一题", "返回", "我要重新开始",
// "不填了", "确认", "改3", "第3题改一下"). Long replies and replies that are plainly answers give kNone.
Command parse_command(std::string_view reply);

}  // namespace yuer::survey
