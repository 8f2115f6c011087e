// IQ4_NL and IQ4_XS: scalar dequantization (the reference the kernels are tested against) and a
// quantizer for make-model and tests. Both map scaled values to the nearest of the 16 fixed
// levels of kValuesIQ4NL; the quantizer picks each 32-element block's scale by trying a few
// candidates (the block maximum mapped near either end of the grid) and keeping the one whose
// rounding, refitted by weighted least squares, leaves the smallest error, the way llama.cpp's
// quantizer does without an importance matrix (weights x^2).
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant-internal.h"

namespace parley::quant {
namespace {

// The index of the level nearest v (the lower one on a tie).
int nearest_level(float v) {
  int best = 0;
  float best_err = std::fabs(v - static_cast<float>(kValuesIQ4NL[0]));
  for (int k = 1; k < 16; k++) {
    const float err = std::fabs(v - static_cast<float>(kValuesIQ4NL[k]));
    if (err < best_err) {
      best = k;
      best_err = err;
    }
  }
  return best;
}

// The scale d of x[0..32) (x ~= d * level) of least weighted squared error among the
// candidates: the signed maximum mapped to the top level 113 (scale max / 127, as a start) or
// to -127 + t for t in [-kTries, kTries]; each candidate's rounding is refitted by least squares.
float fit_block_scale(const float* x) {
  constexpr int kTries = 7;
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; j++) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (!(amax > 1e-15f) || !std::isfinite(amax)) return 0;
  float best_d = 0;
  double best = 0;  // sumqx^2 / sumq2: how much the fit removes from the weighted error
  auto consider = [&](float inv_scale) {
    double sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kQK; j++) {
      const double q = kValuesIQ4NL[nearest_level(inv_scale * x[j])];
      const double w = static_cast<double>(x[j]) * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      best_d = static_cast<float>(sumqx / sumq2);
      best = sumqx * sumqx / sumq2;
    }
  };
  consider(127.0f / max);
  for (int t = -kTries; t <= kTries; t++) consider(static_cast<float>(t + kValuesIQ4NL[0]) / max);
  return best_d;
}

// The 32 indices of x for the (already rounded) scale d, packed as Q4_0's nibbles.
void pack_levels(const float* x, float d, uint8_t* qs) {
  const float id = d != 0 ? 1.0f / d : 0.0f;
  std::memset(qs, 0, kQK / 2);
  for (int j = 0; j < kQK; j++) qs[j % 16] |= static_cast<uint8_t>(nearest_level(id * x[j]) << (j < 16 ? 0 : 4));
}

}  // namespace

void dequantize_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, y += kQK) {
    const float d = fp16_to_f32(b[i].d);
    for (int j = 0; j < kQK; j++) y[j] = d * static_cast<float>(kValuesIQ4NL[nibble(b[i].qs, j)]);
  }
}

void dequantize_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++) {
    const float d = fp16_to_f32(b[i].d);
    for (int s = 0; s < 8; s++, y += kQK) {
      const float dl = d * static_cast<float>(iq4xs_scale(s, b[i].scales_h, b[i].scales_l));
      for (int j = 0; j < kQK; j++) y[j] = dl * static_cast<float>(kValuesIQ4NL[nibble(b[i].qs + 16 * s, j)]);
    }
  }
}

void quantize_iq4_nl(const float* x, BlockIQ4_NL* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK; i++, x += kQK) {
    b[i].d = f32_to_fp16(fit_block_scale(x));
    pack_levels(x, fp16_to_f32(b[i].d), b[i].qs);
  }
}

// Each sub-block's scale as IQ4_NL's, then stored as 6-bit multiples of the super-block scale
// d, chosen so that the sub-block scale of largest magnitude is -32 d.
void quantize_iq4_xs(const float* x, BlockIQ4_XS* b, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; i++, x += kQK_K) {
    float scale[8], max_scale = 0;
    for (int s = 0; s < 8; s++) {
      scale[s] = fit_block_scale(x + kQK * s);
      if (std::fabs(scale[s]) > std::fabs(max_scale)) max_scale = scale[s];
    }
    b[i].d = f32_to_fp16(max_scale / -32.0f);
    const float d = fp16_to_f32(b[i].d);
    b[i].scales_h = 0;
    std::memset(b[i].scales_l, 0, sizeof(b[i].scales_l));
    for (int s = 0; s < 8; s++) {
      const int l = d != 0 ? round_clamp(scale[s] / d, -32, 31) : 0;
      const int u = l + 32;
      b[i].scales_l[s / 2] |= static_cast<uint8_t>((u & 15) << (4 * (s % 2)));
      b[i].scales_h = static_cast<uint16_t>(b[i].scales_h | ((u >> 4) << (2 * s)));
      pack_levels(x + kQK * s, d * static_cast<float>(l), b[i].qs + 16 * s);
    }
  }
}

}  // namespace parley::quant
