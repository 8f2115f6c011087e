// Dequantization of hand-built blocks (expected values worked out by hand from the GGUF block
// layouts, see the comments) and quantize -> dequantize error bounds for every weight type.
#include "tensor/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "base/rng.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"

namespace parley {
namespace {

// fp16 bit patterns of a few exact values.
constexpr uint16_t kHalf0_25 = 0x3400, kHalf0_5 = 0x3800, kHalf1 = 0x3C00, kHalf2 = 0x4000,
                   kHalfMinus1 = 0xBC00;

template <class Block>
std::vector<float> dequant(DType t, const Block& b, int n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, &b, y.data(), n);
  return y;
}

TEST(Dequantize, F16AndBF16) {
  uint16_t h[4] = {kHalf1, kHalfMinus1, 0x7BFF /* 65504 */, 0x0001 /* 2^-24 */};
  float y[4];
  dequantize_row(DType::f16, h, y, 4);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[2], 65504.0f);
  EXPECT_EQ(y[3], std::ldexp(1.0f, -24));
  uint16_t b[3] = {0x3F80 /* 1 */, 0xC040 /* -3 */, 0x4049 /* 3.140625 */};
  dequantize_row(DType::bf16, b, y, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[2], 3.140625f);
}

TEST(Dequantize, Q4_0) {
  BlockQ4_0 b;
  b.d = kHalf0_5;
  // qs[j] = j | (15 - j) << 4: element j < 16 is nibble j, element 16 + j is 15 - j.
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(DType::q4_0, b, 32);
  EXPECT_EQ(y[0], -4.0f);   // 0.5 * (0 - 8)
  EXPECT_EQ(y[8], 0.0f);    // 0.5 * (8 - 8)
  EXPECT_EQ(y[15], 3.5f);   // 0.5 * (15 - 8)
  EXPECT_EQ(y[16], 3.5f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -4.0f);  // high nibble of qs[15] = 0
  EXPECT_EQ(y[20], 1.5f);   // high nibble of qs[4] = 11 -> 0.5 * 3
}

TEST(Dequantize, Q4_1) {
  BlockQ4_1 b;
  b.d = kHalf0_25;
  b.m = kHalfMinus1;
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(DType::q4_1, b, 32);
  EXPECT_EQ(y[0], -1.0f);     // 0.25 * 0 - 1
  EXPECT_EQ(y[15], 2.75f);    // 0.25 * 15 - 1
  EXPECT_EQ(y[16], 2.75f);    // 15
  EXPECT_EQ(y[27], 0.0f);     // high nibble of qs[11] = 4: 0.25 * 4 - 1
}

TEST(Dequantize, Q5_0) {
  BlockQ5_0 b;
  b.d = kHalf1;
  // Fifth bits: u32 0x80000001 -> elements 0 and 31 get +16.
  b.qh[0] = 0x01;
  b.qh[1] = 0x00;
  b.qh[2] = 0x00;
  b.qh[3] = 0x80;
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(3 | (12 << 4));
  auto y = dequant(DType::q5_0, b, 32);
  EXPECT_EQ(y[0], 3.0f);    // (3 + 16) - 16
  EXPECT_EQ(y[1], -13.0f);  // 3 - 16
  EXPECT_EQ(y[16], -4.0f);  // 12 - 16
  EXPECT_EQ(y[31], 12.0f);  // (12 + 16) - 16
}

TEST(Dequantize, Q5_1) {
  BlockQ5_1 b;
  b.d = kHalf0_5;
  b.m = kHalf2;
  // bit 9 (byte 1, bit 1) and bit 20 (byte 2, bit 4) set.
  b.qh[0] = 0;
  b.qh[1] = 0x02;
  b.qh[2] = 0x10;
  b.qh[3] = 0;
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  auto y = dequant(DType::q5_1, b, 32);
  EXPECT_EQ(y[9], 0.5f * (9 + 16) + 2.0f);   // 14.5
  EXPECT_EQ(y[10], 0.5f * 10 + 2.0f);        // 7
  EXPECT_EQ(y[20], 0.5f * (4 + 16) + 2.0f);  // element 20 = high nibble of qs[4] = 4, plus 16: 12
  EXPECT_EQ(y[31], 0.5f * 15 + 2.0f);        // 9.5
}

TEST(Dequantize, Q8_0) {
  BlockQ8_0 b;
  b.d = kHalf2;
  for (int j = 0; j < 32; j++) b.qs[j] = static_cast<int8_t>(j - 16);
  b.qs[31] = -127;
  b.qs[30] = 127;
  auto y = dequant(DType::q8_0, b, 32);
  EXPECT_EQ(y[0], -32.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[17], 2.0f);
  EXPECT_EQ(y[30], 254.0f);
  EXPECT_EQ(y[31], -254.0f);
}

TEST(Dequantize, Q2_K) {
  BlockQ2_K b{};
  b.d = kHalf1;
  b.dmin = kHalf0_5;
  // Sub-block s: scale s % 16 (low nibble), min 15 - s (high nibble).
  for (int s = 0; s < 16; s++) b.scales[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  // qs[32 * h + l] holds the 2-bit quants of elements 128h + l, +32, +64, +96 (bits 0-1 .. 6-7).
  b.qs[5] = 0b11100100;       // elements 5 (q 0), 37 (q 1), 69 (q 2), 101 (q 3)
  b.qs[32 + 20] = 0b01000011;  // elements 148 (q 3), 180 (q 0), 212 (q 0), 244 (q 1)
  auto y = dequant(DType::q2_k, b, 256);
  // element 5: sub-block 0, scale 0, min 15: 1*0*0 - 0.5*15
  EXPECT_EQ(y[5], -7.5f);
  // element 37: sub-block 2 (37/16), scale 2, min 13: 2*1 - 6.5
  EXPECT_EQ(y[37], -4.5f);
  // element 69: sub-block 4, scale 4, min 11: 4*2 - 5.5
  EXPECT_EQ(y[69], 2.5f);
  // element 101: sub-block 6, scale 6, min 9: 6*3 - 4.5
  EXPECT_EQ(y[101], 13.5f);
  // element 148: sub-block 9, scale 9, min 6: 9*3 - 3
  EXPECT_EQ(y[148], 24.0f);
  // element 244: sub-block 15, scale 15, min 0: 15*1
  EXPECT_EQ(y[244], 15.0f);
  // element 180: sub-block 11, q 0, min 4: -2
  EXPECT_EQ(y[180], -2.0f);
}

TEST(Dequantize, Q3_K) {
  BlockQ3_K b{};
  b.d = kHalf0_5;
  // 6-bit scales (stored value, the scale is value - 32): sub-block 0 -> 40 (= 0b10'1000),
  // sub-block 5 -> 1 (0b00'0001), sub-block 13 -> 63 (0b11'1111); all others 32 (scale 0).
  // Low nibbles: s < 8 in scales[s] low, s >= 8 in scales[s - 8] high. High 2 bits of s in
  // scales[8 + s % 4] at bit 2 * (s / 4).
  int stored[16];
  for (int s = 0; s < 16; s++) stored[s] = 32;
  stored[0] = 40;
  stored[5] = 1;
  stored[13] = 63;
  for (int s = 0; s < 16; s++) {
    b.scales[s % 8] = static_cast<uint8_t>(b.scales[s % 8] | ((stored[s] & 15) << (s < 8 ? 0 : 4)));
    b.scales[8 + s % 4] = static_cast<uint8_t>(b.scales[8 + s % 4] | ((stored[s] >> 4) << (2 * (s / 4))));
  }
  // By hand: scales[0] = 0x08 | 0x00 << 4 (s 8: 32 -> low nibble 0) = 0x08;
  // scales[8] covers s 0, 4, 8, 12 -> high bits 2, 2, 2, 2 = 0b10101010 = 0xAA.
  EXPECT_EQ(b.scales[0], 0x08);
  EXPECT_EQ(b.scales[8], 0xAA);
  EXPECT_EQ(q3k_scale(0, b.scales), 8);
  EXPECT_EQ(q3k_scale(5, b.scales), -31);
  EXPECT_EQ(q3k_scale(13, b.scales), 31);
  EXPECT_EQ(q3k_scale(7, b.scales), 0);
  // Element 3 (sub-block 0): low bits qs[3] bits 0-1 = 2, hmask[3] bit 0 set -> q = 6 -> 6 - 4 = 2.
  b.qs[3] = 0b00000010;
  b.hmask[3] = 0x01;
  // Element 84 = 64 + 20 (h 0, j 2, l 20; sub-block 5): qs[20] bits 4-5 = 1, hmask bit 2 clear
  // -> q = 1 - 4 = -3.
  b.qs[20] = 0b00010000;
  // Element 214 = 128 + 64 + 22 (h 1, j 2, l 22; sub-block 13): qs[32 + 22] bits 4-5 = 3,
  // hmask[22] bit 4 * 1 + 2 = 6 set -> q = 7 - 4 = 3.
  b.qs[54] = 0b00110000;
  b.hmask[22] = 0x40;
  auto y = dequant(DType::q3_k, b, 256);
  EXPECT_EQ(y[3], 0.5f * 8 * 2);      // 8
  EXPECT_EQ(y[84], 0.5f * -31 * -3);  // 46.5
  EXPECT_EQ(y[214], 0.5f * 31 * 3);   // 46.5
  EXPECT_EQ(y[0], 0.5f * 8 * -4);     // qs 0, hmask clear: q = -4
  EXPECT_EQ(y[100], 0.0f);            // sub-block 6 has scale 0
}

TEST(Dequantize, Q4_K) {
  BlockQ4_K b{};
  b.d = kHalf2;
  b.dmin = kHalf1;
  // Scales 1, 2, 3, 4, 33, 40, 50, 63 and mins 0, 1, 2, 3, 17, 20, 30, 63, packed by hand:
  // bytes 0-3: scale j | (scale j+4 >> 4) << 6; bytes 4-7: min j | (min j+4 >> 4) << 6;
  // bytes 8-11: (scale j+4 & 15) | (min j+4 & 15) << 4.
  const uint8_t packed[12] = {129, 130, 195, 196, 64, 65, 66, 195, 17, 72, 226, 255};
  std::memcpy(b.scales, packed, 12);
  const int want_sc[8] = {1, 2, 3, 4, 33, 40, 50, 63}, want_m[8] = {0, 1, 2, 3, 17, 20, 30, 63};
  for (int j = 0; j < 8; j++) {
    uint8_t sc, m;
    k_scale_min(j, b.scales, &sc, &m);
    EXPECT_EQ(sc, want_sc[j]) << j;
    EXPECT_EQ(m, want_m[j]) << j;
  }
  b.qs[104] = 0x9C;  // elements 200 (low nibble 12, sub-block 6) and 232 (high nibble 9, sub-block 7)
  b.qs[1] = 0x5F;    // elements 1 (15, sub-block 0) and 33 (5, sub-block 1)
  auto y = dequant(DType::q4_k, b, 256);
  EXPECT_EQ(y[200], 2.0f * 50 * 12 - 30);  // 1170
  EXPECT_EQ(y[232], 2.0f * 63 * 9 - 63);   // 1071
  EXPECT_EQ(y[1], 2.0f * 1 * 15 - 0);      // 30
  EXPECT_EQ(y[33], 2.0f * 2 * 5 - 1);      // 19
  EXPECT_EQ(y[130], -17.0f);               // sub-block 4, q 0: -min
}

TEST(Dequantize, Q5_K) {
  BlockQ5_K b{};
  b.d = kHalf1;
  b.dmin = kHalf0_5;
  const uint8_t packed[12] = {129, 130, 195, 196, 64, 65, 66, 195, 17, 72, 226, 255};  // as Q4_K
  std::memcpy(b.scales, packed, 12);
  b.qs[104] = 0x9C;
  b.qh[8] = 0x80;  // element 232 (sub-block 7, l 8) gets the fifth bit: q = 9 + 16 = 25
  b.qh[1] = 0x02;  // element 33 (sub-block 1, l 1): q = 5 + 16 = 21
  b.qs[1] = 0x5F;
  auto y = dequant(DType::q5_k, b, 256);
  EXPECT_EQ(y[200], 1.0f * 50 * 12 - 0.5f * 30);  // 585
  EXPECT_EQ(y[232], 1.0f * 63 * 25 - 0.5f * 63);  // 1543.5
  EXPECT_EQ(y[1], 15.0f);                          // bit 0 of qh[1] clear
  EXPECT_EQ(y[33], 1.0f * 2 * 21 - 0.5f);          // 41.5
}

TEST(Dequantize, Q6_K) {
  BlockQ6_K b{};
  b.d = kHalf0_5;
  for (int s = 0; s < 16; s++) b.scales[s] = static_cast<int8_t>(s - 8);
  // Element 70 = 64 + 6 (h 0, k 2, l 6; sub-block 4, scale -4): low 4 bits = high nibble of
  // ql[6], high 2 bits = qh[6] bits 4-5.
  b.ql[6] = 0xA0;  // nibble 10
  b.qh[6] = 0x20;  // bits 4-5 = 2 -> q = 10 | 2 << 4 = 42 -> 42 - 32 = 10
  // Element 185 = 128 + 32 + 25 (h 1, k 1, l 25; sub-block 11, scale 3): low nibble of
  // ql[64 + 25 + 32], qh[32 + 25] bits 2-3.
  b.ql[121] = 0x07;
  b.qh[57] = 0x04;  // bits 2-3 = 1 -> q = 7 | 16 = 23 -> -9
  auto y = dequant(DType::q6_k, b, 256);
  EXPECT_EQ(y[70], 0.5f * -4 * 10);   // -20
  EXPECT_EQ(y[185], 0.5f * 3 * -9);   // -13.5
  EXPECT_EQ(y[0], 0.5f * -8 * -32);   // all bits zero: q = -32, sub-block 0 scale -8 -> 128
  EXPECT_EQ(y[255], 0.5f * 7 * -32);  // -112
}

// An E2M1 code (OCP microscaling spec, section 5.3.3) from its bits: sign bit 3, exponent bits
// 2-1 (bias 1), mantissa bit 0; exponent 0 is subnormal (0 or 0.5).
float e2m1(int code) {
  const int sign = code >> 3 & 1, exp = code >> 1 & 3, mant = code & 1;
  const float mag = exp == 0 ? 0.5f * static_cast<float>(mant) : std::ldexp(1.0f + 0.5f * static_cast<float>(mant), exp - 1);
  return sign ? -mag : mag;
}

TEST(Dequantize, MXFP4) {
  // Every code once with the unit scale (E8M0 127 = 2^0): elements j < 16 are low nibbles.
  BlockMXFP4 b{};
  b.e = 127;
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(DType::mxfp4, b, 32);
  for (int j = 0; j < 16; j++) {
    EXPECT_EQ(y[j], e2m1(j)) << "code " << j;
    EXPECT_EQ(y[16 + j], e2m1(15 - j)) << "code " << 15 - j;
  }
  // The values by hand: 0b0101 = 2^1 * 1.5, 0b1011 = -(2^0 * 1.5), 0b0001 = 0.5 (subnormal),
  // 0b0111 = 2^2 * 1.5, 0b1000 = -0.
  EXPECT_EQ(y[5], 3.0f);
  EXPECT_EQ(y[11], -1.5f);
  EXPECT_EQ(y[1], 0.5f);
  EXPECT_EQ(y[7], 6.0f);
  EXPECT_EQ(y[16 + 7], 0.0f);  // high nibble of qs[7] = 8
  // Scale 2^(e - 127): e = 130 is 8, e = 120 is 2^-7; the extremes 0 and 1 are f32 subnormals
  // (2^-127 and 2^-126 times the value), 254 is 2^127.
  b.e = 130;
  b.qs[3] = 0x5B;  // element 3: code 0xB = -1.5, element 19: code 5 = 3
  y = dequant(DType::mxfp4, b, 32);
  EXPECT_EQ(y[3], -12.0f);
  EXPECT_EQ(y[19], 24.0f);
  b.e = 120;
  y = dequant(DType::mxfp4, b, 32);
  EXPECT_EQ(y[3], -1.5f / 128);
  b.e = 0;
  y = dequant(DType::mxfp4, b, 32);
  EXPECT_EQ(y[19], std::ldexp(3.0f, -127));
  b.e = 1;
  y = dequant(DType::mxfp4, b, 32);
  EXPECT_EQ(y[19], std::ldexp(3.0f, -126));
  b.e = 254;
  y = dequant(DType::mxfp4, b, 32);
  EXPECT_EQ(y[19], std::ldexp(3.0f, 127));
}

TEST(Quantize, MXFP4SharedExponentFromTheBlockMax) {
  // max |x| = 6: floor(log2 6) - 2 = 0, so E8M0 127 and every E2M1 value times 1 is exact.
  std::vector<float> x(32);
  for (int j = 0; j < 32; j++) x[j] = e2m1(j % 16);
  x[0] = 6.0f;
  BlockMXFP4 b;
  quantize_row(DType::mxfp4, x.data(), &b, 32);
  EXPECT_EQ(b.e, 127);
  EXPECT_EQ(b.qs[0] & 15, 7);  // 6 = code 0b0111
  std::vector<float> y(32);
  dequantize_row(DType::mxfp4, &b, y.data(), 32);
  for (int j = 0; j < 32; j++) EXPECT_EQ(y[j], x[j]) << j;
  // max 0.3: floor(log2 0.3) = -2, exponent -4 (E8M0 123, scale 1/16): 0.3 * 16 = 4.8 -> 4;
  // 0.07 * 16 = 1.12 -> 1; -0.2 * 16 = -3.2 -> -3; a zero is code 0 (+0).
  std::fill(x.begin(), x.end(), 0.0f);
  x[0] = 0.3f;
  x[1] = 0.07f;
  x[17] = -0.2f;
  quantize_row(DType::mxfp4, x.data(), &b, 32);
  EXPECT_EQ(b.e, 123);
  dequantize_row(DType::mxfp4, &b, y.data(), 32);
  EXPECT_EQ(y[0], 0.25f);
  EXPECT_EQ(y[1], 0.0625f);
  EXPECT_EQ(y[17], -0.1875f);
  EXPECT_EQ(b.qs[2], 0);
  // Above 1.5 * 2^floor(log2 max) the block maximum saturates to 6 x the scale.
  x[0] = 7.9f;
  quantize_row(DType::mxfp4, x.data(), &b, 32);
  EXPECT_EQ(b.e, 127);
  dequantize_row(DType::mxfp4, &b, y.data(), 32);
  EXPECT_EQ(y[0], 6.0f);
}

// IQ4_NL / IQ4_XS levels as the format defines them (ggml's kvalues_iq4nl), written out again
// here so a wrong table in the library fails.
constexpr int kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

TEST(Dequantize, IQ4_NL) {
  BlockIQ4_NL b;
  b.d = kHalf0_5;
  // qs[j] = j | (15 - j) << 4: element j < 16 is index j, element 16 + j is index 15 - j.
  for (int j = 0; j < 16; j++) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(DType::iq4_nl, b, 32);
  for (int j = 0; j < 16; j++) {
    EXPECT_EQ(y[j], 0.5f * kLevels[j]) << j;
    EXPECT_EQ(y[16 + j], 0.5f * kLevels[15 - j]) << 16 + j;
  }
  EXPECT_EQ(y[0], -63.5f);   // 0.5 * -127
  EXPECT_EQ(y[8], 0.5f);     // 0.5 * 1
  EXPECT_EQ(y[16], 56.5f);   // high nibble of qs[0] = 15: 0.5 * 113
  EXPECT_EQ(y[20], 19.0f);    // high nibble of qs[4] = 11: 0.5 * 38
}

TEST(Dequantize, IQ4_XS) {
  BlockIQ4_XS b{};
  b.d = kHalf0_25;
  // 6-bit scales ls (the scale is ls - 32): sub-block 0 -> 40 (0b10'1000), sub-block 3 -> 1
  // (0b00'0001), sub-block 6 -> 63 (0b11'1111), sub-block 7 -> 0; the others 32 (scale 0).
  // Low nibbles: sub-block s in scales_l[s / 2] at bit 4 * (s % 2); high 2 bits in scales_h at
  // bit 2 * s. Low nibbles by sub-block: 8, 0, 0, 1, 0, 0, 15, 0.
  b.scales_l[0] = 0x08;  // s 0: 8, s 1: 0
  b.scales_l[1] = 0x10;  // s 2: 0, s 3: 1
  b.scales_l[2] = 0x00;  // s 4, 5: 0
  b.scales_l[3] = 0x0F;  // s 6: 15, s 7: 0
  // High bits: s 0 -> 2, s 1 -> 2, s 2 -> 2, s 3 -> 0, s 4 -> 2, s 5 -> 2, s 6 -> 3, s 7 -> 0:
  // bits (from s 7 down) 00 11 10 10 00 10 10 10 = 0x3A2A.
  b.scales_h = 0x3A2A;
  EXPECT_EQ(iq4xs_scale(0, b.scales_h, b.scales_l), 8);
  EXPECT_EQ(iq4xs_scale(1, b.scales_h, b.scales_l), 0);
  EXPECT_EQ(iq4xs_scale(3, b.scales_h, b.scales_l), -31);
  EXPECT_EQ(iq4xs_scale(6, b.scales_h, b.scales_l), 31);
  EXPECT_EQ(iq4xs_scale(7, b.scales_h, b.scales_l), -32);
  // Element 5 (sub-block 0, low nibble of qs[5]) index 2; element 16 + 9 (high nibble of qs[9])
  // index 14; element 96 + 3 (sub-block 3: qs[48 + 3] low) index 0; element 192 + 31 (sub-block
  // 6: qs[96 + 15] high) index 15; element 224 (sub-block 7: qs[112] low) index 8.
  b.qs[5] = 0x02;
  b.qs[9] = 0xE0;
  b.qs[51] = 0x00;
  b.qs[111] = 0xF0;
  b.qs[112] = 0x08;
  auto y = dequant(DType::iq4_xs, b, 256);
  EXPECT_EQ(y[5], 0.25f * 8 * -83);       // -166
  EXPECT_EQ(y[25], 0.25f * 8 * 89);       // 178
  EXPECT_EQ(y[99], 0.25f * -31 * -127);   // 984.25
  EXPECT_EQ(y[223], 0.25f * 31 * 113);    // 875.75
  EXPECT_EQ(y[224], 0.25f * -32 * 1);     // -8
  EXPECT_EQ(y[40], 0.0f);                 // sub-block 1 has scale 0
  EXPECT_EQ(y[0], 0.25f * 8 * -127);      // index 0 everywhere else: -254
}

TEST(Quantize, IQ4LevelsTimesAScaleComeBackExactly) {
  // Every block holds each level times 1/8 (an fp16-exact scale): one of the candidate scales
  // maps them onto the grid exactly, and IQ4_XS stores 1/8 as -32 x (-1/256).
  std::vector<float> x(256);
  for (int j = 0; j < 256; j++) x[j] = 0.125f * kLevels[(j * 5) % 16];
  BlockIQ4_NL nl[8];
  quantize_row(DType::iq4_nl, x.data(), nl, 256);
  std::vector<float> y(256);
  dequantize_row(DType::iq4_nl, nl, y.data(), 256);
  for (int j = 0; j < 256; j++) EXPECT_EQ(y[j], x[j]) << j;
  BlockIQ4_XS xs;
  quantize_row(DType::iq4_xs, x.data(), &xs, 256);
  dequantize_row(DType::iq4_xs, &xs, y.data(), 256);
  for (int j = 0; j < 256; j++) EXPECT_EQ(y[j], x[j]) << j;
  EXPECT_EQ(iq4xs_scale(3, xs.scales_h, xs.scales_l), -32);
}

// ---- quantize -> dequantize ----------------------------------------------------------------

struct Bound {
  DType type;
  double rms;  // max RMS error relative to the data's RMS (uniform random data)
};

class RoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(RoundTrip, ErrorWithinBound) {
  const Bound bound = GetParam();
  const int n = 4096;
  Rng rng(7);
  std::vector<float> x(n);
  for (auto& v : x) v = rng.normal() * 0.05f;
  x[100] = 0.9f;  // an outlier in one block
  std::vector<uint8_t> q(dtype_row_bytes(bound.type, n));
  quantize_row(bound.type, x.data(), q.data(), n);
  std::vector<float> y(n);
  dequantize_row(bound.type, q.data(), y.data(), n);
  double err = 0, ref = 0;
  for (int i = 0; i < n; i++) {
    err += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
    ref += x[i] * static_cast<double>(x[i]);
  }
  double rel = std::sqrt(err / ref);
  EXPECT_LT(rel, bound.rms) << dtype_name(bound.type);
  // Re-quantizing the dequantized values must not move them much (they are on the grid up to
  // scale rounding).
  std::vector<uint8_t> q2(q.size());
  quantize_row(bound.type, y.data(), q2.data(), n);
  std::vector<float> y2(n);
  dequantize_row(bound.type, q2.data(), y2.data(), n);
  double err2 = 0;
  for (int i = 0; i < n; i++) err2 += (y[i] - y2[i]) * static_cast<double>(y[i] - y2[i]);
  EXPECT_LT(std::sqrt(err2 / ref), bound.rms) << dtype_name(bound.type);
}

// Bounds: a b-bit uniform quantizer has RMS error step / sqrt(12) with step = range / levels,
// which for Gaussian blocks is roughly 1.5 / 2^b of the RMS; the limits have headroom for the
// scale rounding of the super-block formats.
INSTANTIATE_TEST_SUITE_P(
    Types, RoundTrip,
    ::testing::Values(Bound{DType::f32, 1e-9}, Bound{DType::f16, 1e-3}, Bound{DType::bf16, 5e-3},
                      Bound{DType::q8_0, 0.01}, Bound{DType::q6_k, 0.03}, Bound{DType::q5_0, 0.06},
                      Bound{DType::q5_1, 0.05}, Bound{DType::q5_k, 0.05}, Bound{DType::q4_0, 0.12},
                      Bound{DType::q4_1, 0.1}, Bound{DType::q4_k, 0.1}, Bound{DType::q3_k, 0.22},
                      Bound{DType::q2_k, 0.4}, Bound{DType::mxfp4, 0.16}, Bound{DType::iq4_nl, 0.1}, Bound{DType::iq4_xs, 0.1}),
    [](const auto& p) { return std::string(dtype_name(p.param.type)); });

TEST(Quantize, ZerosAndConstantsStayExact) {
  for (DType t : {DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q8_0, DType::q2_k, DType::q3_k,
                  DType::q4_k, DType::q5_k, DType::q6_k, DType::mxfp4, DType::iq4_nl, DType::iq4_xs}) {
    std::vector<float> x(512, 0.0f), y(512, 1.0f);
    std::vector<uint8_t> q(dtype_row_bytes(t, 512));
    quantize_row(t, x.data(), q.data(), 512);
    dequantize_row(t, q.data(), y.data(), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
    // A constant row: every format represents it to within a few percent.
    std::fill(x.begin(), x.end(), -0.75f);
    quantize_row(t, x.data(), q.data(), 512);
    dequantize_row(t, q.data(), y.data(), 512);
    for (float v : y) ASSERT_NEAR(v, -0.75f, 0.05) << dtype_name(t);
  }
}

TEST(Quantize, GridValuesSurviveExactly) {
  // Values already on a Q8_0 / Q4_0 grid with an fp16-exact scale come back unchanged.
  std::vector<float> x(64);
  for (int i = 0; i < 64; i++) x[i] = 0.5f * static_cast<float>((i * 7) % 255 - 127);
  x[0] = x[32] = -63.5f;  // amax / 127 = 0.5 in both blocks
  std::vector<uint8_t> q(dtype_row_bytes(DType::q8_0, 64));
  std::vector<float> y(64);
  quantize_row(DType::q8_0, x.data(), q.data(), 64);
  dequantize_row(DType::q8_0, q.data(), y.data(), 64);
  for (int i = 0; i < 64; i++) EXPECT_EQ(y[i], x[i]) << i;
  for (int i = 0; i < 64; i++) x[i] = 0.25f * static_cast<float>(i % 16 - 8);
  q.resize(dtype_row_bytes(DType::q4_0, 64));
  quantize_row(DType::q4_0, x.data(), q.data(), 64);
  dequantize_row(DType::q4_0, q.data(), y.data(), 64);
  for (int i = 0; i < 64; i++) EXPECT_EQ(y[i], x[i]) << i;
}

TEST(Quantize, EveryTypeSupported) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0,
                  DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::mxfp4,
                  DType::iq4_nl, DType::iq4_xs}) {
    EXPECT_TRUE(can_quantize(t)) << dtype_name(t);
    EXPECT_TRUE(can_dequantize(t)) << dtype_name(t);
  }
  EXPECT_FALSE(can_dequantize(DType::iq2_xxs));
  EXPECT_FALSE(can_dequantize(DType::q8_k));
}

}  // namespace
}  // namespace parley
