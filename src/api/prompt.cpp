#include "api/prompt.h"

namespace parley::api {

Result<Prompt> PromptBuilder::build(const ChatRequest& request) const {
  RenderFlags flags;
  flags.add_generation_prompt = !request.continue_final_message;
  flags.continue_final_message = request.continue_final_message;
  flags.enable_thinking = request.enable_thinking;
  flags.effort = request.effort;
  PARLEY_TRY(std::string text, renderer_.render(request.conversation, flags));
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
