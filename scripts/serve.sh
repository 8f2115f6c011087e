#!/usr/bin/env bash
# Builds parley and starts it on a model.
#   ./scripts/serve.sh [MODEL.gguf] [extra flags...]
# Without a model it generates a demo model (random weights, the real SmolLM2 tokenizer and chat
# template from ../shared) so the whole path can be tried with no download.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target parley
parley=build/release/parley

model=${1:-}
if [ -n "$model" ]; then shift; fi
demo_flags=()
if [ -z "$model" ]; then
  model=build/demo/demo-smollm2.gguf
  if [ ! -f "$model" ]; then
    mkdir -p build/demo
    shared=../shared
    "$parley" make-model -o "$model" --arch llama --layers 4 --embd 256 --heads 8 --kv-heads 4 \
      --ffn 512 --ctx 8192 --tied --type Q8_0 --seed 1 --name demo-smollm2 \
      --tokenizer "$shared/tokenizers/SmolLM2-135M-Instruct/tokenizer.json" \
      --template "$shared/templates/SmolLM2-Instruct.jinja"
  fi
  # Random weights never end a turn on their own: cap answers (as finished turns) so Claude Code
  # gets short nonsense instead of 8000-token nonsense; the context holds its ~5K-token prompts.
  demo_flags=(--ctx 8192 --max-output 200 --max-output-ends-turn)
fi

# Serves http://127.0.0.1:8080 (see README: parley serve); the log prints the line to use it with
# Claude Code: ANTHROPIC_BASE_URL=http://127.0.0.1:8080 claude
exec "$parley" serve -m "$model" "${demo_flags[@]}" "$@"
