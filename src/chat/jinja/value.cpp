#include "chat/jinja/value.h"

#include "chat/jinja/error.h"
#include "chat/jinja/format.h"

namespace parley::chat::jinja {

void throw_error(ErrorKind kind, std::string message, uint32_t line) {
  throw TemplateError{kind, std::move(message), line};
}

Value Value::string(std::string s) {
  return Value(Storage(std::in_place_index<5>, std::make_shared<const std::string>(std::move(s))));
}

Value Value::markup(std::string s) {
  return Value(Storage(std::in_place_index<9>, std::make_shared<const std::string>(std::move(s))));
}

Value same_string_kind(const Value& like, std::string s) {
  return like.is_markup() ? Value::markup(std::move(s)) : Value::string(std::move(s));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value Value::list(std::vector<Value> items, ListKind kind) {
  auto l = std::make_shared<List>();
  l->kind = kind;
  l->items = std::move(items);
  return list(std::move(l));
}

Value Value::undefined(std::string message, bool unsafe) {
  auto info = std::make_shared<UndefinedInfo>();
  info->message = std::move(message);
  info->unsafe = unsafe;
  return Value(Storage(std::in_place_index<0>, std::move(info)));
}

double Value::number() const {
  if (is_float()) return as_float();
  return static_cast<double>(integral());
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& [k, v] : items) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

bool CallArgs::take(std::string_view name, Value* out) {
  for (size_t i = 0; i < kw.size(); i++) {
    if (kw[i].first == name) {
      *out = std::move(kw[i].second);
      kw.erase(kw.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

Value Object::call(Interp&, CallArgs&) {
  runtime_error("'" + type_name() + "' object is not callable");
}

Value Object::getattr(Interp&, std::string_view, bool* found) {
  *found = false;
  return Value();
}

void Object::repr(std::string& out, size_t) const { out += "<" + type_name() + " object>"; }

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return v.as_bool();
    case Kind::integer: return v.as_int() != 0;
    case Kind::floating: return v.as_float() != 0.0;
    case Kind::string: return !v.str().empty();
    case Kind::list: return v.list().kind == ListKind::generator || v.list().size() > 0;
    case Kind::dict: return !v.dict().items.empty();
    case Kind::object: return true;
  }
  return false;
}

namespace {

bool lists_equal(const List& a, const List& b) {
  if (&a == &b) return true;
  auto family = [](ListKind k) {
    // list, tuple and range only equal their own kind; views compare like lists here.
    return k == ListKind::tuple ? 1 : k == ListKind::range ? 2 : k == ListKind::generator ? 3 : 0;
  };
  if (family(a.kind) != family(b.kind) || family(a.kind) == 3) return false;
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (!equals(a.items[a.pos + i], b.items[b.pos + i])) return false;
  }
  return true;
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number() == b.number();
    return a.integral() == b.integral();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.str_ptr() == b.str_ptr() || a.str() == b.str();
    case Kind::list: return lists_equal(a.list(), b.list());
    case Kind::dict: {
      const Dict& x = a.dict();
      const Dict& y = b.dict();
      if (&x == &y) return true;
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* w = y.find(k);
        if (!w || !equals(v, *w)) return false;
      }
      return true;
    }
    case Kind::object: return a.object_ptr() == b.object_ptr();
    default: return false;
  }
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return v.is_markup() ? "Markup" : "str";
    case Kind::list:
      switch (v.list().kind) {
        case ListKind::list: return "list";
        case ListKind::tuple: return "tuple";
        case ListKind::generator: return "generator";
        case ListKind::dict_keys: return "dict_keys";
        case ListKind::dict_values: return "dict_values";
        case ListKind::dict_items: return "dict_items";
        case ListKind::range: return "range";
      }
      return "list";
    case Kind::dict: return "dict";
    case Kind::object: return v.object().type_name();
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "'None'";
  if (v.is_undefined()) return "'jinja2.runtime.Undefined object'";
  if (v.is_object()) {
    std::string n = v.object().type_name();
    if (n == "Namespace") return "'jinja2.utils.Namespace object'";
    if (n == "LoopContext") return "'jinja2.runtime.LoopContext object'";
    if (n == "Macro") return "'jinja2.runtime.Macro object'";
    return "'" + n + " object'";
  }
  return "'" + type_name(v) + " object'";
}

Value from_json(const json::Value& j) {
  switch (j.type()) {
    case json::Type::null: return Value::none();
    case json::Type::boolean: return Value::boolean(j.as_bool());
    case json::Type::integer: return Value::integer(j.as_int());
    case json::Type::number: return Value::floating(j.as_double());
    case json::Type::string: return Value::string(j.as_string());
    case json::Type::array: {
      std::vector<Value> items;
      items.reserve(j.as_array().size());
      for (const auto& e : j.as_array()) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case json::Type::object: {
      auto d = std::make_shared<Dict>();
      d->items.reserve(j.as_object().size());
      for (const auto& [k, v] : j.as_object()) {
        // Duplicate keys: Python's json keeps the last value at the first key's position.
        d->set(Value::string(k), from_json(v));
      }
      return Value::dict(std::move(d));
    }
  }
  return Value::none();
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

size_t code_point_offset(std::string_view s, size_t i) {
  size_t n = 0;
  for (size_t b = 0; b < s.size(); b++) {
    if ((static_cast<unsigned char>(s[b]) & 0xC0) != 0x80) {
      if (n == i) return b;
      n++;
    }
  }
  return s.size();
}

bool is_py_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace parley::chat::jinja
