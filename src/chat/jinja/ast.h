// The parsed template: expression and statement nodes, mirroring jinja2's node types. Nodes are
// immutable after parsing, so one parsed template renders on many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace parley::chat::jinja {

struct FilterDef;
struct TestDef;

enum class ExprKind : uint8_t {
  constant, name, getattr, getitem, slice, call, filter, test, not_, neg, pos, binary, compare,
  and_, or_, concat, cond, list, tuple, dict,
};

enum class BinOp : uint8_t { add, sub, mul, div, floordiv, mod, pow };
enum class CmpOp : uint8_t { eq, ne, lt, le, gt, ge, in, not_in };

struct Expr {
  Expr(ExprKind k, uint32_t l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  uint32_t line;
};
using ExprPtr = std::unique_ptr<Expr>;

struct ConstExpr : Expr {
  ConstExpr(uint32_t l, Value v) : Expr(ExprKind::constant, l), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(uint32_t l, uint32_t s) : Expr(ExprKind::name, l), sym(s) {}
  uint32_t sym;  // index into Program::names
};

struct GetattrExpr : Expr {
  GetattrExpr(uint32_t l) : Expr(ExprKind::getattr, l) {}
  ExprPtr object;
  std::string attr;
  // What a dict without this key gives ("'dict object' has no attribute 'x'"), built once at
  // parse time: templates probe optional message keys constantly.
  std::shared_ptr<const UndefinedInfo> missing_on_dict;
};

struct GetitemExpr : Expr {
  GetitemExpr(uint32_t l) : Expr(ExprKind::getitem, l) {}
  ExprPtr object;
  ExprPtr index;  // a SliceExpr for x[a:b:c]
};

struct SliceExpr : Expr {
  SliceExpr(uint32_t l) : Expr(ExprKind::slice, l) {}
  ExprPtr start, stop, step;  // each may be null
};

struct CallArgsExpr {
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args;    // *args
  ExprPtr dyn_kwargs;  // **kwargs
};

struct CallExpr : Expr {
  CallExpr(uint32_t l) : Expr(ExprKind::call, l) {}
  ExprPtr callee;
  CallArgsExpr args;
};

struct FilterExpr : Expr {
  FilterExpr(uint32_t l) : Expr(ExprKind::filter, l) {}
  ExprPtr operand;  // null for the filter of a filter block or set block (applied to the body)
  std::string name;
  const FilterDef* def = nullptr;
  CallArgsExpr args;
};

struct TestExpr : Expr {
  TestExpr(uint32_t l) : Expr(ExprKind::test, l) {}
  ExprPtr operand;
  std::string name;
  const TestDef* def = nullptr;
  CallArgsExpr args;
};

struct UnaryExpr : Expr {
  UnaryExpr(ExprKind k, uint32_t l, ExprPtr e) : Expr(k, l), operand(std::move(e)) {}
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  BinaryExpr(uint32_t l, BinOp o, ExprPtr a, ExprPtr b)
      : Expr(ExprKind::binary, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinOp op;
  ExprPtr left, right;
};

struct CompareExpr : Expr {
  CompareExpr(uint32_t l) : Expr(ExprKind::compare, l) {}
  ExprPtr first;
  std::vector<std::pair<CmpOp, ExprPtr>> rest;
};

struct LogicExpr : Expr {  // and_ / or_
  LogicExpr(ExprKind k, uint32_t l, ExprPtr a, ExprPtr b)
      : Expr(k, l), left(std::move(a)), right(std::move(b)) {}
  ExprPtr left, right;
};

struct ConcatExpr : Expr {
  ConcatExpr(uint32_t l) : Expr(ExprKind::concat, l) {}
  std::vector<ExprPtr> parts;
};

struct CondExpr : Expr {
  CondExpr(uint32_t l) : Expr(ExprKind::cond, l) {}
  ExprPtr test, then_value, else_value;  // else_value may be null
};

struct ListExpr : Expr {  // list_ or tuple
  ListExpr(ExprKind k, uint32_t l) : Expr(k, l) {}
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  DictExpr(uint32_t l) : Expr(ExprKind::dict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

// ---- statements ----

enum class StmtKind : uint8_t {
  data, print, if_, for_, set, set_block, macro, call_block, filter_block, with, break_,
  continue_, scope,
};

struct Stmt {
  Stmt(StmtKind k, uint32_t l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  uint32_t line;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Assignment target: a name, a tuple of targets, or namespace.attr.
struct Target {
  enum class Kind : uint8_t { name, tuple, ns_attr } kind = Kind::name;
  uint32_t sym = 0;      // name, or the namespace variable
  std::string attr;      // ns_attr
  std::vector<Target> items;
};

struct DataStmt : Stmt {
  DataStmt(uint32_t l, std::string t) : Stmt(StmtKind::data, l), text(std::move(t)) {}
  std::string text;
};

struct PrintStmt : Stmt {
  PrintStmt(uint32_t l, ExprPtr e) : Stmt(StmtKind::print, l), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  IfStmt(uint32_t l) : Stmt(StmtKind::if_, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body else_body;
};

struct ForStmt : Stmt {
  ForStmt(uint32_t l) : Stmt(StmtKind::for_, l) {}
  Target target;
  ExprPtr iter;
  ExprPtr filter;  // `for x in y if cond`
  bool recursive = false;
  Body body, else_body;
  uint32_t loop_sym = 0;
  bool uses_loop = true;  // the body mentions `loop` (else the per-item update is skipped)
};

struct SetStmt : Stmt {
  SetStmt(uint32_t l) : Stmt(StmtKind::set, l) {}
  Target target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {
  SetBlockStmt(uint32_t l) : Stmt(StmtKind::set_block, l) {}
  Target target;
  ExprPtr filter;  // FilterExpr chain ending in a null operand, or null
  Body body;
};

struct MacroDef {
  std::string name;
  std::vector<uint32_t> params;
  std::vector<std::string> param_names;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  bool catch_varargs = false, catch_kwargs = false, uses_caller = false;
  uint32_t varargs_sym = 0, kwargs_sym = 0, caller_sym = 0;
};

struct MacroStmt : Stmt {
  MacroStmt(uint32_t l) : Stmt(StmtKind::macro, l) {}
  uint32_t sym = 0;
  MacroDef def;
};

struct CallBlockStmt : Stmt {
  CallBlockStmt(uint32_t l) : Stmt(StmtKind::call_block, l) {}
  MacroDef caller;  // named "caller"
  ExprPtr call;     // a CallExpr
};

struct FilterBlockStmt : Stmt {
  FilterBlockStmt(uint32_t l) : Stmt(StmtKind::filter_block, l) {}
  ExprPtr filter;
  Body body;
};

struct WithStmt : Stmt {
  WithStmt(uint32_t l) : Stmt(StmtKind::with, l) {}
  std::vector<Target> targets;
  std::vector<ExprPtr> values;
  Body body;
};

struct ScopeStmt : Stmt {  // {% generation %}, {% block %}: the body in a new scope
  ScopeStmt(uint32_t l) : Stmt(StmtKind::scope, l) {}
  Body body;
};

// A parsed template.
struct Program {
  Body body;
  std::vector<std::string> names;  // symbol id -> name
};

}  // namespace parley::chat::jinja
