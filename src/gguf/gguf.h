// GGUF files (versions 2 and 3): metadata key/values, tensor directory, tensor data, read from a
// memory map without copying. The file is untrusted: every count, length, offset and size is
// checked against the bytes present, and every failure is one line naming the byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/dtype.h"
#include "base/file.h"
#include "base/result.h"

namespace parley::gguf {

enum class ValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view value_type_name(ValueType t);  // "u32", "string", "array", ...

constexpr uint32_t kDefaultAlignment = 32;

// A metadata value, viewing the mapped file (valid while the File lives).
class MetaValue {
 public:
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::array; }
  bool is_string() const { return type_ == ValueType::string; }
  bool is_integer() const;  // u8..i64 (not bool)

  // Scalars, converted where lossless: as_uint accepts any integer type holding a value >= 0,
  // as_int any integer type within int64, as_float f32/f64 (and integers), as_bool bool only.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays.
  ValueType elem_type() const { return elem_type_; }
  uint64_t count() const { return count_; }
  // String arrays: every element (views into the file).
  const std::vector<std::string_view>& strings() const { return strings_; }
  // Arrays of arrays: the nested values.
  const std::vector<MetaValue>& items() const { return items_; }
  // Numeric arrays converted element-wise; nullopt when the element type does not convert
  // (e.g. a float array read as integers).
  std::optional<std::vector<float>> to_f32() const;
  std::optional<std::vector<int64_t>> to_i64() const;
  // Raw bytes of a numeric array (count * element size, unaligned).
  const uint8_t* raw() const { return raw_; }

  // One-line rendering for people: scalars in full, strings quoted and cut, arrays summarized.
  std::string summary(size_t max_len = 60) const;

 private:
  friend class Parser;
  ValueType type_ = ValueType::u8;
  ValueType elem_type_ = ValueType::u8;
  uint64_t u_ = 0;      // unsigned integers and bool
  int64_t i_ = 0;       // signed integers
  double f_ = 0;        // floats
  std::string_view s_;  // string
  uint64_t count_ = 0;
  const uint8_t* raw_ = nullptr;
  std::vector<std::string_view> strings_;
  std::vector<MetaValue> items_;
};

struct TensorInfo {
  std::string name;
  DType type = DType::f32;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t offset = 0;          // from the start of the data section
  const uint8_t* data = nullptr;
  uint64_t info_offset = 0;     // file offset of this tensor's directory entry
};

struct Limits {
  uint32_t max_array_depth = 8;        // arrays nested in arrays
  uint64_t max_key_bytes = 65536;
  uint64_t max_tensor_name_bytes = 4096;
  uint32_t max_dims = 4;               // GGML_MAX_DIMS
};

class File {
 public:
  // Maps and parses a file.
  static Result<File> open(const std::string& path, const Limits& limits = {});
  // Parses bytes owned by the caller (must outlive the File). `name` is used in messages.
  static Result<File> parse(const uint8_t* data, uint64_t size, const std::string& name,
                            const Limits& limits = {});

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  const uint8_t* bytes() const { return data_; }
  // True for open(): the bytes are a read-only private mapping of the file, so pages dropped
  // from memory (madvise) read back unchanged.
  bool mapped() const { return map_ != nullptr; }

  const std::vector<std::pair<std::string, MetaValue>>& metadata() const { return kv_; }
  const MetaValue* find(std::string_view key) const;
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed lookups with errors that name the key and what was found:
  // "key 'llama.block_count': expected an unsigned integer, got string".
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  // Optional variants: nullopt when absent, an error when present with a wrong type.
  Result<std::optional<uint64_t>> get_uint_opt(std::string_view key) const;
  Result<std::optional<double>> get_float_opt(std::string_view key) const;
  Result<std::optional<bool>> get_bool_opt(std::string_view key) const;
  Result<std::optional<std::string_view>> get_string_opt(std::string_view key) const;

 private:
  friend class Parser;
  std::shared_ptr<MappedFile> map_;  // empty when parsing caller-owned bytes
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, MetaValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace parley::gguf
