// Expr: the small expression language of survey definitions (skip logic `when`, `constraint`,
// calculated fields). Grammar and semantics are in templates/surveys/README.md. Parsing fails
// with a reason naming the column; evaluation never fails (a missing value makes comparisons false).
#pragma once

#include "daemon/base/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace yuer::survey {

// A value during evaluation: missing (not asked, skipped, or "don't know"), an integer (also
// true/false as 1/0), a string (an option code, a date YYYY-MM-DD, a text) or a set of codes.
struct EValue {
  enum class Kind { kMissing, kInt, kStr, kSet };
  Kind kind = Kind::kMissing;
  std::int64_t n = 0;
  std::string s;
  std::set<std::string> set;

  static EValue missing() { return {}; }
  static EValue integer(std::int64_t v) { return {Kind::kInt, v, {}, {}}; }
  static EValue str(std::string v) { return {Kind::kStr, 0, std::move(v), {}}; }
  static EValue codes(std::set<std::string> v) { return {Kind::kSet, 0, {}, std::move(v)}; }
  bool truthy() const { return kind == Kind::kInt ? n != 0 : kind == Kind::kSet ? !set.empty() : kind == Kind::kStr; }
};

struct Node;

// A parsed expression; cheap to copy (shares the immutable tree).
class Expr {
 public:
  Expr() = default;
  // Parses `text`. Fails with Error{"survey.bad_expr", "…第N个字符…"}.
  static Result<Expr> parse(std::string_view text);

  bool empty() const { return !root_; }
  const std::string& text() const { return text_; }

  // Evaluates with `lookup` giving the value of each identifier. An empty Expr is true (1).
  EValue eval(const std::function<EValue(const std::string&)>& lookup) const;

  // Every identifier the expression reads (question ids, calc ids, age_months, value ...).
  std::vector<std::string> identifiers() const;
  // Every (identifier, string literal) pair compared with ==, != or `has`: lets the validator
  // check that an option code exists.
  std::vector<std::pair<std::string, std::string>> code_comparisons() const;
  // Every integer literal (the validator tries values around them when looking for a way in).
  std::vector<std::int64_t> int_literals() const;

 private:
  std::shared_ptr<const Node> root_;
  std::string text_;
};

}  // namespace yuer::survey
