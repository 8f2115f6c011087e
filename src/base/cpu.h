// What the CPU can run, detected once at start (cpuid + xgetbv), and which kernel path the
// process uses. One binary runs everywhere: the SIMD kernels are compiled per instruction set
// (src/tensor/*-avx2.cpp, *-avx512.cpp, src/model/*-avx2.cpp with their own flags) and chosen
// here at run time, never from the build machine's flags.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace parley {

struct CpuFeatures {
  std::string brand;  // "AMD EPYC 9R14", from cpuid's brand string; may be empty
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx_vnni = false;
  // AVX-512 counts only when the OS saves the zmm and mask registers (xgetbv).
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512cd = false;
  bool avx512vnni = false, avx512bf16 = false, avx512fp16 = false, avx512vbmi = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;  // and the OS granted the tiles
};

// Detected on first use and never changed afterwards.
const CpuFeatures& cpu_features();
// "avx2 fma f16c avx512f avx512bw ..." (the ones this engine cares about, in that order).
std::string cpu_flags_string(const CpuFeatures& f);

// Kernel families, slowest first. Each one's requirements:
//   scalar  any CPU (the reference every other path is tested against)
//   avx2    AVX2 + FMA + F16C
//   avx512  the avx2 set + AVX-512 F, BW, VL, DQ and VNNI
enum class CpuPath { scalar, avx2, avx512 };
constexpr CpuPath kCpuPaths[] = {CpuPath::scalar, CpuPath::avx2, CpuPath::avx512};

const char* cpu_path_name(CpuPath p);
bool cpu_path_supported(const CpuFeatures& f, CpuPath p);
// The fastest path f supports.
CpuPath cpu_path_best(const CpuFeatures& f);

// The value of PARLEY_CPU (scalar|avx2|avx512|amx|best, or unset/empty = best) checked against
// f: an unknown name, or a path the CPU cannot run, is an error naming what is wrong.
Result<CpuPath> cpu_path_from_env(const char* value, const CpuFeatures& f);

// The path every kernel dispatcher uses: PARLEY_CPU when it is valid, else the best one (main
// reports an invalid PARLEY_CPU and exits before anything runs). Fixed for the process.
CpuPath cpu_path();
// True when the process path is p or faster (kernels of a slower path stay usable).
inline bool cpu_path_at_least(CpuPath p) { return static_cast<int>(cpu_path()) >= static_cast<int>(p); }

// The logical CPUs this process may run on (its affinity mask: a container's cpuset, taskset)
// and the physical cores they belong to. Compute threads default to one per physical core:
// two hyper-threads of one core share its vector units, so a second thread there adds
// synchronisation and cache pressure but no arithmetic.
struct CpuTopology {
  int logical = 0;             // CPUs in the affinity mask
  std::vector<int> core_cpus;  // one CPU per physical core: its lowest-numbered allowed sibling, ascending
  bool known = false;          // core ids were read (sysfs); otherwise every CPU counts as a core
  int physical() const { return static_cast<int>(core_cpus.size()); }
};
// Read once (sched_getaffinity + /sys/devices/system/cpu/cpuN/topology).
const CpuTopology& cpu_topology();
// The topology of `allowed` CPUs whose (package id, core id) are `ids` (same order); an id of
// -1 (unknown) makes that CPU its own core.
CpuTopology cpu_topology_from(std::span<const int> allowed, std::span<const std::pair<int, int>> ids);
// The default number of compute threads: the physical cores this process may use (at least 1).
int default_threads();
// "2 threads (2 physical cores of 2 CPUs allowed)" for startup logs.
std::string threads_description(int threads, bool pinned);
// The CPUs to pin `threads` compute threads to, one physical core each (the first `threads`
// of core_cpus); empty when there are fewer cores than threads.
std::vector<int> pin_cpus_for(int threads);
// Binds the calling thread to one CPU; false (and nothing changed) where that is refused or
// unsupported.
bool pin_current_thread(int cpu);

}  // namespace parley
