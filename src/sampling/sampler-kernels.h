// The sampler's loops over the whole vocabulary, in a portable version (sampler.cpp) and an
// AVX2 one (sampler-avx2.cpp, built with AVX2 + FMA); sampler.cpp dispatches on
// cpu_path_at_least(CpuPath::avx2). Internal to src/sampling/.
#pragma once

#include <cstdint>

namespace parley::sampling::detail {

// The largest value (NaNs are skipped; -infinity when n == 0 or all are -infinity or NaN).
float max_scalar(const float* x, int32_t n);
float avx2_max(const float* x, int32_t n);

// w[i] = exp((l[i] - max) * inv_t) for i < n, returning their sum. The portable version takes
// the exponent in double like the filtered path; the AVX2 one is float (relative error ~1e-7).
float exp_weights_scalar(const float* l, int32_t n, float max, float inv_t, float* w);
float avx2_exp_weights(const float* l, int32_t n, float max, float inv_t, float* w);

// The first i in [0, n) with x[i] > t, or n (NaNs never count).
int32_t first_above_scalar(const float* x, int32_t n, float t);
int32_t avx2_first_above(const float* x, int32_t n, float t);

}  // namespace parley::sampling::detail
