#!/usr/bin/env bash
# Integration tests: the real `parley serve` driven by the official @anthropic-ai/sdk, the
# official `openai` package and Claude Code itself (node --test).
#   tests/integration/run.sh PATH_TO_PARLEY
# Installs the pinned packages with `npm ci` (package-lock.json). Without a reachable npm
# registry the suite cannot run: it says so and is skipped.
set -euo pipefail
parley=$(realpath "${1:?usage: run.sh PATH_TO_PARLEY}")
[ -x "$parley" ] || { echo "run.sh: $parley is not an executable" >&2; exit 1; }
cd "$(dirname "$0")"
if [ ! -d ../../../shared/tokenizers ]; then
  echo "SKIPPED: ../shared/tokenizers not found (the integration tests build models from it)"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: node/npm not installed (the integration tests need Node.js >= 20)"
  exit 0
fi
if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/parley-npm-ci.log 2>&1; then
  if ! npm ping >/dev/null 2>&1; then
    echo "SKIPPED: the npm registry is unreachable, so the official SDKs and Claude Code cannot be installed"
    exit 0
  fi
  cat /tmp/parley-npm-ci.log >&2
  exit 1
fi
PARLEY_BIN="$parley" exec node --test --test-concurrency=1 tests/
