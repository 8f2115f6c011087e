// The matmul kernels for the avx512 path: the x86 kernels compiled with AVX-512 F/BW/VL/DQ and
// VNNI, so the integer dot products are one vpdpbusd (on 256-bit vectors: the tiles are the
// AVX2 ones). matmul calls it only when the CPU has all of them (base/cpu.h).
#include "tensor/kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__) && \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#define PARLEY_ISA_FN(name) avx512_##name
#include "tensor/kernels-x86-k.inc"
#include "tensor/kernels-x86.inc"

#else  // not an x86 build: the path is never selected

namespace parley::kernels {
Kernel avx512_kernel(DType) { return nullptr; }
void avx512_quantize_acts(const Acts&, const float*, int64_t, int64_t) {}
}  // namespace parley::kernels

#endif
