#include "app/loaded-model.h"

namespace parley::app {

Result<LoadedModel> load_model_with_tokenizer(const std::string& path) {
  auto loaded = model::Model::load(path);
  if (!loaded) return loaded.error();
  std::shared_ptr<const model::Model> model(std::move(*loaded));
  auto vocab = tokenizer::vocab_from_gguf(model->file());
  if (!vocab) return Error{path + ": " + vocab.error().message};
  auto tok = tokenizer::Tokenizer::from_spec(*vocab);
  if (!tok) return Error{path + ": " + tok.error().message};
  return LoadedModel{std::move(model), std::move(*vocab), std::move(*tok)};
}

}  // namespace parley::app
