#include "chat/jinja/parser.h"

#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"

namespace parley::chat::jinja {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::data: return "template data";
    case Tok::variable_begin: return "begin of print statement";
    case Tok::variable_end: return "end of print statement";
    case Tok::block_begin: return "begin of statement block";
    case Tok::block_end: return "end of statement block";
    case Tok::name: return "'" + t.value + "'";
    case Tok::string: return "string";
    case Tok::integer: return "integer";
    case Tok::floating: return "float";
    case Tok::op: return std::string("'") + op_text(t.op) + "'";
    case Tok::eof: return "end of template";
  }
  return "token";
}

// Calls f on every name loaded anywhere in a body (used to see whether a macro reads
// varargs/kwargs/caller, which changes how it accepts arguments).
template <class F>
void walk_expr(const Expr* e, const F& f);

template <class F>
void walk_args(const CallArgsExpr& a, const F& f) {
  for (const auto& x : a.args) walk_expr(x.get(), f);
  for (const auto& kv : a.kwargs) walk_expr(kv.second.get(), f);
  walk_expr(a.dyn_args.get(), f);
  walk_expr(a.dyn_kwargs.get(), f);
}

template <class F>
void walk_expr(const Expr* e, const F& f) {
  if (!e) return;
  switch (e->kind) {
    case ExprKind::name: f(static_cast<const NameExpr*>(e)->sym); break;
    case ExprKind::getattr: walk_expr(static_cast<const GetattrExpr*>(e)->object.get(), f); break;
    case ExprKind::getitem: {
      auto* g = static_cast<const GetitemExpr*>(e);
      walk_expr(g->object.get(), f);
      walk_expr(g->index.get(), f);
      break;
    }
    case ExprKind::slice: {
      auto* s = static_cast<const SliceExpr*>(e);
      walk_expr(s->start.get(), f);
      walk_expr(s->stop.get(), f);
      walk_expr(s->step.get(), f);
      break;
    }
    case ExprKind::call: {
      auto* c = static_cast<const CallExpr*>(e);
      walk_expr(c->callee.get(), f);
      walk_args(c->args, f);
      break;
    }
    case ExprKind::filter: {
      auto* c = static_cast<const FilterExpr*>(e);
      walk_expr(c->operand.get(), f);
      walk_args(c->args, f);
      break;
    }
    case ExprKind::test: {
      auto* c = static_cast<const TestExpr*>(e);
      walk_expr(c->operand.get(), f);
      walk_args(c->args, f);
      break;
    }
    case ExprKind::not_:
    case ExprKind::neg:
    case ExprKind::pos: walk_expr(static_cast<const UnaryExpr*>(e)->operand.get(), f); break;
    case ExprKind::binary: {
      auto* b = static_cast<const BinaryExpr*>(e);
      walk_expr(b->left.get(), f);
      walk_expr(b->right.get(), f);
      break;
    }
    case ExprKind::and_:
    case ExprKind::or_: {
      auto* b = static_cast<const LogicExpr*>(e);
      walk_expr(b->left.get(), f);
      walk_expr(b->right.get(), f);
      break;
    }
    case ExprKind::compare: {
      auto* c = static_cast<const CompareExpr*>(e);
      walk_expr(c->first.get(), f);
      for (const auto& r : c->rest) walk_expr(r.second.get(), f);
      break;
    }
    case ExprKind::concat:
      for (const auto& p : static_cast<const ConcatExpr*>(e)->parts) walk_expr(p.get(), f);
      break;
    case ExprKind::cond: {
      auto* c = static_cast<const CondExpr*>(e);
      walk_expr(c->test.get(), f);
      walk_expr(c->then_value.get(), f);
      walk_expr(c->else_value.get(), f);
      break;
    }
    case ExprKind::list:
    case ExprKind::tuple:
      for (const auto& p : static_cast<const ListExpr*>(e)->items) walk_expr(p.get(), f);
      break;
    case ExprKind::dict:
      for (const auto& p : static_cast<const DictExpr*>(e)->items) {
        walk_expr(p.first.get(), f);
        walk_expr(p.second.get(), f);
      }
      break;
    case ExprKind::constant: break;
  }
}

template <class F>
void walk_body(const Body& body, const F& f);

template <class F>
void walk_macro(const MacroDef& m, const F& f) {
  for (const auto& d : m.defaults) walk_expr(d.get(), f);
  walk_body(m.body, f);
}

template <class F>
void walk_body(const Body& body, const F& f) {
  for (const auto& sp : body) {
    const Stmt* s = sp.get();
    switch (s->kind) {
      case StmtKind::print: walk_expr(static_cast<const PrintStmt*>(s)->expr.get(), f); break;
      case StmtKind::if_: {
        auto* x = static_cast<const IfStmt*>(s);
        for (const auto& [test, b] : x->branches) {
          walk_expr(test.get(), f);
          walk_body(b, f);
        }
        walk_body(x->else_body, f);
        break;
      }
      case StmtKind::for_: {
        auto* x = static_cast<const ForStmt*>(s);
        walk_expr(x->iter.get(), f);
        walk_expr(x->filter.get(), f);
        walk_body(x->body, f);
        walk_body(x->else_body, f);
        break;
      }
      case StmtKind::set: walk_expr(static_cast<const SetStmt*>(s)->value.get(), f); break;
      case StmtKind::set_block: {
        auto* x = static_cast<const SetBlockStmt*>(s);
        walk_expr(x->filter.get(), f);
        walk_body(x->body, f);
        break;
      }
      case StmtKind::macro: walk_macro(static_cast<const MacroStmt*>(s)->def, f); break;
      case StmtKind::call_block: {
        auto* x = static_cast<const CallBlockStmt*>(s);
        walk_expr(x->call.get(), f);
        walk_macro(x->caller, f);
        break;
      }
      case StmtKind::filter_block: {
        auto* x = static_cast<const FilterBlockStmt*>(s);
        walk_expr(x->filter.get(), f);
        walk_body(x->body, f);
        break;
      }
      case StmtKind::with: {
        auto* x = static_cast<const WithStmt*>(s);
        for (const auto& v : x->values) walk_expr(v.get(), f);
        walk_body(x->body, f);
        break;
      }
      case StmtKind::scope: walk_body(static_cast<const ScopeStmt*>(s)->body, f); break;
      default: break;
    }
  }
}

class Parser {
 public:
  Parser(std::vector<Token> toks, const ParseLimits& limits)
      : toks_(std::move(toks)), limits_(limits) {}

  Program run() {
    prog_.body = subparse({}, true);
    return std::move(prog_);
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[i_ + 1 < toks_.size() ? i_ + 1 : i_]; }
  void next() {
    if (i_ + 1 < toks_.size()) i_++;
  }
  bool is_name(const char* v) const { return cur().type == Tok::name && cur().value == v; }
  bool is_op(Op o) const { return cur().type == Tok::op && cur().op == o; }
  bool skip_name(const char* v) {
    if (!is_name(v)) return false;
    next();
    return true;
  }
  bool skip_op(Op o) {
    if (!is_op(o)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const std::string& msg) const {
    throw_error(ErrorKind::syntax, msg, cur().line);
  }
  void expect_op(Op o) {
    if (!is_op(o)) fail(std::string("expected token '") + op_text(o) + "', got " + describe(cur()));
    next();
  }
  void expect(Tok t, const char* what) {
    if (cur().type != t) fail(std::string("expected token '") + what + "', got " + describe(cur()));
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::name) fail("expected token 'name', got " + describe(cur()));
    std::string v = cur().value;
    next();
    return v;
  }

  uint32_t intern(const std::string& name) {
    auto it = syms_.find(name);
    if (it != syms_.end()) return it->second;
    auto id = static_cast<uint32_t>(prog_.names.size());
    prog_.names.push_back(name);
    syms_.emplace(name, id);
    return id;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p_(p) {
      if (++p_->depth_ > p_->limits_.max_nesting) {
        p_->fail("template nested too deeply (more than " + std::to_string(p_->limits_.max_nesting) +
                 " levels)");
      }
    }
    ~DepthGuard() { p_->depth_--; }
    Parser* p_;
  };

  // ---- statements ----
  bool at_end_name(std::initializer_list<const char*> names) const {
    if (cur().type != Tok::name) return false;
    for (const char* n : names) {
      if (cur().value == n) return true;
    }
    return false;
  }

  Body subparse(std::initializer_list<const char*> end_names, bool top) {
    Body body;
    while (cur().type != Tok::eof) {
      const Token& t = cur();
      if (t.type == Tok::data) {
        body.push_back(std::make_unique<DataStmt>(t.line, t.value));
        next();
      } else if (t.type == Tok::variable_begin) {
        uint32_t line = t.line;
        next();
        ExprPtr e = parse_tuple(false, true, {}, false);
        expect(Tok::variable_end, "end of print statement");
        body.push_back(std::make_unique<PrintStmt>(line, std::move(e)));
      } else if (t.type == Tok::block_begin) {
        next();
        if (!top && at_end_name(end_names)) return body;
        parse_statement(body);
        expect(Tok::block_end, "end of statement block");
      } else {
        fail("unexpected " + describe(t));
      }
    }
    if (!top) {
      std::string want;
      for (const char* n : end_names) want += (want.empty() ? "'" : " or '") + std::string(n) + "'";
      fail("unexpected end of template; Jinja was looking for " + want);
    }
    return body;
  }

  // parse_statements: optional colon, block end, body up to one of end_names (left current).
  Body parse_statements(std::initializer_list<const char*> end_names, bool drop_needle) {
    skip_op(Op::colon);
    expect(Tok::block_end, "end of statement block");
    Body b = subparse(end_names, false);
    if (drop_needle) next();
    return b;
  }

  void parse_statement(Body& out) {
    DepthGuard guard(this);
    if (cur().type != Tok::name) fail("tag name expected");
    const std::string tag = cur().value;
    uint32_t line = cur().line;
    if (tag == "for") return out.push_back(parse_for());
    if (tag == "if") return out.push_back(parse_if());
    if (tag == "set") return out.push_back(parse_set());
    if (tag == "macro") return out.push_back(parse_macro());
    if (tag == "call") return out.push_back(parse_call_block());
    if (tag == "filter") return out.push_back(parse_filter_block());
    if (tag == "with") return out.push_back(parse_with());
    if (tag == "print") {
      next();
      bool first = true;
      while (cur().type != Tok::block_end) {
        if (!first) expect_op(Op::comma);
        first = false;
        out.push_back(std::make_unique<PrintStmt>(line, parse_expression(true)));
      }
      return;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      next();
      return out.push_back(
          std::make_unique<Stmt>(tag == "break" ? StmtKind::break_ : StmtKind::continue_, line));
    }
    if (tag == "generation" || tag == "block" || tag == "autoescape") {
      next();
      if (tag == "block") {
        std::string name = expect_name();
        skip_name("scoped");
        skip_name("required");
        auto s = std::make_unique<ScopeStmt>(line);
        s->body = parse_statements({"endblock"}, true);
        skip_name(name.c_str());
        return out.push_back(std::move(s));
      }
      if (tag == "autoescape") parse_expression(true);  // autoescape is off for chat templates
      auto s = std::make_unique<ScopeStmt>(line);
      s->body = parse_statements({tag == "generation" ? "endgeneration" : "endautoescape"}, true);
      return out.push_back(std::move(s));
    }
    if (tag == "include" || tag == "import" || tag == "from" || tag == "extends") {
      fail("'" + tag + "' needs other templates, which chat templates cannot load");
    }
    fail("Encountered unknown tag '" + tag + "'.");
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<ForStmt>(cur().line);
    next();
    s->target = parse_assign_target(true, false, {"in"}, false);
    if (!skip_name("in")) fail("expected token 'in', got " + describe(cur()));
    s->iter = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    s->recursive = skip_name("recursive");
    s->loop_sym = intern("loop");
    loop_depth_++;
    s->body = parse_statements({"endfor", "else"}, false);
    loop_depth_--;
    s->uses_loop = s->recursive;
    walk_body(s->body, [&](uint32_t sym) { s->uses_loop |= sym == s->loop_sym; });
    bool has_else = cur().value == "else";
    next();
    if (has_else) {
      int saved = loop_depth_;
      loop_depth_ = 0;
      s->else_body = parse_statements({"endfor"}, true);
      loop_depth_ = saved;
    }
    return s;
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<IfStmt>(cur().line);
    next();
    while (true) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->branches.emplace_back(std::move(test), std::move(body));
      std::string which = cur().value;
      next();
      if (which == "elif") continue;
      if (which == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  StmtPtr parse_set() {
    uint32_t line = cur().line;
    next();
    Target target = parse_assign_target(true, false, {}, true);
    if (skip_op(Op::assign)) {
      auto s = std::make_unique<SetStmt>(line);
      s->target = std::move(target);
      s->value = parse_tuple(false, true, {}, false);
      return s;
    }
    auto s = std::make_unique<SetBlockStmt>(line);
    s->target = std::move(target);
    if (is_op(Op::pipe)) s->filter = parse_filter(nullptr, false);
    s->body = parse_statements({"endset"}, true);
    return s;
  }

  void parse_signature(MacroDef& m) {
    expect_op(Op::lparen);
    while (!is_op(Op::rparen)) {
      if (!m.params.empty()) expect_op(Op::comma);
      std::string name = expect_name();
      m.params.push_back(intern(name));
      m.param_names.push_back(name);
      if (skip_op(Op::assign)) {
        m.defaults.push_back(parse_expression(true));
      } else if (!m.defaults.empty()) {
        fail("non-default argument follows default argument");
      }
    }
    expect_op(Op::rparen);
  }

  void finish_macro(MacroDef& m, const char* end_tag) {
    int saved = loop_depth_;
    loop_depth_ = 0;
    m.body = parse_statements({end_tag}, true);
    loop_depth_ = saved;
    uint32_t varargs = intern("varargs"), kwargs = intern("kwargs"), caller = intern("caller");
    m.varargs_sym = varargs;
    m.kwargs_sym = kwargs;
    m.caller_sym = caller;
    walk_macro(m, [&](uint32_t sym) {
      if (sym == varargs) m.catch_varargs = true;
      if (sym == kwargs) m.catch_kwargs = true;
      if (sym == caller) m.uses_caller = true;
    });
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<MacroStmt>(cur().line);
    next();
    s->def.name = expect_name();
    s->sym = intern(s->def.name);
    parse_signature(s->def);
    finish_macro(s->def, "endmacro");
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = std::make_unique<CallBlockStmt>(cur().line);
    next();
    s->caller.name = "caller";
    if (is_op(Op::lparen)) parse_signature(s->caller);
    s->call = parse_expression(true);
    if (s->call->kind != ExprKind::call) fail("expected call");
    finish_macro(s->caller, "endcall");
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<FilterBlockStmt>(cur().line);
    next();
    s->filter = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = std::make_unique<WithStmt>(cur().line);
    next();
    while (cur().type != Tok::block_end) {
      if (!s->targets.empty()) expect_op(Op::comma);
      s->targets.push_back(parse_assign_target(true, false, {}, false));
      expect_op(Op::assign);
      s->values.push_back(parse_expression(true));
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  Target to_target(const Expr* e) {
    Target t;
    if (e->kind == ExprKind::name) {
      t.kind = Target::Kind::name;
      t.sym = static_cast<const NameExpr*>(e)->sym;
      return t;
    }
    if (e->kind == ExprKind::tuple) {
      t.kind = Target::Kind::tuple;
      for (const auto& item : static_cast<const ListExpr*>(e)->items) {
        t.items.push_back(to_target(item.get()));
      }
      return t;
    }
    throw_error(ErrorKind::syntax, "can't assign to this expression", e->line);
  }

  Target parse_assign_target(bool with_tuple, bool name_only,
                             std::initializer_list<const char*> extra_end, bool with_namespace) {
    if (with_namespace && look().type == Tok::op && look().op == Op::dot) {
      Target t;
      t.kind = Target::Kind::ns_attr;
      t.sym = intern(expect_name());
      next();  // the dot
      t.attr = expect_name();
      return t;
    }
    if (name_only) {
      Target t;
      t.sym = intern(expect_name());
      return t;
    }
    ExprPtr e = with_tuple ? parse_tuple(true, true, extra_end, false) : parse_primary();
    return to_target(e.get());
  }

  // ---- expressions ----
  bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
    if (cur().type == Tok::variable_end || cur().type == Tok::block_end || is_op(Op::rparen)) {
      return true;
    }
    return at_end_name(extra_end);
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                      std::initializer_list<const char*> extra_end, bool explicit_parens) {
    uint32_t line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(Op::comma);
      if (is_tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(Op::comma)) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got " + describe(cur()));
    }
    auto t = std::make_unique<ListExpr>(ExprKind::tuple, line);
    t->items = std::move(args);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    uint32_t line = cur().line;
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      auto c = std::make_unique<CondExpr>(line);
      c->test = parse_or();
      if (skip_name("else")) c->else_value = parse_condexpr();
      c->then_value = std::move(expr1);
      expr1 = std::move(c);
      line = cur().line;
    }
    return expr1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      uint32_t line = cur().line;
      next();
      left = std::make_unique<LogicExpr>(ExprKind::or_, line, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      uint32_t line = cur().line;
      next();
      left = std::make_unique<LogicExpr>(ExprKind::and_, line, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(this);
      uint32_t line = cur().line;
      next();
      return std::make_unique<UnaryExpr>(ExprKind::not_, line, parse_not());
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    uint32_t line = cur().line;
    ExprPtr expr = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CmpOp op;
      if (cur().type == Tok::op && (cur().op == Op::eq || cur().op == Op::ne ||
                                    cur().op == Op::lt || cur().op == Op::lteq ||
                                    cur().op == Op::gt || cur().op == Op::gteq)) {
        Op o = cur().op;
        op = o == Op::eq ? CmpOp::eq : o == Op::ne ? CmpOp::ne : o == Op::lt ? CmpOp::lt
           : o == Op::lteq ? CmpOp::le : o == Op::gt ? CmpOp::gt : CmpOp::ge;
        next();
      } else if (is_name("in")) {
        op = CmpOp::in;
        next();
      } else if (is_name("not") && look().type == Tok::name && look().value == "in") {
        op = CmpOp::not_in;
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = std::make_unique<CompareExpr>(line);
        cmp->first = std::move(expr);
      }
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (cmp) return cmp;
    return expr;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op(Op::add) || is_op(Op::sub)) {
      BinOp op = is_op(Op::add) ? BinOp::add : BinOp::sub;
      uint32_t line = cur().line;
      next();
      left = std::make_unique<BinaryExpr>(line, op, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    uint32_t line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op(Op::tilde)) return first;
    auto c = std::make_unique<ConcatExpr>(line);
    c->parts.push_back(std::move(first));
    while (skip_op(Op::tilde)) c->parts.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op(Op::mul) || is_op(Op::div) || is_op(Op::floordiv) || is_op(Op::mod)) {
      Op o = cur().op;
      BinOp op = o == Op::mul ? BinOp::mul : o == Op::div ? BinOp::div
               : o == Op::floordiv ? BinOp::floordiv : BinOp::mod;
      uint32_t line = cur().line;
      next();
      left = std::make_unique<BinaryExpr>(line, op, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op(Op::pow)) {
      uint32_t line = cur().line;
      next();
      left = std::make_unique<BinaryExpr>(line, BinOp::pow, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(this);
    uint32_t line = cur().line;
    ExprPtr node;
    if (is_op(Op::sub)) {
      next();
      node = std::make_unique<UnaryExpr>(ExprKind::neg, line, parse_unary(false));
    } else if (is_op(Op::add)) {
      next();
      node = std::make_unique<UnaryExpr>(ExprKind::pos, line, parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    uint32_t line = t.line;
    switch (t.type) {
      case Tok::name: {
        ExprPtr node;
        if (t.value == "true" || t.value == "True") {
          node = std::make_unique<ConstExpr>(line, Value::boolean(true));
        } else if (t.value == "false" || t.value == "False") {
          node = std::make_unique<ConstExpr>(line, Value::boolean(false));
        } else if (t.value == "none" || t.value == "None") {
          node = std::make_unique<ConstExpr>(line, Value::none());
        } else {
          node = std::make_unique<NameExpr>(line, intern(t.value));
        }
        next();
        return node;
      }
      case Tok::string: {
        std::string s = t.value;
        next();
        while (cur().type == Tok::string) {
          s += cur().value;
          next();
        }
        return std::make_unique<ConstExpr>(line, Value::string(std::move(s)));
      }
      case Tok::integer: {
        auto node = std::make_unique<ConstExpr>(line, Value::integer(t.ival));
        next();
        return node;
      }
      case Tok::floating: {
        auto node = std::make_unique<ConstExpr>(line, Value::floating(t.fval));
        next();
        return node;
      }
      case Tok::op:
        if (t.op == Op::lparen) {
          DepthGuard guard(this);
          next();
          ExprPtr e = parse_tuple(false, true, {}, true);
          expect_op(Op::rparen);
          return e;
        }
        if (t.op == Op::lbracket) return parse_list();
        if (t.op == Op::lbrace) return parse_dict();
        break;
      default: break;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_list() {
    DepthGuard guard(this);
    auto l = std::make_unique<ListExpr>(ExprKind::list, cur().line);
    expect_op(Op::lbracket);
    while (!is_op(Op::rbracket)) {
      if (!l->items.empty()) expect_op(Op::comma);
      if (is_op(Op::rbracket)) break;
      l->items.push_back(parse_expression(true));
    }
    expect_op(Op::rbracket);
    return l;
  }

  ExprPtr parse_dict() {
    DepthGuard guard(this);
    auto d = std::make_unique<DictExpr>(cur().line);
    expect_op(Op::lbrace);
    while (!is_op(Op::rbrace)) {
      if (!d->items.empty()) expect_op(Op::comma);
      if (is_op(Op::rbrace)) break;
      ExprPtr key = parse_expression(true);
      expect_op(Op::colon);
      ExprPtr value = parse_expression(true);
      d->items.emplace_back(std::move(key), std::move(value));
    }
    expect_op(Op::rbrace);
    return d;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(Op::dot) || is_op(Op::lbracket)) {
        node = parse_subscript(std::move(node));
      } else if (is_op(Op::lparen)) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op(Op::pipe)) {
        node = parse_filter(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op(Op::lparen)) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard guard(this);
    uint32_t line = cur().line;
    if (skip_op(Op::dot)) {
      if (cur().type == Tok::name) {
        auto g = std::make_unique<GetattrExpr>(line);
        g->object = std::move(node);
        g->attr = cur().value;
        g->missing_on_dict = std::make_shared<const UndefinedInfo>(
            UndefinedInfo{"'dict object' has no attribute '" + g->attr + "'", false});
        next();
        return g;
      }
      if (cur().type != Tok::integer) fail("expected name or number");
      auto g = std::make_unique<GetitemExpr>(line);
      g->object = std::move(node);
      g->index = std::make_unique<ConstExpr>(line, Value::integer(cur().ival));
      next();
      return g;
    }
    expect_op(Op::lbracket);
    std::vector<ExprPtr> args;
    while (!is_op(Op::rbracket)) {
      if (!args.empty()) expect_op(Op::comma);
      args.push_back(parse_subscribed());
    }
    expect_op(Op::rbracket);
    auto g = std::make_unique<GetitemExpr>(line);
    g->object = std::move(node);
    if (args.size() == 1) {
      g->index = std::move(args[0]);
    } else {
      auto t = std::make_unique<ListExpr>(ExprKind::tuple, line);
      t->items = std::move(args);
      g->index = std::move(t);
    }
    return g;
  }

  ExprPtr parse_subscribed() {
    uint32_t line = cur().line;
    std::vector<ExprPtr> args;
    if (is_op(Op::colon)) {
      next();
      args.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!is_op(Op::colon)) return node;
      next();
      args.push_back(std::move(node));
    }
    if (is_op(Op::colon)) {
      args.push_back(nullptr);
    } else if (!is_op(Op::rbracket) && !is_op(Op::comma)) {
      args.push_back(parse_expression(true));
    } else {
      args.push_back(nullptr);
    }
    if (is_op(Op::colon)) {
      next();
      if (!is_op(Op::rbracket) && !is_op(Op::comma)) {
        args.push_back(parse_expression(true));
      } else {
        args.push_back(nullptr);
      }
    } else {
      args.push_back(nullptr);
    }
    auto s = std::make_unique<SliceExpr>(line);
    s->start = std::move(args[0]);
    s->stop = std::move(args[1]);
    s->step = std::move(args[2]);
    return s;
  }

  CallArgsExpr parse_call_args() {
    CallArgsExpr a;
    expect_op(Op::lparen);
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression");
    };
    while (!is_op(Op::rparen)) {
      if (require_comma) {
        expect_op(Op::comma);
        if (is_op(Op::rparen)) break;
      }
      if (is_op(Op::mul)) {
        ensure(!a.dyn_args && !a.dyn_kwargs);
        next();
        a.dyn_args = parse_expression(true);
      } else if (is_op(Op::pow)) {
        ensure(!a.dyn_kwargs);
        next();
        a.dyn_kwargs = parse_expression(true);
      } else if (cur().type == Tok::name && look().type == Tok::op && look().op == Op::assign) {
        ensure(!a.dyn_kwargs);
        std::string key = cur().value;
        next();
        next();
        a.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!a.dyn_args && !a.dyn_kwargs && a.kwargs.empty());
        a.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(Op::rparen);
    return a;
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard guard(this);
    auto c = std::make_unique<CallExpr>(cur().line);
    c->callee = std::move(node);
    c->args = parse_call_args();
    return c;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(Op::dot)) {
      next();
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op(Op::pipe) || start_inline) {
      DepthGuard guard(this);
      if (!start_inline) next();
      start_inline = false;
      auto f = std::make_unique<FilterExpr>(cur().line);
      f->name = parse_dotted_name();
      f->def = find_filter(f->name);
      if (!f->def) throw_error(ErrorKind::syntax, "No filter named '" + f->name + "'.", f->line);
      if (is_op(Op::lparen)) f->args = parse_call_args();
      f->operand = std::move(node);
      node = std::move(f);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    DepthGuard guard(this);
    uint32_t line = cur().line;
    next();  // is
    bool negated = skip_name("not");
    auto t = std::make_unique<TestExpr>(line);
    t->name = parse_dotted_name();
    t->def = find_test(t->name);
    if (!t->def) throw_error(ErrorKind::syntax, "No test named '" + t->name + "'.", line);
    if (is_op(Op::lparen)) {
      t->args = parse_call_args();
    } else if ((cur().type == Tok::name || cur().type == Tok::string ||
                cur().type == Tok::integer || cur().type == Tok::floating || is_op(Op::lparen) ||
                is_op(Op::lbracket) || is_op(Op::lbrace)) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      t->args.args.push_back(parse_postfix(parse_primary()));
    }
    t->operand = std::move(node);
    if (negated) return std::make_unique<UnaryExpr>(ExprKind::not_, line, std::move(t));
    return t;
  }

  std::vector<Token> toks_;
  ParseLimits limits_;
  size_t i_ = 0;
  size_t depth_ = 0;
  int loop_depth_ = 0;
  Program prog_;
  std::unordered_map<std::string, uint32_t> syms_;
};

}  // namespace

Program parse_tokens(std::vector<Token> tokens, const ParseLimits& limits) {
  return Parser(std::move(tokens), limits).run();
}

}  // namespace parley::chat::jinja
