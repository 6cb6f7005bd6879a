#include "daemon/survey/definition.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace yuer::survey {

std::string_view type_name(QuestionType t) {
  switch (t) {
    case QuestionType::kSingle: return "single";
    case QuestionType::kMultiple: return "multiple";
    case QuestionType::kInteger: return "integer";
    case QuestionType::kDate: return "date";
    case QuestionType::kText: return "text";
  }
  return "?";
}

const Question* Survey::find(std::string_view id) const {
  for (const auto& q : questions)
    if (q.id == id) return &q;
  return nullptr;
}

int Survey::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < questions.size(); ++i)
    if (questions[i].id == id) return static_cast<int>(i);
  return -1;
}

const Calc* Survey::find_calc(std::string_view id) const {
  for (const auto& c : calcs)
    if (c.id == id) return &c;
  return nullptr;
}

namespace {

// Names every expression may read besides question and calc ids.
const std::set<std::string> kBuiltins = {"age_months", "age_days"};

bool valid_id(std::string_view s, bool allow_leading_digit = false) {
  if (s.empty() || s.size() > 40) return false;
  if (!allow_leading_digit && !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

struct Loader {
  std::string file;
  std::vector<std::string> errors;

  void err(std::string_view where, std::string_view what) {
    errors.push_back(where.empty() ? fmt::format("{}: {}", file, what) : fmt::format("{}: {}: {}", file, where, what));
  }

  std::string str(const toml::table& t, const char* key, std::string_view where, bool required) {
    auto node = t.get(key);
    if (!node) {
      if (required) err(where, fmt::format("缺少 {}", key));
      return {};
    }
    if (auto v = node->value<std::string>()) return *v;
    err(where, fmt::format("{} 应该是字符串", key));
    return {};
  }

  std::optional<std::int64_t> integer(const toml::table& t, const char* key, std::string_view where) {
    auto node = t.get(key);
    if (!node) return std::nullopt;
    if (auto v = node->value<std::int64_t>(); v && node->is_integer()) return *v;
    err(where, fmt::format("{} 应该是整数", key));
    return std::nullopt;
  }

  bool boolean(const toml::table& t, const char* key, std::string_view where, bool def) {
    auto node = t.get(key);
    if (!node) return def;
    if (auto v = node->value<bool>(); v && node->is_boolean()) return *v;
    err(where, fmt::format("{} 应该是 true 或 false", key));
    return def;
  }

  Expr expr(const toml::table& t, const char* key, std::string_view where) {
    auto text = str(t, key, where, false);
    if (text.empty()) return {};
    auto e = Expr::parse(text);
    if (!e) {
      err(where, fmt::format("{} 写错了（{}）：{}", key, text, e.error().message));
      return {};
    }
    return *e;
  }

  void check_keys(const toml::table& t, std::string_view where, std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) == known.end()) err(where, fmt::format("不认识的字段 {}", k.str()));
    }
  }

  Question question(const toml::table& t, std::size_t index) {
    Question q;
    q.id = str(t, "id", fmt::format("第{}题", index + 1), true);
    std::string where = fmt::format("题目 {}", q.id.empty() ? fmt::format("#{}", index + 1) : q.id);
    check_keys(t, where, {"id", "type", "label", "intro", "prompt", "options", "min", "max", "unit", "dont_know",
                          "required", "when", "constraint", "constraint_message"});
    auto type = str(t, "type", where, true);
    static const std::map<std::string, QuestionType> types = {{"single", QuestionType::kSingle},
                                                              {"multiple", QuestionType::kMultiple},
                                                              {"integer", QuestionType::kInteger},
                                                              {"date", QuestionType::kDate},
                                                              {"text", QuestionType::kText}};
    if (auto it = types.find(type); it != types.end()) q.type = it->second;
    else if (!type.empty()) err(where, fmt::format("type 只能是 single、multiple、integer、date、text，不能是 {}", type));
    q.prompt = str(t, "prompt", where, true);
    q.label = str(t, "label", where, false);
    q.intro = str(t, "intro", where, false);
    q.unit = str(t, "unit", where, false);
    q.min = integer(t, "min", where);
    q.max = integer(t, "max", where);
    q.dont_know = boolean(t, "dont_know", where, false);
    q.required = boolean(t, "required", where, true);
    q.when = expr(t, "when", where);
    q.constraint = expr(t, "constraint", where);
    q.constraint_message = str(t, "constraint_message", where, false);
    if (auto opts = t.get("options")) {
      const auto* arr = opts->as_array();
      if (!arr) err(where, "options 应该是数组");
      for (std::size_t i = 0; arr && i < arr->size(); ++i) {
        const auto* ot = arr->get(i)->as_table();
        std::string ow = fmt::format("{} 选项{}", where, i + 1);
        if (!ot) {
          err(ow, "选项应该写成 { code = \"…\", text = \"…\" }");
          continue;
        }
        check_keys(*ot, ow, {"code", "text", "synonyms", "exclusive"});
        Option o;
        o.code = str(*ot, "code", ow, true);
        o.text = str(*ot, "text", ow, true);
        o.exclusive = boolean(*ot, "exclusive", ow, false);
        if (auto syn = ot->get("synonyms")) {
          const auto* sa = syn->as_array();
          if (!sa) err(ow, "synonyms 应该是字符串数组");
          for (std::size_t k = 0; sa && k < sa->size(); ++k) {
            if (auto s = sa->get(k)->value<std::string>(); s && !s->empty()) o.synonyms.push_back(*s);
            else err(ow, "synonyms 里只能是非空字符串");
          }
        }
        q.options.push_back(std::move(o));
      }
    }
    if (q.label.empty()) q.label = q.id;
    return q;
  }
};

// Question ids an expression depends on, following calculated fields (cycles stop the walk).
void question_deps(const Survey& s, const Expr& e, std::set<std::string>& out, std::set<std::string>& seen_calcs) {
  for (const auto& id : e.identifiers()) {
    if (s.find(id)) {
      out.insert(id);
    } else if (const Calc* c = s.find_calc(id); c && seen_calcs.insert(id).second) {
      question_deps(s, c->expr, out, seen_calcs);
    } else if (kBuiltins.count(id)) {
      out.insert(id);
    }
  }
}

// Candidate values of one dependency when looking for an answer path that makes a `when` true.
std::vector<EValue> candidates(const Survey& s, const std::string& id, const std::vector<std::int64_t>& literals) {
  std::vector<EValue> out;
  if (id == "age_months") {
    for (int m = s.min_age_months; m <= s.max_age_months; ++m) out.push_back(EValue::integer(m));
    return out;
  }
  if (id == "age_days") {
    for (int m = s.min_age_months; m <= s.max_age_months + 1; ++m) out.push_back(EValue::integer(m * 30));
    for (auto l : literals) out.push_back(EValue::integer(l));
    return out;
  }
  out.push_back(EValue::missing());
  const Question* q = s.find(id);
  switch (q->type) {
    case QuestionType::kSingle:
      for (const auto& o : q->options) out.push_back(EValue::str(o.code));
      break;
    case QuestionType::kMultiple: {
      std::set<std::string> prefix;
      for (const auto& o : q->options) {
        out.push_back(EValue::codes({o.code}));
        prefix.insert(o.code);
        if (prefix.size() > 1) out.push_back(EValue::codes(prefix));
      }
      break;
    }
    case QuestionType::kInteger: {
      std::set<std::int64_t> vals;
      if (q->min) vals.insert(*q->min);
      if (q->max) vals.insert(*q->max);
      for (auto l : literals)
        for (auto v : {l - 1, l, l + 1})
          if (q->min && q->max && v >= *q->min && v <= *q->max) vals.insert(v);
      for (auto v : vals) out.push_back(EValue::integer(v));
      break;
    }
    case QuestionType::kDate:
    case QuestionType::kText:
      out.push_back(EValue::str("2000-01-01"));
      break;
  }
  return out;
}

// True when some combination of candidate answers makes `when` true, or when there are too many
// combinations to try (then the question is assumed reachable).
bool reachable(const Survey& s, const Expr& when) {
  std::set<std::string> deps, seen;
  question_deps(s, when, deps, seen);
  std::vector<std::int64_t> literals = when.int_literals();
  for (const auto& id : seen)
    for (auto l : s.find_calc(id)->expr.int_literals()) literals.push_back(l);
  std::vector<std::string> names(deps.begin(), deps.end());
  std::vector<std::vector<EValue>> cands;
  double combos = 1;
  for (const auto& n : names) {
    cands.push_back(candidates(s, n, literals));
    combos *= static_cast<double>(cands.back().size());
  }
  if (combos > 200000) return true;
  std::vector<std::size_t> idx(names.size(), 0);
  std::map<std::string, const EValue*> current;
  std::function<EValue(const std::string&)> lookup = [&](const std::string& id) -> EValue {
    if (auto it = current.find(id); it != current.end()) return *it->second;
    if (const Calc* c = s.find_calc(id)) return c->expr.eval(lookup);
    return EValue::missing();
  };
  while (true) {
    for (std::size_t i = 0; i < names.size(); ++i) current[names[i]] = &cands[i][idx[i]];
    if (when.eval(lookup).truthy()) return true;
    std::size_t i = 0;
    while (i < idx.size() && ++idx[i] == cands[i].size()) idx[i++] = 0;
    if (i == idx.size()) return false;
  }
}

}  // namespace

std::vector<std::string> validate(const Survey& s, std::string_view file) {
  std::vector<std::string> errors;
  auto err = [&](std::string_view where, std::string_view what) {
    errors.push_back(fmt::format("{}: {}: {}", file, where, what));
  };
  if (!valid_id(s.id)) err("survey", fmt::format("id 只能用小写字母、数字和下划线，且以字母开头：'{}'", s.id));
  if (s.title.empty()) err("survey", "缺少 title");
  if (s.min_age_months < 0 || s.max_age_months > 36 || s.min_age_months > s.max_age_months)
    err("survey", fmt::format("月龄范围 {}–{} 不对（应在 0–36 之间，且最小不大于最大）", s.min_age_months, s.max_age_months));
  if (s.questions.empty()) err("survey", "没有题目");

  std::set<std::string> ids;
  for (const auto& q : s.questions) {
    std::string where = fmt::format("题目 {}", q.id);
    if (!valid_id(q.id)) err(where, "id 只能用小写字母、数字和下划线，且以字母开头");
    if (kBuiltins.count(q.id) || q.id == "value") err(where, fmt::format("id {} 是保留字", q.id));
    if (!ids.insert(q.id).second) err(where, "id 重复");
  }
  for (const auto& c : s.calcs) {
    std::string where = fmt::format("计算字段 {}", c.id);
    if (!valid_id(c.id)) err(where, "id 只能用小写字母、数字和下划线，且以字母开头");
    if (kBuiltins.count(c.id) || c.id == "value") err(where, fmt::format("id {} 是保留字", c.id));
    if (!ids.insert(c.id).second) err(where, "id 与题目或其他计算字段重复");
    if (c.expr.empty()) err(where, "缺少 expr");
  }

  auto check_refs = [&](const Expr& e, std::string_view where, const char* what, int own_index, bool allow_value) {
    for (const auto& id : e.identifiers()) {
      if (kBuiltins.count(id) || s.find_calc(id) || (allow_value && id == "value")) continue;
      int i = s.index_of(id);
      if (i < 0) err(where, fmt::format("{} 引用了不存在的 {}", what, id));
      else if (own_index >= 0 && i >= own_index)
        err(where, fmt::format("{} 引用了{}题目 {}（只能引用前面的题）", what, i == own_index ? "本" : "后面的", id));
    }
    for (const auto& [id, code] : e.code_comparisons()) {
      const Question* q = s.find(id);
      if (!q) continue;
      if (q->type != QuestionType::kSingle && q->type != QuestionType::kMultiple) {
        if (q->type != QuestionType::kDate && q->type != QuestionType::kText)
          err(where, fmt::format("{} 把 {}（{}）和文字 '{}' 比较", what, id, type_name(q->type), code));
        continue;
      }
      if (std::none_of(q->options.begin(), q->options.end(), [&c = code](const Option& o) { return o.code == c; }))
        err(where, fmt::format("{} 里 {} 没有选项代码 '{}'", what, id, code));
    }
  };

  for (std::size_t i = 0; i < s.questions.size(); ++i) {
    const auto& q = s.questions[i];
    std::string where = fmt::format("题目 {}", q.id);
    if (q.prompt.empty()) err(where, "缺少 prompt");
    bool choice = q.type == QuestionType::kSingle || q.type == QuestionType::kMultiple;
    if (choice) {
      if (q.options.size() < 2) err(where, "选择题至少要有 2 个选项");
      if (q.options.size() > 20) err(where, "选项太多（最多 20 个）");
      std::set<std::string> codes, texts;
      for (const auto& o : q.options) {
        if (!valid_id(o.code, true)) err(where, fmt::format("选项代码 '{}' 只能用小写字母、数字和下划线", o.code));
        if (!codes.insert(o.code).second) err(where, fmt::format("选项代码 {} 重复", o.code));
        if (!o.text.empty() && !texts.insert(o.text).second) err(where, fmt::format("选项文字 {} 重复", o.text));
        if (o.exclusive && q.type != QuestionType::kMultiple) err(where, "exclusive 只用于多选题");
      }
      if (q.min || q.max) err(where, "选择题不能有 min/max");
    } else if (!q.options.empty()) {
      err(where, fmt::format("{} 题不能有 options", type_name(q.type)));
    }
    if (q.type == QuestionType::kInteger) {
      if (!q.min || !q.max) err(where, "整数题要写 min 和 max");
      else if (*q.min > *q.max) err(where, fmt::format("范围不对：min {} 大于 max {}", *q.min, *q.max));
      else if (*q.min < 0 || *q.max > 100000) err(where, "范围应在 0–100000 之间");
    } else if (q.min || q.max) {
      err(where, "只有整数题能写 min/max");
    }
    if (q.dont_know && choice) err(where, "选择题的“不知道”请写成一个选项，不用 dont_know");
    if (!q.constraint.empty() && q.constraint_message.empty()) err(where, "有 constraint 就要写 constraint_message（中文提示）");
    check_refs(q.when, where, "when", static_cast<int>(i), false);
    check_refs(q.constraint, where, "constraint", static_cast<int>(i), true);
  }
  for (const auto& c : s.calcs) check_refs(c.expr, fmt::format("计算字段 {}", c.id), "expr", -1, false);

  // Cycles among calculated fields (a question can only look back, so questions cannot cycle).
  std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
  std::function<bool(const std::string&, std::vector<std::string>&)> dfs = [&](const std::string& id,
                                                                               std::vector<std::string>& path) {
    state[id] = 1;
    path.push_back(id);
    for (const auto& dep : s.find_calc(id)->expr.identifiers()) {
      if (!s.find_calc(dep)) continue;
      if (state[dep] == 1) {
        auto from = std::find(path.begin(), path.end(), dep);
        std::string cycle;
        for (auto it = from; it != path.end(); ++it) cycle += *it + " → ";
        err(fmt::format("计算字段 {}", dep), fmt::format("循环引用：{}{}", cycle, dep));
        return true;
      }
      if (state[dep] == 0 && dfs(dep, path)) return true;
    }
    path.pop_back();
    state[id] = 2;
    return false;
  };
  bool cyclic = false;
  for (const auto& c : s.calcs) {
    std::vector<std::string> path;
    if (state[c.id] == 0 && dfs(c.id, path)) cyclic = true;
  }
  if (!errors.empty() || cyclic) return errors;

  // A `when` must not reach a later question through a calculated field either.
  for (std::size_t i = 0; i < s.questions.size(); ++i) {
    std::set<std::string> deps, seen;
    question_deps(s, s.questions[i].when, deps, seen);
    for (const auto& d : deps) {
      int k = s.index_of(d);
      if (k >= static_cast<int>(i))
        err(fmt::format("题目 {}", s.questions[i].id), fmt::format("when 通过计算字段引用了{}题目 {}", k == static_cast<int>(i) ? "本" : "后面的", d));
    }
  }
  if (!errors.empty()) return errors;
  for (const auto& q : s.questions)
    if (!q.when.empty() && !reachable(s, q.when))
      err(fmt::format("题目 {}", q.id), fmt::format("永远不会被问到：when（{}）在任何回答和月龄下都不成立", q.when.text()));
  return errors;
}

Result<Survey> load_survey(std::string_view toml_text, std::string_view file) {
  Loader L{std::string(file), {}};
  toml::table root;
  try {
    root = toml::parse(toml_text, file);
  } catch (const toml::parse_error& e) {
    return fail("survey.bad_definition", fmt::format("{}:{}:{}: TOML 格式错误：{}", file, e.source().begin.line,
                                                     e.source().begin.column, e.description()));
  }
  Survey s;
  L.check_keys(root, "", {"id", "version", "title", "intro", "outro", "min_age_months", "max_age_months", "question", "calc"});
  s.id = L.str(root, "id", "survey", true);
  s.title = L.str(root, "title", "survey", true);
  s.intro = L.str(root, "intro", "survey", false);
  s.outro = L.str(root, "outro", "survey", false);
  s.version = static_cast<int>(L.integer(root, "version", "survey").value_or(1));
  s.min_age_months = static_cast<int>(L.integer(root, "min_age_months", "survey").value_or(0));
  s.max_age_months = static_cast<int>(L.integer(root, "max_age_months", "survey").value_or(36));
  if (auto qs = root.get("question")) {
    const auto* arr = qs->as_array();
    if (!arr) L.err("survey", "question 应该写成 [[question]]");
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      if (const auto* t = arr->get(i)->as_table()) s.questions.push_back(L.question(*t, i));
      else L.err(fmt::format("第{}题", i + 1), "应该写成 [[question]]");
    }
  }
  if (auto cs = root.get("calc")) {
    const auto* arr = cs->as_array();
    if (!arr) L.err("survey", "calc 应该写成 [[calc]]");
    for (std::size_t i = 0; arr && i < arr->size(); ++i) {
      const auto* t = arr->get(i)->as_table();
      if (!t) {
        L.err(fmt::format("第{}个计算字段", i + 1), "应该写成 [[calc]]");
        continue;
      }
      Calc c;
      c.id = L.str(*t, "id", fmt::format("第{}个计算字段", i + 1), true);
      std::string where = fmt::format("计算字段 {}", c.id);
      L.check_keys(*t, where, {"id", "expr"});
      c.expr = L.expr(*t, "expr", where);
      s.calcs.push_back(std::move(c));
    }
  }
  if (L.errors.empty()) L.errors = validate(s, file);
  if (!L.errors.empty()) {
    std::string msg;
    for (const auto& e : L.errors) msg += (msg.empty() ? "" : "\n") + e;
    return fail("survey.bad_definition", msg);
  }
  return s;
}

Result<std::vector<Survey>> load_survey_dir(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  if (ec) return fail("survey.bad_dir", fmt::format("读不了问卷目录 {}：{}", dir, ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<Survey> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    if (!in) return fail("survey.bad_dir", fmt::format("读不了 {}", f.string()));
    auto s = load_survey(buf.str(), f.filename().string());
    if (!s) return s.error();
    out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace yuer::survey
