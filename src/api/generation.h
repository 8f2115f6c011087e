// One generation as the API side sees it: submits token ids to the engine, receives its events
// (on the engine thread: they are only queued there), and turns them — on the caller's thread,
// in poll() — into text (UTF-8-safe incremental detokenization, stop strings) and a finish
// reason. Both APIs' emitters consume the same GenerationSink calls.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/generation-source.h"
#include "api/stop-matcher.h"
#include "chat/output-parser.h"
#include "base/result.h"
#include "engine/client.h"
#include "tokenizer/tokenizer.h"

namespace parley::api {

class Metrics;

enum class StopReason {
  end_turn,        // end-of-generation token
  tool_use,        // the turn ended with tool calls (the client runs them and answers)
  max_tokens,      // the request's (or the operator's) output budget
  stop_sequence,   // a stop string matched
  context_window,  // the context filled up before max_tokens
  refusal,         // an upstream's safety classifier stopped the answer (Anthropic upstreams)
  pause_turn,      // an upstream paused a long turn for the client to resume (Anthropic upstreams)
  cancelled,       // the client went away / the server shut down
  error,           // the engine failed; see Finish::error
};

// Where the prompt's tokens went. Anthropic's arithmetic: input_tokens = n_prompt -
// n_cache_read - n_cache_written.
struct PromptUsage {
  int32_t n_prompt = 0;
  int32_t n_cache_read = 0;     // served from the prefix cache
  int32_t n_cache_written = 0;  // newly cached, at or before the request's cache_control breakpoint
  bool cache_ttl_1h = false;    // the breakpoint asked for the 1-hour TTL
};

struct Finish {
  StopReason reason = StopReason::end_turn;
  std::optional<std::string> stop_sequence;
  std::string error;
  ErrorKind error_kind = ErrorKind::api_error;  // reason error: the error's type
  PromptUsage prompt;
  int32_t n_generated = 0;
};

// The content blocks of an answer, in order: at most one is open at a time, and every
// delta belongs to the open one.
// redacted_thinking comes only from Anthropic upstreams: complete at its start (no deltas).
enum class BlockKind { text, thinking, tool_use, redacted_thinking };

struct BlockStart {
  BlockKind kind = BlockKind::text;
  std::string id;    // tool_use: "toolu_..."
  std::string name;  // tool_use: the tool's name
  std::string data;  // redacted_thinking: the upstream's opaque data, relayed as is
};

class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  virtual void on_started(const PromptUsage& prompt) = 0;
  virtual void on_block_start(const BlockStart& block) = 0;
  // More of the open block: text, thinking text, or a fragment of the tool input's JSON (the
  // fragments of one tool_use block concatenate to one JSON object).
  virtual void on_delta(std::string_view delta) = 0;
  // The open block is complete; a thinking block carries its signature.
  virtual void on_block_stop(const std::string& signature) = 0;
  virtual void on_finished(const Finish& finish) = 0;
};

struct GenerationSpec {
  std::vector<engine::TokenId> prompt;
  int32_t max_tokens = 0;  // what the engine is asked for (0: generate nothing)
  // Why the budget is what it is, reported when the engine uses it all up: max_tokens (the
  // request's or the operator's cap), context_window (cut to what the context leaves), or
  // end_turn (an operator cap configured to end the turn, --max-output-ends-turn).
  StopReason budget_reason = StopReason::max_tokens;
  engine::SamplingParams sampling;
  // Logits processors for the engine (grammar, banned tokens, forced end of thinking).
  std::vector<std::shared_ptr<const sampling::ConstraintFactory>> sampling_constraints;
  std::vector<std::string> stop_sequences;
  std::string cache_namespace;
  // Prompt tokens up to the last cache_control breakpoint (0: none), and its TTL.
  int32_t n_tokens_cache_breakpoint = 0;
  bool cache_ttl_1h = false;

  // How the output is read (chat/output-parser.h): null means plain text. The parser splits
  // reasoning, text and (when parse_tool_calls) tool calls into blocks.
  std::shared_ptr<const chat::OutputFormat> format;
  bool parse_tool_calls = false;
  bool starts_in_thinking = false;  // the prompt opened the thinking block already
  std::vector<chat::Tool> tools;    // for the parser to type XML-style arguments
  bool stop_after_first_call = false;  // disable_parallel_tool_use: the turn ends after one call
  std::function<std::string()> new_tool_id;                      // "toolu_..." / "call_..."
  std::function<std::string(std::string_view)> sign_thinking;    // a thinking block's signature
  // Latency metrics (time to first token, between tokens), taken when this side handles a
  // token, i.e. when the client can see it. Null metrics or clock: not measured.
  std::shared_ptr<Metrics> metrics;
  std::function<double()> now;  // monotonic seconds
};

class Generation final : public GenerationSource {
 public:
  Generation(engine::Client& engine, const tokenizer::Tokenizer& tokenizer, GenerationSpec spec);
  ~Generation();  // cancels a request still running
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Queues the request. The error message is the engine's ("overloaded: ..." when full).
  Status submit();
  // Called from any thread whenever new events are queued (and once now if some already are).
  void set_wake(std::function<void()> wake) override;
  // Handles the events received so far, calling `sink`. Returns true once finished.
  bool poll(GenerationSink& sink) override;
  // Cancels the engine request (no further sink calls are made by poll()).
  void cancel() override;
  bool finished() const { return finished_; }
  int32_t n_prompt() const override { return static_cast<int32_t>(spec_.prompt.size()); }

 private:
  struct Inbox {
    std::mutex mu;
    std::deque<engine::Event> events;
    std::function<void()> wake;
  };
  void handle(const engine::Event& ev, GenerationSink& sink);
  void emit_text(std::string text, GenerationSink& sink);
  // Parser events → blocks.
  void route(std::vector<chat::OutputEvent>& events, GenerationSink& sink);
  // The text of one token: control tokens only when the output format needs to see them.
  std::string token_text(engine::TokenId token);
  // Block bookkeeping: opens a block of `kind` (closing another one first) and sends `delta`.
  void block_delta(BlockKind kind, std::string_view delta, GenerationSink& sink);
  void close_block(GenerationSink& sink);
  void finish(Finish f, GenerationSink& sink);

  engine::Client& engine_;
  const tokenizer::Tokenizer& tokenizer_;
  GenerationSpec spec_;
  std::shared_ptr<Inbox> inbox_;
  std::optional<engine::RequestId> id_;
  tokenizer::IncrementalDecoder decoder_;
  StopMatcher stops_;
  bool started_ = false;
  bool finished_ = false;
  std::optional<BlockKind> open_block_;
  std::unique_ptr<chat::OutputParser> parser_;
  std::vector<chat::OutputEvent> events_;
  std::string thinking_;  // the open thinking block's text (what its signature covers)
  int32_t n_tool_calls_ = 0;
  bool calls_done_ = false;  // the one call disable_parallel_tool_use allows is complete
  PromptUsage usage_;  // set when the engine starts the request
  int32_t n_generated_ = 0;
  double t_submit_ = 0;      // spec_.now() at submit
  double t_last_token_ = 0;  // spec_.now() at the last token handled
};

}  // namespace parley::api
