// An `openai-chat` upstream's streamed chunks (chat.completion.chunk JSON, as vLLM, SGLang,
// llama-server and parley send them) → GenerationSink calls: the same block, delta and finish
// calls the local Generation makes, so the client-facing emitters are the single source of the
// client's events.
//
//   delta.content                          → text block (through the StopMatcher)
//   delta.reasoning_content / .reasoning   → thinking block, signed by this server
//   delta.tool_calls[i] (id+name, then     → tool_use block with this server's id, arguments as
//     arguments fragments)                   input_json_delta fragments
//   finish_reason stop/length/tool_calls   → end_turn (stop_sequence when a stop string matched
//                                            or choice.stop_reason names one) / max_tokens /
//                                            tool_use
//   usage (often a last chunk with empty choices; cached_tokens) → the finish's prompt usage
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/generation.h"
#include "api/stop-matcher.h"
#include "base/json.h"
#include "upstream/stream-reader.h"

namespace parley::upstream {

struct ReaderOptions {
  std::vector<std::string> stop_sequences;
  bool stop_after_first_call = false;  // disable_parallel_tool_use
  std::function<std::string()> new_tool_id;
  std::function<std::string(std::string_view)> sign_thinking;
  // The operator's cap (--max-output) was applied and is configured to end the turn.
  bool length_ends_turn = false;
};

class OpenAIChatReader final : public StreamReader {
 public:
  explicit OpenAIChatReader(ReaderOptions options);

  // One chunk (a `data:` payload, parsed). A chunk that is not a chat.completion.chunk (an
  // {"error":...} object mid-stream) ends the answer with an error.
  void chunk(const json::Value& chunk, api::GenerationSink& sink) override;
  // The stream ended ([DONE] or the end of the body): the answer is finished.
  void end(api::GenerationSink& sink) override;
  // The stream broke off (connection lost, bad JSON): the answer ends with an error.
  void fail(api::ErrorKind kind, const std::string& message, api::GenerationSink& sink) override;
  bool finished() const override { return finished_; }

 private:
  void start(api::GenerationSink& sink);
  void text(std::string_view text, api::GenerationSink& sink);
  void block_delta(api::BlockKind kind, std::string_view delta, api::GenerationSink& sink);
  void close_block(api::GenerationSink& sink);
  void tool_call_delta(const json::Value& call, api::GenerationSink& sink);
  void usage(const json::Value& u);
  void finish(api::Finish f, api::GenerationSink& sink);

  ReaderOptions options_;
  api::StopMatcher stops_;
  bool started_ = false, finished_ = false;
  bool stopped_ = false;  // a stop string matched: the rest of the content is not wanted
  std::optional<std::string> stop_match_;
  std::optional<api::BlockKind> open_block_;
  std::string thinking_;  // the open thinking block's text (what its signature covers)
  // Tool calls by upstream index: the open one, and whether one has been completed.
  int64_t open_call_index_ = -1;
  std::string pending_args_;  // arguments that came before the call's name
  int32_t n_tool_calls_ = 0;
  bool calls_done_ = false;  // the one call disable_parallel_tool_use allows is complete
  std::string finish_reason_;
  std::optional<std::string> upstream_stop_reason_;  // vLLM choice.stop_reason (a string)
  api::PromptUsage prompt_;
  int32_t n_completion_ = -1;  // usage.completion_tokens (-1: no usage came)
  int32_t n_chunks_ = 0;       // content chunks, the output count when no usage comes
};

}  // namespace parley::upstream
