// The model tests run once per kernel path (tests/CMakeLists.txt sets PARLEY_CPU for the
// model-scalar and model-avx2 runs): this test says which path a run is on, and is skipped,
// naming the reason, when the CPU cannot run the forced one (the run then used the best path).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "base/cpu.h"

namespace parley {
namespace {

TEST(KernelPath, ForcedPathIsInForce) {
  Result<CpuPath> forced = cpu_path_from_env(std::getenv("PARLEY_CPU"), cpu_features());
  if (!forced.ok()) {
    GTEST_SKIP() << forced.error().message << "; this run used " << cpu_path_name(cpu_path());
  }
  EXPECT_EQ(forced.value(), cpu_path());
  std::printf("model tests on kernel path %s\n", cpu_path_name(cpu_path()));
}

}  // namespace
}  // namespace parley
