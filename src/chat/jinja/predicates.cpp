// jinja2's tests (`x is defined`, `x is string`, ...).
#include "chat/jinja/filter-util.h"
#include "chat/jinja/format.h"
#include "chat/jinja/ops.h"

namespace parley::chat::jinja {
namespace {

const Value& one_arg(CallArgs& a, const char* name) {
  if (a.pos.size() != 1 || !a.kw.empty()) {
    runtime_error(std::string(name) + "() takes exactly one argument");
  }
  return a.pos[0];
}

void no_args(CallArgs& a, const char* name) {
  if (!a.pos.empty() || !a.kw.empty()) runtime_error(std::string(name) + "() takes no arguments");
}

bool t_defined(Interp&, const Value& v, CallArgs& a) { no_args(a, "defined"); return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs& a) { no_args(a, "undefined"); return v.is_undefined(); }
bool t_none(Interp&, const Value& v, CallArgs& a) { no_args(a, "none"); return v.is_none(); }
bool t_boolean(Interp&, const Value& v, CallArgs& a) { no_args(a, "boolean"); return v.is_bool(); }
bool t_false(Interp&, const Value& v, CallArgs& a) { no_args(a, "false"); return v.is_bool() && !v.as_bool(); }
bool t_true(Interp&, const Value& v, CallArgs& a) { no_args(a, "true"); return v.is_bool() && v.as_bool(); }
bool t_integer(Interp&, const Value& v, CallArgs& a) { no_args(a, "integer"); return v.is_int(); }
bool t_float(Interp&, const Value& v, CallArgs& a) { no_args(a, "float"); return v.is_float(); }
bool t_number(Interp&, const Value& v, CallArgs& a) { no_args(a, "number"); return v.is_number(); }
bool t_string(Interp&, const Value& v, CallArgs& a) { no_args(a, "string"); return v.is_string(); }
bool t_mapping(Interp&, const Value& v, CallArgs& a) { no_args(a, "mapping"); return v.is_dict(); }

bool t_iterable(Interp&, const Value& v, CallArgs& a) {
  no_args(a, "iterable");
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict() ||
         (v.is_object() && v.object().type_name() == "LoopContext");
}

bool t_sequence(Interp&, const Value& v, CallArgs& a) {
  no_args(a, "sequence");
  if (v.is_list()) {
    ListKind k = v.list().kind;
    return k == ListKind::list || k == ListKind::tuple || k == ListKind::range;
  }
  return v.is_undefined() || v.is_string() || v.is_dict();
}

bool t_callable(Interp&, const Value& v, CallArgs& a) {
  no_args(a, "callable");
  return v.is_object() && v.object().is_callable();
}

bool t_sameas(Interp&, const Value& v, CallArgs& a) {
  const Value& o = one_arg(a, "sameas");
  if (v.kind() != o.kind()) return false;
  switch (v.kind()) {
    case Kind::none: return true;
    case Kind::boolean: return v.as_bool() == o.as_bool();
    case Kind::integer: return v.as_int() == o.as_int();
    case Kind::floating: return false;
    case Kind::string: return v.str_ptr() == o.str_ptr();
    case Kind::list: return v.list_ptr() == o.list_ptr();
    case Kind::dict: return v.dict_ptr() == o.dict_ptr();
    case Kind::object: return v.object_ptr() == o.object_ptr();
    case Kind::undefined: return v.undefined_info() == o.undefined_info();
  }
  return false;
}

bool t_escaped(Interp&, const Value&, CallArgs& a) { no_args(a, "escaped"); return false; }

bool t_in(Interp& in, const Value& v, CallArgs& a) { return in.contains(one_arg(a, "in"), v); }

int cmp(Interp& in, const Value& v, const Value& o, const char* op) {
  if (v.is_undefined()) in.fail_undefined(v);
  if (o.is_undefined()) in.fail_undefined(o);
  return compare_values(v, o, op);
}

bool t_eq(Interp&, const Value& v, CallArgs& a) { return equals(v, one_arg(a, "eq")); }
bool t_ne(Interp&, const Value& v, CallArgs& a) { return !equals(v, one_arg(a, "ne")); }
bool t_lt(Interp& in, const Value& v, CallArgs& a) { return cmp(in, v, one_arg(a, "lt"), "<") < 0; }
bool t_le(Interp& in, const Value& v, CallArgs& a) { return cmp(in, v, one_arg(a, "le"), "<=") <= 0; }
bool t_gt(Interp& in, const Value& v, CallArgs& a) { return cmp(in, v, one_arg(a, "gt"), ">") > 0; }
bool t_ge(Interp& in, const Value& v, CallArgs& a) { return cmp(in, v, one_arg(a, "ge"), ">=") >= 0; }

bool t_divisibleby(Interp& in, const Value& v, CallArgs& a) {
  Value r = binary_op(in, BinOp::mod, v, one_arg(a, "divisibleby"));
  return equals(r, Value::integer(0));
}

bool t_odd(Interp& in, const Value& v, CallArgs& a) {
  no_args(a, "odd");
  return equals(binary_op(in, BinOp::mod, v, Value::integer(2)), Value::integer(1));
}

bool t_even(Interp& in, const Value& v, CallArgs& a) {
  no_args(a, "even");
  return equals(binary_op(in, BinOp::mod, v, Value::integer(2)), Value::integer(0));
}

bool t_lower(Interp& in, const Value& v, CallArgs& a) {
  no_args(a, "lower");
  CallArgs none;
  return truthy(call_method(in, Value::string(soft_str(in, v)), "islower", none));
}

bool t_upper(Interp& in, const Value& v, CallArgs& a) {
  no_args(a, "upper");
  CallArgs none;
  return truthy(call_method(in, Value::string(soft_str(in, v)), "isupper", none));
}

bool t_filter(Interp&, const Value& v, CallArgs& a) {
  no_args(a, "filter");
  return v.is_string() && find_filter(v.str()) != nullptr;
}

bool t_test(Interp&, const Value& v, CallArgs& a) {
  no_args(a, "test");
  return v.is_string() && find_test(v.str()) != nullptr;
}

const TestDef kTests[] = {
    {"!=", t_ne},          {"<", t_lt},
    {"<=", t_le},          {"==", t_eq},
    {">", t_gt},           {">=", t_ge},
    {"boolean", t_boolean}, {"callable", t_callable},
    {"defined", t_defined}, {"divisibleby", t_divisibleby},
    {"eq", t_eq},          {"equalto", t_eq},
    {"escaped", t_escaped}, {"even", t_even},
    {"false", t_false},    {"filter", t_filter},
    {"float", t_float},    {"ge", t_ge},
    {"greaterthan", t_gt}, {"gt", t_gt},
    {"in", t_in},          {"integer", t_integer},
    {"iterable", t_iterable}, {"le", t_le},
    {"lessthan", t_lt},    {"lower", t_lower},
    {"lt", t_lt},          {"mapping", t_mapping},
    {"ne", t_ne},          {"none", t_none},
    {"number", t_number},  {"odd", t_odd},
    {"sameas", t_sameas},  {"sequence", t_sequence},
    {"string", t_string},  {"test", t_test},
    {"true", t_true},      {"undefined", t_undefined},
    {"upper", t_upper},
};

}  // namespace

std::span<const TestDef> all_tests() { return kTests; }

}  // namespace parley::chat::jinja
