// ChatRequest → prompt text → token ids. Generation and count_tokens both go through here, so
// the count is exactly what generation would prefill.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api/chat-request.h"
#include "api/plain-text.h"
#include "base/result.h"
#include "chat/conversation.h"
#include "tokenizer/tokenizer.h"

namespace parley::api {

struct RenderFlags {
  bool add_generation_prompt = true;
  // Prefill: the prompt ends right after the final (assistant) message's text.
  bool continue_final_message = false;
  std::optional<bool> enable_thinking;  // unset: the template's default
  std::string effort;                   // "low".."max" (reasoning_effort), "" when not given
};

// Renders the chat IR with the model's chat template. Implementations must be thread-safe
// (several HTTP threads render at once).
class PromptRenderer {
 public:
  virtual ~PromptRenderer() = default;
  virtual Result<std::string> render(const chat::Conversation& conversation,
                                     const RenderFlags& flags) const = 0;
};

struct Prompt {
  std::string text;
  std::vector<tokenizer::TokenId> tokens;
  // Tokens up to the request's last cache_control breakpoint (0: it has none): what the client
  // asked to cache, for usage.cache_creation_input_tokens.
  int32_t n_tokens_cache_breakpoint = 0;
};

class PromptBuilder {
 public:
  PromptBuilder(const PromptRenderer& renderer, const tokenizer::Tokenizer& tokenizer)
      : renderer_(renderer), tokenizer_(tokenizer), guard_(tokenizer) {}

  // Errors are the template's (a template that raises on this conversation) and mean a 400.
  Result<Prompt> build(const ChatRequest& request) const;

 private:
  int32_t tokens_before(std::span<const tokenizer::TokenId> tokens, bool added_bos, size_t offset) const;

  const PromptRenderer& renderer_;
  const tokenizer::Tokenizer& tokenizer_;
  PlainTextGuard guard_;  // request text that spells special tokens stays text
};

}  // namespace parley::api
