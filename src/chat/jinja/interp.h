// The tree-walking interpreter: one Interp per render of a parsed Program. It implements
// jinja2's scoping (a loop iteration, macro call, set block or with block gets a new scope that
// reads through to the enclosing ones; `if` does not), Python's operators, and the bounds that
// keep hostile templates harmless (steps, nesting depth, output size, allocated bytes, time).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/error.h"
#include "chat/jinja/value.h"

namespace parley::chat::jinja {

struct RenderLimits {
  size_t max_output_bytes = 16u << 20;  // the prompt, and any one string value
  uint64_t max_steps = 20'000'000;      // evaluated nodes plus per-element work in filters
  uint32_t max_depth = 600;             // nested evaluation (macro recursion included)
  uint64_t max_alloc_bytes = 256u << 20;  // bytes of strings/lists created, cumulative
  // Optional wall-clock bound, checked every few thousand steps.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct Scope {
  Scope* parent = nullptr;
  std::vector<std::pair<uint32_t, Value>> vars;
  bool captured = false;  // a macro or recursive loop holds it: never recycled
  Value* find(uint32_t sym) {
    for (auto& [s, v] : vars) {
      if (s == sym) return &v;
    }
    return nullptr;
  }
  void set(uint32_t sym, Value v) {
    if (Value* p = find(sym)) {
      *p = std::move(v);
    } else {
      vars.emplace_back(sym, std::move(v));
    }
  }
};

// A sequence to iterate: a view of a list's items, or values produced for it.
struct Seq {
  ListPtr hold;               // keeps a viewed list alive
  const Value* data = nullptr;
  size_t size = 0;
  std::vector<Value> owned;   // when the values were produced (str chars, dict keys, ...)
  const Value& operator[](size_t i) const { return data[i]; }
};

class Interp {
 public:
  Interp(const Program& program, std::vector<Value> root, const RenderLimits& limits,
         int64_t now_unix_seconds, size_t output_hint = 0);
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  // Renders the whole program. Throws TemplateError.
  std::string run();

  // ---- services for filters, tests, methods and objects ----
  void step(uint64_t n = 1) {
    steps_ += n;
    if (steps_ > limits_.max_steps || (limits_.deadline && (steps_ & 4095) < n + 1)) step_slow();
  }
  void charge(size_t bytes);  // counts created bytes against max_alloc_bytes
  size_t max_bytes() const { return limits_.max_output_bytes; }
  int64_t now() const { return now_; }
  uint32_t line() const { return line_; }

  // jinja2's sandboxed getattr / getitem (attribute first vs item first).
  Value getattr(const Value& obj, std::string_view name);
  Value getitem(const Value& obj, const Value& key);
  Value call(const Value& callee, CallArgs& args);
  // Python iteration (str -> chars, dict -> keys, undefined -> nothing; consumes generators).
  Seq iterate(const Value& v);
  // Python's `item in container`.
  bool contains(const Value& container, const Value& item);
  // Raises the UndefinedError (or SecurityError) an undefined value carries.
  [[noreturn]] void fail_undefined(const Value& v);
  Value make_string(std::string s);

  // Macros and the loop object call back into the interpreter.
  Value call_macro(const MacroDef& def, Scope* closure, CallArgs& args);
  Value call_loop(const ForStmt& stmt, Scope* scope, const Value& items, int depth);

 private:
  enum class Flow { normal, break_, continue_ };

  Flow exec_body(const Body& body, Scope* sc);
  Flow exec(const Stmt* s, Scope* sc);
  void exec_for(const ForStmt* s, Scope* sc, const Value& iterable, int depth);
  void exec_set(const SetStmt* s, Scope* sc);
  void assign(const Target& t, const Value& v, Scope* sc);
  std::string capture(const Body& body, Scope* sc);

  Value eval(const Expr* e, Scope* sc);
  Value eval_call(const CallExpr* e, Scope* sc);
  void eval_args(const CallArgsExpr& a, Scope* sc, CallArgs& out);
  Value eval_filter(const FilterExpr* f, Scope* sc, const Value* input);
  Value eval_compare(const CompareExpr* e, Scope* sc);
  Value lookup(uint32_t sym, Scope* sc);

  Scope* push_scope(Scope* parent);
  void pop_scope(Scope* s);
  void capture_scope(Scope* s);
  void emit(std::string_view text);

  struct DepthGuard {
    explicit DepthGuard(Interp* in) : in_(in) {
      if (++in_->depth_ > in_->limits_.max_depth) in_->depth_exceeded();
    }
    ~DepthGuard() { in_->depth_--; }
    Interp* in_;
  };
  [[noreturn]] void depth_exceeded();
  void step_slow();

  const Program& program_;
  std::vector<Value> root_;  // per symbol: render variables and globals
  RenderLimits limits_;
  int64_t now_;
  size_t output_hint_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  uint64_t allocated_ = 0;
  uint32_t depth_ = 0;
  uint32_t line_ = 0;
  std::vector<std::unique_ptr<Scope>> scopes_;  // every scope of this render
  std::vector<Scope*> free_scopes_;
};

// The `loop` variable of a for loop.
class LoopObject : public Object {
 public:
  std::string type_name() const override { return "LoopContext"; }
  bool is_callable() const override { return true; }
  Value call(Interp& in, CallArgs& args) override;
  Value getattr(Interp& in, std::string_view name, bool* found) override;
  void repr(std::string& out, size_t max_bytes) const override;

  Seq items;
  size_t index0 = 0;
  int depth0 = 0;
  const ForStmt* stmt = nullptr;  // set for recursive loops
  Scope* scope = nullptr;         // recursive loops: the scope the loop runs in
  bool has_last_changed = false;
  Value last_changed;
};

// A macro (or the caller of a call block) bound to the scope it was defined in.
class MacroObject : public Object {
 public:
  MacroObject(const MacroDef* d, Scope* c) : def(d), closure(c) {}
  std::string type_name() const override { return "Macro"; }
  bool is_callable() const override { return true; }
  Value call(Interp& in, CallArgs& args) override;
  Value getattr(Interp& in, std::string_view name, bool* found) override;
  void repr(std::string& out, size_t max_bytes) const override;

  const MacroDef* def;
  Scope* closure;
};

// namespace(...): the one mutable object templates have.
class NamespaceObject : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  Value getattr(Interp& in, std::string_view name, bool* found) override;
  void repr(std::string& out, size_t max_bytes) const override;
  bool is_namespace() const override { return true; }
  Dict attrs;
};

// A built-in function (range, namespace, raise_exception, ...) or a bound method.
class FunctionObject : public Object {
 public:
  using Fn = Value (*)(Interp& in, const Value& self, CallArgs& args, const char* name);
  FunctionObject(const char* n, Fn f, Value s = Value(), const char* cls = "function")
      : name(n), fn(f), self(std::move(s)), class_name(cls) {}
  std::string type_name() const override { return class_name; }
  bool is_callable() const override { return true; }
  Value call(Interp& in, CallArgs& args) override { return fn(in, self, args, name); }
  void repr(std::string& out, size_t max_bytes) const override;

  const char* name;
  Fn fn;
  Value self;
  const char* class_name;
};

}  // namespace parley::chat::jinja
