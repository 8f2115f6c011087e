// Expression evaluation and jinja2's sandboxed attribute/item access.
#include "chat/jinja/builtins.h"
#include "chat/jinja/format.h"
#include "chat/jinja/interp.h"
#include "chat/jinja/ops.h"

namespace parley::chat::jinja {
namespace {

bool is_dunder(std::string_view name) {
  return name.size() > 4 && name.substr(0, 2) == "__" && name.substr(name.size() - 2) == "__";
}

Value missing_attribute(const Value& obj, std::string_view name) {
  return Value::undefined(object_type_repr(obj) + " has no attribute '" + std::string(name) + "'");
}

Value unsafe_attribute(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute '" + std::string(name) + "' of '" + type_name(obj) +
                              "' object is unsafe.",
                          true);
}

bool is_unhashable(const Value& v) {
  return (v.is_list() && v.list().kind != ListKind::tuple && v.list().kind != ListKind::range &&
          v.list().kind != ListKind::generator) ||
         v.is_dict();
}

}  // namespace

void Interp::fail_undefined(const Value& v) {
  const UndefinedInfo* info = v.undefined_info();
  runtime_error(info ? info->message : "undefined value");
}

Value Interp::getattr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (is_dunder(name)) return unsafe_attribute(obj, name);
  switch (obj.kind()) {
    case Kind::string:
    case Kind::list:
    case Kind::dict: {
      MethodKind mk = method_kind(obj, name);
      if (mk == MethodKind::safe) return bound_method(obj, name);
      if (mk == MethodKind::unsafe) return unsafe_attribute(obj, name);
      if (obj.is_dict()) {
        if (const Value* v = obj.dict().find(name)) return *v;
      }
      return missing_attribute(obj, name);
    }
    case Kind::object: {
      bool found = false;
      Value v = obj.object().getattr(*this, name, &found);
      if (found) return v;
      return missing_attribute(obj, name);
    }
    default: return missing_attribute(obj, name);
  }
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  switch (obj.kind()) {
    case Kind::dict: {
      if (!is_unhashable(key)) {
        if (const Value* v = obj.dict().find(key)) return *v;
      }
      break;
    }
    case Kind::list: {
      const List& l = obj.list();
      if (l.kind == ListKind::generator || l.kind == ListKind::dict_keys ||
          l.kind == ListKind::dict_values || l.kind == ListKind::dict_items) {
        break;
      }
      if (key.is_integral()) {
        auto n = static_cast<int64_t>(l.size());
        int64_t i = key.integral();
        if (i < 0) i += n;
        if (i >= 0 && i < n) return l.items[l.pos + static_cast<size_t>(i)];
        return Value::undefined(object_type_repr(obj) + " has no element " +
                                std::to_string(key.integral()));
      }
      break;
    }
    case Kind::string: {
      if (key.is_integral()) {
        const std::string& s = obj.str();
        bool ascii = is_ascii(s);
        auto n = static_cast<int64_t>(ascii ? s.size() : count_code_points(s));
        int64_t i = key.integral();
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          if (ascii) return same_string_kind(obj, std::string(1, s[static_cast<size_t>(i)]));
          size_t b = code_point_offset(s, static_cast<size_t>(i));
          size_t e = code_point_offset(s, static_cast<size_t>(i) + 1);
          return same_string_kind(obj, s.substr(b, e - b));
        }
        return Value::undefined(object_type_repr(obj) + " has no element " +
                                std::to_string(key.integral()));
      }
      break;
    }
    default: break;
  }
  // Python raised a LookupError or TypeError; jinja2 then tries the attribute for a string key.
  if (key.is_string()) {
    const std::string& name = key.str();
    if (is_dunder(name)) return unsafe_attribute(obj, name);
    if (obj.is_string() || obj.is_list() || obj.is_dict()) {
      MethodKind mk = method_kind(obj, name);
      if (mk == MethodKind::safe) return bound_method(obj, name);
      if (mk == MethodKind::unsafe) return unsafe_attribute(obj, name);
    } else if (obj.is_object()) {
      bool found = false;
      Value v = obj.object().getattr(*this, name, &found);
      if (found) return v;
    }
    return missing_attribute(obj, name);
  }
  std::string key_text;
  append_repr(key_text, key, 200);
  return Value::undefined(object_type_repr(obj) + " has no element " + key_text);
}

Value Interp::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.is_object() && callee.object().is_callable()) {
    return callee.object().call(*this, args);
  }
  runtime_error("'" + type_name(callee) + "' object is not callable");
}

Seq Interp::iterate(const Value& v) {
  Seq seq;
  switch (v.kind()) {
    case Kind::undefined: return seq;
    case Kind::list: {
      List& l = v.list();
      step(l.size());
      if (l.kind == ListKind::generator) {
        seq.owned.assign(l.items.begin() + static_cast<std::ptrdiff_t>(l.pos), l.items.end());
        l.pos = l.items.size();
        seq.data = seq.owned.data();
        seq.size = seq.owned.size();
        return seq;
      }
      seq.hold = v.list_ptr();
      seq.data = l.items.data() + l.pos;
      seq.size = l.size();
      return seq;
    }
    case Kind::dict: {
      const Dict& d = v.dict();
      step(d.items.size());
      seq.owned.reserve(d.items.size());
      for (const auto& kv : d.items) seq.owned.push_back(kv.first);
      break;
    }
    case Kind::string: {
      const std::string& s = v.str();
      step(s.size());
      charge(s.size() * sizeof(Value));
      size_t i = 0;
      while (i < s.size()) {
        size_t j = i + 1;
        while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) j++;
        seq.owned.push_back(Value::string(s.substr(i, j - i)));
        i = j;
      }
      break;
    }
    default: runtime_error("'" + type_name(v) + "' object is not iterable");
  }
  seq.data = seq.owned.data();
  seq.size = seq.owned.size();
  return seq;
}

bool Interp::contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::undefined: return false;
    case Kind::string:
      if (!item.is_string()) {
        runtime_error("'in <string>' requires string as left operand, not " + type_name(item));
      }
      step(container.str().size() / 16 + 1);
      return container.str().find(item.str()) != std::string::npos;
    case Kind::dict:
      if (is_unhashable(item)) runtime_error("unhashable type: '" + type_name(item) + "'");
      step(container.dict().items.size());
      return container.dict().find(item) != nullptr;
    case Kind::list: {
      List& l = container.list();
      for (size_t i = l.pos; i < l.items.size(); i++) {
        step();
        if (equals(l.items[i], item)) {
          if (l.kind == ListKind::generator) l.pos = i + 1;
          return true;
        }
      }
      if (l.kind == ListKind::generator) l.pos = l.items.size();
      return false;
    }
    default:
      runtime_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

void Interp::eval_args(const CallArgsExpr& a, Scope* sc, CallArgs& out) {
  out.pos.reserve(a.args.size());
  for (const auto& e : a.args) out.pos.push_back(eval(e.get(), sc));
  if (a.dyn_args) {
    Seq seq = iterate(eval(a.dyn_args.get(), sc));
    for (size_t i = 0; i < seq.size; i++) out.pos.push_back(seq[i]);
  }
  for (const auto& [k, e] : a.kwargs) out.kw.emplace_back(k, eval(e.get(), sc));
  if (a.dyn_kwargs) {
    Value d = eval(a.dyn_kwargs.get(), sc);
    if (!d.is_dict()) runtime_error("argument after ** must be a mapping, not " + type_name(d));
    for (const auto& [k, v] : d.dict().items) {
      if (!k.is_string()) runtime_error("keywords must be strings");
      out.kw.emplace_back(k.str(), v);
    }
  }
}

Value Interp::eval_filter(const FilterExpr* f, Scope* sc, const Value* input) {
  Value v;
  if (!f->operand) {
    v = *input;
  } else if (input && f->operand->kind == ExprKind::filter) {
    v = eval_filter(static_cast<const FilterExpr*>(f->operand.get()), sc, input);
  } else {
    v = eval(f->operand.get(), sc);
  }
  CallArgs args;
  eval_args(f->args, sc, args);
  line_ = f->line;
  return f->def->fn(*this, v, args);
}

Value Interp::eval_call(const CallExpr* e, Scope* sc) {
  Value callee;
  if (e->callee->kind == ExprKind::getattr) {
    // obj.method(...) on str/list/dict calls the method without building a bound object.
    auto* g = static_cast<const GetattrExpr*>(e->callee.get());
    Value obj = eval(g->object.get(), sc);
    if ((obj.is_string() || obj.is_list() || obj.is_dict()) &&
        method_kind(obj, g->attr) == MethodKind::safe) {
      CallArgs args;
      eval_args(e->args, sc, args);
      line_ = e->line;
      return call_method(*this, obj, g->attr, args);
    }
    line_ = g->line;
    callee = getattr(obj, g->attr);
  } else {
    callee = eval(e->callee.get(), sc);
  }
  CallArgs args;
  eval_args(e->args, sc, args);
  line_ = e->line;
  return call(callee, args);
}

Value Interp::eval_compare(const CompareExpr* e, Scope* sc) {
  Value left = eval(e->first.get(), sc);
  for (const auto& [op, expr] : e->rest) {
    Value right = eval(expr.get(), sc);
    bool r;
    switch (op) {
      case CmpOp::eq: r = equals(left, right); break;
      case CmpOp::ne: r = !equals(left, right); break;
      case CmpOp::in: r = contains(right, left); break;
      case CmpOp::not_in: r = !contains(right, left); break;
      default: {
        if (left.is_undefined()) fail_undefined(left);
        if (right.is_undefined()) fail_undefined(right);
        const char* text = op == CmpOp::lt ? "<" : op == CmpOp::le ? "<=" : op == CmpOp::gt ? ">" : ">=";
        int c = compare_values(left, right, text);
        r = op == CmpOp::lt ? c < 0 : op == CmpOp::le ? c <= 0 : op == CmpOp::gt ? c > 0 : c >= 0;
      }
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interp::eval(const Expr* e, Scope* sc) {
  step();
  DepthGuard guard(this);
  line_ = e->line;
  switch (e->kind) {
    case ExprKind::constant: return static_cast<const ConstExpr*>(e)->value;
    case ExprKind::name: return lookup(static_cast<const NameExpr*>(e)->sym, sc);
    case ExprKind::getattr: {
      auto* g = static_cast<const GetattrExpr*>(e);
      Value obj = eval(g->object.get(), sc);
      line_ = e->line;
      if (obj.is_dict() && method_kind(obj, g->attr) == MethodKind::none && !is_dunder(g->attr)) {
        if (const Value* v = obj.dict().find(g->attr)) return *v;
        return Value::undefined(g->missing_on_dict);
      }
      return getattr(obj, g->attr);
    }
    case ExprKind::getitem: {
      auto* g = static_cast<const GetitemExpr*>(e);
      Value obj = eval(g->object.get(), sc);
      if (g->index->kind == ExprKind::slice) {
        auto* s = static_cast<const SliceExpr*>(g->index.get());
        auto part = [&](const ExprPtr& p) { return p ? eval(p.get(), sc) : Value::none(); };
        Value start = part(s->start), stop = part(s->stop), stp = part(s->step);
        line_ = e->line;
        return slice_value(*this, obj, start, stop, stp);
      }
      Value key = eval(g->index.get(), sc);
      line_ = e->line;
      return getitem(obj, key);
    }
    case ExprKind::slice: runtime_error("slice outside of a subscript");
    case ExprKind::call: return eval_call(static_cast<const CallExpr*>(e), sc);
    case ExprKind::filter: return eval_filter(static_cast<const FilterExpr*>(e), sc, nullptr);
    case ExprKind::test: {
      auto* t = static_cast<const TestExpr*>(e);
      Value v = eval(t->operand.get(), sc);
      CallArgs args;
      eval_args(t->args, sc, args);
      line_ = e->line;
      return Value::boolean(t->def->fn(*this, v, args));
    }
    case ExprKind::not_:
      return Value::boolean(!truthy(eval(static_cast<const UnaryExpr*>(e)->operand.get(), sc)));
    case ExprKind::neg:
    case ExprKind::pos: {
      Value v = eval(static_cast<const UnaryExpr*>(e)->operand.get(), sc);
      return unary_minus(*this, v, e->kind == ExprKind::neg);
    }
    case ExprKind::binary: {
      auto* b = static_cast<const BinaryExpr*>(e);
      Value l = eval(b->left.get(), sc);
      Value r = eval(b->right.get(), sc);
      line_ = e->line;
      return binary_op(*this, b->op, l, r);
    }
    case ExprKind::compare: return eval_compare(static_cast<const CompareExpr*>(e), sc);
    case ExprKind::and_: {
      auto* b = static_cast<const LogicExpr*>(e);
      Value l = eval(b->left.get(), sc);
      return truthy(l) ? eval(b->right.get(), sc) : l;
    }
    case ExprKind::or_: {
      auto* b = static_cast<const LogicExpr*>(e);
      Value l = eval(b->left.get(), sc);
      return truthy(l) ? l : eval(b->right.get(), sc);
    }
    case ExprKind::concat: {
      std::string s;
      for (const auto& p : static_cast<const ConcatExpr*>(e)->parts) {
        append_str(s, eval(p.get(), sc), limits_.max_output_bytes);
      }
      return make_string(std::move(s));
    }
    case ExprKind::cond: {
      auto* c = static_cast<const CondExpr*>(e);
      if (truthy(eval(c->test.get(), sc))) return eval(c->then_value.get(), sc);
      if (c->else_value) return eval(c->else_value.get(), sc);
      return Value::undefined("the inline if-expression on line " + std::to_string(e->line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::list:
    case ExprKind::tuple: {
      auto* l = static_cast<const ListExpr*>(e);
      std::vector<Value> items;
      items.reserve(l->items.size());
      for (const auto& x : l->items) items.push_back(eval(x.get(), sc));
      charge(items.size() * sizeof(Value));
      return Value::list(std::move(items), e->kind == ExprKind::list ? ListKind::list : ListKind::tuple);
    }
    case ExprKind::dict: {
      auto d = std::make_shared<Dict>();
      for (const auto& [k, v] : static_cast<const DictExpr*>(e)->items) {
        Value key = eval(k.get(), sc);
        if (is_unhashable(key)) runtime_error("unhashable type: '" + type_name(key) + "'");
        d->set(std::move(key), eval(v.get(), sc));
      }
      charge(d->items.size() * 2 * sizeof(Value));
      return Value::dict(std::move(d));
    }
  }
  return Value();
}

}  // namespace parley::chat::jinja
