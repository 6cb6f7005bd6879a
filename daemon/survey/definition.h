// Survey definitions (templates/surveys/*.toml): questions, numbered options, skip logic,
// constraints and calculated fields, and the validator that refuses a broken file with the file
// and the question named. A loaded Survey is immutable and valid (every reference resolves, no
// cycle, every question reachable).
#pragma once

#include "daemon/base/result.h"
#include "daemon/survey/expr.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey {

enum class QuestionType { kSingle, kMultiple, kInteger, kDate, kText };

std::string_view type_name(QuestionType t);

struct Option {
  std::string code;                   // stored value: [a-z0-9_]+, unique in the question
  std::string text;                   // shown after the number ("1. 吃过")
  std::vector<std::string> synonyms;  // more words a parent may type for it ("有", "是")
  bool exclusive = false;             // multiple choice: cannot be chosen with another option ("都没有")
};

struct Question {
  std::string id;      // [a-z][a-z0-9_]*, unique in the survey
  QuestionType type = QuestionType::kSingle;
  std::string label;   // short Chinese name for the summary ("昨天吃过母乳")
  std::string intro;   // optional text sent before the prompt in the same message (block intro)
  std::string prompt;  // the question as the parent reads it
  std::vector<Option> options;  // single / multiple: shown numbered 1..n in this order
  std::optional<std::int64_t> min, max;  // integer: inclusive range (both required)
  std::string unit;    // integer: "次", "个月"
  bool dont_know = false;  // integer / date / text: accept 不知道 / 不记得 as an answer
  bool required = true;    // false: 跳过 / 不想答 is accepted and stored as missing
  Expr when;                // asked only when true (empty: always)
  Expr constraint;          // checked on the answer (identifier `value`); empty: none
  std::string constraint_message;  // Chinese, shown when the constraint fails
};

struct Calc {
  std::string id;
  Expr expr;
};

struct Survey {
  std::string id;       // [a-z][a-z0-9_]*
  int version = 1;
  std::string title;    // 母乳喂养情况调查
  std::string intro;    // first message of a conversation
  std::string outro;    // after the parent confirms
  int min_age_months = 0;
  int max_age_months = 36;
  std::vector<Question> questions;
  std::vector<Calc> calcs;

  const Question* find(std::string_view id) const;
  // Index of question `id` in `questions`, or -1.
  int index_of(std::string_view id) const;
  const Calc* find_calc(std::string_view id) const;
};

// Parses and validates one definition. `file` names the file in every error message. Fails with
// Error{"survey.bad_definition", "<file>: 题目 <id>: <reason>"}, listing all problems found (one per line).
Result<Survey> load_survey(std::string_view toml_text, std::string_view file);

// Reads and loads every *.toml in `dir`, by file name. Fails on the first bad file (its errors).
Result<std::vector<Survey>> load_survey_dir(const std::string& dir);

// The validator alone (load_survey runs it): every problem as "<file>: 题目 <id>: <reason>".
std::vector<std::string> validate(const Survey& survey, std::string_view file);

}  // namespace yuer::survey
