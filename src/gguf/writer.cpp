#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/check.h"

namespace parley::gguf {

OwnedValue OwnedValue::strings(const std::vector<std::string>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(ValueType::string, std::move(items));
}

OwnedValue OwnedValue::f32s(const std::vector<float>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(f32(x));
  return array(ValueType::f32, std::move(items));
}

OwnedValue OwnedValue::i32s(const std::vector<int32_t>& v) {
  std::vector<OwnedValue> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(i32(x));
  return array(ValueType::i32, std::move(items));
}

OwnedValue OwnedValue::from(const MetaValue& v) {
  OwnedValue o;
  o.type = v.type();
  switch (v.type()) {
    case ValueType::string: o.s = std::string(*v.as_string()); break;
    case ValueType::f32: case ValueType::f64: o.f = *v.as_float(); break;
    case ValueType::boolean: o.u = *v.as_bool(); break;
    case ValueType::i8: case ValueType::i16: case ValueType::i32: case ValueType::i64:
      o.i = *v.as_int();
      break;
    case ValueType::u8: case ValueType::u16: case ValueType::u32: case ValueType::u64:
      o.u = *v.as_uint();
      break;
    case ValueType::array: {
      o.elem_type = v.elem_type();
      o.items.reserve(v.count());
      if (v.elem_type() == ValueType::string) {
        for (auto s : v.strings()) o.items.push_back(string(std::string(s)));
      } else if (v.elem_type() == ValueType::array) {
        for (const auto& item : v.items()) o.items.push_back(from(item));
      } else {
        // Numeric elements: decode each from the raw little-endian bytes.
        const uint8_t* raw = v.raw();
        for (uint64_t k = 0; k < v.count(); k++) {
          OwnedValue e;
          e.type = v.elem_type();
          switch (e.type) {
            case ValueType::u8: case ValueType::boolean: e.u = raw[k]; break;
            case ValueType::i8: { int8_t x; std::memcpy(&x, raw + k, 1); e.i = x; break; }
            case ValueType::u16: { uint16_t x; std::memcpy(&x, raw + 2 * k, 2); e.u = x; break; }
            case ValueType::i16: { int16_t x; std::memcpy(&x, raw + 2 * k, 2); e.i = x; break; }
            case ValueType::u32: { uint32_t x; std::memcpy(&x, raw + 4 * k, 4); e.u = x; break; }
            case ValueType::i32: { int32_t x; std::memcpy(&x, raw + 4 * k, 4); e.i = x; break; }
            case ValueType::u64: std::memcpy(&e.u, raw + 8 * k, 8); break;
            case ValueType::i64: std::memcpy(&e.i, raw + 8 * k, 8); break;
            case ValueType::f32: { float x; std::memcpy(&x, raw + 4 * k, 4); e.f = x; break; }
            case ValueType::f64: std::memcpy(&e.f, raw + 8 * k, 8); break;
            default: break;
          }
          o.items.push_back(e);
        }
      }
      break;
    }
  }
  return o;
}

Writer::Writer(uint32_t alignment, uint32_t version) : alignment_(alignment), version_(version) {
  PARLEY_CHECK(alignment > 0 && (alignment & (alignment - 1)) == 0);
  PARLEY_CHECK(version == 2 || version == 3);
  if (alignment != kDefaultAlignment) set("general.alignment", OwnedValue::u32(alignment));
}

void Writer::set(const std::string& key, OwnedValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

bool Writer::has(const std::string& key) const {
  for (const auto& kv : kv_) {
    if (kv.first == key) return true;
  }
  return false;
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape,
                        Filler fill) {
  PARLEY_CHECK(!shape.empty() && shape.size() <= 4);
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  const DTypeInfo& info = dtype_info(type);
  PARLEY_CHECK_MSG(shape[0] % info.block_elems == 0, "row length not a multiple of the block");
  uint64_t bytes = n / info.block_elems * info.block_bytes;
  Tensor t{name, type, std::move(shape), bytes, data_size_, std::move(fill)};
  data_size_ += (bytes + alignment_ - 1) / alignment_ * alignment_;
  tensors_.push_back(std::move(t));
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape,
                        std::vector<uint8_t> data) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(data));
  add_tensor(name, type, std::move(shape), [shared](std::vector<uint8_t>& out) { out = *shared; });
}

namespace {

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  template <class T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.append(s);
  }
  void put_value(const OwnedValue& v) {
    put_scalar(v.type, v);
  }
  void put_scalar(ValueType t, const OwnedValue& v) {
    switch (t) {
      case ValueType::u8: put<uint8_t>(static_cast<uint8_t>(v.u)); break;
      case ValueType::i8: put<int8_t>(static_cast<int8_t>(v.i)); break;
      case ValueType::u16: put<uint16_t>(static_cast<uint16_t>(v.u)); break;
      case ValueType::i16: put<int16_t>(static_cast<int16_t>(v.i)); break;
      case ValueType::u32: put<uint32_t>(static_cast<uint32_t>(v.u)); break;
      case ValueType::i32: put<int32_t>(static_cast<int32_t>(v.i)); break;
      case ValueType::u64: put<uint64_t>(v.u); break;
      case ValueType::i64: put<int64_t>(v.i); break;
      case ValueType::f32: put<float>(static_cast<float>(v.f)); break;
      case ValueType::f64: put<double>(v.f); break;
      case ValueType::boolean: put<uint8_t>(v.u ? 1 : 0); break;
      case ValueType::string: put_string(v.s); break;
      case ValueType::array:
        put<uint32_t>(static_cast<uint32_t>(v.elem_type));
        put<uint64_t>(v.items.size());
        for (const auto& item : v.items) {
          PARLEY_CHECK(item.type == v.elem_type);
          put_scalar(v.elem_type, item);
        }
        break;
    }
  }

 private:
  std::string& out_;
};

}  // namespace

Status Writer::write_to(const std::function<Status(const void*, size_t)>& sink) const {
  std::string head;
  Encoder e(head);
  head.append("GGUF", 4);
  e.put<uint32_t>(version_);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    e.put_string(key);
    e.put<uint32_t>(static_cast<uint32_t>(value.type));
    e.put_value(value);
  }
  for (const Tensor& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) e.put<uint64_t>(d);
    e.put<uint32_t>(static_cast<uint32_t>(t.type));
    e.put<uint64_t>(t.offset);
  }
  if (!tensors_.empty()) head.append((alignment_ - head.size() % alignment_) % alignment_, '\0');
  PARLEY_CHECK_OK(sink(head.data(), head.size()));

  std::vector<uint8_t> buf;
  static const char zeros[256] = {};
  for (size_t i = 0; i < tensors_.size(); i++) {
    const Tensor& t = tensors_[i];
    buf.clear();
    t.fill(buf);
    if (buf.size() != t.n_bytes) {
      return Error::fmt("tensor '%s': filler produced %zu bytes, expected %llu", t.name.c_str(),
                        buf.size(), static_cast<unsigned long long>(t.n_bytes));
    }
    PARLEY_CHECK_OK(sink(buf.data(), buf.size()));
    uint64_t pad = (alignment_ - t.n_bytes % alignment_) % alignment_;
    while (pad > 0) {
      size_t n = pad < sizeof zeros ? static_cast<size_t>(pad) : sizeof zeros;
      PARLEY_CHECK_OK(sink(zeros, n));
      pad -= n;
    }
    if (on_tensor_written) on_tensor_written(i + 1, tensors_.size());
  }
  return {};
}

Status Writer::write(const std::string& path) const {
  std::string tmp = path + ".partial";
  FILE* fp = std::fopen(tmp.c_str(), "wb");
  if (fp == nullptr) return Error::fmt("cannot create %s: %s", tmp.c_str(), std::strerror(errno));
  Status st = write_to([&](const void* p, size_t n) -> Status {
    if (std::fwrite(p, 1, n, fp) != n) return Error::fmt("error writing %s: %s", tmp.c_str(), std::strerror(errno));
    return {};
  });
  if (std::fclose(fp) != 0 && st.ok()) st = Error::fmt("error writing %s", tmp.c_str());
  if (!st.ok()) {
    std::remove(tmp.c_str());
    return st;
  }
  // Written under a temporary name and renamed, so an interrupted run never leaves a file
  // that looks complete.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error::fmt("cannot rename %s to %s: %s", tmp.c_str(), path.c_str(), std::strerror(errno));
  }
  return {};
}

Result<std::string> Writer::to_bytes() const {
  std::string out;
  PARLEY_CHECK_OK(write_to([&](const void* p, size_t n) -> Status {
    out.append(static_cast<const char*>(p), n);
    return {};
  }));
  return out;
}

}  // namespace parley::gguf
