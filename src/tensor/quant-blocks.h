// Block structs of the quantized types, byte-exact with the GGUF format (ggml-common.h layouts).
#pragma once

#include <cstdint>

namespace parley {

constexpr int kQK4_0 = 32;
constexpr int kQK8_0 = 32;

struct BlockQ4_0 {
  uint16_t d;                 // fp16 scale
  uint8_t qs[kQK4_0 / 2];     // nibbles: element j in low bits of qs[j], element j+16 in high
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ8_0 {
  uint16_t d;                 // fp16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

}  // namespace parley
