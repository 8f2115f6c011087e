// PromptRenderer backed by the model's chat template (chat::ChatTemplate). What a template
// cannot show is lowered first, found by the template's capability probes: a template without a
// system role gets the system text at the start of the first user turn; one that cannot render
// tool calls or tool results gets them as text in the assistant / user turns. Nothing the client
// sent is dropped on the way to the prompt.
#pragma once

#include <cstdint>
#include <functional>

#include "api/prompt.h"
#include "chat/chat-template.h"
#include "tokenizer/tokenizer.h"

namespace parley::api {

class TemplateRenderer final : public PromptRenderer {
 public:
  // unix_time: what strftime_now formats (passed in; templates such as Llama 3.1 print the date).
  TemplateRenderer(chat::ChatTemplate tpl, std::function<int64_t()> unix_time)
      : tpl_(std::move(tpl)), unix_time_(std::move(unix_time)) {}

  Result<std::string> render(const chat::Conversation& conversation,
                             const RenderFlags& flags) const override;
  const chat::ChatTemplate& chat_template() const { return tpl_; }

  // The conversation as this template can show it (public for tests).
  chat::Conversation lower(const chat::Conversation& conversation) const;

 private:
  chat::ChatTemplate tpl_;
  std::function<int64_t()> unix_time_;
};

// The special-token texts a template sees (bos_token, eos_token, unk_token), from the tokenizer.
chat::SpecialTokens special_tokens_of(const tokenizer::Tokenizer& tokenizer);

}  // namespace parley::api
