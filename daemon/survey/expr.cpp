#include "daemon/survey/expr.h"

#include <fmt/format.h>

#include <cctype>

namespace yuer::survey {

struct Node {
  enum class Op { kInt, kStr, kIdent, kCall, kNot, kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe, kHas, kAdd, kSub };
  Op op = Op::kInt;
  std::int64_t n = 0;
  std::string s;  // string literal, identifier or function name
  std::vector<std::shared_ptr<const Node>> kids;
};

namespace {

using NodeP = std::shared_ptr<const Node>;

struct Token {
  enum class Kind { kEnd, kInt, kStr, kIdent, kSym } kind = Kind::kEnd;
  std::string text;
  std::int64_t n = 0;
  std::size_t pos = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src) {}

  Result<NodeP> parse() {
    if (auto e = lex(); !e.empty()) return fail("survey.bad_expr", e);
    auto root = parse_or();
    if (!error_.empty()) return fail("survey.bad_expr", error_);
    if (peek().kind != Token::Kind::kEnd) return fail("survey.bad_expr", at(peek(), "多余的内容"));
    return root;
  }

 private:
  std::string lex() {
    std::size_t i = 0;
    while (i < src_.size()) {
      char c = src_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        Token t{Token::Kind::kInt, "", 0, i};
        while (i < src_.size() && std::isdigit(static_cast<unsigned char>(src_[i]))) {
          if (t.n > 1'000'000'000) return fmt::format("第{}个字符：数字太大", t.pos + 1);
          t.n = t.n * 10 + (src_[i++] - '0');
        }
        toks_.push_back(t);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        Token t{Token::Kind::kIdent, "", 0, i};
        while (i < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '_')) t.text += src_[i++];
        toks_.push_back(t);
      } else if (c == '\'' || c == '"') {
        Token t{Token::Kind::kStr, "", 0, i};
        auto end = src_.find(c, i + 1);
        if (end == std::string_view::npos) return fmt::format("第{}个字符：引号没有结束", i + 1);
        t.text = std::string(src_.substr(i + 1, end - i - 1));
        i = end + 1;
        toks_.push_back(t);
      } else {
        static constexpr std::string_view two[] = {"==", "!=", "<=", ">="};
        Token t{Token::Kind::kSym, "", 0, i};
        for (auto s : two)
          if (src_.substr(i, 2) == s) t.text = std::string(s);
        if (t.text.empty()) {
          if (std::string_view("<>()+-,").find(c) == std::string_view::npos)
            return fmt::format("第{}个字符：不认识的符号 '{}'", i + 1, c);
          t.text = std::string(1, c);
        }
        i += t.text.size();
        toks_.push_back(t);
      }
    }
    toks_.push_back({Token::Kind::kEnd, "", 0, src_.size()});
    return {};
  }

  const Token& peek() const { return toks_[pos_]; }
  Token take() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool is_word(const char* w) const { return peek().kind == Token::Kind::kIdent && peek().text == w; }
  bool is_sym(const char* s) const { return peek().kind == Token::Kind::kSym && peek().text == s; }
  static std::string at(const Token& t, std::string_view what) { return fmt::format("第{}个字符：{}", t.pos + 1, what); }
  NodeP error(const Token& t, std::string_view what) {
    if (error_.empty()) error_ = at(t, what);
    return std::make_shared<Node>();
  }
  static NodeP make(Node::Op op, std::vector<NodeP> kids) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->kids = std::move(kids);
    return n;
  }

  NodeP parse_or() {
    auto l = parse_and();
    while (error_.empty() && is_word("or")) {
      take();
      l = make(Node::Op::kOr, {l, parse_and()});
    }
    return l;
  }
  NodeP parse_and() {
    auto l = parse_not();
    while (error_.empty() && is_word("and")) {
      take();
      l = make(Node::Op::kAnd, {l, parse_not()});
    }
    return l;
  }
  NodeP parse_not() {
    if (is_word("not")) {
      take();
      return make(Node::Op::kNot, {parse_not()});
    }
    return parse_cmp();
  }
  NodeP parse_cmp() {
    auto l = parse_sum();
    static const std::pair<const char*, Node::Op> ops[] = {{"==", Node::Op::kEq}, {"!=", Node::Op::kNe},
                                                            {"<=", Node::Op::kLe}, {">=", Node::Op::kGe},
                                                            {"<", Node::Op::kLt},  {">", Node::Op::kGt}};
    for (auto [sym, op] : ops) {
      if (is_sym(sym)) {
        take();
        return make(op, {l, parse_sum()});
      }
    }
    if (is_word("has")) {
      take();
      return make(Node::Op::kHas, {l, parse_sum()});
    }
    return l;
  }
  NodeP parse_sum() {
    auto l = parse_atom();
    while (error_.empty() && (is_sym("+") || is_sym("-"))) {
      auto op = take().text == "+" ? Node::Op::kAdd : Node::Op::kSub;
      l = make(op, {l, parse_atom()});
    }
    return l;
  }
  NodeP parse_atom() {
    Token t = take();
    auto n = std::make_shared<Node>();
    switch (t.kind) {
      case Token::Kind::kInt:
        n->op = Node::Op::kInt;
        n->n = t.n;
        return n;
      case Token::Kind::kStr:
        n->op = Node::Op::kStr;
        n->s = t.text;
        return n;
      case Token::Kind::kIdent: {
        if (t.text == "and" || t.text == "or" || t.text == "not" || t.text == "has")
          return error(t, fmt::format("这里需要一个值，不能是 {}", t.text));
        if (t.text == "true" || t.text == "false") {
          n->op = Node::Op::kInt;
          n->n = t.text == "true";
          return n;
        }
        n->s = t.text;
        if (!is_sym("(")) {
          n->op = Node::Op::kIdent;
          return n;
        }
        take();
        n->op = Node::Op::kCall;
        if (t.text != "answered" && t.text != "count" && t.text != "num")
          return error(t, fmt::format("不认识的函数 {}（只有 answered、count、num）", t.text));
        const Token& arg = peek();
        if (arg.kind != Token::Kind::kIdent) return error(arg, fmt::format("{}( ) 里要写一个题目或计算字段的 id", t.text));
        n->kids.push_back(parse_atom());
        if (!is_sym(")")) return error(peek(), "缺少 )");
        take();
        return n;
      }
      case Token::Kind::kSym:
        if (t.text == "(") {
          auto inner = parse_or();
          if (!is_sym(")")) return error(peek(), "缺少 )");
          take();
          return inner;
        }
        if (t.text == "-" && peek().kind == Token::Kind::kInt) {
          n->op = Node::Op::kInt;
          n->n = -take().n;
          return n;
        }
        return error(t, fmt::format("这里不能是 {}", t.text));
      case Token::Kind::kEnd:
        return error(t, "表达式不完整");
    }
    return error(t, "表达式不完整");
  }

  std::string_view src_;
  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  std::string error_;
};

using Lookup = std::function<EValue(const std::string&)>;

EValue eval_node(const Node& n, const Lookup& lookup);

EValue compare(Node::Op op, const EValue& a, const EValue& b) {
  using K = EValue::Kind;
  if (a.kind == K::kMissing || b.kind == K::kMissing) return EValue::integer(0);
  if (op == Node::Op::kHas) {
    if (a.kind == K::kSet && b.kind == K::kStr) return EValue::integer(a.set.count(b.s) > 0);
    if (a.kind == K::kStr && b.kind == K::kStr) return EValue::integer(a.s == b.s);
    return EValue::integer(0);
  }
  if (a.kind != b.kind || a.kind == K::kSet) {
    if (op == Node::Op::kNe) return EValue::integer(a.kind != b.kind || a.set != b.set);
    return EValue::integer(op == Node::Op::kEq && a.kind == K::kSet && b.kind == K::kSet && a.set == b.set);
  }
  int c = a.kind == K::kInt ? (a.n < b.n ? -1 : a.n > b.n ? 1 : 0) : a.s.compare(b.s);
  switch (op) {
    case Node::Op::kEq: return EValue::integer(c == 0);
    case Node::Op::kNe: return EValue::integer(c != 0);
    case Node::Op::kLt: return EValue::integer(c < 0);
    case Node::Op::kLe: return EValue::integer(c <= 0);
    case Node::Op::kGt: return EValue::integer(c > 0);
    case Node::Op::kGe: return EValue::integer(c >= 0);
    default: return EValue::integer(0);
  }
}

EValue eval_node(const Node& n, const Lookup& lookup) {
  using K = EValue::Kind;
  switch (n.op) {
    case Node::Op::kInt: return EValue::integer(n.n);
    case Node::Op::kStr: return EValue::str(n.s);
    case Node::Op::kIdent: return lookup(n.s);
    case Node::Op::kCall: {
      EValue v = lookup(n.kids[0]->s);
      if (n.s == "answered") return EValue::integer(v.kind != K::kMissing);
      if (n.s == "count")
        return EValue::integer(v.kind == K::kSet ? static_cast<std::int64_t>(v.set.size()) : v.kind == K::kMissing ? 0 : 1);
      return EValue::integer(v.kind == K::kInt ? v.n : 0);  // num
    }
    case Node::Op::kNot: return EValue::integer(!eval_node(*n.kids[0], lookup).truthy());
    case Node::Op::kAnd:
      return EValue::integer(eval_node(*n.kids[0], lookup).truthy() && eval_node(*n.kids[1], lookup).truthy());
    case Node::Op::kOr:
      return EValue::integer(eval_node(*n.kids[0], lookup).truthy() || eval_node(*n.kids[1], lookup).truthy());
    case Node::Op::kAdd:
    case Node::Op::kSub: {
      EValue a = eval_node(*n.kids[0], lookup), b = eval_node(*n.kids[1], lookup);
      if (a.kind != K::kInt || b.kind != K::kInt) return EValue::missing();
      return EValue::integer(n.op == Node::Op::kAdd ? a.n + b.n : a.n - b.n);
    }
    default: return compare(n.op, eval_node(*n.kids[0], lookup), eval_node(*n.kids[1], lookup));
  }
}

void walk(const Node& n, const std::function<void(const Node&)>& f) {
  f(n);
  for (const auto& k : n.kids) walk(*k, f);
}

}  // namespace

Result<Expr> Expr::parse(std::string_view text) {
  Parser p(text);
  auto root = p.parse();
  if (!root) return root.error();
  Expr e;
  e.root_ = *root;
  e.text_ = std::string(text);
  return e;
}

EValue Expr::eval(const std::function<EValue(const std::string&)>& lookup) const {
  if (!root_) return EValue::integer(1);
  return eval_node(*root_, lookup);
}

std::vector<std::string> Expr::identifiers() const {
  std::vector<std::string> out;
  if (root_)
    walk(*root_, [&](const Node& n) {
      if (n.op == Node::Op::kIdent) out.push_back(n.s);
    });
  return out;
}

std::vector<std::pair<std::string, std::string>> Expr::code_comparisons() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (root_)
    walk(*root_, [&](const Node& n) {
      if ((n.op == Node::Op::kEq || n.op == Node::Op::kNe || n.op == Node::Op::kHas) && n.kids[0]->op == Node::Op::kIdent &&
          n.kids[1]->op == Node::Op::kStr)
        out.emplace_back(n.kids[0]->s, n.kids[1]->s);
    });
  return out;
}

std::vector<std::int64_t> Expr::int_literals() const {
  std::vector<std::int64_t> out;
  if (root_)
    walk(*root_, [&](const Node& n) {
      if (n.op == Node::Op::kInt) out.push_back(n.n);
    });
  return out;
}

}  // namespace yuer::survey
