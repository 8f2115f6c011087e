// Global functions: jinja2's range/dict/namespace/cycler/joiner and transformers'
// raise_exception/strftime_now.
#include "chat/jinja/filter-util.h"
#include "chat/jinja/format.h"

namespace parley::chat::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

Value g_range(Interp& in, const Value&, CallArgs& a, const char*) {
  if (!a.kw.empty()) runtime_error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3) {
    runtime_error("range expected at most 3 arguments, got " + std::to_string(a.pos.size()));
  }
  int64_t v[3];
  for (size_t i = 0; i < a.pos.size(); i++) {
    if (!a.pos[i].is_integral()) {
      runtime_error("'" + type_name(a.pos[i]) + "' object cannot be interpreted as an integer");
    }
    v[i] = a.pos[i].integral();
  }
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) {
    stop = v[0];
  } else {
    start = v[0];
    stop = v[1];
    if (a.pos.size() == 3) step = v[2];
  }
  if (step == 0) runtime_error("range() arg 3 must not be zero");
  // Length without overflow: work in long double for the bound check.
  long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  long double len_ld = span <= 0 ? 0 : (span - 1) / (step > 0 ? step : -static_cast<long double>(step)) + 1;
  if (len_ld > kMaxRange) {
    runtime_error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  auto len = static_cast<size_t>(len_ld);
  in.step(len);
  in.charge(len * sizeof(Value));
  auto l = std::make_shared<List>();
  l->kind = ListKind::range;
  l->range_start = start;
  l->range_stop = stop;
  l->range_step = step;
  l->items.reserve(len);
  for (size_t i = 0; i < len; i++) l->items.push_back(Value::integer(start + static_cast<int64_t>(i) * step));
  return Value::list(std::move(l));
}

void fill_dict(Interp& in, Dict& d, CallArgs& a, const char* func) {
  if (a.pos.size() > 1) runtime_error(std::string(func) + " expected at most 1 argument");
  if (!a.pos.empty()) {
    const Value& src = a.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict().items) d.set(k, v);
    } else {
      Seq seq = in.iterate(src);
      for (size_t i = 0; i < seq.size; i++) {
        Seq kv = in.iterate(seq[i]);
        if (kv.size != 2) {
          runtime_error("dictionary update sequence element #" + std::to_string(i) +
                        " has length " + std::to_string(kv.size) + "; 2 is required");
        }
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : a.kw) d.set(Value::string(k), v);
}

Value g_dict(Interp& in, const Value&, CallArgs& a, const char*) {
  auto d = std::make_shared<Dict>();
  fill_dict(in, *d, a, "dict");
  return Value::dict(std::move(d));
}

Value g_namespace(Interp& in, const Value&, CallArgs& a, const char*) {
  auto ns = std::make_shared<NamespaceObject>();
  fill_dict(in, ns->attrs, a, "namespace");
  return Value::object(std::move(ns));
}

Value g_raise_exception(Interp& in, const Value&, CallArgs& a, const char*) {
  std::string msg;
  if (!a.pos.empty()) msg = soft_str(in, a.pos[0]);
  throw_error(ErrorKind::raised, msg, in.line());
}

Value g_strftime_now(Interp& in, const Value&, CallArgs& a, const char*) {
  auto p = bind_args(a, "strftime_now", {"format"});
  if (!p[0] || !p[0]->is_string()) runtime_error("strftime_now() argument must be str");
  return in.make_string(py_strftime(p[0]->str(), in.now()));
}

class CyclerObject : public Object {
 public:
  std::string type_name() const override { return "Cycler"; }
  Value getattr(Interp&, std::string_view name, bool* found) override {
    *found = true;
    Value self = Value::object(shared_from_this());
    if (name == "current") return items[pos];
    if (name == "next") return Value::object(std::make_shared<FunctionObject>("next", next_fn, self, "method"));
    if (name == "reset") return Value::object(std::make_shared<FunctionObject>("reset", reset_fn, self, "method"));
    *found = false;
    return Value();
  }
  static Value next_fn(Interp&, const Value& self, CallArgs&, const char*) {
    auto& c = static_cast<CyclerObject&>(self.object());
    Value v = c.items[c.pos];
    c.pos = (c.pos + 1) % c.items.size();
    return v;
  }
  static Value reset_fn(Interp&, const Value& self, CallArgs&, const char*) {
    static_cast<CyclerObject&>(self.object()).pos = 0;
    return Value::none();
  }
  std::vector<Value> items;
  size_t pos = 0;
};

Value g_cycler(Interp&, const Value&, CallArgs& a, const char*) {
  if (a.pos.empty()) runtime_error("at least one item has to be provided");
  auto c = std::make_shared<CyclerObject>();
  c->items = a.pos;
  return Value::object(std::move(c));
}

class JoinerObject : public Object {
 public:
  std::string type_name() const override { return "Joiner"; }
  bool is_callable() const override { return true; }
  Value call(Interp&, CallArgs&) override {
    if (!used) {
      used = true;
      return Value::string("");
    }
    return sep;
  }
  Value sep;
  bool used = false;
};

Value g_joiner(Interp&, const Value&, CallArgs& a, const char*) {
  auto p = bind_args(a, "joiner", {"sep"});
  auto j = std::make_shared<JoinerObject>();
  j->sep = p[0] ? *p[0] : Value::string(", ");
  return Value::object(std::move(j));
}

struct GlobalDef {
  const char* name;
  FunctionObject::Fn fn;
};

const GlobalDef kGlobals[] = {
    {"cycler", g_cycler},
    {"dict", g_dict},
    {"joiner", g_joiner},
    {"namespace", g_namespace},
    {"raise_exception", g_raise_exception},
    {"range", g_range},
    {"strftime_now", g_strftime_now},
};

}  // namespace

const Value* find_global(std::string_view name) {
  // Built once; the objects are immutable, so sharing them across renders and threads is safe.
  static const std::vector<Value> values = [] {
    std::vector<Value> v;
    for (const auto& g : kGlobals) {
      v.push_back(Value::object(std::make_shared<FunctionObject>(g.name, g.fn)));
    }
    return v;
  }();
  for (size_t i = 0; i < std::size(kGlobals); i++) {
    if (name == kGlobals[i].name) return &values[i];
  }
  return nullptr;
}

}  // namespace parley::chat::jinja
