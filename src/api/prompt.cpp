#include "api/prompt.h"

#include <algorithm>

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
  std::vector<size_t> marks;
  std::string text = guard_.restore(rendered, originals, plain, &marks);
  Prompt p;
  // Special-token text in the rendering ("<|im_start|>") is the template's structure; the same
  // spelling inside request text is plain text (api/plain-text.h).
  tokenizer::EncodeOptions opt;
  opt.add_special = false;  // BOS is handled below; EOS must never end a chat prompt
  opt.parse_special = true;
  opt.plain = plain;
  p.tokens = tokenizer_.encode(text, opt);
  // Templates that write {{ bos_token }} themselves already start with it.
  bool added_bos = false;
  if (tokenizer_.add_bos() && tokenizer_.bos() >= 0 &&
      (p.tokens.empty() || p.tokens.front() != tokenizer_.bos())) {
    p.tokens.insert(p.tokens.begin(), tokenizer_.bos());
    added_bos = true;
  }
  if (!marks.empty()) {
    p.n_tokens_cache_breakpoint = tokens_before(p.tokens, added_bos, *std::max_element(marks.begin(), marks.end()));
  }
  p.text = std::move(text);
  return p;
}

// The tokens whose text ends at or before byte `offset` of the prompt text (the pieces of a
// chat prompt's tokens concatenate to its text; a sentencepiece space prefix adds one byte).
int32_t PromptBuilder::tokens_before(std::span<const tokenizer::TokenId> tokens, bool added_bos,
                                     size_t offset) const {
  size_t n = added_bos ? 1 : 0;
  const size_t limit = offset + (tokenizer_.add_space_prefix() ? 1 : 0);
  size_t end = 0;
  for (; n < tokens.size(); n++) {
    end += tokenizer_.piece_view(tokens[n], true).size();
    if (end > limit) break;
  }
  return static_cast<int32_t>(n);
}

}  // namespace parley::api
