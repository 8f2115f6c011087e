#include "chat/jinja/ops.h"

#include <cmath>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/interp.h"

namespace parley::chat::jinja {
namespace {

const char* op_symbol(BinOp op) {
  switch (op) {
    case BinOp::add: return "+";
    case BinOp::sub: return "-";
    case BinOp::mul: return "*";
    case BinOp::div: return "/";
    case BinOp::floordiv: return "//";
    case BinOp::mod: return "%";
    case BinOp::pow: return "** or pow()";
  }
  return "?";
}

[[noreturn]] void unsupported(BinOp op, const Value& a, const Value& b) {
  runtime_error(std::string("unsupported operand type(s) for ") + op_symbol(op) + ": '" +
                type_name(a) + "' and '" + type_name(b) + "'");
}

[[noreturn]] void overflow() {
  throw_error(ErrorKind::limit, "integer overflow (Python would use a big integer here)");
}

Value repeat(Interp& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(n) > in.max_bytes() / s.size()) {
      throw_error(ErrorKind::limit, "string repetition longer than " +
                                        std::to_string(in.max_bytes()) + " bytes");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) out += s;
    in.charge(out.size());
    return same_string_kind(seq, std::move(out));
  }
  const List& l = seq.list();
  if (l.size() != 0 && static_cast<uint64_t>(n) > in.max_bytes() / sizeof(Value) / l.size()) {
    throw_error(ErrorKind::limit, "list repetition too large");
  }
  std::vector<Value> items;
  for (int64_t i = 0; i < n; i++) {
    items.insert(items.end(), l.items.begin() + static_cast<std::ptrdiff_t>(l.pos), l.items.end());
  }
  in.charge(items.size() * sizeof(Value));
  in.step(items.size());
  return Value::list(std::move(items), l.kind == ListKind::tuple ? ListKind::tuple : ListKind::list);
}

bool is_sequence_for_ops(const Value& v) {
  return v.is_list() && (v.list().kind == ListKind::list || v.list().kind == ListKind::tuple);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  if (m == 0) m = std::copysign(0.0, b);
  return m;
}

}  // namespace

Value binary_op(Interp& in, BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) in.fail_undefined(a);
  if (b.is_undefined()) in.fail_undefined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  switch (op) {
    case BinOp::add:
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.integral(), b.integral(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.number() + b.number());
      if (a.is_string() && b.is_string()) {
        if (a.is_markup() || b.is_markup()) {
          // Markup + str escapes the plain side (markupsafe).
          std::string s = a.is_markup() ? a.str() : html_escape(a.str());
          s += b.is_markup() ? b.str() : html_escape(b.str());
          in.charge(s.size());
          return Value::markup(std::move(s));
        }
        std::string s;
        s.reserve(a.str().size() + b.str().size());
        s += a.str();
        s += b.str();
        return in.make_string(std::move(s));
      }
      if (a.is_string()) {
        runtime_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
      }
      if (is_sequence_for_ops(a)) {
        if (!b.is_list() || b.list().kind != a.list().kind) {
          runtime_error("can only concatenate " + type_name(a) + " (not \"" + type_name(b) +
                        "\") to " + type_name(a));
        }
        std::vector<Value> items;
        items.reserve(a.list().size() + b.list().size());
        for (size_t i = a.list().pos; i < a.list().items.size(); i++) items.push_back(a.list().items[i]);
        for (size_t i = b.list().pos; i < b.list().items.size(); i++) items.push_back(b.list().items[i]);
        in.step(items.size());
        in.charge(items.size() * sizeof(Value));
        return Value::list(std::move(items), a.list().kind);
      }
      unsupported(op, a, b);
    case BinOp::sub:
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.integral(), b.integral(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.number() - b.number());
      unsupported(op, a, b);
    case BinOp::mul:
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.integral(), b.integral(), &r)) overflow();
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.number() * b.number());
      if ((a.is_string() || is_sequence_for_ops(a)) && b.is_integral()) {
        return repeat(in, a, b.integral());
      }
      if ((b.is_string() || is_sequence_for_ops(b)) && a.is_integral()) {
        return repeat(in, b, a.integral());
      }
      if ((a.is_string() || is_sequence_for_ops(a)) && b.is_float()) {
        runtime_error("can't multiply sequence by non-int of type 'float'");
      }
      unsupported(op, a, b);
    case BinOp::div:
      if (nums) {
        if (b.number() == 0) runtime_error("division by zero");
        return Value::floating(a.number() / b.number());
      }
      unsupported(op, a, b);
    case BinOp::floordiv:
      if (ints) {
        if (b.integral() == 0) runtime_error("integer division or modulo by zero");
        if (a.integral() == INT64_MIN && b.integral() == -1) overflow();
        return Value::integer(floor_div(a.integral(), b.integral()));
      }
      if (nums) {
        if (b.number() == 0) runtime_error("float floor division by zero");
        double m = py_fmod(a.number(), b.number());
        return Value::floating(std::round((a.number() - m) / b.number()));
      }
      unsupported(op, a, b);
    case BinOp::mod:
      if (a.is_markup()) return Value::markup(py_percent_format(in, a.str(), b, true));
      if (a.is_string()) return in.make_string(py_percent_format(in, a.str(), b));
      if (ints) {
        if (b.integral() == 0) runtime_error("integer division or modulo by zero");
        if (b.integral() == -1) return Value::integer(0);
        return Value::integer(floor_mod(a.integral(), b.integral()));
      }
      if (nums) {
        if (b.number() == 0) runtime_error("float modulo");
        return Value::floating(py_fmod(a.number(), b.number()));
      }
      unsupported(op, a, b);
    case BinOp::pow:
      if (ints && b.integral() >= 0) {
        int64_t base = a.integral(), e = b.integral(), r = 1;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(r, base, &r)) overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
        }
        return Value::integer(r);
      }
      if (nums) {
        if (a.number() == 0 && b.number() < 0) {
          runtime_error("0.0 cannot be raised to a negative power");
        }
        return Value::floating(std::pow(a.number(), b.number()));
      }
      unsupported(op, a, b);
  }
  unsupported(op, a, b);
}

Value unary_minus(Interp& in, const Value& v, bool negate) {
  if (v.is_undefined()) in.fail_undefined(v);
  if (v.is_integral()) {
    int64_t i = v.integral();
    if (!negate) return Value::integer(i);
    if (i == INT64_MIN) overflow();
    return Value::integer(-i);
  }
  if (v.is_float()) return Value::floating(negate ? -v.as_float() : v.as_float());
  runtime_error(std::string("bad operand type for unary ") + (negate ? "-" : "+") + ": '" +
                type_name(v) + "'");
}

size_t SliceRange::count() const {
  if (step > 0) return start < stop ? static_cast<size_t>((stop - start - 1) / step + 1) : 0;
  return start > stop ? static_cast<size_t>((start - stop - 1) / (-step) + 1) : 0;
}

SliceRange resolve_slice(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                         int64_t step) {
  SliceRange r{0, 0, step};
  int64_t lower = step < 0 ? -1 : 0;
  int64_t upper = step < 0 ? n - 1 : n;
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  r.start = clamp(start, step < 0 ? upper : lower);
  r.stop = clamp(stop, step < 0 ? lower : upper);
  return r;
}

Value slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop,
                  const Value& step) {
  if (obj.is_undefined()) in.fail_undefined(obj);
  auto index = [](const Value& v, bool* ok) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (v.is_integral()) return v.integral();
    *ok = false;
    return std::nullopt;
  };
  bool ok = true;
  auto a = index(start, &ok), b = index(stop, &ok), c = index(step, &ok);
  int64_t st = c.value_or(1);
  if (!ok) return Value::undefined("slice indices must be integers or None");
  if (st == 0) runtime_error("slice step cannot be zero");
  if (obj.is_string()) {
    const std::string& s = obj.str();
    bool ascii = is_ascii(s);
    std::vector<std::string_view> cps;
    if (!ascii) {
      size_t i = 0;
      while (i < s.size()) {
        size_t j = i + 1;
        while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) j++;
        cps.push_back(std::string_view(s).substr(i, j - i));
        i = j;
      }
    }
    auto n = static_cast<int64_t>(ascii ? s.size() : cps.size());
    SliceRange r = resolve_slice(n, a, b, st);
    std::string out;
    size_t count = r.count();
    in.step(count);
    if (ascii && st == 1) {
      out.assign(s, static_cast<size_t>(r.start), count);
    } else {
      for (size_t k = 0; k < count; k++) {
        auto i = static_cast<size_t>(r.start + static_cast<int64_t>(k) * st);
        if (ascii) {
          out += s[i];
        } else {
          out += cps[i];
        }
      }
    }
    in.charge(out.size());
    return same_string_kind(obj, std::move(out));
  }
  if (obj.is_list() && (obj.list().kind == ListKind::list || obj.list().kind == ListKind::tuple ||
                        obj.list().kind == ListKind::range)) {
    const List& l = obj.list();
    SliceRange r = resolve_slice(static_cast<int64_t>(l.size()), a, b, st);
    size_t count = r.count();
    in.step(count);
    in.charge(count * sizeof(Value));
    std::vector<Value> items;
    items.reserve(count);
    for (size_t k = 0; k < count; k++) {
      items.push_back(l.items[l.pos + static_cast<size_t>(r.start + static_cast<int64_t>(k) * st)]);
    }
    return Value::list(std::move(items), l.kind == ListKind::tuple ? ListKind::tuple : ListKind::list);
  }
  return Value::undefined(object_type_repr(obj) + " is not subscriptable with a slice");
}

}  // namespace parley::chat::jinja
