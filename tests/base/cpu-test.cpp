#include "base/cpu.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace parley {
namespace {

CpuFeatures avx2_only() {
  CpuFeatures f;
  f.sse42 = f.avx = f.avx2 = f.fma = f.f16c = true;
  return f;
}

CpuFeatures avx512_vnni() {
  CpuFeatures f = avx2_only();
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512cd = f.avx512vnni = true;
  return f;
}

TEST(Cpu, PathsFollowTheFeatures) {
  EXPECT_EQ(cpu_path_best(CpuFeatures{}), CpuPath::scalar);
  EXPECT_EQ(cpu_path_best(avx2_only()), CpuPath::avx2);
  EXPECT_EQ(cpu_path_best(avx512_vnni()), CpuPath::avx512);
  // AVX-512 without VNNI (Skylake-SP) and AVX2 without FMA run the path below.
  CpuFeatures skx = avx512_vnni();
  skx.avx512vnni = false;
  EXPECT_EQ(cpu_path_best(skx), CpuPath::avx2);
  CpuFeatures no_fma = avx2_only();
  no_fma.fma = false;
  EXPECT_EQ(cpu_path_best(no_fma), CpuPath::scalar);
}

TEST(Cpu, EnvironmentChoosesOrExplains) {
  EXPECT_EQ(cpu_path_from_env(nullptr, avx512_vnni()).value(), CpuPath::avx512);
  EXPECT_EQ(cpu_path_from_env("", avx2_only()).value(), CpuPath::avx2);
  EXPECT_EQ(cpu_path_from_env("best", avx2_only()).value(), CpuPath::avx2);
  EXPECT_EQ(cpu_path_from_env("scalar", avx512_vnni()).value(), CpuPath::scalar);
  EXPECT_EQ(cpu_path_from_env("avx2", avx512_vnni()).value(), CpuPath::avx2);

  Result<CpuPath> lacks = cpu_path_from_env("avx512", avx2_only());
  ASSERT_FALSE(lacks.ok());
  EXPECT_NE(lacks.error().message.find("cannot run"), std::string::npos) << lacks.error().message;
  EXPECT_NE(lacks.error().message.find("best path: avx2"), std::string::npos) << lacks.error().message;

  Result<CpuPath> unknown = cpu_path_from_env("sse9", avx2_only());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown kernel path"), std::string::npos);
  EXPECT_FALSE(cpu_path_from_env("amx", avx512_vnni()).ok());
  EXPECT_FALSE(cpu_path_from_env("AVX2", avx2_only()).ok());
}

TEST(Cpu, DetectionIsConsistent) {
  const CpuFeatures& f = cpu_features();
  // Sub-features imply their base (detection masks them by the OS-saved state too).
  if (f.avx2) {
    EXPECT_TRUE(f.avx);
  }
  if (f.avx512vnni || f.avx512bw || f.avx512vl) {
    EXPECT_TRUE(f.avx512f);
  }
  EXPECT_TRUE(cpu_path_supported(f, cpu_path()));
  EXPECT_FALSE(cpu_flags_string(f).empty());
  EXPECT_STREQ(cpu_path_name(CpuPath::avx512), "avx512");
  std::printf("cpu: %s\nflags: %s\npath: %s\n", f.brand.c_str(), cpu_flags_string(f).c_str(),
              cpu_path_name(cpu_path()));
}

TEST(Cpu, TopologyCountsPhysicalCores) {
  // 4 CPUs, two hyper-threads per core (0/2 and 1/3 as Linux numbers them), one package.
  const int cpus[] = {0, 1, 2, 3};
  const std::pair<int, int> smt[] = {{0, 0}, {0, 1}, {0, 0}, {0, 1}};
  CpuTopology t = cpu_topology_from(cpus, smt);
  EXPECT_EQ(t.logical, 4);
  EXPECT_EQ(t.physical(), 2);
  EXPECT_EQ(t.core_cpus, (std::vector<int>{0, 1}));
  EXPECT_TRUE(t.known);
  // An affinity mask with only the second sibling of core 0 and both of core 1.
  const int some[] = {1, 2, 3};
  const std::pair<int, int> some_ids[] = {{0, 1}, {0, 0}, {0, 1}};
  t = cpu_topology_from(some, some_ids);
  EXPECT_EQ(t.physical(), 2);
  EXPECT_EQ(t.core_cpus, (std::vector<int>{1, 2}));
  // Equal core ids in two packages are two cores.
  const int two[] = {0, 1};
  const std::pair<int, int> two_ids[] = {{0, 0}, {1, 0}};
  EXPECT_EQ(cpu_topology_from(two, two_ids).physical(), 2);
  // Unknown ids: every CPU is its own core, and the topology says it was not read.
  const std::pair<int, int> unknown[] = {{-1, -1}, {-1, -1}, {-1, -1}};
  t = cpu_topology_from(some, unknown);
  EXPECT_EQ(t.physical(), 3);
  EXPECT_FALSE(t.known);
}

TEST(Cpu, ThisMachinesTopology) {
  const CpuTopology& t = cpu_topology();
  EXPECT_GE(t.logical, 1);
  EXPECT_GE(t.physical(), 1);
  EXPECT_LE(t.physical(), t.logical);
  EXPECT_EQ(default_threads(), t.physical());
  EXPECT_EQ(pin_cpus_for(t.physical()).size(), static_cast<size_t>(t.physical()));
  EXPECT_TRUE(pin_cpus_for(t.physical() + 1).empty());
  std::printf("%s\n", threads_description(default_threads(), false).c_str());
}

}  // namespace
}  // namespace parley
