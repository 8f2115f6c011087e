#!/usr/bin/env bash
# Builds parley and starts it on a model.
#   ./scripts/serve.sh [MODEL.gguf] [extra flags...]
# Without a model it generates a demo model (random weights, the real SmolLM2 tokenizer and chat
# template from ../shared) so the whole path can be tried with no download.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target parley
parley=build/release/parley

model=${1:-}
if [ -n "$model" ]; then shift; fi
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
fi

# The server has not landed yet: show what the model holds.
exec "$parley" inspect "$model" "$@"
