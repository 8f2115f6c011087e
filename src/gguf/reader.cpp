#include <algorithm>
#include <cstring>
#include <limits>

#include "base/utf8.h"
#include "gguf/gguf.h"

namespace parley::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::u8: return "u8";
    case ValueType::i8: return "i8";
    case ValueType::u16: return "u16";
    case ValueType::i16: return "i16";
    case ValueType::u32: return "u32";
    case ValueType::i32: return "i32";
    case ValueType::f32: return "f32";
    case ValueType::boolean: return "bool";
    case ValueType::string: return "string";
    case ValueType::array: return "array";
    case ValueType::u64: return "u64";
    case ValueType::i64: return "i64";
    case ValueType::f64: return "f64";
  }
  return "?";
}

namespace {

// Size in bytes of a fixed-size value type; 0 for string/array.
uint64_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::u8: case ValueType::i8: case ValueType::boolean: return 1;
    case ValueType::u16: case ValueType::i16: return 2;
    case ValueType::u32: case ValueType::i32: case ValueType::f32: return 4;
    case ValueType::u64: case ValueType::i64: case ValueType::f64: return 8;
    case ValueType::string: case ValueType::array: return 0;
  }
  return 0;
}

bool known_value_type(uint32_t t) { return t <= 12; }

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Reads element i of a numeric array as double / int (caller checked the type).
double element_as_double(ValueType t, const uint8_t* p) {
  switch (t) {
    case ValueType::u8: return load<uint8_t>(p);
    case ValueType::i8: return load<int8_t>(p);
    case ValueType::u16: return load<uint16_t>(p);
    case ValueType::i16: return load<int16_t>(p);
    case ValueType::u32: return load<uint32_t>(p);
    case ValueType::i32: return load<int32_t>(p);
    case ValueType::f32: return load<float>(p);
    case ValueType::u64: return static_cast<double>(load<uint64_t>(p));
    case ValueType::i64: return static_cast<double>(load<int64_t>(p));
    case ValueType::f64: return load<double>(p);
    case ValueType::boolean: return load<uint8_t>(p);
    default: return 0;
  }
}

}  // namespace

bool MetaValue::is_integer() const {
  switch (type_) {
    case ValueType::u8: case ValueType::i8: case ValueType::u16: case ValueType::i16:
    case ValueType::u32: case ValueType::i32: case ValueType::u64: case ValueType::i64:
      return true;
    default:
      return false;
  }
}

static bool is_signed_type(ValueType t) {
  return t == ValueType::i8 || t == ValueType::i16 || t == ValueType::i32 || t == ValueType::i64;
}

std::optional<uint64_t> MetaValue::as_uint() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type_)) {
    if (i_ < 0) return std::nullopt;
    return static_cast<uint64_t>(i_);
  }
  return u_;
}

std::optional<int64_t> MetaValue::as_int() const {
  if (!is_integer()) return std::nullopt;
  if (is_signed_type(type_)) return i_;
  if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(u_);
}

std::optional<double> MetaValue::as_float() const {
  if (type_ == ValueType::f32 || type_ == ValueType::f64) return f_;
  if (is_integer()) return is_signed_type(type_) ? static_cast<double>(i_) : static_cast<double>(u_);
  return std::nullopt;
}

std::optional<bool> MetaValue::as_bool() const {
  if (type_ != ValueType::boolean) return std::nullopt;
  return u_ != 0;
}

std::optional<std::string_view> MetaValue::as_string() const {
  if (type_ != ValueType::string) return std::nullopt;
  return s_;
}

std::optional<std::vector<float>> MetaValue::to_f32() const {
  if (!is_array() || scalar_size(elem_type_) == 0) return std::nullopt;
  std::vector<float> out(count_);
  uint64_t es = scalar_size(elem_type_);
  for (uint64_t i = 0; i < count_; i++) {
    out[i] = static_cast<float>(element_as_double(elem_type_, raw_ + i * es));
  }
  return out;
}

std::optional<std::vector<int64_t>> MetaValue::to_i64() const {
  if (!is_array()) return std::nullopt;
  uint64_t es = scalar_size(elem_type_);
  if (es == 0 || elem_type_ == ValueType::f32 || elem_type_ == ValueType::f64) return std::nullopt;
  std::vector<int64_t> out(count_);
  for (uint64_t i = 0; i < count_; i++) {
    const uint8_t* p = raw_ + i * es;
    switch (elem_type_) {
      case ValueType::u8: case ValueType::boolean: out[i] = load<uint8_t>(p); break;
      case ValueType::i8: out[i] = load<int8_t>(p); break;
      case ValueType::u16: out[i] = load<uint16_t>(p); break;
      case ValueType::i16: out[i] = load<int16_t>(p); break;
      case ValueType::u32: out[i] = load<uint32_t>(p); break;
      case ValueType::i32: out[i] = load<int32_t>(p); break;
      case ValueType::u64: {
        uint64_t v = load<uint64_t>(p);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
        out[i] = static_cast<int64_t>(v);
        break;
      }
      case ValueType::i64: out[i] = load<int64_t>(p); break;
      default: return std::nullopt;
    }
  }
  return out;
}

std::string MetaValue::summary(size_t max_len) const {
  switch (type_) {
    case ValueType::string: return quote_for_message(s_, max_len);
    case ValueType::boolean: return u_ ? "true" : "false";
    case ValueType::f32: case ValueType::f64: return str_printf("%g", f_);
    case ValueType::array: {
      std::string out = str_printf("[%s × %llu]", std::string(value_type_name(elem_type_)).c_str(),
                                   static_cast<unsigned long long>(count_));
      // Show the first few elements.
      std::string first;
      uint64_t n = std::min<uint64_t>(count_, 4);
      for (uint64_t i = 0; i < n; i++) {
        if (i) first += ", ";
        if (elem_type_ == ValueType::string) {
          first += quote_for_message(strings_[i], 20);
        } else if (elem_type_ == ValueType::array) {
          first += items_[i].summary(20);
        } else {
          first += str_printf("%g", element_as_double(elem_type_, raw_ + i * scalar_size(elem_type_)));
        }
      }
      if (n > 0) out += " " + first + (count_ > n ? ", ..." : "");
      return out;
    }
    default:
      if (is_signed_type(type_)) return std::to_string(i_);
      return std::to_string(u_);
  }
}

// ---------------------------------------------------------------------------------------------

class Parser {
 public:
  Parser(const uint8_t* data, uint64_t size, const std::string& name, const Limits& limits)
      : p_(data), size_(size), name_(name), lim_(limits) {}

  Result<File> run(File file) {
    file.data_ = p_;
    file.size_ = size_;
    file.name_ = name_;
    if (!header(file) || !metadata(file) || !tensor_directory(file)) return error_;
    return file;
  }

 private:
  bool fail(uint64_t at, const std::string& what) {
    error_ = Error::fmt("%s: invalid GGUF at byte %llu: %s", name_.c_str(),
                        static_cast<unsigned long long>(at), what.c_str());
    return false;
  }
  uint64_t left() const { return size_ - pos_; }

  bool need(uint64_t n, const char* what) {
    if (n > left()) {
      return fail(pos_, str_printf("file ends inside %s (needs %llu bytes, %llu left)", what,
                                   static_cast<unsigned long long>(n),
                                   static_cast<unsigned long long>(left())));
    }
    return true;
  }
  template <class T>
  bool read(T& v, const char* what) {
    if (!need(sizeof(T), what)) return false;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_string(std::string_view& s, const char* what, uint64_t max_len) {
    uint64_t at = pos_;
    uint64_t len = 0;
    if (!read(len, what)) return false;
    if (len > max_len) {
      return fail(at, str_printf("%s length %llu exceeds the limit of %llu", what,
                                 static_cast<unsigned long long>(len),
                                 static_cast<unsigned long long>(max_len)));
    }
    if (len > left()) {
      return fail(at, str_printf("%s length %llu runs past the end of the file (%llu bytes left)",
                                 what, static_cast<unsigned long long>(len),
                                 static_cast<unsigned long long>(left())));
    }
    s = std::string_view(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }

  bool header(File& f) {
    if (size_ < 4 || std::memcmp(p_, "GGUF", 4) != 0) {
      std::string_view magic(reinterpret_cast<const char*>(p_), std::min<uint64_t>(size_, 4));
      return fail(0, str_printf("not a GGUF file (magic %s, expected 'GGUF')",
                                quote_for_message(magic).c_str()));
    }
    pos_ = 4;
    uint32_t version = 0;
    if (!read(version, "the version")) return false;
    if (version == 0x02000000u || version == 0x03000000u) {
      return fail(4, "big-endian GGUF files are not supported");
    }
    if (version == 1) return fail(4, "GGUF version 1 is not supported (only versions 2 and 3)");
    if (version != 2 && version != 3) {
      return fail(4, str_printf("unknown GGUF version %u (supported: 2, 3)", version));
    }
    f.version_ = version;
    uint64_t at_tensors = pos_;
    if (!read(n_tensors_, "the tensor count")) return false;
    uint64_t at_kv = pos_;
    if (!read(n_kv_, "the metadata count")) return false;
    // Each key/value takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes and
    // each tensor entry at least 8 + 1 + 4 + 8 + 4 + 8: counts beyond that are lies.
    if (n_kv_ > left() / 14) {
      return fail(at_kv, str_printf("metadata count %llu is impossible for a file of %llu bytes",
                                    static_cast<unsigned long long>(n_kv_),
                                    static_cast<unsigned long long>(size_)));
    }
    if (n_tensors_ > left() / 33) {
      return fail(at_tensors, str_printf("tensor count %llu is impossible for a file of %llu bytes",
                                         static_cast<unsigned long long>(n_tensors_),
                                         static_cast<unsigned long long>(size_)));
    }
    return true;
  }

  bool value(MetaValue& v, ValueType type, uint32_t depth) {
    v.type_ = type;
    switch (type) {
      case ValueType::u8: { uint8_t x; if (!read(x, "a u8 value")) return false; v.u_ = x; return true; }
      case ValueType::i8: { int8_t x; if (!read(x, "an i8 value")) return false; v.i_ = x; return true; }
      case ValueType::u16: { uint16_t x; if (!read(x, "a u16 value")) return false; v.u_ = x; return true; }
      case ValueType::i16: { int16_t x; if (!read(x, "an i16 value")) return false; v.i_ = x; return true; }
      case ValueType::u32: { uint32_t x; if (!read(x, "a u32 value")) return false; v.u_ = x; return true; }
      case ValueType::i32: { int32_t x; if (!read(x, "an i32 value")) return false; v.i_ = x; return true; }
      case ValueType::u64: { uint64_t x; if (!read(x, "a u64 value")) return false; v.u_ = x; return true; }
      case ValueType::i64: { int64_t x; if (!read(x, "an i64 value")) return false; v.i_ = x; return true; }
      case ValueType::f32: { float x; if (!read(x, "an f32 value")) return false; v.f_ = x; return true; }
      case ValueType::f64: { double x; if (!read(x, "an f64 value")) return false; v.f_ = x; return true; }
      case ValueType::boolean: {
        uint64_t at = pos_;
        uint8_t x;
        if (!read(x, "a bool value")) return false;
        if (x > 1) return fail(at, str_printf("bool value is %u (must be 0 or 1)", x));
        v.u_ = x;
        return true;
      }
      case ValueType::string:
        return read_string(v.s_, "a string value", std::numeric_limits<uint64_t>::max());
      case ValueType::array: return array(v, depth);
    }
    return false;
  }

  bool array(MetaValue& v, uint32_t depth) {
    uint64_t at = pos_;
    if (depth >= lim_.max_array_depth) {
      return fail(at, str_printf("arrays nested deeper than %u levels", lim_.max_array_depth));
    }
    uint32_t et = 0;
    if (!read(et, "an array element type")) return false;
    if (!known_value_type(et)) return fail(at, str_printf("unknown array element type %u", et));
    v.elem_type_ = static_cast<ValueType>(et);
    uint64_t at_count = pos_;
    if (!read(v.count_, "an array length")) return false;
    uint64_t es = scalar_size(v.elem_type_);
    // Smallest possible encoding of one element: its size, 8 (string length) or 12 (nested
    // array header). A count needing more bytes than the file has is rejected before any
    // allocation.
    uint64_t min_elem = es != 0 ? es : (v.elem_type_ == ValueType::string ? 8 : 12);
    if (v.count_ > left() / min_elem) {
      return fail(at_count, str_printf("array of %llu %s elements needs at least %llu bytes, only "
                                       "%llu left in the file",
                                       static_cast<unsigned long long>(v.count_),
                                       std::string(value_type_name(v.elem_type_)).c_str(),
                                       static_cast<unsigned long long>(v.count_) * min_elem,
                                       static_cast<unsigned long long>(left())));
    }
    if (es != 0) {
      v.raw_ = p_ + pos_;
      if (v.elem_type_ == ValueType::boolean) {
        for (uint64_t i = 0; i < v.count_; i++) {
          if (v.raw_[i] > 1) return fail(pos_ + i, "bool array element is not 0 or 1");
        }
      }
      pos_ += v.count_ * es;
      return true;
    }
    if (v.elem_type_ == ValueType::string) {
      v.strings_.resize(v.count_);
      for (uint64_t i = 0; i < v.count_; i++) {
        if (!read_string(v.strings_[i], "an array string", std::numeric_limits<uint64_t>::max())) {
          return false;
        }
      }
      return true;
    }
    v.items_.resize(v.count_);
    for (uint64_t i = 0; i < v.count_; i++) {
      if (!value(v.items_[i], ValueType::array, depth + 1)) return false;
    }
    return true;
  }

  bool metadata(File& f) {
    f.kv_.reserve(n_kv_);
    for (uint64_t k = 0; k < n_kv_; k++) {
      uint64_t at = pos_;
      std::string_view key;
      if (!read_string(key, "a metadata key", lim_.max_key_bytes)) return false;
      if (key.empty()) return fail(at, str_printf("metadata key %llu is empty", static_cast<unsigned long long>(k)));
      size_t valid = utf8::valid_prefix(key);
      if (valid != key.size()) {
        return fail(at + 8 + valid, str_printf("metadata key %llu is not valid UTF-8: %s",
                                               static_cast<unsigned long long>(k),
                                               quote_for_message(key).c_str()));
      }
      std::string k_str(key);
      if (f.kv_index_.count(k_str)) {
        return fail(at, "duplicate metadata key " + quote_for_message(key));
      }
      uint64_t at_type = pos_;
      uint32_t t = 0;
      if (!read(t, "a metadata value type")) return false;
      if (!known_value_type(t)) {
        return fail(at_type, str_printf("key %s has unknown value type %u",
                                        quote_for_message(key).c_str(), t));
      }
      MetaValue v;
      if (!value(v, static_cast<ValueType>(t), 0)) {
        error_.message += " (in the value of key " + quote_for_message(key) + ")";
        return false;
      }
      f.kv_index_.emplace(k_str, f.kv_.size());
      f.kv_.emplace_back(std::move(k_str), std::move(v));
    }
    // general.alignment: a power of two (u32 in the spec; any unsigned integer type accepted).
    if (const MetaValue* a = f.find("general.alignment")) {
      auto av = a->as_uint();
      if (!av || *av == 0 || (*av & (*av - 1)) != 0 || *av > (1u << 30)) {
        return fail(0, "general.alignment must be a power of two, got " + a->summary());
      }
      f.alignment_ = *av;
    }
    return true;
  }

  bool tensor_directory(File& f) {
    f.tensors_.reserve(n_tensors_);
    for (uint64_t t = 0; t < n_tensors_; t++) {
      TensorInfo ti;
      ti.info_offset = pos_;
      std::string_view name;
      if (!read_string(name, "a tensor name", lim_.max_tensor_name_bytes)) return false;
      if (name.empty()) return fail(ti.info_offset, str_printf("tensor %llu has an empty name", static_cast<unsigned long long>(t)));
      if (!utf8::is_valid(name)) {
        return fail(ti.info_offset, "tensor name is not valid UTF-8: " + quote_for_message(name));
      }
      ti.name = std::string(name);
      std::string qn = quote_for_message(name);
      if (f.tensor_index_.count(ti.name)) return fail(ti.info_offset, "duplicate tensor name " + qn);
      uint64_t at_dims = pos_;
      uint32_t n_dims = 0;
      if (!read(n_dims, "a tensor dimension count")) return false;
      if (n_dims == 0 || n_dims > lim_.max_dims) {
        return fail(at_dims, str_printf("tensor %s has %u dimensions (must be 1..%u)", qn.c_str(),
                                        n_dims, lim_.max_dims));
      }
      ti.shape.resize(n_dims);
      uint64_t n_elements = 1;
      for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t at_dim = pos_;
        if (!read(ti.shape[d], "a tensor dimension")) return false;
        uint64_t dim = ti.shape[d];
        if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
            (dim != 0 && n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)) {
          return fail(at_dim, str_printf("tensor %s: element count overflows (dimension %u is %llu)",
                                         qn.c_str(), d, static_cast<unsigned long long>(dim)));
        }
        n_elements *= dim;
      }
      ti.n_elements = n_elements;
      uint64_t at_type = pos_;
      uint32_t type_id = 0;
      if (!read(type_id, "a tensor type")) return false;
      auto info = dtype_info(type_id);
      if (!info) return fail(at_type, str_printf("tensor %s has unknown type id %u", qn.c_str(), type_id));
      ti.type = info->type;
      if (ti.shape[0] % info->block_elems != 0) {
        return fail(at_type, str_printf("tensor %s: row length %llu is not a multiple of the %s "
                                        "block size %u",
                                        qn.c_str(), static_cast<unsigned long long>(ti.shape[0]),
                                        std::string(info->name).c_str(), info->block_elems));
      }
      // n_elements < 2^63 and block_bytes/block_elems <= 8, so this cannot overflow.
      ti.n_bytes = n_elements / info->block_elems * info->block_bytes;
      uint64_t at_off = pos_;
      if (!read(ti.offset, "a tensor data offset")) return false;
      if (ti.offset % f.alignment_ != 0) {
        return fail(at_off, str_printf("tensor %s: data offset %llu is not a multiple of the "
                                       "alignment %llu",
                                       qn.c_str(), static_cast<unsigned long long>(ti.offset),
                                       static_cast<unsigned long long>(f.alignment_)));
      }
      f.tensor_index_.emplace(ti.name, f.tensors_.size());
      f.tensors_.push_back(std::move(ti));
    }
    // The data section starts at the next multiple of the alignment.
    uint64_t end_of_info = pos_;
    uint64_t pad = (f.alignment_ - end_of_info % f.alignment_) % f.alignment_;
    f.data_offset_ = end_of_info + pad;
    if (f.tensors_.empty()) return true;  // vocab-only files may end without padding
    if (f.data_offset_ > size_) {
      return fail(end_of_info, "file ends before the tensor data section");
    }
    uint64_t data_size = size_ - f.data_offset_;
    for (TensorInfo& ti : f.tensors_) {
      if (ti.offset > data_size || ti.n_bytes > data_size - ti.offset) {
        return fail(ti.info_offset,
                    str_printf("tensor %s: data [%llu, %llu) runs past the end of the file "
                               "(data section is %llu bytes)",
                               quote_for_message(ti.name).c_str(),
                               static_cast<unsigned long long>(ti.offset),
                               static_cast<unsigned long long>(ti.offset + ti.n_bytes),
                               static_cast<unsigned long long>(data_size)));
      }
      ti.data = p_ + f.data_offset_ + ti.offset;
    }
    // No two tensors may share bytes.
    std::vector<const TensorInfo*> by_offset;
    for (const TensorInfo& ti : f.tensors_) by_offset.push_back(&ti);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); i++) {
      const TensorInfo* a = by_offset[i - 1];
      const TensorInfo* b = by_offset[i];
      if (a->offset + a->n_bytes > b->offset && a->n_bytes > 0 && b->n_bytes > 0) {
        return fail(b->info_offset, str_printf("tensors %s and %s overlap in the data section",
                                               quote_for_message(a->name).c_str(),
                                               quote_for_message(b->name).c_str()));
      }
    }
    return true;
  }

  const uint8_t* p_;
  uint64_t size_;
  const std::string& name_;
  const Limits& lim_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  Error error_;
};

Result<File> File::parse(const uint8_t* data, uint64_t size, const std::string& name,
                         const Limits& limits) {
  Parser parser(data, size, name, limits);
  return parser.run(File());
}

Result<File> File::open(const std::string& path, const Limits& limits) {
  PARLEY_TRY(MappedFile map, MappedFile::open(path));
  auto shared = std::make_shared<MappedFile>(std::move(map));
  PARLEY_TRY(File f, parse(shared->data(), shared->size(), path, limits));
  f.map_ = std::move(shared);
  return f;
}

const MetaValue* File::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Error wrong_type(std::string_view key, const char* expected, const MetaValue& v) {
  return Error::fmt("key '%s': expected %s, got %s", std::string(key).c_str(), expected,
                    std::string(value_type_name(v.type())).c_str());
}
}  // namespace

Result<std::optional<uint64_t>> File::get_uint_opt(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::optional<uint64_t>();
  auto u = v->as_uint();
  if (!u) return wrong_type(key, "an unsigned integer", *v);
  return std::optional<uint64_t>(*u);
}
Result<std::optional<double>> File::get_float_opt(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::optional<double>();
  auto d = v->as_float();
  if (!d) return wrong_type(key, "a number", *v);
  return std::optional<double>(*d);
}
Result<std::optional<bool>> File::get_bool_opt(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::optional<bool>();
  auto b = v->as_bool();
  if (!b) return wrong_type(key, "a bool", *v);
  return std::optional<bool>(*b);
}
Result<std::optional<std::string_view>> File::get_string_opt(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::optional<std::string_view>();
  auto s = v->as_string();
  if (!s) return wrong_type(key, "a string", *v);
  return std::optional<std::string_view>(*s);
}

#define PARLEY_GET_REQUIRED(T, fn)                                              \
  Result<T> File::fn(std::string_view key) const {                              \
    PARLEY_TRY(auto v, fn##_opt(key));                                          \
    if (!v) return Error::fmt("key '%s' is missing", std::string(key).c_str()); \
    return *v;                                                                  \
  }
PARLEY_GET_REQUIRED(uint64_t, get_uint)
PARLEY_GET_REQUIRED(double, get_float)
PARLEY_GET_REQUIRED(bool, get_bool)
PARLEY_GET_REQUIRED(std::string_view, get_string)
#undef PARLEY_GET_REQUIRED

}  // namespace parley::gguf
