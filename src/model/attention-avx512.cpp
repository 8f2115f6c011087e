// The prefill tile kernel of attention (attention-tile.inc) on 16-float vectors: twice the
// keys per broadcast query value and 32 registers for 24 accumulators. Compiled with the avx512
// path's flags; attention.cpp calls it when the CPU runs that path and head_dim % 32 == 0.
#include "model/kernels-x86.h"

#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include "model/simd-avx2.h"

namespace parley::model::ops {
namespace {

struct Zmm {
  using V = __m512;
  static constexpr int kLanes = 16, kMaxRows = 12;  // 24 accumulators of the 32 registers
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
};

}  // namespace
}  // namespace parley::model::ops

#include "model/attention-tile.inc"

namespace parley::model::ops {

void avx512_attend_tile(DType t, const AttendTile& a, const KvRows& kv, float* scratch) {
  attend_tile_for<Zmm>(t, a, kv, scratch);
}

}  // namespace parley::model::ops

#else  // not an x86 build: never called (cpu_path() is scalar)

namespace parley::model::ops {
void avx512_attend_tile(DType, const AttendTile&, const KvRows&, float*) {}
}  // namespace parley::model::ops

#endif
