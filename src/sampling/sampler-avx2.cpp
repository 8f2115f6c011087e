// AVX2 versions of the sampler's vocabulary-wide loops (sampler-kernels.h); CMake builds this
// file with AVX2 + FMA + F16C.
#include "sampling/sampler-kernels.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#include <cmath>

#include "tensor/simd-avx2.h"

namespace parley::sampling::detail {

float avx2_max(const float* x, int32_t n) {
  // maxps returns its second operand when either is NaN: NaNs in x leave the accumulator.
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), m3);
  }
  float m = kernels::avx2::hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

float avx2_exp_weights(const float* l, int32_t n, float max, float inv_t, float* w) {
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 e0 = kernels::avx2::exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + i), vmax), vinv));
    __m256 e1 = kernels::avx2::exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + i + 8), vmax), vinv));
    // exp8 clamps its argument, so -infinity (a masked token) would come out as ~1e-38, not 0.
    e0 = _mm256_and_ps(e0, _mm256_cmp_ps(_mm256_loadu_ps(l + i), _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
    e1 = _mm256_and_ps(e1, _mm256_cmp_ps(_mm256_loadu_ps(l + i + 8), _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
    _mm256_storeu_ps(w + i, e0);
    _mm256_storeu_ps(w + i + 8, e1);
    acc0 = _mm256_add_ps(acc0, e0);
    acc1 = _mm256_add_ps(acc1, e1);
  }
  float sum = kernels::avx2::hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; i++) {
    w[i] = std::exp((l[i] - max) * inv_t);
    sum += w[i];
  }
  return sum;
}

int32_t avx2_first_above(const float* x, int32_t n, float t) {
  const __m256 vt = _mm256_set1_ps(t);
  int32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 a = _mm256_cmp_ps(_mm256_loadu_ps(x + i), vt, _CMP_GT_OQ);
    __m256 b = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), vt, _CMP_GT_OQ);
    __m256 c = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 16), vt, _CMP_GT_OQ);
    __m256 d = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 24), vt, _CMP_GT_OQ);
    if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(a, b), _mm256_or_ps(c, d))) != 0) break;
  }
  for (; i < n; i++) {
    if (x[i] > t) return i;
  }
  return n;
}

}  // namespace parley::sampling::detail

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::sampling::detail {
float avx2_max(const float* x, int32_t n) { return max_scalar(x, n); }
float avx2_exp_weights(const float* l, int32_t n, float max, float inv_t, float* w) {
  return exp_weights_scalar(l, n, max, inv_t, w);
}
int32_t avx2_first_above(const float* x, int32_t n, float t) { return first_above_scalar(x, n, t); }
}  // namespace parley::sampling::detail

#endif
