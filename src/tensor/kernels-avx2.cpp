// The matmul kernels for the avx2 path (AVX2 + FMA + F16C, no VNNI): CMake compiles this file
// with exactly those flags (-mno-avx512f even in a -march=native build), and matmul calls it
// only when the CPU has them (base/cpu.h).
#include "tensor/kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#define PARLEY_ISA_FN(name) avx2_##name
#include "tensor/kernels-x86-k.inc"
#include "tensor/kernels-x86.inc"

#else  // not an x86 build: the path is never selected

namespace parley::kernels {
Kernel avx2_kernel(DType) { return nullptr; }
Kernel avx2_packed_kernel(DType) { return nullptr; }
void avx2_quantize_acts(const Acts&, const float*, int64_t, int64_t) {}
}  // namespace parley::kernels

#endif
