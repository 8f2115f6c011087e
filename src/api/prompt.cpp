#include "api/prompt.h"

namespace parley::api {

Result<std::string> cut_after_final_message(const std::string& rendered,
                                            const chat::Message& final_message) {
  std::string text = final_message.text();
  if (text.empty()) {
    // Only reasoning or tool calls to continue: nothing verbatim to anchor on; the rendering
    // without its closing is not recoverable in general.
    return Error{"messages: cannot continue a final assistant message that has no text"};
  }
  size_t pos = rendered.rfind(text);
  if (pos == std::string::npos) {
    return Error{"messages: the chat template does not reproduce the final assistant message "
                 "verbatim, so it cannot be continued (prefill)"};
  }
  return rendered.substr(0, pos + text.size());
}

Result<Prompt> PromptBuilder::build(const ChatRequest& request) const {
  RenderFlags flags;
  flags.add_generation_prompt = !request.continue_final_message;
  flags.enable_thinking = request.enable_thinking;
  PARLEY_TRY(std::string text, renderer_.render(request.conversation, flags));
  if (request.continue_final_message) {
    PARLEY_TRY(text, cut_after_final_message(text, request.conversation.messages.back()));
  }
  Prompt p;
  // Special-token text in the rendering ("<|im_start|>") is the template's structure; in user
  // content it would be too, which is how every template-based server behaves.
  tokenizer::EncodeOptions opt;
  opt.add_special = false;  // BOS is handled below; EOS must never end a chat prompt
  opt.parse_special = true;
  p.tokens = tokenizer_.encode(text, opt);
  // Templates that write {{ bos_token }} themselves already start with it.
  if (tokenizer_.add_bos() && tokenizer_.bos() >= 0 &&
      (p.tokens.empty() || p.tokens.front() != tokenizer_.bos())) {
    p.tokens.insert(p.tokens.begin(), tokenizer_.bos());
  }
  p.text = std::move(text);
  return p;
}

}  // namespace parley::api
