#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Parley needs to build and test.
# Idempotent: when everything is present it installs nothing and prints one line.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang-14 libclang-rt-14-dev          # sanitizer + libFuzzer builds
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost1.81-dev                      # Beast/Asio (HTTP server)
  libpcre2-dev                          # pre-tokenizer regexes
  libcli11-dev                          # command line
  libtomlplusplus-dev                   # serve --config (TOML)
  python3-numpy python3-jinja2 python3-yaml   # reference tools (tools/), not needed by the build
  python3-jsonschema                    # independent validator of constrained-decoding samples
  nodejs npm                            # integration tests with the official SDKs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# nodejs may come from another repository (nodesource) that bundles npm: accept any node >= 18.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all build dependencies present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq || echo "setup: apt-get update failed; trying with the current package lists"
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
