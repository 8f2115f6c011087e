#include "base/cpu.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define PARLEY_X86 1
#endif

namespace parley {
namespace {

#ifdef PARLEY_X86
struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(uint32_t leaf, uint32_t sub) {
  Regs r;
  if (__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d) == 0) return Regs{};
  return r;
}

// XCR0: which register states the OS saves on a context switch (valid only with OSXSAVE).
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t v, int i) { return ((v >> i) & 1u) != 0; }

std::string brand_string() {
  if (cpuid(0x80000000u, 0).a < 0x80000004u) return "";
  char s[49] = {};
  for (uint32_t i = 0; i < 3; i++) {
    Regs r = cpuid(0x80000002u + i, 0);
    std::memcpy(s + 16 * i, &r, 16);
  }
  std::string out(s);
  // Vendors pad the 48 bytes with spaces on either side.
  const size_t b = out.find_first_not_of(' '), e = out.find_last_not_of(' ');
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

CpuFeatures detect() {
  CpuFeatures f;
  f.brand = brand_string();
  const uint32_t max_leaf = cpuid(0, 0).a;
  const Regs l1 = cpuid(1, 0);
  f.sse42 = bit(l1.c, 20);
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6) == 0x6;            // xmm + ymm state
  const bool os_avx512 = os_avx && (xcr & 0xE0) == 0xE0;  // opmask + zmm halves + zmm16..31
  const bool os_amx = (xcr & 0x60000) == 0x60000;     // tile config + tile data
  f.avx = os_avx && bit(l1.c, 28);
  f.fma = f.avx && bit(l1.c, 12);
  f.f16c = f.avx && bit(l1.c, 29);
  if (max_leaf < 7) return f;
  const Regs l7 = cpuid(7, 0), l7s1 = cpuid(7, 1);
  f.avx2 = f.avx && bit(l7.b, 5);
  f.bmi2 = bit(l7.b, 8);
  f.avx_vnni = f.avx2 && bit(l7s1.a, 4);
  if (os_avx512) {
    f.avx512f = bit(l7.b, 16);
    f.avx512dq = f.avx512f && bit(l7.b, 17);
    f.avx512cd = f.avx512f && bit(l7.b, 28);
    f.avx512bw = f.avx512f && bit(l7.b, 30);
    f.avx512vl = f.avx512f && bit(l7.b, 31);
    f.avx512vbmi = f.avx512f && bit(l7.c, 1);
    f.avx512vnni = f.avx512f && bit(l7.c, 11);
    f.avx512fp16 = f.avx512f && bit(l7.d, 23);
    f.avx512bf16 = f.avx512f && bit(l7s1.a, 5);
  }
  if (os_amx) {
    f.amx_tile = bit(l7.d, 24);
    f.amx_bf16 = f.amx_tile && bit(l7.d, 22);
    f.amx_int8 = f.amx_tile && bit(l7.d, 25);
  }
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string cpu_flags_string(const CpuFeatures& f) {
  const std::pair<bool, const char*> flags[] = {
      {f.sse42, "sse4.2"},         {f.avx, "avx"},           {f.avx2, "avx2"},
      {f.fma, "fma"},              {f.f16c, "f16c"},         {f.bmi2, "bmi2"},
      {f.avx_vnni, "avx_vnni"},    {f.avx512f, "avx512f"},   {f.avx512bw, "avx512bw"},
      {f.avx512vl, "avx512vl"},    {f.avx512dq, "avx512dq"}, {f.avx512cd, "avx512cd"},
      {f.avx512vnni, "avx512vnni"}, {f.avx512bf16, "avx512bf16"}, {f.avx512fp16, "avx512fp16"},
      {f.avx512vbmi, "avx512vbmi"}, {f.amx_tile, "amx_tile"}, {f.amx_int8, "amx_int8"},
      {f.amx_bf16, "amx_bf16"},
  };
  std::string out;
  for (const auto& [on, name] : flags) {
    if (!on) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out.empty() ? "none" : out;
}

const char* cpu_path_name(CpuPath p) {
  switch (p) {
    case CpuPath::scalar: return "scalar";
    case CpuPath::avx2: return "avx2";
    case CpuPath::avx512: return "avx512";
  }
  return "?";
}

bool cpu_path_supported(const CpuFeatures& f, CpuPath p) {
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (p) {
    case CpuPath::scalar: return true;
    case CpuPath::avx2: return avx2;
    case CpuPath::avx512:
      return avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  }
  return false;
}

CpuPath cpu_path_best(const CpuFeatures& f) {
  CpuPath best = CpuPath::scalar;
  for (CpuPath p : kCpuPaths) {
    if (cpu_path_supported(f, p)) best = p;
  }
  return best;
}

Result<CpuPath> cpu_path_from_env(const char* value, const CpuFeatures& f) {
  if (value == nullptr || *value == '\0' || std::strcmp(value, "best") == 0) return cpu_path_best(f);
  if (std::strcmp(value, "amx") == 0) {
    return Error::fmt("PARLEY_CPU=amx: no AMX kernels are built yet (this CPU %s AMX); use scalar, avx2 or avx512",
                      f.amx_int8 ? "has" : "lacks");
  }
  for (CpuPath p : kCpuPaths) {
    if (std::strcmp(value, cpu_path_name(p)) != 0) continue;
    if (!cpu_path_supported(f, p)) {
      return Error::fmt("PARLEY_CPU=%s: this CPU cannot run that path (it has: %s; best path: %s)", value,
                        cpu_flags_string(f).c_str(), cpu_path_name(cpu_path_best(f)));
    }
    return p;
  }
  return Error::fmt("PARLEY_CPU=%s: unknown kernel path (expected scalar, avx2, avx512 or best)", value);
}

CpuPath cpu_path() {
  static const CpuPath path = [] {
    Result<CpuPath> p = cpu_path_from_env(std::getenv("PARLEY_CPU"), cpu_features());
    return p.ok() ? p.value() : cpu_path_best(cpu_features());
  }();
  return path;
}

CpuTopology cpu_topology_from(std::span<const int> allowed, std::span<const std::pair<int, int>> ids) {
  CpuTopology t;
  t.logical = static_cast<int>(allowed.size());
  t.known = !allowed.empty();
  std::map<std::pair<int, int>, int> first;  // (package, core) -> lowest allowed CPU
  for (size_t i = 0; i < allowed.size(); i++) {
    const std::pair<int, int> id = i < ids.size() ? ids[i] : std::pair<int, int>{-1, -1};
    if (id.first < 0 || id.second < 0) {
      t.known = false;
      t.core_cpus.push_back(allowed[i]);
      continue;
    }
    auto [it, inserted] = first.emplace(id, allowed[i]);
    if (!inserted) it->second = std::min(it->second, allowed[i]);
  }
  for (const auto& kv : first) t.core_cpus.push_back(kv.second);
  std::sort(t.core_cpus.begin(), t.core_cpus.end());
  return t;
}

namespace {

int read_sysfs_int(int cpu, const char* leaf) {
  char path[128];
  std::snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, leaf);
  std::ifstream f(path);
  int v = -1;
  if (!(f >> v)) return -1;
  return v;
}

CpuTopology detect_topology() {
  std::vector<int> allowed;
  std::vector<std::pair<int, int>> ids;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; c++) {
      if (!CPU_ISSET(c, &set)) continue;
      allowed.push_back(c);
      ids.emplace_back(read_sysfs_int(c, "physical_package_id"), read_sysfs_int(c, "core_id"));
    }
  }
#endif
  if (allowed.empty()) {
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned c = 0; c < n; c++) {
      allowed.push_back(static_cast<int>(c));
      ids.emplace_back(-1, -1);
    }
  }
  return cpu_topology_from(allowed, ids);
}

}  // namespace

const CpuTopology& cpu_topology() {
  static const CpuTopology t = detect_topology();
  return t;
}

int default_threads() { return std::max(1, cpu_topology().physical()); }

std::vector<int> pin_cpus_for(int threads) {
  const CpuTopology& t = cpu_topology();
  if (threads < 1 || threads > t.physical()) return {};
  return std::vector<int>(t.core_cpus.begin(), t.core_cpus.begin() + threads);
}

std::string threads_description(int threads, bool pinned) {
  const CpuTopology& t = cpu_topology();
  char s[160];
  std::snprintf(s, sizeof s, "%d thread%s%s (%d physical core%s%s of %d CPU%s allowed)", threads, threads == 1 ? "" : "s",
                pinned ? ", pinned one per core" : "", t.physical(), t.physical() == 1 ? "" : "s",
                t.known ? "" : " assumed", t.logical, t.logical == 1 ? "" : "s");
  return s;
}

bool pin_current_thread(int cpu) {
#if defined(__linux__)
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#else
  (void)cpu;
  return false;
#endif
}

}  // namespace parley
