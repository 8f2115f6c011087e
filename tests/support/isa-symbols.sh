#!/usr/bin/env bash
# Checks the per-instruction-set object files (*-avx2.cpp.o, *-avx512.cpp.o in the given static
# libraries) export nothing but their own entry points. Such a file is compiled with flags the
# CPU may lack; any weak symbol it defines (an out-of-line inline function, a template
# instantiation) could be the copy the linker keeps for the whole program, and then code on the
# scalar or AVX2 path would run AVX-512 instructions. Each exported name must carry its file's
# path name (avx2_..., avx512_...) and be called only after the CPU check.
set -euo pipefail
found=0
bad=0
for lib in "$@"; do
  lib=$(realpath "$lib")
  members=$(ar t "$lib" | grep -E -- '-(avx2|avx512)\.cpp\.o$' || true)
  for m in $members; do
    found=$((found + 1))
    isa=$(printf '%s' "$m" | sed -E 's/.*-(avx2|avx512)\.cpp\.o$/\1/')
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$lib" "$m")
    # Global or weak definitions: T D B R (global), W V (weak), u (unique global).
    while read -r kind name; do
      # RTTI of function types (UBSan's function check emits it): read-only data, no code.
      case "$name" in "typeinfo for "*|"typeinfo name for "*) continue ;; esac
      case "$kind" in
        W|V|u|w|v) echo "isa-symbols: $lib($m) defines weak symbol $name"; bad=1 ;;
        *) case "$name" in
             *"${isa}_"*) ;;
             *) echo "isa-symbols: $lib($m) exports $name (not named for $isa)"; bad=1 ;;
           esac ;;
      esac
    done < <(nm -C --defined-only "$tmp/$m" | awk '$2 ~ /^[TDBRWVuwv]$/ { k = $2; $1 = ""; $2 = ""; sub(/^  */, ""); print k, $0 }')
    rm -rf "$tmp"
  done
done
if [ "$found" = 0 ]; then
  echo "isa-symbols: no *-avx2/*-avx512 object files in $* (renamed? not an x86 build?)"
  exit 1
fi
if [ "$bad" != 0 ]; then exit 1; fi
echo "isa-symbols: $found instruction-set object files export only their own entry points"
