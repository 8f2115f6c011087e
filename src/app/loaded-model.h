// A GGUF model with the tokenizer of its own file: what `parley run` and `parley serve` start from.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab-spec.h"

namespace parley::app {

struct LoadedModel {
  std::shared_ptr<const model::Model> model;
  tokenizer::VocabSpec vocab;  // tokenizer.ggml.* data, incl. the chat template
  tokenizer::Tokenizer tok;
};

// Loads PATH; an error is one line that names the file.
Result<LoadedModel> load_model_with_tokenizer(const std::string& path);

}  // namespace parley::app
