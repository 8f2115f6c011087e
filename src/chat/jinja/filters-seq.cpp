// jinja2's sequence filters: length, list, first/last, join, map/select/reject, sort, unique,
// dictsort, items, min/max/sum, reverse, batch, slice.
#include <algorithm>

#include "chat/jinja/filter-util.h"
#include "chat/jinja/format.h"
#include "chat/jinja/ops.h"

namespace parley::chat::jinja {
namespace {

std::vector<Value> to_vector(const Seq& seq) { return std::vector<Value>(seq.data, seq.data + seq.size); }

Value f_length(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "length", {});
  switch (v.kind()) {
    case Kind::undefined: return Value::integer(0);
    case Kind::string: return Value::integer(static_cast<int64_t>(count_code_points(v.str())));
    case Kind::dict: return Value::integer(static_cast<int64_t>(v.dict().items.size()));
    case Kind::list:
      if (v.list().kind != ListKind::generator) {
        return Value::integer(static_cast<int64_t>(v.list().size()));
      }
      break;
    case Kind::object:
      if (v.object().type_name() == "LoopContext") {
        bool found = false;
        return static_cast<LoopObject&>(v.object()).getattr(in, "length", &found);
      }
      break;
    default: break;
  }
  runtime_error("object of type '" + type_name(v) + "' has no len()");
}

Value f_list(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "list", {});
  Seq seq = in.iterate(v);
  in.charge(seq.size * sizeof(Value));
  return Value::list(to_vector(seq));
}

Value f_first(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "first", {});
  if (v.is_list() && v.list().kind == ListKind::generator) {
    List& l = v.list();
    if (l.pos < l.items.size()) return l.items[l.pos++];
    return Value::undefined("No first item, sequence was empty.");
  }
  if (v.is_list() && v.list().size() > 0) return v.list().items[v.list().pos];
  Seq seq = in.iterate(v);
  if (seq.size == 0) return Value::undefined("No first item, sequence was empty.");
  return seq[0];
}

Value f_last(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "last", {});
  if (v.is_list() && v.list().kind == ListKind::generator) {
    runtime_error("'generator' object is not reversible");
  }
  if (v.is_list()) {
    if (v.list().size() > 0) return v.list().items.back();
    return Value::undefined("No last item, sequence was empty.");
  }
  if (v.is_markup()) {
    Seq chars = in.iterate(v);
    if (chars.size == 0) return Value::undefined("No last item, sequence was empty.");
    return Value::markup(chars[chars.size - 1].str());
  }
  if (!v.is_string() && !v.is_dict() && !v.is_undefined()) {
    runtime_error("'" + type_name(v) + "' object is not reversible");
  }
  Seq seq = in.iterate(v);
  if (seq.size == 0) return Value::undefined("No last item, sequence was empty.");
  return seq[seq.size - 1];
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "join", {"d", "attribute"});
  std::string sep = p[0] ? soft_str(in, *p[0]) : "";
  AttrGetter get = make_attrgetter(p[1], false);
  Seq seq = in.iterate(v);
  std::string out;
  for (size_t i = 0; i < seq.size; i++) {
    if (i) out += sep;
    append_str(out, p[1] ? get(in, seq[i]) : seq[i], in.max_bytes());
  }
  return in.make_string(std::move(out));
}

Value f_items(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "items", {});
  if (v.is_undefined()) return make_generator(in, {});
  if (!v.is_dict()) runtime_error("Can only get item pairs from a mapping.");
  std::vector<Value> items;
  for (const auto& [k, x] : v.dict().items) items.push_back(Value::list({k, x}, ListKind::tuple));
  in.step(items.size());
  return make_generator(in, std::move(items));
}

Value f_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (!truthy(v)) return make_generator(in, {});  // jinja2: `if value:` before anything
  if (a.pos.empty()) {
    Value attribute, dflt;
    if (!a.take("attribute", &attribute)) runtime_error("map requires a filter argument");
    std::optional<Value> d;
    if (a.take("default", &dflt)) d = dflt;
    if (!a.kw.empty()) runtime_error("Unexpected keyword argument '" + a.kw[0].first + "'");
    AttrGetter get = make_attrgetter(attribute, false, d);
    Seq seq = in.iterate(v);
    for (size_t i = 0; i < seq.size; i++) out.push_back(get(in, seq[i]));
  } else {
    if (!a.pos[0].is_string()) runtime_error("map requires a filter name");
    std::string name = a.pos[0].str();
    std::vector<Value> rest(a.pos.begin() + 1, a.pos.end());
    Seq seq = in.iterate(v);
    for (size_t i = 0; i < seq.size; i++) out.push_back(call_filter_by_name(in, name, seq[i], rest, a));
  }
  in.step(out.size());
  return make_generator(in, std::move(out));
}

Value select_or_reject(Interp& in, const Value& v, CallArgs& a, bool select, bool by_attr) {
  if (!truthy(v)) return make_generator(in, {});  // jinja2: `if value:` before anything
  size_t off = 0;
  AttrGetter get;
  if (by_attr) {
    if (a.pos.empty()) runtime_error("Missing parameter for attribute name");
    get = make_attrgetter(a.pos[0], false);
    off = 1;
  }
  std::string test;
  std::vector<Value> rest;
  bool has_test = a.pos.size() > off;
  if (has_test) {
    if (!a.pos[off].is_string()) runtime_error("test name must be a string");
    test = a.pos[off].str();
    rest.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(off + 1), a.pos.end());
  }
  Seq seq = in.iterate(v);
  std::vector<Value> out;
  for (size_t i = 0; i < seq.size; i++) {
    Value x = by_attr ? get(in, seq[i]) : seq[i];
    bool r = has_test ? call_test_by_name(in, test, x, rest, a) : truthy(x);
    if (r == select) out.push_back(seq[i]);
  }
  in.step(seq.size);
  return make_generator(in, std::move(out));
}

Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, false); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, true); }

// Python's sorted() with a key: stable, reverse keeps equal items in order.
std::vector<Value> sorted_by(Interp& in, std::vector<Value> items, const std::vector<Value>& keys,
                             bool reverse) {
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
  in.step(items.size() * 8);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return reverse ? compare_values(keys[y], keys[x]) < 0 : compare_values(keys[x], keys[y]) < 0;
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : idx) out.push_back(std::move(items[i]));
  return out;
}

Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "sort", {"reverse", "case_sensitive", "attribute"});
  bool reverse = p[0] && truthy(*p[0]);
  bool cs = p[1] && truthy(*p[1]);
  AttrGetter get = make_attrgetter(p[2], !cs);
  Seq seq = in.iterate(v);
  std::vector<Value> items = to_vector(seq), keys;
  for (const auto& x : items) keys.push_back(get(in, x));
  in.charge(items.size() * 2 * sizeof(Value));
  return Value::list(sorted_by(in, std::move(items), keys, reverse));
}

Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "dictsort", {"case_sensitive", "by", "reverse"});
  bool cs = p[0] && truthy(*p[0]);
  std::string by = p[1] ? soft_str(in, *p[1]) : "key";
  bool reverse = p[2] && truthy(*p[2]);
  if (by != "key" && by != "value") runtime_error("You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) in.fail_undefined(v);
  if (!v.is_dict()) runtime_error("'" + type_name(v) + "' object has no attribute 'items'");
  std::vector<Value> items, keys;
  for (const auto& [k, x] : v.dict().items) {
    items.push_back(Value::list({k, x}, ListKind::tuple));
    Value key = by == "key" ? k : x;
    if (!cs && key.is_string()) key = Value::string(py_lower(key.str()));
    keys.push_back(key);
  }
  return Value::list(sorted_by(in, std::move(items), keys, reverse));
}

Value f_unique(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "unique", {"case_sensitive", "attribute"});
  bool cs = p[0] && truthy(*p[0]);
  AttrGetter get = make_attrgetter(p[1], !cs);
  Seq seq = in.iterate(v);
  std::vector<Value> seen, out;
  for (size_t i = 0; i < seq.size; i++) {
    Value key = get(in, seq[i]);
    if ((key.is_list() && key.list().kind == ListKind::list) || key.is_dict()) {
      runtime_error("unhashable type: '" + type_name(key) + "'");
    }
    bool dup = false;
    for (const auto& s : seen) {
      in.step();
      if (equals(s, key)) {
        dup = true;
        break;
      }
    }
    if (!dup) {
      seen.push_back(key);
      out.push_back(seq[i]);
    }
  }
  return make_generator(in, std::move(out));
}

Value min_or_max(Interp& in, const Value& v, CallArgs& a, bool want_max) {
  auto p = bind_args(a, want_max ? "max" : "min", {"case_sensitive", "attribute"});
  bool cs = p[0] && truthy(*p[0]);
  AttrGetter get = make_attrgetter(p[1], !cs);
  Seq seq = in.iterate(v);
  if (seq.size == 0) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = get(in, seq[0]);
  for (size_t i = 1; i < seq.size; i++) {
    Value key = get(in, seq[i]);
    int c = compare_values(key, best_key, want_max ? ">" : "<");
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = key;
    }
  }
  return seq[best];
}

Value f_min(Interp& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, false); }
Value f_max(Interp& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, true); }

Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "sum", {"attribute", "start"});
  AttrGetter get = make_attrgetter(p[0], false);
  Value total = p[1] ? *p[1] : Value::integer(0);
  Seq seq = in.iterate(v);
  for (size_t i = 0; i < seq.size; i++) {
    Value x = p[0] ? get(in, seq[i]) : seq[i];
    if (total.is_string()) runtime_error("sum() can't sum strings [use ''.join(seq) instead]");
    total = binary_op(in, BinOp::add, total, x);
  }
  return total;
}

Value f_reverse(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "reverse", {});
  if (v.is_string()) {
    Seq chars = in.iterate(v);
    std::string out;
    for (size_t i = chars.size; i-- > 0;) out += chars[i].str();
    in.charge(out.size());
    return same_string_kind(v, std::move(out));
  }
  if (v.is_list() && v.list().kind == ListKind::generator) {
    Seq seq = in.iterate(v);
    std::vector<Value> items(seq.data, seq.data + seq.size);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (v.is_undefined() || v.is_list() || v.is_dict()) {
    Seq seq = in.iterate(v);
    std::vector<Value> items(seq.data, seq.data + seq.size);
    std::reverse(items.begin(), items.end());
    return make_generator(in, std::move(items));
  }
  runtime_error("argument must be iterable");
}

Value f_batch(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "batch", {"linecount", "fill_with"});
  if (!p[0]) runtime_error("batch() missing required argument 'linecount'");
  int64_t n = require_int(*p[0], "linecount");
  if (n <= 0) runtime_error("batch linecount must be positive");
  Seq seq = in.iterate(v);
  std::vector<Value> out, tmp;
  for (size_t i = 0; i < seq.size; i++) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(seq[i]);
  }
  if (!tmp.empty()) {
    if (p[1] && !p[1]->is_none()) {
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*p[1]);
    }
    out.push_back(Value::list(std::move(tmp)));
  }
  return make_generator(in, std::move(out));
}

Value f_slice(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "slice", {"slices", "fill_with"});
  if (!p[0]) runtime_error("slice() missing required argument 'slices'");
  int64_t slices = require_int(*p[0], "slices");
  if (slices <= 0 || slices > 100000) runtime_error("slice count out of range");
  Seq seq = in.iterate(v);
  auto length = static_cast<int64_t>(seq.size);
  int64_t per = length / slices, extra = length % slices, offset = 0;
  std::vector<Value> out;
  for (int64_t s = 0; s < slices; s++) {
    int64_t start = offset + s * per;
    if (s < extra) offset++;
    int64_t end = offset + (s + 1) * per;
    std::vector<Value> tmp(seq.data + start, seq.data + end);
    if (p[1] && !p[1]->is_none() && s >= extra) tmp.push_back(*p[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  in.step(out.size() + seq.size);
  return make_generator(in, std::move(out));
}

Value f_random(Interp& in, const Value& v, CallArgs& a) {
  // Deterministic stand-in: rendering must be reproducible, so the first item is chosen.
  return f_first(in, v, a);
}

const FilterDef kSequenceFilters[] = {
    {"batch", f_batch},
    {"count", f_length},
    {"dictsort", f_dictsort},
    {"first", f_first},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"random", f_random},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"reverse", f_reverse},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"slice", f_slice},
    {"sort", f_sort},
    {"sum", f_sum},
    {"unique", f_unique},
};

}  // namespace

std::span<const FilterDef> sequence_filters() { return kSequenceFilters; }

}  // namespace parley::chat::jinja
