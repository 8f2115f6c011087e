// Block structs of the quantized weight types, byte-exact with the GGUF format (the ggml block
// layouts; sizes agree with base/dtype.h). Scales are IEEE half floats stored as uint16_t.
//
// Element order inside a block (x = dequantized value, i = element index in the block):
//   Q4_0  x = d * (q - 8);   q(i) = qs[i] & 15 for i < 16, qs[i - 16] >> 4 for i >= 16
//   Q4_1  x = d * q + m;     q as Q4_0
//   Q5_0  x = d * (q - 16);  q = Q4_0 nibble | bit i of qh (little-endian u32) << 4
//   Q5_1  x = d * q + m;     q as Q5_0
//   Q8_0  x = d * qs[i]
//   MXFP4 x = 2^(e - 127) * E2M1(q) = e8m0_half(e) * kValuesMXFP4[q]; q as Q4_0 (the OCP
//         microscaling format: a shared power-of-two scale, 4-bit floats 0, 0.5, 1, 1.5, 2, 3, 4,
//         6 and their negatives; the table holds them doubled, so the scale is halved)
//   IQ4_NL x = d * kValuesIQ4NL[q]; q as Q4_0 (a fixed non-linear grid of 16 levels)
// K-quants are 256-element super-blocks of 16- or 32-element sub-blocks, see each struct.
#pragma once

#include <cstdint>
#include <cstring>

namespace parley {

constexpr int kQK = 32;     // block size of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
constexpr int kQK_K = 256;  // super-block size of the K-quants

// Kept for code that names the old constants.
constexpr int kQK4_0 = kQK;
constexpr int kQK8_0 = kQK;

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bit of element i is bit i of this little-endian u32
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34);

// MXFP4: one E8M0 scale byte (a biased power-of-two exponent, no mantissa), 16 bytes of 4-bit
// E2M1 codes (sign bit 3, two exponent bits, one mantissa bit). 17 bytes, so blocks and rows
// need no alignment.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockMXFP4) == 17);

// The E2M1 code q (0..15) as twice its value: 2 * {0, 0.5, 1, 1.5, 2, 3, 4, 6}, then the same
// negated (code 8 is -0).
constexpr int8_t kValuesMXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Half the E8M0 scale, 2^(e - 128), as an f32 (exact: e = 0 and 1 are the f32 subnormals
// 2^-128 and 2^-127). e = 255, NaN in the OCP format, reads as 2^127 as in ggml.
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// IQ4_NL: an fp16 scale and 16 bytes of 4-bit indices into kValuesIQ4NL.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// The 16 levels of IQ4_NL and IQ4_XS (denser near zero, as weights are), as int8.
constexpr int8_t kValuesIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_XS: 8 sub-blocks of 32, x = d * (ls - 32) * kValuesIQ4NL[q]. Sub-block s (< 8) has the
// 6-bit ls = ((scales_l[s / 2] >> 4 * (s % 2)) & 15) | ((scales_h >> 2 * s) & 3) << 4, and its
// indices in qs[16 * s..16 * s + 15] in IQ4_NL's order (low nibbles elements 0..15, high
// nibbles 16..31).
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// The signed sub-block scale ls - 32 (in -32..31) of sub-block s of IQ4_XS.
inline int iq4xs_scale(int s, uint16_t scales_h, const uint8_t* scales_l) {
  const int low = (scales_l[s / 2] >> (4 * (s % 2))) & 15;
  const int high = (scales_h >> (2 * s)) & 3;
  return (low | (high << 4)) - 32;
}

// Q2_K: 16 sub-blocks of 16. x = d * sc * q - dmin * m with q in 0..3, and sc (low nibble) and
// m (high nibble) of scales[s]. Element e = 128 * h + 32 * j + l (h < 2, j < 4, l < 32) has
// q = (qs[32 * h + l] >> 2 * j) & 3 and sub-block s = 8 * h + 2 * j + l / 16.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16. x = d * (sc - 32) * (q - 4) with q in 0..7: low two bits as Q2_K,
// third bit = bit (4 * h + j) of hmask[l]. The 6-bit sc of sub-block s: low 4 bits are
// scales[s] & 15 (s < 8) or scales[s - 8] >> 4 (s >= 8); high 2 bits are
// (scales[8 + s % 4] >> 2 * (s / 4)) & 3.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32. x = d * sc * q - dmin * m, q in 0..15, sc and m 6-bit (see
// k_scale_min). Element e = 64 * j + l: l < 32 is the low nibble of qs[32 * j + l] in sub-block
// 2j, l >= 32 the high nibble of qs[32 * j + l - 32] in sub-block 2j + 1.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: Q4_K plus a fifth bit: element 64 * j + l takes bit 2j (l < 32) or 2j + 1 (l >= 32) of
// qh[l % 32]; q in 0..31.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16. x = d * scales[s] * (q - 32), q in 0..63. Element
// e = 128 * h + 32 * k + l (k < 4, l < 32): low 4 bits from ql[64 * h + l + 32 * (k & 1)]
// (low nibble for k < 2, high for k >= 2), high 2 bits (qh[32 * h + l] >> 2k) & 3, sub-block
// s = 8 * h + 2 * k + l / 16.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of sub-block j (< 8) of Q4_K / Q5_K from their 12 packed bytes:
// j < 4 in the low 6 bits of bytes j and j + 4; j >= 4 has its low 4 bits in byte j + 4 (scale
// low nibble, min high nibble) and its top 2 bits in the top bits of bytes j - 4 and j.
inline void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// The signed 6-bit scale (sc - 32 in -32..31) of sub-block s (< 16) of Q3_K.
inline int q3k_scale(int s, const uint8_t* scales) {
  int low = s < 8 ? scales[s] & 15 : scales[s - 8] >> 4;
  int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace parley
