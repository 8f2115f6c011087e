#!/usr/bin/env bash
# Builds everything and runs every test: unit tests (release build), the same unit tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, the fuzz targets for a bounded time, and the
# integration tests with the official client packages. This is what CI runs (.ci/run).
#
# Environment:
#   PARLEY_FUZZ_SECONDS  seconds per fuzz target (default 60; 0 skips fuzzing)
#   PARLEY_SKIP_ASAN=1   skip the sanitizer build (faster local runs; CI never sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s ===\n' "$*"; }
start=$(date +%s)

step "dependencies"
./scripts/setup.sh

step "release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release

step "unit tests (release)"
ctest --test-dir build/release -j"$(nproc)" --output-on-failure --timeout 900

if [ "${PARLEY_SKIP_ASAN:-0}" != 1 ]; then
  step "sanitizer + fuzzer build (clang-14, ASan + UBSan)"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DPARLEY_FUZZ=ON -DPARLEY_BENCH=OFF >/dev/null
  cmake --build build/asan

  step "unit tests (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan -j"$(nproc)" --output-on-failure --timeout 1800

  seconds=${PARLEY_FUZZ_SECONDS:-60}
  if [ "$seconds" != 0 ]; then
    step "fuzzing (${seconds}s per target)"
    ./scripts/fuzz.sh build/asan "$seconds"
  fi
fi

if [ -f tests/integration/package.json ]; then
  step "integration tests (node --test with the official SDKs)"
  ./tests/integration/run.sh "$root/build/release/parley"
fi

printf '\nall tests passed in %ss\n' $(( $(date +%s) - start ))
