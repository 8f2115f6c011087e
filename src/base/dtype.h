// Tensor element types as numbered in GGUF files (the ggml type ids), with their block layout
// sizes. This is vocabulary shared by gguf/ (to validate tensor sizes) and tensor/ (kernels).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley {

enum class DType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct DTypeInfo {
  DType type;
  std::string_view name;   // as GGUF tools print it: "Q4_K", "F16"
  uint32_t block_elems;    // elements per block (1 for plain types)
  uint32_t block_bytes;    // bytes per block
};

// nullopt for ids that no known ggml version assigns.
std::optional<DTypeInfo> dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);  // t must be a known type
std::string_view dtype_name(DType t);
// Case-insensitive lookup by name ("q8_0", "Q8_0", "bf16").
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size.
inline uint64_t dtype_row_bytes(DType t, uint64_t n) {
  const DTypeInfo& info = dtype_info(t);
  return n / info.block_elems * info.block_bytes;
}

}  // namespace parley
