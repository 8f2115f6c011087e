// GGUF writer: metadata in insertion order, then the tensor directory, then tensor data, each
// tensor at a multiple of the alignment. Tensor bytes are produced on demand while writing, so
// a multi-GB model never has to sit in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"
#include "gguf/gguf.h"

namespace parley::gguf {

// An owned metadata value (the writer's counterpart of MetaValue).
struct OwnedValue {
  ValueType type = ValueType::u32;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  ValueType elem_type = ValueType::u32;  // arrays
  std::vector<OwnedValue> items;         // arrays: one per element (scalars use u/i/f/s)

  static OwnedValue u32(uint32_t v) { OwnedValue o; o.type = ValueType::u32; o.u = v; return o; }
  static OwnedValue i32(int32_t v) { OwnedValue o; o.type = ValueType::i32; o.i = v; return o; }
  static OwnedValue u64(uint64_t v) { OwnedValue o; o.type = ValueType::u64; o.u = v; return o; }
  static OwnedValue f32(float v) { OwnedValue o; o.type = ValueType::f32; o.f = v; return o; }
  static OwnedValue boolean(bool v) { OwnedValue o; o.type = ValueType::boolean; o.u = v; return o; }
  static OwnedValue string(std::string v) { OwnedValue o; o.type = ValueType::string; o.s = std::move(v); return o; }
  static OwnedValue array(ValueType elem, std::vector<OwnedValue> items) {
    OwnedValue o;
    o.type = ValueType::array;
    o.elem_type = elem;
    o.items = std::move(items);
    return o;
  }
  static OwnedValue strings(const std::vector<std::string>& v);
  static OwnedValue f32s(const std::vector<float>& v);
  static OwnedValue i32s(const std::vector<int32_t>& v);
  // A deep copy of a value read from a file.
  static OwnedValue from(const MetaValue& v);
};

class Writer {
 public:
  explicit Writer(uint32_t alignment = kDefaultAlignment, uint32_t version = 3);

  // Sets (or replaces) a key; keys keep their first insertion position.
  void set(const std::string& key, OwnedValue value);
  bool has(const std::string& key) const;

  // Registers a tensor; `fill` writes exactly dtype_row_bytes(type, shape[0]) * rows bytes into
  // the buffer it is given, when the data section is written.
  using Filler = std::function<void(std::vector<uint8_t>& out)>;
  void add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape, Filler fill);
  void add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape,
                  std::vector<uint8_t> data);

  Status write(const std::string& path) const;
  Result<std::string> to_bytes() const;  // for tests and small files

  // Called after each tensor is written (index, count), for progress output.
  std::function<void(size_t, size_t)> on_tensor_written;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<uint64_t> shape;
    uint64_t n_bytes;
    uint64_t offset;
    Filler fill;
  };
  Status write_to(const std::function<Status(const void*, size_t)>& sink) const;

  uint32_t alignment_;
  uint32_t version_;
  std::vector<std::pair<std::string, OwnedValue>> kv_;
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace parley::gguf
