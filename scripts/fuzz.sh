#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from fuzz/corpus/NAME/,
# as many at once as there are cores. New inputs go to a scratch corpus in the build dir; a crash
# fails the script and leaves the reproducer in BUILD_DIR/fuzz-findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
seconds=${2:-60}
findings="$build/fuzz-findings"
mkdir -p "$findings"
jobs=${PARLEY_FUZZ_JOBS:-$(nproc)}

run_one() {  # run_one EXE: runs one target, prints one summary line, returns its status
  local exe=$1 name work seeds
  name=$(basename "$exe"); name=${name#fuzz-}
  work="$build/fuzz-corpus/$name"
  mkdir -p "$work"
  seeds="fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  if ! ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$seconds" -rss_limit_mb=2560 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$findings/$name-" "$work" $seeds \
      >"$build/fuzz-$name.log" 2>&1; then
    return 1
  fi
}

targets=()
for exe in "$build"/fuzz/fuzz-*; do [ -x "$exe" ] && targets+=("$exe"); done
status=0
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
  pids=(); batch=("${targets[@]:i:jobs}")
  for exe in "${batch[@]}"; do
    echo "$(basename "$exe"): ${seconds}s"
    run_one "$exe" & pids+=($!)
  done
  for k in "${!batch[@]}"; do
    name=$(basename "${batch[$k]}"); name=${name#fuzz-}
    if wait "${pids[$k]}"; then
      printf 'fuzz-%s: ' "$name"
      grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/fuzz-$name.log" | tr '\n' ' '; echo
    else
      echo "fuzz-$name FOUND A PROBLEM:"; tail -40 "$build/fuzz-$name.log"; status=1
    fi
  done
done
exit $status
