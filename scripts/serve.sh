#!/usr/bin/env bash
# Builds parley and starts it on a model.
#   ./scripts/serve.sh [MODEL.gguf] [flags of parley serve...]   (e.g. ./scripts/serve.sh --port 9000)
# Without a model it generates a demo model (random weights, the real SmolLM2 tokenizer and chat
# template from ../shared) so the whole path can be tried with no download.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --target parley
parley=build/release/parley

# The model is the first argument unless that is a flag; -m/--model among the flags also names it.
model=
model_in_flags=0
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  model=$1
  shift
fi
for arg in "$@"; do
  case "$arg" in
    -m | --model | --model=*) model_in_flags=1 ;;
  esac
done
model_flags=()
demo_flags=()
if [ "$model_in_flags" = 1 ]; then
  [ -z "$model" ] || { echo "serve.sh: two models: $model and a -m/--model flag" >&2; exit 2; }
elif [ -n "$model" ]; then
  model_flags=(-m "$model")
else
  model=build/demo/demo-smollm2.gguf
  if [ ! -f "$model" ]; then
    mkdir -p build/demo
    shared=../shared
    "$parley" make-model -o "$model" --arch llama --layers 4 --embd 256 --heads 8 --kv-heads 4 \
      --ffn 512 --ctx 8192 --tied --type Q8_0 --seed 1 --name demo-smollm2 \
      --tokenizer "$shared/tokenizers/SmolLM2-135M-Instruct/tokenizer.json" \
      --template "$shared/templates/SmolLM2-Instruct.jinja"
  fi
  model_flags=(-m "$model")
  # Random weights never end a turn on their own: cap answers (as finished turns) so Claude Code
  # gets short nonsense instead of 8000-token nonsense; the context holds its ~5K-token prompts.
  # A flag given on the command line wins over these (each option may be given once).
  given() {
    local want=$1 arg
    for arg in "${@:2}"; do
      [[ "$arg" == "$want" || "$arg" == "$want="* ]] && return 0
    done
    return 1
  }
  given --ctx "$@" || demo_flags+=(--ctx 8192)
  given --max-output "$@" || demo_flags+=(--max-output 200)
  given --max-output-ends-turn "$@" || demo_flags+=(--max-output-ends-turn)
fi

# Serves http://127.0.0.1:8080 (see README: parley serve); the log prints the line to use it with
# Claude Code: ANTHROPIC_BASE_URL=http://127.0.0.1:8080 claude
exec "$parley" serve "${model_flags[@]+"${model_flags[@]}"}" "${demo_flags[@]+"${demo_flags[@]}"}" "$@"
