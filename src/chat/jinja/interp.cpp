// Statements, scopes, macros and loops. Expressions are in interp-expr.cpp.
#include "chat/jinja/interp.h"

#include "chat/jinja/builtins.h"
#include "chat/jinja/format.h"

namespace parley::chat::jinja {

void Interp::depth_exceeded() {
  depth_--;
  throw_error(ErrorKind::limit, "recursion limit exceeded: evaluation nested more than " +
                                    std::to_string(limits_.max_depth) + " levels");
}

Interp::Interp(const Program& program, std::vector<Value> root, const RenderLimits& limits,
               int64_t now_unix_seconds, size_t output_hint)
    : program_(program),
      root_(std::move(root)),
      limits_(limits),
      now_(now_unix_seconds),
      output_hint_(output_hint) {}

Interp::~Interp() = default;

std::string Interp::run() {
  std::string out;
  out.reserve(std::min(output_hint_, limits_.max_output_bytes));
  out_ = &out;
  Scope* top = push_scope(nullptr);
  exec_body(program_.body, top);
  return out;
}

void Interp::step_slow() {
  if (steps_ > limits_.max_steps) {
    throw_error(ErrorKind::limit, "step limit exceeded: the template did more than " +
                                      std::to_string(limits_.max_steps) + " evaluation steps");
  }
  if (limits_.deadline && std::chrono::steady_clock::now() > *limits_.deadline) {
    throw_error(ErrorKind::limit, "time limit exceeded while rendering the template");
  }
}

void Interp::charge(size_t bytes) {
  allocated_ += bytes;
  if (allocated_ > limits_.max_alloc_bytes) {
    throw_error(ErrorKind::limit, "memory limit exceeded: the template built more than " +
                                      std::to_string(limits_.max_alloc_bytes) + " bytes of values");
  }
}

Value Interp::make_string(std::string s) {
  if (s.size() > limits_.max_output_bytes) {
    throw_error(ErrorKind::limit, "string longer than " +
                                      std::to_string(limits_.max_output_bytes) + " bytes");
  }
  charge(s.size());
  return Value::string(std::move(s));
}

void Interp::emit(std::string_view text) {
  out_->append(text);
  if (out_->size() > limits_.max_output_bytes) {
    throw_error(ErrorKind::limit, "output limit exceeded: more than " +
                                      std::to_string(limits_.max_output_bytes) + " bytes");
  }
}

// ---- scopes ----

Scope* Interp::push_scope(Scope* parent) {
  Scope* s;
  if (!free_scopes_.empty()) {
    s = free_scopes_.back();
    free_scopes_.pop_back();
  } else {
    charge(sizeof(Scope));
    scopes_.push_back(std::make_unique<Scope>());
    s = scopes_.back().get();
  }
  s->parent = parent;
  return s;
}

void Interp::pop_scope(Scope* s) {
  if (s->captured) return;
  s->vars.clear();
  free_scopes_.push_back(s);
}

void Interp::capture_scope(Scope* s) {
  for (; s && !s->captured; s = s->parent) s->captured = true;
}

Value Interp::lookup(uint32_t sym, Scope* sc) {
  for (Scope* s = sc; s; s = s->parent) {
    if (Value* v = s->find(sym)) return *v;
  }
  const Value& v = root_[sym];
  if (v.is_undefined() && !v.undefined_info()) {
    return Value::undefined("'" + program_.names[sym] + "' is undefined");
  }
  return v;
}

// ---- statements ----

Interp::Flow Interp::exec_body(const Body& body, Scope* sc) {
  for (const auto& s : body) {
    Flow f = exec(s.get(), sc);
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

std::string Interp::capture(const Body& body, Scope* sc) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  Scope* inner = push_scope(sc);
  try {
    exec_body(body, inner);
  } catch (...) {
    out_ = saved;
    throw;
  }
  pop_scope(inner);
  out_ = saved;
  charge(buf.size());
  return buf;
}

Interp::Flow Interp::exec(const Stmt* s, Scope* sc) {
  step();
  DepthGuard guard(this);
  line_ = s->line;
  switch (s->kind) {
    case StmtKind::data: emit(static_cast<const DataStmt*>(s)->text); break;
    case StmtKind::print: {
      Value v = eval(static_cast<const PrintStmt*>(s)->expr.get(), sc);
      if (v.is_string()) {
        emit(v.str());
      } else {
        std::string text;
        append_str(text, v, limits_.max_output_bytes);
        emit(text);
      }
      break;
    }
    case StmtKind::if_: {
      auto* x = static_cast<const IfStmt*>(s);
      for (const auto& [test, body] : x->branches) {
        if (truthy(eval(test.get(), sc))) return exec_body(body, sc);
      }
      return exec_body(x->else_body, sc);
    }
    case StmtKind::for_: {
      auto* x = static_cast<const ForStmt*>(s);
      exec_for(x, sc, eval(x->iter.get(), sc), 0);
      break;
    }
    case StmtKind::set: exec_set(static_cast<const SetStmt*>(s), sc); break;
    case StmtKind::set_block: {
      auto* x = static_cast<const SetBlockStmt*>(s);
      Value body = make_string(capture(x->body, sc));
      if (x->filter) body = eval_filter(static_cast<const FilterExpr*>(x->filter.get()), sc, &body);
      assign(x->target, body, sc);
      break;
    }
    case StmtKind::macro: {
      auto* x = static_cast<const MacroStmt*>(s);
      capture_scope(sc);
      sc->set(x->sym, Value::object(std::make_shared<MacroObject>(&x->def, sc)));
      break;
    }
    case StmtKind::call_block: {
      auto* x = static_cast<const CallBlockStmt*>(s);
      auto* call = static_cast<const CallExpr*>(x->call.get());
      capture_scope(sc);
      Value callee = eval(call->callee.get(), sc);
      CallArgs args;
      eval_args(call->args, sc, args);
      args.kw.emplace_back("caller", Value::object(std::make_shared<MacroObject>(&x->caller, sc)));
      Value v = this->call(callee, args);
      std::string text;
      append_str(text, v, limits_.max_output_bytes);
      emit(text);
      break;
    }
    case StmtKind::filter_block: {
      auto* x = static_cast<const FilterBlockStmt*>(s);
      Value body = make_string(capture(x->body, sc));
      Value v = eval_filter(static_cast<const FilterExpr*>(x->filter.get()), sc, &body);
      std::string text;
      append_str(text, v, limits_.max_output_bytes);
      emit(text);
      break;
    }
    case StmtKind::with: {
      auto* x = static_cast<const WithStmt*>(s);
      Scope* inner = push_scope(sc);
      for (size_t i = 0; i < x->targets.size(); i++) {
        assign(x->targets[i], eval(x->values[i].get(), inner), inner);
      }
      Flow f = exec_body(x->body, inner);
      pop_scope(inner);
      return f;
    }
    case StmtKind::break_: return Flow::break_;
    case StmtKind::continue_: return Flow::continue_;
    case StmtKind::scope: {
      Scope* inner = push_scope(sc);
      Flow f = exec_body(static_cast<const ScopeStmt*>(s)->body, inner);
      pop_scope(inner);
      return f;
    }
  }
  return Flow::normal;
}

void Interp::exec_set(const SetStmt* s, Scope* sc) { assign(s->target, eval(s->value.get(), sc), sc); }

void Interp::assign(const Target& t, const Value& v, Scope* sc) {
  switch (t.kind) {
    case Target::Kind::name: sc->set(t.sym, v); return;
    case Target::Kind::ns_attr: {
      Value ns = lookup(t.sym, sc);
      if (!ns.is_object() || !ns.object().is_namespace()) {
        runtime_error("cannot assign attribute on non-namespace object");
      }
      static_cast<NamespaceObject&>(ns.object()).attrs.set(Value::string(t.attr), v);
      return;
    }
    case Target::Kind::tuple: {
      Seq seq = iterate(v);
      if (seq.size != t.items.size()) {
        if (seq.size > t.items.size()) {
          runtime_error("too many values to unpack (expected " + std::to_string(t.items.size()) +
                        ")");
        }
        runtime_error("not enough values to unpack (expected " + std::to_string(t.items.size()) +
                      ", got " + std::to_string(seq.size) + ")");
      }
      for (size_t i = 0; i < seq.size; i++) assign(t.items[i], seq[i], sc);
      return;
    }
  }
}

void Interp::exec_for(const ForStmt* s, Scope* sc, const Value& iterable, int depth) {
  Seq seq = iterate(iterable);
  auto loop = std::make_shared<LoopObject>();
  loop->depth0 = depth;
  if (s->recursive) {
    capture_scope(sc);
    loop->stmt = s;
    loop->scope = sc;
  }
  if (s->filter) {
    // `for x in xs if cond`: the condition sees the target but not `loop`.
    std::vector<Value> kept;
    for (size_t i = 0; i < seq.size; i++) {
      Scope* fs = push_scope(sc);
      assign(s->target, seq[i], fs);
      bool keep = truthy(eval(s->filter.get(), fs));
      pop_scope(fs);
      if (keep) kept.push_back(seq[i]);
    }
    charge(kept.size() * sizeof(Value));
    loop->items.owned = std::move(kept);
    loop->items.hold.reset();
    loop->items.data = loop->items.owned.data();
    loop->items.size = loop->items.owned.size();
  } else {
    loop->items = std::move(seq);
    if (!loop->items.owned.empty()) loop->items.data = loop->items.owned.data();
  }
  Value loop_value = Value::object(loop);
  const size_t n = loop->items.size;
  for (size_t i = 0; i < n; i++) {
    loop->index0 = i;
    Scope* it = push_scope(sc);
    assign(s->target, loop->items[i], it);
    if (s->uses_loop) it->set(s->loop_sym, loop_value);
    Flow f = exec_body(s->body, it);
    pop_scope(it);
    if (f == Flow::break_) break;
  }
  if (n == 0 && !s->else_body.empty()) {
    Scope* es = push_scope(sc);
    exec_body(s->else_body, es);
    pop_scope(es);
  }
}

Value Interp::call_loop(const ForStmt& stmt, Scope* scope, const Value& items, int depth) {
  DepthGuard guard(this);
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec_for(&stmt, scope, items, depth);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return make_string(std::move(buf));
}

Value Interp::call_macro(const MacroDef& def, Scope* closure, CallArgs& args) {
  DepthGuard guard(this);
  const size_t n = def.params.size();
  Scope* ms = push_scope(closure);
  std::vector<bool> given(n, false);
  for (size_t i = 0; i < n && i < args.pos.size(); i++) {
    ms->set(def.params[i], args.pos[i]);
    given[i] = true;
  }
  for (size_t i = args.pos.size(); i < n; i++) {
    Value v;
    if (args.take(def.param_names[i], &v)) {
      ms->set(def.params[i], std::move(v));
      given[i] = true;
    }
  }
  if (def.uses_caller) {
    Value caller;
    if (!args.take("caller", &caller)) caller = Value::undefined("No caller defined");
    ms->set(def.caller_sym, std::move(caller));
  }
  if (def.catch_kwargs) {
    auto d = std::make_shared<Dict>();
    for (auto& [k, v] : args.kw) d->set(Value::string(k), std::move(v));
    ms->set(def.kwargs_sym, Value::dict(std::move(d)));
  } else if (!args.kw.empty()) {
    if (args.kw[0].first == "caller") {
      runtime_error("macro '" + def.name + "' was invoked with two values for the special caller "
                    "argument. This is most likely a bug.");
    }
    runtime_error("macro '" + def.name + "' takes no keyword argument '" + args.kw[0].first + "'");
  }
  if (def.catch_varargs) {
    std::vector<Value> rest;
    for (size_t i = n; i < args.pos.size(); i++) rest.push_back(args.pos[i]);
    ms->set(def.varargs_sym, Value::list(std::move(rest), ListKind::tuple));
  } else if (args.pos.size() > n) {
    runtime_error("macro '" + def.name + "' takes not more than " + std::to_string(n) +
                  " argument(s)");
  }
  const size_t first_default = n - def.defaults.size();
  for (size_t i = 0; i < n; i++) {
    if (given[i]) continue;
    if (i >= first_default) {
      ms->set(def.params[i], eval(def.defaults[i - first_default].get(), ms));
    } else {
      ms->set(def.params[i],
              Value::undefined("parameter '" + def.param_names[i] + "' was not provided"));
    }
  }
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec_body(def.body, ms);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  pop_scope(ms);
  return make_string(std::move(buf));
}

// ---- objects ----

Value LoopObject::call(Interp& in, CallArgs& args) {
  if (!stmt) {
    runtime_error("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
  }
  if (args.pos.size() != 1 || !args.kw.empty()) runtime_error("loop() takes exactly 1 argument");
  return in.call_loop(*stmt, scope, args.pos[0], depth0 + 1);
}

namespace {

Value loop_cycle(Interp&, const Value& self, CallArgs& args, const char*) {
  auto& loop = static_cast<LoopObject&>(self.object());
  if (args.pos.empty()) runtime_error("no items for cycling given");
  return args.pos[loop.index0 % args.pos.size()];
}

Value loop_changed(Interp&, const Value& self, CallArgs& args, const char*) {
  auto& loop = static_cast<LoopObject&>(self.object());
  Value now = Value::list(args.pos, ListKind::tuple);
  if (!loop.has_last_changed || !equals(now, loop.last_changed)) {
    loop.has_last_changed = true;
    loop.last_changed = now;
    return Value::boolean(true);
  }
  return Value::boolean(false);
}

}  // namespace

Value LoopObject::getattr(Interp&, std::string_view name, bool* found) {
  *found = true;
  auto n = static_cast<int64_t>(items.size);
  auto i = static_cast<int64_t>(index0);
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(depth0 + 1);
  if (name == "depth0") return Value::integer(depth0);
  if (name == "previtem") {
    return i > 0 ? items[index0 - 1] : Value::undefined("there is no previous item");
  }
  if (name == "nextitem") {
    return i + 1 < n ? items[index0 + 1] : Value::undefined("there is no next item");
  }
  // The object is always held by a Value while its attributes are read.
  Value self = Value::object(shared_from_this());
  if (name == "cycle") {
    return Value::object(std::make_shared<FunctionObject>("cycle", loop_cycle, self, "method"));
  }
  if (name == "changed") {
    return Value::object(std::make_shared<FunctionObject>("changed", loop_changed, self, "method"));
  }
  *found = false;
  return Value();
}

void LoopObject::repr(std::string& out, size_t) const {
  out += "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(items.size) + ">";
}

Value MacroObject::call(Interp& in, CallArgs& args) { return in.call_macro(*def, closure, args); }

Value MacroObject::getattr(Interp&, std::string_view name, bool* found) {
  *found = true;
  if (name == "name") return Value::string(def->name);
  if (name == "arguments") {
    std::vector<Value> names;
    for (const auto& p : def->param_names) names.push_back(Value::string(p));
    return Value::list(std::move(names), ListKind::tuple);
  }
  if (name == "catch_kwargs") return Value::boolean(def->catch_kwargs);
  if (name == "catch_varargs") return Value::boolean(def->catch_varargs);
  if (name == "caller") return Value::boolean(def->uses_caller);
  *found = false;
  return Value();
}

void MacroObject::repr(std::string& out, size_t) const {
  out += "<Macro ";
  append_string_repr(out, def->name);
  out += ">";
}

Value NamespaceObject::getattr(Interp&, std::string_view name, bool* found) {
  if (const Value* v = attrs.find(name)) {
    *found = true;
    return *v;
  }
  *found = false;
  return Value();
}

void NamespaceObject::repr(std::string& out, size_t max_bytes) const {
  out += "<Namespace ";
  append_repr(out, Value::dict(std::make_shared<Dict>(attrs)), max_bytes);
  out += ">";
}

void FunctionObject::repr(std::string& out, size_t) const {
  out += class_name == std::string("function") ? "<function " : "<built-in method ";
  out += name;
  out += ">";
}

}  // namespace parley::chat::jinja
