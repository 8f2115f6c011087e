// Python string formatting: `str % args`, str.format (as jinja2's sandbox allows it) and
// datetime.strftime.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <optional>

#include "base/strings.h"
#include "base/utf8.h"
#include "chat/jinja/filter-util.h"
#include "chat/jinja/format.h"

namespace parley::chat::jinja {
namespace {

std::string pad_to(std::string s, int64_t width, bool left_align, char fill = ' ') {
  auto len = static_cast<int64_t>(count_code_points(s));
  if (width <= len) return s;
  std::string fillstr(static_cast<size_t>(width - len), fill);
  return left_align ? s + fillstr : fillstr + s;
}

// True when c is one of the characters of set. Unlike strchr, the NUL byte is never a member
// (strchr finds every set's terminator, which let a NUL in a template's format string through as a
// flag or a conversion type and handed printf a cut-off spec).
bool one_of(std::string_view set, char c) { return set.find(c) != std::string_view::npos; }

// A field name or element index of str.format: all digits is a number (Python's "Too many decimal
// digits" past int64), anything else is not.
std::optional<int64_t> format_index(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char d : s) {
    if (d < '0' || d > '9') return std::nullopt;
    if (v > (INT64_MAX - (d - '0')) / 10) runtime_error("Too many decimal digits in format string");
    v = v * 10 + (d - '0');
  }
  return v;
}

// One %-conversion of v with flags/width/precision.
std::string percent_one(Interp& in, char type, const std::string& flags, int64_t width,
                        int64_t precision, const Value& v) {
  if (width > 100000 || precision > 1000) throw_error(ErrorKind::limit, "format width too large");
  bool left = flags.find('-') != std::string::npos;
  if (type == 's' || type == 'r' || type == 'a') {
    std::string s = type == 's' ? soft_str(in, v) : to_repr(v, in.max_bytes());
    if (precision >= 0 && static_cast<size_t>(precision) < count_code_points(s)) {
      s = s.substr(0, code_point_offset(s, static_cast<size_t>(precision)));
    }
    return pad_to(s, width, left);
  }
  if (type == 'c') {
    std::string s;
    if (v.is_integral()) {
      int64_t c = v.integral();
      if (c < 0 || c > 0x10FFFF) runtime_error("%c arg not in range(0x110000)");
      utf8::append(s, static_cast<uint32_t>(c));
    } else if (v.is_string() && count_code_points(v.str()) == 1) {
      s = v.str();
    } else {
      runtime_error("%c requires int or char");
    }
    return pad_to(s, width, left);
  }
  std::string spec = "%" + flags;
  if (width >= 0) spec += std::to_string(width);
  if (precision >= 0) spec += "." + std::to_string(precision);
  if (type == 'd' || type == 'i' || type == 'u') {
    if (v.is_undefined()) in.fail_undefined(v);
    if (!v.is_number()) {
      runtime_error(std::string("%") + type + " format: a real number is required, not " + type_name(v));
    }
    int64_t i = v.is_float() ? float_to_int(v.as_float()) : v.integral();
    return str_printf((spec + "lld").c_str(), static_cast<long long>(i));
  }
  if (type == 'x' || type == 'X' || type == 'o') {
    if (!v.is_integral()) {
      runtime_error(std::string("%") + type + " format: an integer is required, not " + type_name(v));
    }
    int64_t i = v.integral();
    bool neg = i < 0;
    auto mag = static_cast<unsigned long long>(neg ? -(i + 1) + 1ull : static_cast<unsigned long long>(i));
    std::string f = flags;
    bool alt = f.find('#') != std::string::npos;
    if (alt) f.erase(f.find('#'), 1);
    std::string digits_spec = "%" + std::string(precision >= 0 ? "." + std::to_string(precision) : "") + "ll" + type;
    std::string digits = str_printf(digits_spec.c_str(), mag);
    std::string prefix = neg ? "-" : f.find('+') != std::string::npos ? "+" : f.find(' ') != std::string::npos ? " " : "";
    if (alt) prefix += type == 'o' ? "0o" : type == 'x' ? "0x" : "0X";
    std::string body = prefix + digits;
    if (f.find('0') != std::string::npos && !left && static_cast<int64_t>(body.size()) < width) {
      body = prefix + std::string(static_cast<size_t>(width) - body.size(), '0') + digits;
    }
    return pad_to(body, width, left);
  }
  if (one_of("eEfFgG", type)) {
    if (v.is_undefined()) in.fail_undefined(v);
    if (!v.is_number()) runtime_error("must be real number, not " + type_name(v));
    if (precision < 0) spec += ".6";
    return str_printf((spec + type).c_str(), v.number());
  }
  const bool printable = type > 0x20 && type < 0x7f;
  runtime_error(str_printf("unsupported format character '%c' (0x%x)", printable ? type : '?',
                           static_cast<unsigned>(static_cast<unsigned char>(type))));
}

}  // namespace

std::string py_percent_format(Interp& in, std::string_view fmt, const Value& args,
                              bool escape_args) {
  const bool is_tuple = args.is_list() && args.list().kind == ListKind::tuple;
  const bool mapping = !is_tuple && (args.is_dict() || args.is_list());
  std::vector<Value> pos;
  if (is_tuple) {
    pos.assign(args.list().items.begin() + static_cast<std::ptrdiff_t>(args.list().pos), args.list().items.end());
  } else {
    pos.push_back(args);
  }
  size_t next = 0;
  std::string out;
  size_t i = 0;
  auto next_arg = [&]() -> const Value& {
    if (next >= pos.size()) runtime_error("not enough arguments for format string");
    return pos[next++];
  };
  while (i < fmt.size()) {
    char c = fmt[i];
    if (c != '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    if (i >= fmt.size()) runtime_error("incomplete format");
    std::optional<Value> keyed;
    if (fmt[i] == '(') {
      if (!args.is_dict()) runtime_error("format requires a mapping");
      int depth = 1;
      size_t start = ++i;
      while (i < fmt.size() && depth > 0) {
        if (fmt[i] == '(') depth++;
        if (fmt[i] == ')') depth--;
        i++;
      }
      if (depth) runtime_error("incomplete format key");
      std::string key(fmt.substr(start, i - 1 - start));
      const Value* v = args.dict().find(key);
      if (!v) runtime_error("KeyError: '" + key + "'");
      keyed = *v;
    }
    std::string flags;
    while (i < fmt.size() && one_of("-+ #0", fmt[i])) flags += fmt[i++];
    int64_t width = -1, precision = -1;
    if (i < fmt.size() && fmt[i] == '*') {
      width = require_int(next_arg(), "* width");
      if (width < 0) {
        flags += '-';
        width = -width;
      }
      i++;
    } else {
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        width = (width < 0 ? 0 : width) * 10 + (fmt[i++] - '0');
        if (width > 100000) throw_error(ErrorKind::limit, "format width too large");
      }
    }
    if (i < fmt.size() && fmt[i] == '.') {
      i++;
      precision = 0;
      if (i < fmt.size() && fmt[i] == '*') {
        precision = require_int(next_arg(), "* precision");
        i++;
      } else {
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
          precision = precision * 10 + (fmt[i++] - '0');
          if (precision > 1000) throw_error(ErrorKind::limit, "format precision too large");
        }
      }
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) i++;
    if (i >= fmt.size()) runtime_error("incomplete format");
    char type = fmt[i++];
    if (type == '%') {
      out += '%';
      continue;
    }
    const Value& v = keyed ? *keyed : next_arg();
    if (escape_args && (type == 's' || type == 'r' || type == 'a') && !v.is_markup()) {
      std::string text = type == 's' ? soft_str(in, v) : to_repr(v, in.max_bytes());
      out += percent_one(in, 's', flags, width, precision, Value::string(html_escape(text)));
    } else {
      out += percent_one(in, type, flags, width, precision, v);
    }
    if (out.size() > in.max_bytes()) throw_error(ErrorKind::limit, "formatted string too long");
  }
  if (next < pos.size() && !mapping && (is_tuple || next == 0)) {
    runtime_error("not all arguments converted during string formatting");
  }
  return out;
}

namespace {

// format(value, spec) for the spec forms templates use.
std::string format_spec(Interp& in, const Value& v, std::string_view spec) {
  if (spec.empty()) return soft_str(in, v);
  size_t i = 0;
  char fill = ' ', align = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (spec.size() >= 2 && is_align(spec[1])) {
    fill = spec[0];
    align = spec[1];
    i = 2;
  } else if (is_align(spec[0])) {
    align = spec[0];
    i = 1;
  }
  char sign = 0;
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
  bool alt = false, zero = false;
  if (i < spec.size() && spec[i] == '#') alt = spec[i++] == '#';
  if (i < spec.size() && spec[i] == '0') {
    zero = true;
    i++;
  }
  int64_t width = -1, precision = -1;
  while (i < spec.size() && isdigit(static_cast<unsigned char>(spec[i]))) {
    width = (width < 0 ? 0 : width) * 10 + (spec[i++] - '0');
    if (width > 100000) throw_error(ErrorKind::limit, "format width too large");
  }
  char grouping = 0;
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) grouping = spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    i++;
    precision = 0;
    while (i < spec.size() && isdigit(static_cast<unsigned char>(spec[i]))) {
      precision = precision * 10 + (spec[i++] - '0');
      if (precision > 1000) throw_error(ErrorKind::limit, "format precision too large");
    }
  }
  char type = i < spec.size() ? spec[i++] : 0;
  if (i != spec.size()) runtime_error("Invalid format specifier");
  std::string body;
  bool numeric = v.is_number() && !(v.is_bool() && type == 0);
  if (v.is_string() || (!v.is_number())) {
    if (type != 0 && type != 's') runtime_error(std::string("Unknown format code '") + type + "' for object of type '" + type_name(v) + "'");
    if (!v.is_string() && (sign || alt || zero || grouping)) runtime_error("unsupported format string");
    body = soft_str(in, v);
    if (precision >= 0 && static_cast<size_t>(precision) < count_code_points(body)) {
      body = body.substr(0, code_point_offset(body, static_cast<size_t>(precision)));
    }
    if (!align) align = '<';
  } else {
    std::string flags;
    if (sign == '+' || sign == ' ') flags += sign;
    if (alt) flags += '#';
    Value num = v.is_bool() ? Value::integer(v.integral()) : v;
    if (type == 0 && num.is_integral()) type = 'd';
    if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
      if (!num.is_integral()) runtime_error(std::string("Unknown format code '") + type + "' for object of type 'float'");
      if (type == 'b') {
        uint64_t m = static_cast<uint64_t>(num.integral() < 0 ? -num.integral() : num.integral());
        std::string bits;
        do {
          bits.insert(bits.begin(), static_cast<char>('0' + (m & 1)));
          m >>= 1;
        } while (m);
        body = (num.integral() < 0 ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "") + std::string(alt ? "0b" : "") + bits;
      } else {
        body = percent_one(in, type, flags, -1, -1, num);
      }
      if (grouping && type == 'd') {
        std::string digits = body, pre;
        while (!digits.empty() && !isdigit(static_cast<unsigned char>(digits[0]))) {
          pre += digits[0];
          digits.erase(0, 1);
        }
        std::string g;
        for (size_t k = 0; k < digits.size(); k++) {
          if (k && (digits.size() - k) % 3 == 0) g += grouping;
          g += digits[k];
        }
        body = pre + g;
      }
    } else if (type == 0) {
      body = precision < 0 ? soft_str(in, num) : percent_one(in, 'g', flags, -1, precision, num);
    } else if (type == '%') {
      body = percent_one(in, 'f', flags, -1, precision < 0 ? 6 : precision, Value::floating(num.number() * 100)) + "%";
    } else {
      body = percent_one(in, type, flags, -1, precision < 0 ? 6 : precision, num);
    }
    if (!align) align = zero ? '=' : '>';
    if (zero && fill == ' ' && align == '=') fill = '0';
  }
  (void)numeric;
  auto len = static_cast<int64_t>(count_code_points(body));
  if (width <= len) return body;
  auto n = static_cast<size_t>(width - len);
  std::string f(1, fill);
  auto rep = [&](size_t k) {
    std::string s;
    for (size_t x = 0; x < k; x++) s += f;
    return s;
  };
  switch (align) {
    case '<': return body + rep(n);
    case '^': return rep(n / 2) + body + rep(n - n / 2);
    case '=': {
      size_t p = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
      return body.substr(0, p) + rep(n) + body.substr(p);
    }
    default: return rep(n) + body;
  }
}

}  // namespace

std::string py_str_format(Interp& in, std::string_view fmt, CallArgs& args) {
  std::string out;
  size_t i = 0;
  int auto_index = 0;
  bool manual = false, automatic = false;
  while (i < fmt.size()) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      runtime_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      i++;
      continue;
    }
    size_t end = fmt.find('}', i);
    if (end == std::string_view::npos) runtime_error("expected '}' before end of string");
    std::string_view field = fmt.substr(i + 1, end - i - 1);
    i = end + 1;
    std::string_view spec, conv;
    size_t colon = field.find(':');
    if (colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string_view::npos) {
      conv = field.substr(bang + 1);
      field = field.substr(0, bang);
    }
    size_t name_end = field.find_first_of(".[");
    std::string_view name = field.substr(0, name_end);
    Value v;
    const std::optional<int64_t> index = format_index(name);
    if (name.empty() || index) {
      size_t idx;
      if (name.empty()) {
        if (manual) runtime_error("cannot switch from manual field specification to automatic field numbering");
        automatic = true;
        idx = static_cast<size_t>(auto_index++);
      } else {
        if (automatic) runtime_error("cannot switch from automatic field numbering to manual field specification");
        manual = true;
        idx = static_cast<size_t>(*index);
      }
      if (idx >= args.pos.size()) runtime_error("Replacement index " + std::to_string(idx) + " out of range for positional args tuple");
      v = args.pos[idx];
    } else {
      bool found = false;
      for (const auto& [k, x] : args.kw) {
        if (k == name) {
          v = x;
          found = true;
        }
      }
      if (!found) runtime_error("KeyError: '" + std::string(name) + "'");
    }
    std::string_view rest = name_end == std::string_view::npos ? "" : field.substr(name_end);
    while (!rest.empty()) {
      if (rest[0] == '.') {
        size_t e = rest.find_first_of(".[", 1);
        std::string attr(rest.substr(1, e == std::string_view::npos ? std::string_view::npos : e - 1));
        if (!attr.empty() && attr[0] == '_') runtime_error("access to attribute '" + attr + "' is unsafe.");
        v = in.getattr(v, attr);
        rest = e == std::string_view::npos ? "" : rest.substr(e);
      } else {
        size_t e = rest.find(']');
        if (e == std::string_view::npos) runtime_error("Missing ']' in format string");
        std::string_view key = rest.substr(1, e - 1);
        const std::optional<int64_t> item = format_index(key);
        v = in.getitem(v, item ? Value::integer(*item) : Value::string(std::string(key)));
        rest = rest.substr(e + 1);
      }
    }
    if (conv == "r" || conv == "a") {
      v = Value::string(to_repr(v, in.max_bytes()));
    } else if (conv == "s") {
      v = Value::string(soft_str(in, v));
    } else if (!conv.empty()) {
      runtime_error("Unknown conversion specifier " + std::string(conv));
    }
    out += format_spec(in, v, spec);
    if (out.size() > in.max_bytes()) throw_error(ErrorKind::limit, "formatted string too long");
  }
  return out;
}

std::string py_strftime(std::string_view fmt, int64_t unix_seconds) {
  // Python hands the format to the C library, which ends it at the first NUL.
  fmt = fmt.substr(0, std::min(fmt.size(), fmt.find('\0')));
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::string out;
  for (size_t i = 0; i < fmt.size(); i++) {
    if (fmt[i] != '%' || i + 1 >= fmt.size()) {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string directive = "%";
    while (j < fmt.size() && one_of("-_0^#", fmt[j])) directive += fmt[j++];
    if (j >= fmt.size()) {
      out += fmt.substr(i);
      break;
    }
    char c = fmt[j];
    directive += c;
    i = j;
    if (c == 'f') {
      out += "000000";
    } else if (c == 'z' || c == 'Z') {
      // A naive datetime (what datetime.now() gives) has no zone: both print nothing.
    } else if (c == '%') {
      out += '%';
    } else {
      char buf[256];
      size_t n = std::strftime(buf, sizeof buf, directive.c_str(), &tm);
      out.append(buf, n);
    }
  }
  return out;
}

}  // namespace parley::chat::jinja
