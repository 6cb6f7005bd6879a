#include "daemon/survey/answer.h"

#include "daemon/survey/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace yuer::survey {

nlohmann::json Answer::to_json() const {
  switch (kind) {
    case Kind::kCode: return {{"code", code}};
    case Kind::kCodes: return {{"codes", codes}};
    case Kind::kInt: return {{"int", n}};
    case Kind::kDate: return {{"date", text}};
    case Kind::kText: return {{"text", text}};
    case Kind::kDontKnow: return {{"dk", true}};
    case Kind::kSkipped: return {{"skipped", true}};
  }
  return nullptr;
}

Result<Answer> Answer::from_json(const nlohmann::json& j) {
  Answer a;
  auto bad = [&] { return fail("survey.bad_answer_json", "answer JSON not understood: " + j.dump()); };
  if (!j.is_object() || j.size() != 1) return bad();
  const std::string key = j.begin().key();
  const nlohmann::json& v = j.begin().value();
  if (key == "code" && v.is_string()) {
    a.kind = Kind::kCode;
    a.code = v.get<std::string>();
  } else if (key == "codes" && v.is_array()) {
    a.kind = Kind::kCodes;
    for (const auto& c : v) {
      if (!c.is_string()) return bad();
      a.codes.push_back(c.get<std::string>());
    }
  } else if (key == "int" && v.is_number_integer()) {
    a.kind = Kind::kInt;
    a.n = v.get<std::int64_t>();
  } else if ((key == "date" || key == "text") && v.is_string()) {
    a.kind = key == "date" ? Kind::kDate : Kind::kText;
    a.text = v.get<std::string>();
  } else if (key == "dk" && v == true) {
    a.kind = Kind::kDontKnow;
  } else if (key == "skipped" && v == true) {
    a.kind = Kind::kSkipped;
  } else {
    return bad();
  }
  return a;
}

EValue Answer::value() const {
  switch (kind) {
    case Kind::kCode: return EValue::str(code);
    case Kind::kCodes: return EValue::codes(std::set<std::string>(codes.begin(), codes.end()));
    case Kind::kInt: return EValue::integer(n);
    case Kind::kDate:
    case Kind::kText: return EValue::str(text);
    default: return EValue::missing();
  }
}

std::string describe(const Question& q, const Answer& a) {
  auto option_text = [&](const std::string& code) {
    for (const auto& o : q.options)
      if (o.code == code) return o.text;
    return code;
  };
  switch (a.kind) {
    case Answer::Kind::kCode: return option_text(a.code);
    case Answer::Kind::kCodes: {
      std::string out;
      for (const auto& c : a.codes) out += (out.empty() ? "" : "、") + option_text(c);
      return out;
    }
    case Answer::Kind::kInt: return fmt::format("{}{}", a.n, q.unit);
    case Answer::Kind::kDate: {
      auto d = parse_iso_date(a.text);
      if (!d) return a.text;
      return fmt::format("{}年{}月{}日", static_cast<int>(d->year()), static_cast<unsigned>(d->month()),
                         static_cast<unsigned>(d->day()));
    }
    case Answer::Kind::kText: return a.text;
    case Answer::Kind::kDontKnow: return "不知道";
    case Answer::Kind::kSkipped: return "（跳过）";
  }
  return {};
}

namespace {

using Pos = std::size_t;

struct Num {
  std::int64_t value = 0;
  Pos begin = 0, end = 0;
  bool chinese = false;
  int digits = 0;  // arabic: how many digits
};

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }

// Chinese numeral runs that are not numbers in a reply ("一点", "一些", "一下").
bool idiom_after(std::u32string_view t, Pos end) {
  static constexpr std::u32string_view kAfter = U"点些下起直共样般般会边";
  return end < t.size() && kAfter.find(t[end]) != std::u32string_view::npos;
}

// Every number in `t` outside the `covered` spans: arabic digit runs and Chinese numeral runs
// (a run without 十 of two or more digits reads digit by digit, as in 二〇二四).
std::vector<Num> numbers(std::u32string_view t, const std::vector<std::pair<Pos, Pos>>& covered = {}) {
  auto inside = [&](Pos p) {
    return std::any_of(covered.begin(), covered.end(), [&](const auto& c) { return p >= c.first && p < c.second; });
  };
  std::vector<Num> out;
  Pos i = 0;
  while (i < t.size()) {
    if (inside(i)) {
      ++i;
      continue;
    }
    if (is_digit(t[i])) {
      Num n{0, i, i, false, 0};
      while (i < t.size() && is_digit(t[i]) && !inside(i)) {
        if (n.digits < 12) n.value = n.value * 10 + (t[i] - U'0');
        ++n.digits;
        ++i;
      }
      n.end = i;
      out.push_back(n);
    } else if (is_cn_numeral(t[i])) {
      Pos b = i;
      while (i < t.size() && is_cn_numeral(t[i]) && !inside(i)) ++i;
      std::u32string_view run = t.substr(b, i - b);
      if (idiom_after(t, i) && run == U"一") continue;
      if (auto v = cn_number(run)) {
        out.push_back({*v, b, i, true, 0});
      } else if (run.find(U'十') == std::u32string_view::npos && run.size() >= 4) {
        std::int64_t v = 0;  // a year: 二〇二五
        for (char32_t c : run) v = v * 10 + *cn_number(std::u32string(1, c));
        out.push_back({v, b, i, true, static_cast<int>(run.size())});
      } else if (run.find(U'十') == std::u32string_view::npos) {
        for (Pos k = b; k < i; ++k)  // "三四次", "二三": separate numbers
          out.push_back({*cn_number(std::u32string(1, t[k])), k, k + 1, true, 0});
      }
    } else {
      ++i;
    }
  }
  return out;
}

// Removes spaces.
std::u32string squeeze(std::u32string_view t) {
  std::u32string out;
  for (char32_t c : t)
    if (c != U' ' && c != U'\t' && c != U'\n' && c != U'\r') out.push_back(c);
  return out;
}

bool contains(std::u32string_view hay, std::u32string_view needle) { return hay.find(needle) != std::u32string_view::npos; }

bool contains_any(std::u32string_view hay, std::initializer_list<std::u32string_view> needles) {
  return std::any_of(needles.begin(), needles.end(), [&](auto n) { return contains(hay, n); });
}

bool says_dont_know(std::u32string_view t) {
  return contains_any(t, {U"不知道", U"不记得", U"记不清", U"不清楚", U"忘了", U"忘记了", U"不晓得", U"说不清", U"dk"});
}

bool says_skip(std::u32string_view t) { return contains_any(t, {U"跳过", U"不想答", U"不想回答", U"不方便说"}); }

// Words that may name an option: its text, its synonyms, and the parts of its text (split at
// 、，（）/ 或 和 如 等 and spaces) that appear in no other option.
std::vector<std::vector<std::u32string>> option_keywords(const Question& q) {
  std::vector<std::vector<std::u32string>> full(q.options.size()), out(q.options.size());
  for (std::size_t i = 0; i < q.options.size(); ++i) {
    full[i].push_back(squeeze(fold(to_u32(q.options[i].text))));
    for (const auto& s : q.options[i].synonyms) full[i].push_back(squeeze(fold(to_u32(s))));
  }
  static constexpr std::u32string_view kSep = U" /或和如等比的";
  for (std::size_t i = 0; i < q.options.size(); ++i) {
    out[i] = full[i];
    std::u32string text = fold(to_u32(q.options[i].text)), part;
    text.push_back(U' ');
    for (char32_t c : text) {
      if (kSep.find(c) == std::u32string_view::npos) {
        part.push_back(c);
        continue;
      }
      bool distinctive = part.size() >= 2 && std::find(out[i].begin(), out[i].end(), part) == out[i].end();
      for (std::size_t k = 0; distinctive && k < q.options.size(); ++k)
        if (k != i)
          for (const auto& w : full[k])
            if (contains(w, part)) distinctive = false;
      if (distinctive) out[i].push_back(part);
      part.clear();
    }
  }
  for (auto& words : out)
    words.erase(std::remove_if(words.begin(), words.end(), [](const auto& w) { return w.empty(); }), words.end());
  return out;
}

struct Match {
  std::size_t option;
  Pos begin, end;
};

// Option words found in `t`; a match inside a longer match of another option is dropped
// ("吃过" inside "没吃过").
std::vector<Match> word_matches(const Question& q, std::u32string_view t) {
  auto keywords = option_keywords(q);
  std::vector<Match> all;
  for (std::size_t i = 0; i < keywords.size(); ++i)
    for (const auto& w : keywords[i])
      for (Pos p = t.find(w); p != std::u32string_view::npos; p = t.find(w, p + 1)) all.push_back({i, p, p + w.size()});
  std::vector<Match> kept;
  for (const auto& m : all) {
    bool shadowed = std::any_of(all.begin(), all.end(), [&](const Match& o) {
      return o.option != m.option && o.begin <= m.begin && o.end >= m.end && (o.end - o.begin) > (m.end - m.begin);
    });
    if (!shadowed) kept.push_back(m);
  }
  return kept;
}

std::string range_hint(std::size_t n) { return fmt::format("请回复选项前面的数字（1 到 {}）", n); }

Result<Answer> reask(std::string reason) { return fail("survey.reask", std::move(reason)); }

Result<Answer> parse_choice(const Question& q, std::u32string_view raw) {
  // Spaces separate numbers ("1 2"), so only the emptiness test ignores them.
  std::u32string t(raw);
  const std::size_t n = q.options.size();
  if (squeeze(t).empty()) return reask(fmt::format("没有收到回答，{}。", range_hint(n)));
  auto matches = word_matches(q, t);
  std::vector<std::pair<Pos, Pos>> covered;
  std::set<std::size_t> chosen;
  for (const auto& m : matches) {
    covered.emplace_back(m.begin, m.end);
    chosen.insert(m.option);
  }
  for (auto num : numbers(t, covered)) {
    std::vector<std::int64_t> values{num.value};
    // "23" or "二三" for a multiple-choice question with at most 9 options: 2 and 3.
    bool split = q.type == QuestionType::kMultiple && n <= 9 && num.value > static_cast<std::int64_t>(n) &&
                 (num.digits >= 2);
    if (split) {
      values.clear();
      for (std::int64_t v = num.value; v > 0; v /= 10) values.insert(values.begin(), v % 10);
    }
    for (auto v : values) {
      if (v < 1 || v > static_cast<std::int64_t>(n))
        return reask(fmt::format("没有第{}项，{}。", v, range_hint(n)));
      chosen.insert(static_cast<std::size_t>(v - 1));
    }
  }
  if (chosen.empty()) {
    if (q.type == QuestionType::kMultiple)
      return reask(fmt::format("没看明白您的回答，{}，可以选多个，比如：1 3。", range_hint(n)));
    return reask(fmt::format("没看明白您的回答，{}。", range_hint(n)));
  }
  Answer a;
  if (q.type == QuestionType::kSingle) {
    if (chosen.size() > 1) {
      std::string which;
      for (auto c : chosen) which += fmt::format("{}{}", which.empty() ? "" : "、", c + 1);
      return reask(fmt::format("这题只能选一个，您的回答里有 {} 几项，请只回复一个数字。", which));
    }
    a.kind = Answer::Kind::kCode;
    a.code = q.options[*chosen.begin()].code;
    return a;
  }
  if (chosen.size() > 1)
    for (auto c : chosen)
      if (q.options[c].exclusive)
        return reask(fmt::format("“{}”不能和别的选项一起选，请重新回复。", q.options[c].text));
  a.kind = Answer::Kind::kCodes;
  for (auto c : chosen) a.codes.push_back(q.options[c].code);
  return a;
}

Result<Answer> parse_integer(const Question& q, std::u32string_view t) {
  std::int64_t lo = q.min.value_or(0), hi = q.max.value_or(0);
  auto range = fmt::format("请回复 {} 到 {} 之间的数字{}", lo, hi, q.unit.empty() ? "" : "（单位：" + q.unit + "）");
  auto nums = numbers(t);
  std::set<std::int64_t> distinct;
  for (const auto& n : nums) distinct.insert(n.value);
  if (distinct.empty()) {
    if (contains_any(t, {U"没有", U"没吃", U"没喝", U"一次也没", U"没"})) distinct.insert(0);
    else return reask(fmt::format("没看明白，{}，比如：3。", range));
  }
  if (distinct.size() > 1) return reask(fmt::format("请只回复一个数字（大概的也可以），{}。", range));
  std::int64_t v = *distinct.begin();
  if (v < lo || v > hi) return reask(fmt::format("{}{}不在范围内，{}。", v, q.unit, range));
  Answer a;
  a.kind = Answer::Kind::kInt;
  a.n = v;
  return a;
}

Result<Answer> parse_date(std::u32string_view t, std::chrono::year_month_day interview) {
  using namespace std::chrono;
  const char* example = "请按“年-月-日”回复，比如：2025-3-5 或 2025年3月5日";
  auto nums = numbers(t);
  int y = 0, m = 0, d = 0;
  bool year_given = true;
  if (nums.size() == 1 && nums[0].digits == 8) {
    y = static_cast<int>(nums[0].value / 10000);
    m = static_cast<int>(nums[0].value / 100 % 100);
    d = static_cast<int>(nums[0].value % 100);
  } else if (nums.size() == 3) {
    y = static_cast<int>(nums[0].value);
    m = static_cast<int>(nums[1].value);
    d = static_cast<int>(nums[2].value);
    if (y < 100 && (nums[0].digits == 2 || nums[0].chinese)) y += 2000;
  } else if (nums.size() == 2) {
    y = static_cast<int>(interview.year());
    m = static_cast<int>(nums[0].value);
    d = static_cast<int>(nums[1].value);
    year_given = false;
  } else {
    return reask(fmt::format("没看懂这个日期，{}。", example));
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(std::clamp(m, 0, 13))}, day{static_cast<unsigned>(std::clamp(d, 0, 32))}};
  if (y < 1900 || !ymd.ok()) return reask(fmt::format("{}年{}月{}日不是一个正确的日期，{}。", y, m, d, example));
  if (!year_given && sys_days{ymd} > sys_days{interview}) ymd = year_month_day{year{y - 1}, ymd.month(), ymd.day()};
  if (!ymd.ok()) return reask(fmt::format("{}月{}日不是一个正确的日期，{}。", m, d, example));
  if (sys_days{ymd} > sys_days{interview}) return reask(fmt::format("日期不能晚于今天，{}。", example));
  Answer a;
  a.kind = Answer::Kind::kDate;
  a.text = format_date(ymd);
  return a;
}

}  // namespace

Result<Answer> parse_answer(const Question& q, std::string_view reply, std::chrono::year_month_day interview) {
  std::u32string t = fold(to_u32(reply));
  bool choice = q.type == QuestionType::kSingle || q.type == QuestionType::kMultiple;
  if (!q.required && says_skip(t)) return Answer{};
  if (!choice && q.dont_know && says_dont_know(t)) {
    Answer a;
    a.kind = Answer::Kind::kDontKnow;
    return a;
  }
  switch (q.type) {
    case QuestionType::kSingle:
    case QuestionType::kMultiple: return parse_choice(q, t);
    case QuestionType::kInteger: return parse_integer(q, t);
    case QuestionType::kDate: return parse_date(t, interview);
    case QuestionType::kText: {
      std::string text(reply);
      auto b = text.find_first_not_of(" \t\r\n");
      auto e = text.find_last_not_of(" \t\r\n");
      text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
      if (text.empty()) return reask("没有收到回答，请用文字回复。");
      if (to_u32(text).size() > 200) return reask("回答太长了，请简单说一下（200 字以内）。");
      Answer a;
      a.kind = Answer::Kind::kText;
      a.text = text;
      return a;
    }
  }
  return reask("没看明白，请再回复一次。");
}

Command parse_command(std::string_view reply) {
  std::u32string t = squeeze(fold(to_u32(reply)));
  if (t.size() > 12) return {};
  struct Phrase {
    std::u32string_view text;
    CommandKind kind;
  };
  static constexpr Phrase kPhrases[] = {
      {U"上一题", CommandKind::kPrevious}, {U"上一个", CommandKind::kPrevious}, {U"上1题", CommandKind::kPrevious},
      {U"上题", CommandKind::kPrevious},   {U"返回", CommandKind::kPrevious},   {U"退回", CommandKind::kPrevious},
      {U"回到上", CommandKind::kPrevious}, {U"后退", CommandKind::kPrevious},   {U"前一题", CommandKind::kPrevious},
      {U"重新开始", CommandKind::kRestart}, {U"重新填", CommandKind::kRestart}, {U"重填", CommandKind::kRestart},
      {U"从头开始", CommandKind::kRestart}, {U"从头来", CommandKind::kRestart}, {U"重来", CommandKind::kRestart},
      {U"重新做", CommandKind::kRestart},
      {U"退出", CommandKind::kExit},       {U"不填了", CommandKind::kExit},     {U"不想填", CommandKind::kExit},
      {U"不做了", CommandKind::kExit},     {U"不答了", CommandKind::kExit},     {U"结束", CommandKind::kExit},
      {U"停止", CommandKind::kExit},       {U"先不填", CommandKind::kExit},     {U"以后再填", CommandKind::kExit},
      {U"下次再填", CommandKind::kExit},   {U"没空", CommandKind::kExit},
      {U"确认", CommandKind::kConfirm},    {U"确定", CommandKind::kConfirm},    {U"提交", CommandKind::kConfirm},
      {U"没问题", CommandKind::kConfirm},  {U"都对", CommandKind::kConfirm},    {U"正确", CommandKind::kConfirm},
  };
  // "改3", "修改第3题", "第3题改一下", "改第三个": a correction needs 改 and exactly one number.
  if (contains(t, U"改")) {
    auto nums = numbers(t);
    if (nums.size() == 1 && nums[0].value >= 1) return {CommandKind::kCorrect, static_cast<int>(nums[0].value)};
  }
  for (const auto& p : kPhrases)
    if (contains(t, p.text) && t.size() <= p.text.size() + 4 && !contains(t, U"不确") && !contains(t, U"不对"))
      return {p.kind, 0};
  static constexpr std::u32string_view kYes[] = {U"ok", U"对", U"对的", U"是", U"是的", U"好", U"好的", U"可以", U"行", U"嗯"};
  for (auto y : kYes)
    if (t == y) return {CommandKind::kConfirm, 0};
  return {};
}

}  // namespace yuer::survey
