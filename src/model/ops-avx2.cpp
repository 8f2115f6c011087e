// AVX2 versions of ops.cpp's elementwise kernels (dot, exp, SwiGLU); ops.cpp dispatches here
// when the CPU has AVX2 + FMA + F16C, and CMake builds this file with those flags.
#include "model/kernels-x86.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "model/simd-avx2.h"

namespace parley::model::ops {

float avx2_dot(const float* a, const float* b, int64_t n) { return dot_f32(a, b, n); }

void avx2_exp_inplace(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
  for (; i < n; i++) x[i] = std::exp(x[i]);
}

void avx2_swiglu_row(float* g, const float* u, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(g + i);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    __m256 silu = _mm256_div_ps(x, _mm256_add_ps(one, e));
    _mm256_storeu_ps(g + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void avx2_geglu_row(float* g, const float* u, int64_t n) {
  // gelu_tanh(x) = x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) (0.5 (1 + tanh y) = sigmoid(2y)).
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f), k = _mm256_set1_ps(-2.0f * 0.7978845608028654f),
               c = _mm256_set1_ps(0.044715f);
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(g + i);
    __m256 y = _mm256_mul_ps(k, _mm256_add_ps(x, _mm256_mul_ps(c, _mm256_mul_ps(x, _mm256_mul_ps(x, x)))));
    __m256 gelu = _mm256_div_ps(x, _mm256_add_ps(one, exp8(y)));
    _mm256_storeu_ps(g + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) {
    const float x = g[i];
    g[i] = x / (1.0f + std::exp(-2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x))) * u[i];
  }
}

void avx2_swiglu_oai_row(float* g, const float* u, int64_t n, float alpha, float limit) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.0f), na = _mm256_set1_ps(-alpha), hi = _mm256_set1_ps(limit),
               lo = _mm256_set1_ps(-limit);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_min_ps(_mm256_loadu_ps(g + i), hi);
    const __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(u + i), lo), hi);
    const __m256 glu = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_mul_ps(na, x))));
    _mm256_storeu_ps(g + i, _mm256_mul_ps(glu, _mm256_add_ps(y, one)));
  }
  for (; i < n; i++) {
    const float x = std::min(g[i], limit), y = std::min(std::max(u[i], -limit), limit);
    g[i] = x / (1.0f + std::exp(-alpha * x)) * (y + 1.0f);
  }
}

}  // namespace parley::model::ops

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model::ops {
float avx2_dot(const float*, const float*, int64_t) { return 0; }
void avx2_exp_inplace(float*, int64_t) {}
void avx2_swiglu_row(float*, const float*, int64_t) {}
void avx2_geglu_row(float*, const float*, int64_t) {}
void avx2_swiglu_oai_row(float*, const float*, int64_t, float, float) {}
}  // namespace parley::model::ops

#endif
