// jinja2's string and scalar filters, transformers' tojson, and the filter/test registries.
#include <cmath>
#include <cstring>

#include "base/utf8.h"
#include "chat/jinja/filter-util.h"
#include "chat/jinja/format.h"
#include "chat/jinja/ops.h"

namespace parley::chat::jinja {
namespace {

Value f_string(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "string", {});
  if (v.is_string()) return v;
  return in.make_string(soft_str(in, v));
}

Value f_safe(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "safe", {});
  if (v.is_markup()) return v;
  return Value::markup(soft_str(in, v));
}

// Filters that call a str method on soft_str(value) keep Markup, like Python.
Value string_kept(Interp& in, const Value& v, std::string s) {
  in.charge(s.size());
  return same_string_kind(v, std::move(s));
}

Value f_upper(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "upper", {});
  return string_kept(in, v, py_upper(soft_str(in, v)));
}

Value f_lower(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "lower", {});
  return string_kept(in, v, py_lower(soft_str(in, v)));
}

Value f_capitalize(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "capitalize", {});
  CallArgs none;
  return call_method(in, v.is_string() ? v : Value::string(soft_str(in, v)), "capitalize", none);
}

Value f_title(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "title", {});
  // Words begin after runs of "-", whitespace, "(", "{", "[" or "<" (jinja2's regex).
  std::string s = soft_str(in, v), out;
  auto is_sep = [](uint32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
  };
  bool word_start = true;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    int32_t cp = utf8::decode(s, i, &len);
    std::string ch = s.substr(i, len);
    i += len;
    if (cp >= 0 && is_sep(static_cast<uint32_t>(cp))) {
      out += ch;
      word_start = true;
      continue;
    }
    out += word_start ? py_upper(ch) : py_lower(ch);
    word_start = false;
  }
  return in.make_string(std::move(out));
}

Value f_trim(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "trim", {"chars"});
  const Value* chars = p[0] && !p[0]->is_none() ? &*p[0] : nullptr;
  if (chars && !chars->is_string()) runtime_error("strip arg must be None or str");
  return string_kept(in, v, py_strip(soft_str(in, v), chars, true, true));
}

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "replace", {"old", "new", "count"});
  if (!p[0] || !p[1]) runtime_error("replace() missing required argument");
  int64_t count = -1;
  if (p[2] && !p[2]->is_none()) count = require_int(*p[2], "count");
  return in.make_string(py_replace(soft_str(in, v), soft_str(in, *p[0]), soft_str(in, *p[1]), count));
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "indent", {"width", "first", "blank"});
  if (v.is_undefined()) in.fail_undefined(v);
  if (!v.is_string()) {
    runtime_error("unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
  }
  std::string ind;
  if (p[0] && p[0]->is_string()) {
    ind = p[0]->str();
  } else {
    int64_t w = p[0] ? require_int(*p[0], "width") : 4;
    if (w > 0) {
      if (static_cast<size_t>(w) > in.max_bytes()) throw_error(ErrorKind::limit, "indent too wide");
      ind.assign(static_cast<size_t>(w), ' ');
    }
  }
  bool first = p[1] && truthy(*p[1]);
  bool blank = p[2] && truthy(*p[2]);
  std::vector<std::string> lines = py_splitlines(v.str() + "\n", false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); i++) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); i++) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
      if (rv.size() > in.max_bytes()) throw_error(ErrorKind::limit, "indent result too long");
    }
  }
  if (first) rv = ind + rv;
  return string_kept(in, v, std::move(rv));
}

Value f_center(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "center", {"width"});
  CallArgs args;
  args.pos.push_back(p[0] ? *p[0] : Value::integer(80));
  return call_method(in, v.is_string() ? v : Value::string(soft_str(in, v)), "center", args);
}

Value f_truncate(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "truncate", {"length", "killwords", "end", "leeway"});
  std::string s = soft_str(in, v);
  int64_t length = p[0] ? require_int(*p[0], "length") : 255;
  bool killwords = p[1] && truthy(*p[1]);
  std::string end = p[2] ? soft_str(in, *p[2]) : "...";
  int64_t leeway = p[3] && !p[3]->is_none() ? require_int(*p[3], "leeway") : 5;
  auto end_len = static_cast<int64_t>(count_code_points(end));
  if (length < end_len) runtime_error("expected length >= " + std::to_string(end_len));
  if (leeway < 0) runtime_error("expected leeway >= 0");
  auto n = static_cast<int64_t>(count_code_points(s));
  if (n <= length + leeway) return v.is_string() ? v : Value::string(s);
  std::string head = s.substr(0, code_point_offset(s, static_cast<size_t>(length - end_len)));
  if (!killwords) {
    size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head.resize(sp);
  }
  if (v.is_markup()) return Value::markup(head + html_escape(end));
  return in.make_string(head + end);
}

Value f_wordcount(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "wordcount", {});
  std::string s = soft_str(in, v);
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool w = u >= 0x80 || (u >= '0' && u <= '9') || ((u | 32) >= 'a' && (u | 32) <= 'z') || u == '_';
    if (w && !in_word) n++;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_escape(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "escape", {});
  if (v.is_markup()) return v;
  return Value::markup(html_escape(soft_str(in, v)));
}

Value f_forceescape(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "forceescape", {});
  return Value::markup(html_escape(soft_str(in, v)));
}

Value f_striptags(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "striptags", {});
  std::string s = soft_str(in, v), out;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 4, "<!--") == 0) {
      size_t e = s.find("-->", i + 4);
      if (e != std::string::npos) {
        i = e + 3;
        continue;
      }
    }
    if (s[i] == '<') {
      size_t e = s.find('>', i + 1);
      if (e != std::string::npos) {
        i = e + 1;
        continue;
      }
    }
    out += s[i++];
  }
  std::string joined;
  for (const auto& w : py_split_whitespace(out, -1)) joined += (joined.empty() ? "" : " ") + w;
  static const char* ents[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&#34;", "\""},
                                  {"&#39;", "'"}, {"&quot;", "\""}};
  for (const auto& e : ents) joined = py_replace(joined, e[0], e[1], -1);
  return in.make_string(std::move(joined));
}

Value f_format(Interp& in, const Value& v, CallArgs& a) {
  if (!a.pos.empty() && !a.kw.empty()) {
    runtime_error("can't handle positional and keyword arguments at the same time");
  }
  Value args;
  if (!a.kw.empty()) {
    auto d = std::make_shared<Dict>();
    for (auto& [k, x] : a.kw) d->set(Value::string(k), x);
    args = Value::dict(d);
  } else {
    args = Value::list(a.pos, ListKind::tuple);
  }
  if (v.is_markup()) return Value::markup(py_percent_format(in, v.str(), args, true));
  return in.make_string(py_percent_format(in, soft_str(in, v), args));
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "default", {"default_value", "boolean"});
  bool boolean = p[1] && truthy(*p[1]);
  if (v.is_undefined() || (boolean && !truthy(v))) return p[0] ? *p[0] : Value::string("");
  return v;
}

// Python's int(str, base) for the forms jinja2's int filter accepts.
std::optional<int64_t> parse_py_int(std::string_view s, int base) {
  std::string t = py_strip(s, nullptr, true, true);
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
  if (base == 16 || base == 8 || base == 2 || base == 0) {
    if (i + 1 < t.size() && t[i] == '0') {
      char x = static_cast<char>(t[i + 1] | 0x20);
      int b = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 0;
      if (b && (base == 0 || base == b)) {
        base = b;
        i += 2;
        if (i < t.size() && t[i] == '_') i++;
      }
    }
    if (base == 0) base = 10;
  }
  if (i >= t.size()) return std::nullopt;
  uint64_t v = 0;
  bool last_digit = false;
  for (; i < t.size(); i++) {
    char c = t[i];
    if (c == '_' && last_digit) {
      last_digit = false;
      continue;
    }
    int d = (c >= '0' && c <= '9') ? c - '0' : ((c | 32) >= 'a' && (c | 32) <= 'z') ? (c | 32) - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
    if (v > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      return std::nullopt;
    }
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    last_digit = true;
  }
  if (!last_digit) return std::nullopt;
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

// Python's float(str).
std::optional<double> parse_py_float(std::string_view s) {
  std::string t = py_strip(s, nullptr, true, true);
  std::string clean;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 >= t.size() || !isdigit(static_cast<unsigned char>(t[i - 1])) ||
          !isdigit(static_cast<unsigned char>(t[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    clean += t[i];
  }
  std::string lower = py_lower(clean);
  std::string body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body = body.substr(1);
  if (body == "inf" || body == "infinity" || body == "nan") {
    double x = body == "nan" ? NAN : INFINITY;
    return lower[0] == '-' ? -x : x;
  }
  if (clean.empty() || clean.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

Value f_int(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "int", {"default", "base"});
  Value dflt = p[0] ? *p[0] : Value::integer(0);
  int base = p[1] ? static_cast<int>(require_int(*p[1], "base")) : 10;
  if (v.is_undefined()) in.fail_undefined(v);
  if (v.is_integral()) return Value::integer(v.integral());
  if (v.is_float()) {
    if (std::isnan(v.as_float())) return dflt;  // ValueError, which jinja2 turns into the default
    return Value::integer(float_to_int(v.as_float()));
  }
  if (v.is_string()) {
    if (auto i = parse_py_int(v.str(), base)) return Value::integer(*i);
    if (auto d = parse_py_float(v.str())) {
      if (std::isnan(*d)) return dflt;
      return Value::integer(float_to_int(*d));
    }
  }
  return dflt;
}

Value f_float(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "float", {"default"});
  Value dflt = p[0] ? *p[0] : Value::floating(0.0);
  if (v.is_undefined()) in.fail_undefined(v);
  if (v.is_number()) return Value::floating(v.number());
  if (v.is_string()) {
    if (auto d = parse_py_float(v.str())) return Value::floating(*d);
  }
  return dflt;
}

Value f_abs(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "abs", {});
  if (v.is_undefined()) in.fail_undefined(v);
  if (v.is_integral()) {
    if (v.integral() == INT64_MIN) throw_error(ErrorKind::limit, "integer overflow");
    return Value::integer(std::llabs(v.integral()));
  }
  if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
  runtime_error("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_round(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "round", {"precision", "method"});
  int64_t precision = p[0] ? require_int(*p[0], "precision") : 0;
  std::string method = p[1] ? soft_str(in, *p[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor") {
    runtime_error("method must be common, ceil or floor");
  }
  if (v.is_undefined()) in.fail_undefined(v);
  if (!v.is_number()) runtime_error("type " + type_name(v) + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value::integer(v.integral());
      if (precision < -300) return Value::integer(0);  // |v| < 1e19: rounds to 0 long before
      double scale = std::pow(10.0, static_cast<double>(-precision));
      return Value::integer(float_to_int(std::nearbyint(static_cast<double>(v.integral()) / scale) * scale));
    }
    double x = v.as_float();
    if (!std::isfinite(x) || precision > 300) return Value::floating(x);
    if (precision < -308) return Value::floating(0.0 * x);
    // Correctly rounded, ties to even on the exact binary value, like Python's round().
    char buf[512];
    if (precision >= 0) {
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
      return Value::floating(std::strtod(buf, nullptr));
    }
    double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::floating(std::nearbyint(x / scale) * scale);
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.number() * scale;
  x = method == "ceil" ? std::ceil(x) : std::floor(x);
  return Value::floating(x / scale);
}

Value f_tojson(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle st;
  st.ensure_ascii = p[0] && truthy(*p[0]);
  if (p[1] && !p[1]->is_none()) {
    st.has_indent = true;
    if (p[1]->is_string()) {
      st.indent = p[1]->str();
    } else {
      int64_t n = require_int(*p[1], "indent");
      if (n > 1000) throw_error(ErrorKind::limit, "tojson indent too large");
      if (n > 0) st.indent.assign(static_cast<size_t>(n), ' ');
    }
    st.item_separator = ",";
  }
  if (p[2] && !p[2]->is_none()) {
    Seq seq = in.iterate(*p[2]);
    if (seq.size != 2 || !seq[0].is_string() || !seq[1].is_string()) {
      runtime_error("separators must be a pair of strings");
    }
    st.item_separator = seq[0].str();
    st.key_separator = seq[1].str();
  }
  st.sort_keys = p[3] && truthy(*p[3]);
  std::string out;
  append_json(out, v, st, in.max_bytes());
  return in.make_string(std::move(out));
}

Value f_filesizeformat(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "filesizeformat", {"binary"});
  bool binary = p[0] && truthy(*p[0]);
  double bytes = v.is_number() ? v.number() : 0;
  if (v.is_string()) {
    auto d = parse_py_float(v.str());
    if (!d) runtime_error("could not convert string to float");
    bytes = *d;
  }
  double base = binary ? 1024 : 1000;
  static const char* dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  char buf[64];
  if (bytes == 1) return Value::string("1 Byte");
  if (bytes < base) {
    std::snprintf(buf, sizeof buf, "%d Bytes", static_cast<int>(bytes));
    return in.make_string(buf);
  }
  for (int i = 0; i < 8; i++) {
    double unit = std::pow(base, i + 2);
    if (bytes < unit || i == 7) {
      std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? bin[i] : dec[i]);
      return in.make_string(buf);
    }
  }
  return Value::string("");
}

Value f_urlencode(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "urlencode", {});
  // jinja2's url_quote: "/" stays in plain strings; in query pairs a space becomes "+".
  auto quote = [](std::string_view s, bool keep_slash) {
    std::string out;
    for (unsigned char c : s) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-' || c == '~' || (keep_slash && c == '/')) {
        out += static_cast<char>(c);
      } else if (c == ' ' && !keep_slash) {
        out += '+';
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  };
  if (v.is_string()) return in.make_string(quote(v.str(), true));
  std::string out;
  auto pair = [&](const Value& k, const Value& x) {
    if (!out.empty()) out += '&';
    out += quote(soft_str(in, k), false) + "=" + quote(soft_str(in, x), false);
  };
  if (v.is_dict()) {
    for (const auto& [k, x] : v.dict().items) pair(k, x);
  } else if (v.is_list()) {
    Seq seq = in.iterate(v);
    for (size_t i = 0; i < seq.size; i++) {
      Seq kv = in.iterate(seq[i]);
      if (kv.size != 2) runtime_error("urlencode expects pairs");
      pair(kv[0], kv[1]);
    }
  } else {
    return in.make_string(quote(soft_str(in, v), true));
  }
  return in.make_string(std::move(out));
}

Value f_attr(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args(a, "attr", {"name"});
  if (!p[0] || !p[0]->is_string()) runtime_error("attr() name must be a string");
  // Python's getattr only: a dict key is not an attribute (unlike `.` in templates).
  if (v.is_dict()) {
    if (method_kind(v, p[0]->str()) == MethodKind::none) {
      return Value::undefined("'dict object' has no attribute '" + p[0]->str() + "'");
    }
  }
  return in.getattr(v, p[0]->str());
}

Value f_pprint(Interp& in, const Value& v, CallArgs& a) {
  bind_args(a, "pprint", {});
  return in.make_string(to_repr(v, in.max_bytes()));
}

const FilterDef kStringFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"d", f_default},
    {"default", f_default},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", f_filesizeformat},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"lower", f_lower},
    {"pprint", f_pprint},
    {"replace", f_replace},
    {"round", f_round},
    {"safe", f_safe},
    {"string", f_string},
    {"striptags", f_striptags},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"upper", f_upper},
    {"urlencode", f_urlencode},
    {"wordcount", f_wordcount},
};

}  // namespace

std::span<const FilterDef> string_filters() { return kStringFilters; }

const FilterDef* find_filter(std::string_view name) {
  for (auto table : {string_filters(), sequence_filters()}) {
    for (const auto& f : table) {
      if (name == f.name) return &f;
    }
  }
  return nullptr;
}

const TestDef* find_test(std::string_view name) {
  for (const auto& t : all_tests()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::string soft_str(Interp& in, const Value& v) {
  if (v.is_string()) return v.str();
  return to_str(v, in.max_bytes());
}

int64_t float_to_int(double x) {
  if (std::isnan(x)) runtime_error("cannot convert float NaN to integer");
  if (std::isinf(x)) runtime_error("cannot convert float infinity to integer");
  // [-2^63, 2^63) is exactly the doubles that convert without overflow.
  if (x < -9223372036854775808.0 || x >= 9223372036854775808.0) {
    throw_error(ErrorKind::limit, "integer overflow (Python would use a big integer here)");
  }
  return static_cast<int64_t>(x);
}

int64_t require_int(const Value& v, const char* what) {
  if (!v.is_integral()) {
    runtime_error("'" + type_name(v) + "' object cannot be interpreted as an integer (" + what + ")");
  }
  return v.integral();
}

AttrGetter make_attrgetter(const std::optional<Value>& attribute, bool lower_strings,
                           std::optional<Value> default_value) {
  AttrGetter g;
  g.lower_strings = lower_strings;
  g.default_value = std::move(default_value);
  if (attribute && !attribute->is_none()) {
    if (attribute->is_string()) {
      for (auto part : split(attribute->str(), '.')) {
        bool digits = !part.empty();
        for (char c : part) digits = digits && c >= '0' && c <= '9';
        if (digits && part.size() < 18) {
          g.parts.push_back(Value::integer(std::stoll(std::string(part))));
        } else {
          g.parts.push_back(Value::string(std::string(part)));
        }
      }
    } else {
      g.parts.push_back(*attribute);
    }
  }
  return g;
}

Value AttrGetter::operator()(Interp& in, const Value& item) const {
  Value v = item;
  for (const auto& p : parts) {
    v = in.getitem(v, p);
    if (v.is_undefined() && default_value) {
      v = *default_value;
      break;
    }
  }
  if (lower_strings && v.is_string()) return Value::string(py_lower(v.str()));
  return v;
}

Value make_generator(Interp& in, std::vector<Value> items) {
  in.charge(items.size() * sizeof(Value));
  return Value::list(std::move(items), ListKind::generator);
}

Value call_filter_by_name(Interp& in, const std::string& name, const Value& v,
                          const std::vector<Value>& args, const CallArgs& kwargs) {
  const FilterDef* f = find_filter(name);
  if (!f) runtime_error("No filter named '" + name + "'.");
  CallArgs a;
  a.pos = args;
  a.kw = kwargs.kw;
  return f->fn(in, v, a);
}

bool call_test_by_name(Interp& in, const std::string& name, const Value& v,
                       const std::vector<Value>& args, const CallArgs& kwargs) {
  const TestDef* t = find_test(name);
  if (!t) runtime_error("No test named '" + name + "'.");
  CallArgs a;
  a.pos = args;
  a.kw = kwargs.kw;
  return t->fn(in, v, a);
}

}  // namespace parley::chat::jinja
