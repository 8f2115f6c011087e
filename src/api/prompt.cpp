#include "api/prompt.h"

namespace parley::api {

Result<Prompt> PromptBuilder::build(const ChatRequest& request) const {
  RenderFlags flags;
  flags.add_generation_prompt = !request.continue_final_message;
  flags.continue_final_message = request.continue_final_message;
  flags.enable_thinking = request.enable_thinking;
  flags.effort = request.effort;
  std::vector<std::string> originals;
  const chat::Conversation protected_conversation = guard_.protect(request.conversation, originals);
  PARLEY_TRY(std::string rendered, renderer_.render(protected_conversation, flags));
  std::vector<tokenizer::TextRange> plain;
  std::string text = guard_.restore(rendered, originals, plain);
  Prompt p;
  // Special-token text in the rendering ("<|im_start|>") is the template's structure; the same
  // spelling inside request text is plain text (api/plain-text.h).
  tokenizer::EncodeOptions opt;
  opt.add_special = false;  // BOS is handled below; EOS must never end a chat prompt
  opt.parse_special = true;
  opt.plain = plain;
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
