// Scalar kernels: the plain-C++ statement of what every SIMD kernel computes (same quantized
// activations, same per-block integer dot products, same f32 scaling), used on CPUs without AVX2
// and by tests as the reference each SIMD path is compared with.
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/quant-blocks.h"
#include "tensor/quant.h"

namespace parley::kernels {
namespace {

float half(const uint16_t& h) { return fp16_to_f32(h); }

int nibble(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4; }

uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;  // little-endian host (x86)
}

// One 32-element block as integers: value = scale * q[i] + offset, so its dot with a Q8 block
// (dx, xq, s = dx * sum xq) is scale * dx * sum(q * xq) + offset * s.
struct Block32 {
  int q[kQK];
  float scale;
  float offset;
};

void decode32(DType t, const uint8_t* row, int64_t b, Block32* out) {
  switch (t) {
    case DType::q4_0: {
      const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
      for (int j = 0; j < kQK; j++) out->q[j] = nibble(blk.qs, j);
      out->scale = half(blk.d);
      out->offset = -8.0f * out->scale;
      return;
    }
    case DType::q4_1: {
      const auto& blk = reinterpret_cast<const BlockQ4_1*>(row)[b];
      for (int j = 0; j < kQK; j++) out->q[j] = nibble(blk.qs, j);
      out->scale = half(blk.d);
      out->offset = half(blk.m);
      return;
    }
    case DType::q5_0: {
      const auto& blk = reinterpret_cast<const BlockQ5_0*>(row)[b];
      uint32_t qh = load_qh(blk.qh);
      for (int j = 0; j < kQK; j++) out->q[j] = nibble(blk.qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      out->scale = half(blk.d);
      out->offset = -16.0f * out->scale;
      return;
    }
    case DType::q5_1: {
      const auto& blk = reinterpret_cast<const BlockQ5_1*>(row)[b];
      uint32_t qh = load_qh(blk.qh);
      for (int j = 0; j < kQK; j++) out->q[j] = nibble(blk.qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      out->scale = half(blk.d);
      out->offset = half(blk.m);
      return;
    }
    case DType::q8_0: {
      const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
      for (int j = 0; j < kQK; j++) out->q[j] = blk.qs[j];
      out->scale = half(blk.d);
      out->offset = 0;
      return;
    }
    case DType::iq4_nl: {
      const auto& blk = reinterpret_cast<const BlockIQ4_NL*>(row)[b];
      for (int j = 0; j < kQK; j++) out->q[j] = kValuesIQ4NL[nibble(blk.qs, j)];
      out->scale = half(blk.d);
      out->offset = 0;
      return;
    }
    case DType::mxfp4: {
      const auto& blk = reinterpret_cast<const BlockMXFP4*>(row)[b];
      for (int j = 0; j < kQK; j++) out->q[j] = kValuesMXFP4[nibble(blk.qs, j)];
      out->scale = e8m0_half(blk.e);
      out->offset = 0;
      return;
    }
    default: return;
  }
}

// One 256-element super-block as integers: value = d * sc[s] * q[i] - dmin * mn[s] for the
// 16-element sub-block s of element i. Its dot with a Q8_K block (dx, xq, bsums) is
// d * dx * sum_s sc[s] * sum_{i in s} q[i] * xq[i] - dmin * dx * sum_s mn[s] * bsums[s].
struct Block256 {
  int q[kQK_K];
  int sc[16];
  int mn[16];
  float d;
  float dmin;
};

void decode256(DType t, const uint8_t* row, int64_t b, Block256* out) {
  std::memset(out->mn, 0, sizeof(out->mn));
  out->dmin = 0;
  switch (t) {
    case DType::q2_k: {
      const auto& blk = reinterpret_cast<const BlockQ2_K*>(row)[b];
      for (int e = 0; e < kQK_K; e++) {
        int h = e / 128, j = (e / 32) % 4, l = e % 32;
        out->q[e] = (blk.qs[32 * h + l] >> (2 * j)) & 3;
      }
      for (int s = 0; s < 16; s++) {
        out->sc[s] = blk.scales[s] & 15;
        out->mn[s] = blk.scales[s] >> 4;
      }
      out->d = half(blk.d);
      out->dmin = half(blk.dmin);
      return;
    }
    case DType::q3_k: {
      const auto& blk = reinterpret_cast<const BlockQ3_K*>(row)[b];
      for (int e = 0; e < kQK_K; e++) {
        int h = e / 128, j = (e / 32) % 4, l = e % 32;
        int q = (blk.qs[32 * h + l] >> (2 * j)) & 3;
        q |= ((blk.hmask[l] >> (4 * h + j)) & 1) << 2;
        out->q[e] = q - 4;
      }
      for (int s = 0; s < 16; s++) out->sc[s] = q3k_scale(s, blk.scales);
      out->d = half(blk.d);
      return;
    }
    case DType::q4_k:
    case DType::q5_k: {
      const uint8_t* scales;
      const uint8_t* qs;
      const uint8_t* qh = nullptr;
      if (t == DType::q4_k) {
        const auto& blk = reinterpret_cast<const BlockQ4_K*>(row)[b];
        scales = blk.scales, qs = blk.qs, out->d = half(blk.d), out->dmin = half(blk.dmin);
      } else {
        const auto& blk = reinterpret_cast<const BlockQ5_K*>(row)[b];
        scales = blk.scales, qs = blk.qs, qh = blk.qh, out->d = half(blk.d), out->dmin = half(blk.dmin);
      }
      for (int s = 0; s < 8; s++) {
        uint8_t sc, m;
        k_scale_min(s, scales, &sc, &m);
        out->sc[2 * s] = out->sc[2 * s + 1] = sc;
        out->mn[2 * s] = out->mn[2 * s + 1] = m;
        for (int l = 0; l < 32; l++) {
          uint8_t byte = qs[32 * (s / 2) + l];
          int q = s % 2 == 0 ? byte & 15 : byte >> 4;
          if (qh) q |= ((qh[l] >> s) & 1) << 4;
          out->q[32 * s + l] = q;
        }
      }
      return;
    }
    case DType::q6_k: {
      const auto& blk = reinterpret_cast<const BlockQ6_K*>(row)[b];
      for (int e = 0; e < kQK_K; e++) {
        int h = e / 128, k = (e / 32) % 4, l = e % 32;
        uint8_t lo = blk.ql[64 * h + l + 32 * (k & 1)];
        int q = (k < 2 ? lo & 15 : lo >> 4) | (((blk.qh[32 * h + l] >> (2 * k)) & 3) << 4);
        out->q[e] = q - 32;
      }
      for (int s = 0; s < 16; s++) out->sc[s] = blk.scales[s];
      out->d = half(blk.d);
      return;
    }
    case DType::iq4_xs: {
      const auto& blk = reinterpret_cast<const BlockIQ4_XS*>(row)[b];
      for (int s = 0; s < 8; s++) {
        out->sc[2 * s] = out->sc[2 * s + 1] = iq4xs_scale(s, blk.scales_h, blk.scales_l);
        for (int j = 0; j < kQK; j++) out->q[kQK * s + j] = kValuesIQ4NL[nibble(blk.qs + 16 * s, j)];
      }
      out->d = half(blk.d);
      return;
    }
    default: return;
  }
}

template <DType T>
void kernel32(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  Block32 blk;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < a.n_tokens; t++) {
      float sum = 0, offsets = 0;
      for (int64_t b = 0; b < a.n_blocks; b++) {
        decode32(T, row, b, &blk);
        const int8_t* xq = a.qs_at(t, b);
        int32_t isum = 0;
        for (int j = 0; j < kQK; j++) isum += blk.q[j] * xq[j];
        sum += blk.scale * *a.d_at(t, b) * static_cast<float>(isum);
        offsets += blk.offset * *a.s_at(t, b);
      }
      y[t * ldy + r] = sum + offsets;
    }
  }
}

template <DType T>
void kernel256(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy, float*) {
  Block256 blk;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < a.n_tokens; t++) {
      float sum = 0;
      for (int64_t b = 0; b < a.n_blocks; b++) {
        decode256(T, row, b, &blk);
        const int8_t* xq = a.qs_at(t, b);
        const int16_t* bs = a.bsums_at(t, b);
        int32_t isum = 0, imin = 0;
        for (int s = 0; s < 16; s++) {
          int32_t sub = 0;
          for (int l = 0; l < 16; l++) sub += blk.q[16 * s + l] * xq[16 * s + l];
          isum += blk.sc[s] * sub;
          imin += blk.mn[s] * bs[s];
        }
        sum += *a.d_at(t, b) * (blk.d * static_cast<float>(isum) - blk.dmin * static_cast<float>(imin));
      }
      y[t * ldy + r] = sum;
    }
  }
}

// F32/F16/BF16: the row is widened to f32 in scratch and dotted with each token in f32.
void kernel_float(const WeightView& w, int64_t r0, int64_t r1, const Acts& a, float* y, int64_t ldy,
                  float* scratch) {
  for (int64_t r = r0; r < r1; r++) {
    dequantize_row(w.type, w.row(r), scratch, w.n_cols);
    for (int64_t t = 0; t < a.n_tokens; t++) {
      const float* x = a.x + t * a.n_cols;
      float part[8] = {};
      int64_t c = 0;
      for (; c + 8 <= a.n_cols; c += 8) {
        for (int k = 0; k < 8; k++) part[k] += scratch[c + k] * x[c + k];
      }
      float sum = 0;
      for (; c < a.n_cols; c++) sum += scratch[c] * x[c];
      for (int k = 0; k < 8; k++) sum += part[k];
      y[t * ldy + r] = sum;
    }
  }
}

int round_clamp(float v) {
  if (!(v >= -127.0f)) return -127;
  if (v >= 127.0f) return 127;
  return static_cast<int>(std::nearbyint(v));
}

}  // namespace

Kernel scalar_kernel(DType t) {
  switch (t) {
    case DType::f32: case DType::f16: case DType::bf16: return kernel_float;
    case DType::q4_0: return kernel32<DType::q4_0>;
    case DType::q4_1: return kernel32<DType::q4_1>;
    case DType::q5_0: return kernel32<DType::q5_0>;
    case DType::q5_1: return kernel32<DType::q5_1>;
    case DType::q8_0: return kernel32<DType::q8_0>;
    case DType::mxfp4: return kernel32<DType::mxfp4>;
    case DType::iq4_nl: return kernel32<DType::iq4_nl>;
    case DType::q2_k: return kernel256<DType::q2_k>;
    case DType::q3_k: return kernel256<DType::q3_k>;
    case DType::q4_k: return kernel256<DType::q4_k>;
    case DType::q5_k: return kernel256<DType::q5_k>;
    case DType::q6_k: return kernel256<DType::q6_k>;
    case DType::iq4_xs: return kernel256<DType::iq4_xs>;
    default: return nullptr;
  }
}

// Each block: d = max|x| / 127 and q = round(x / d) (ties to even, as the SIMD conversions do).
void scalar_quantize_acts(const Acts& a, const float* x, int64_t t0, int64_t t1) {
  if (a.kind == ActKind::f32) return;
  const int64_t block = a.block_elems;
  for (int64_t t = t0; t < t1; t++) {
    const float* xt = x + t * a.n_cols;
    for (int64_t b = 0; b < a.n_blocks; b++) {
      const float* xb = xt + b * block;
      int8_t* q = a.qs_at(t, b);
      float amax = 0;
      for (int64_t j = 0; j < block; j++) amax = std::fmax(amax, std::fabs(xb[j]));
      float db = amax / 127.0f;
      float id = db != 0 ? 1.0f / db : 0.0f;
      int32_t sum = 0;
      for (int64_t j = 0; j < block; j++) {
        int v = round_clamp(xb[j] * id);
        q[j] = static_cast<int8_t>(v);
        sum += v;
      }
      *a.d_at(t, b) = db;
      if (a.kind == ActKind::q8_32) {
        *a.s_at(t, b) = db * static_cast<float>(sum);
      } else {
        int16_t* bs = a.bsums_at(t, b);
        for (int s = 0; s < 16; s++) {
          int32_t ss = 0;
          for (int l = 0; l < 16; l++) ss += q[16 * s + l];
          bs[s] = static_cast<int16_t>(ss);
        }
      }
    }
  }
}

}  // namespace parley::kernels
