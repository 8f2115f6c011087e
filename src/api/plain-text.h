// Request text is never markup: a user message, tool result, document or tool input that spells
// a special token ("<|im_end|>", "<tool_call>", "[TOOL_CALLS]") must reach the model as plain
// text, or a tool result could forge a turn or a tool call. Only the chat template's own markup
// becomes special tokens.
//
// How: before rendering, each special-token spelling inside a request string is replaced by a
// placeholder that templates pass through untouched (private-use characters around an index);
// after rendering, the placeholders are put back and their byte ranges are handed to the
// tokenizer as plain text (EncodeOptions::plain).
//
// The same trick locates cache_control breakpoints in the prompt: a mark at the end of each
// flagged text goes through the template and its offset is read back.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/conversation.h"
#include "tokenizer/tokenizer.h"

namespace parley::api {

class PlainTextGuard {
 public:
  explicit PlainTextGuard(const tokenizer::Tokenizer& tokenizer);

  // The conversation with every special-token spelling in its strings replaced by a
  // placeholder; `originals` receives what each placeholder stands for.
  chat::Conversation protect(const chat::Conversation& in, std::vector<std::string>& originals) const;
  // The rendered text with the placeholders replaced by their originals; `plain` receives the
  // byte ranges (sorted, disjoint) they occupy in the result. Cache breakpoints (flags in the
  // conversation) are marked by protect() and removed here; `marks` receives their byte
  // offsets in the result, in order.
  std::string restore(std::string_view rendered, const std::vector<std::string>& originals,
                      std::vector<tokenizer::TextRange>& plain,
                      std::vector<size_t>* marks = nullptr) const;

  // The texts protected (for tests).
  size_t n_texts() const { return n_texts_; }

 private:
  void protect_string(std::string& s, std::vector<std::string>& originals) const;
  void protect_json(json::Value& v, std::vector<std::string>& originals) const;

  // Special-token texts by first byte, longest first within a bucket.
  std::vector<std::vector<std::string>> by_first_byte_;
  size_t n_texts_ = 0;
};

}  // namespace parley::api
