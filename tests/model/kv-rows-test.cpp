// The KV row codecs (model/kv-rows.h) on both paths against simple references: BF16 against
// round-to-nearest-even written out from its definition, F16 against tensor/fp16.h, Q8_0
// against tensor/quant.h's quantize_row (byte for byte) and against its definition (round trip
// within half a step of its block's scale).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "base/rng.h"
#include "model/kv-rows.h"
#include "tensor/fp16.h"
#include "tensor/quant-blocks.h"
#include "tensor/quant.h"

namespace parley::model {
namespace {

const KvRowPath kPaths[] = {KvRowPath::best, KvRowPath::scalar};
const char* path_name(KvRowPath p) { return p == KvRowPath::best ? "best" : "scalar"; }

std::vector<float> random_row(Rng& rng, int32_t n, float scale) {
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = rng.normal() * scale;
  return x;
}

// A bf16 bit pattern's value in double, the exponent unbounded (0x7F80 is 2^128, not infinity,
// so that overflow rounds as IEEE says).
double bf16_value(uint16_t h) {
  const int exp = (h >> 7) & 0xFF, mant = h & 0x7F;
  double v = exp == 0 ? std::ldexp(mant, -133) : std::ldexp(1.0 + mant / 128.0, exp - 127);
  return (h & 0x8000) ? -v : v;
}

// bf16 from its definition: of the two bf16 values around x (truncated, and one step further
// from zero), the nearer one; on a tie the one with an even last bit. x finite.
uint16_t bf16_reference(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t lo = static_cast<uint16_t>(u >> 16), hi = static_cast<uint16_t>(lo + 1);
  if (!std::isfinite(x)) return lo;
  const double dlo = std::fabs(bf16_value(lo) - x);
  const double dhi = std::fabs(bf16_value(hi) - x);
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) == 0 ? lo : hi;
}

std::vector<uint16_t> store16(DType t, const std::vector<float>& x, KvRowPath path) {
  std::vector<uint16_t> out(x.size());
  kv_row_store(t, x.data(), reinterpret_cast<uint8_t*>(out.data()), static_cast<int32_t>(x.size()), path);
  return out;
}

TEST(KvRows, Bf16RoundsToNearestEven) {
  Rng rng(11);
  std::vector<float> x = random_row(rng, 203, 3.0f);  // 203: a tail after the 8-wide loop
  // Ties (exactly half a bf16 step above a value with an even and with an odd last bit), the
  // largest finite float (rounds to infinity), infinities, zeros, subnormals.
  const float specials[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -1.0f - 0x1p-8f, std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 0.0f,
                            -0.0f, std::numeric_limits<float>::denorm_min(), 1e-40f, -3e-39f, 65504.0f, 1e30f};
  for (size_t i = 0; i < std::size(specials); i++) x[i * 7] = specials[i];
  for (KvRowPath path : kPaths) {
    std::vector<uint16_t> got = store16(DType::bf16, x, path);
    for (size_t i = 0; i < x.size(); i++) {
      ASSERT_EQ(got[i], bf16_reference(x[i])) << path_name(path) << " x=" << x[i];
    }
    std::vector<float> back(x.size());
    kv_row_load(DType::bf16, reinterpret_cast<const uint8_t*>(got.data()), back.data(), static_cast<int32_t>(x.size()));
    for (size_t i = 0; i < x.size(); i++) {
      if (!std::isfinite(back[i]) || std::fabs(x[i]) < std::numeric_limits<float>::min()) continue;
      EXPECT_LE(std::fabs(back[i] - x[i]), std::fabs(x[i]) * 0x1p-8f) << x[i];
    }
  }
}

TEST(KvRows, Bf16KeepsNanANan) {
  std::vector<float> x(16, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[12] = -std::numeric_limits<float>::quiet_NaN();
  for (KvRowPath path : kPaths) {
    std::vector<uint16_t> got = store16(DType::bf16, x, path);
    EXPECT_TRUE(std::isnan(bf16_to_f32(got[3]))) << path_name(path);
    EXPECT_TRUE(std::isnan(bf16_to_f32(got[12]))) << path_name(path);
    EXPECT_EQ(got[0], 0x3F80) << path_name(path);
  }
}

TEST(KvRows, F16MatchesTheScalarConversion) {
  Rng rng(12);
  std::vector<float> x = random_row(rng, 77, 100.0f);
  x[0] = 1e-6f;   // subnormal in f16
  x[1] = 70000;   // overflows to infinity
  x[2] = -0.0f;
  for (KvRowPath path : kPaths) {
    std::vector<uint16_t> got = store16(DType::f16, x, path);
    for (size_t i = 0; i < x.size(); i++) ASSERT_EQ(got[i], f32_to_fp16(x[i])) << path_name(path) << " x=" << x[i];
  }
}

TEST(KvRows, Q8_0MatchesQuantizeRowAndItsDefinition) {
  Rng rng(13);
  const int32_t n = 256;
  std::vector<float> x = random_row(rng, n, 2.0f);
  for (int i = 32; i < 64; i++) x[static_cast<size_t>(i)] = 0;  // an all-zero block: scale 0
  for (int i = 64; i < 96; i++) x[static_cast<size_t>(i)] *= 1e-3f;  // a small one
  x[100] = 1000;                                                     // one outlier in a block
  std::vector<uint8_t> ref(kv_row_bytes(DType::q8_0, n));
  ASSERT_EQ(ref.size(), static_cast<size_t>(n / 32 * 34));
  quantize_row(DType::q8_0, x.data(), ref.data(), n);
  for (KvRowPath path : kPaths) {
    std::vector<uint8_t> got(ref.size(), 0xAB);
    kv_row_store(DType::q8_0, x.data(), got.data(), n, path);
    EXPECT_EQ(got, ref) << path_name(path);
    // The definition: d = fp16(amax / 127), q = round(x / d) in [-127, 127], x ~ d * q.
    std::vector<float> back(static_cast<size_t>(n));
    kv_row_load(DType::q8_0, got.data(), back.data(), n);
    const auto* blocks = reinterpret_cast<const BlockQ8_0*>(got.data());
    for (int32_t b = 0; b < n / 32; b++) {
      float amax = 0;
      for (int k = 0; k < 32; k++) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * 32 + k)]));
      EXPECT_EQ(blocks[b].d, f32_to_fp16(amax / 127.0f)) << "block " << b;
      const float d = fp16_to_f32(blocks[b].d);
      for (int k = 0; k < 32; k++) {
        const size_t i = static_cast<size_t>(b * 32 + k);
        EXPECT_LE(std::abs(blocks[b].qs[k]), 127);
        if (d == 0) {
          EXPECT_EQ(blocks[b].qs[k], 0);
          continue;
        }
        EXPECT_LE(std::abs(blocks[b].qs[k] - static_cast<int>(std::lround(x[i] / d))), 1) << "element " << i;
        // Half a step, plus the fp16 rounding of the scale (up to 2^-11 of amax).
        EXPECT_LE(std::fabs(back[i] - x[i]), d * 0.5f + amax * 0x1p-10f) << "element " << i;
      }
    }
  }
}

TEST(KvRows, F32IsACopy) {
  Rng rng(14);
  std::vector<float> x = random_row(rng, 40, 1.0f), back(40);
  std::vector<uint8_t> bytes(kv_row_bytes(DType::f32, 40));
  kv_row_store(DType::f32, x.data(), bytes.data(), 40);
  kv_row_load(DType::f32, bytes.data(), back.data(), 40);
  EXPECT_EQ(back, x);
}

}  // namespace
}  // namespace parley::model
