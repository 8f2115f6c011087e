#include "tokenizer/vocab-spec.h"

#include "gguf/writer.h"

namespace parley::tokenizer {
namespace {

Result<std::optional<int64_t>> optional_id(const gguf::File& f, const char* key, size_t n_vocab) {
  PARLEY_TRY(auto v, f.get_uint_opt(key));
  if (!v) return std::optional<int64_t>();
  // Some converters write 0xFFFFFFFF (or -1) for "no such token".
  if (*v == 0xFFFFFFFFull || *v == ~0ull) return std::optional<int64_t>();
  if (*v >= n_vocab) {
    return Error::fmt("%s = %llu is outside the vocabulary of %zu tokens", key,
                      static_cast<unsigned long long>(*v), n_vocab);
  }
  return std::optional<int64_t>(static_cast<int64_t>(*v));
}

}  // namespace

Result<VocabSpec> vocab_from_gguf(const gguf::File& f) {
  VocabSpec spec;
  PARLEY_TRY(auto model, f.get_string_opt("tokenizer.ggml.model"));
  if (!model) return Error{"tokenizer.ggml.model is missing (the file has no tokenizer)"};
  spec.model = std::string(*model);
  PARLEY_TRY(auto pre, f.get_string_opt("tokenizer.ggml.pre"));
  if (pre) spec.pre = std::string(*pre);

  const gguf::MetaValue* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return Error{"tokenizer.ggml.tokens is missing"};
  if (!tokens->is_array() || tokens->elem_type() != gguf::ValueType::string) {
    return Error{"tokenizer.ggml.tokens: expected an array of strings, got " + tokens->summary()};
  }
  for (auto t : tokens->strings()) spec.tokens.emplace_back(t);
  size_t n = spec.tokens.size();
  if (n == 0) return Error{"tokenizer.ggml.tokens is empty"};

  if (const gguf::MetaValue* scores = f.find("tokenizer.ggml.scores")) {
    auto v = scores->to_f32();
    if (!v) return Error{"tokenizer.ggml.scores: expected a numeric array, got " + scores->summary()};
    if (v->size() != n) {
      return Error::fmt("tokenizer.ggml.scores has %zu entries, expected %zu (one per token)",
                        v->size(), n);
    }
    spec.scores = std::move(*v);
  }
  if (const gguf::MetaValue* types = f.find("tokenizer.ggml.token_type")) {
    auto v = types->to_i64();
    if (!v) return Error{"tokenizer.ggml.token_type: expected an integer array, got " + types->summary()};
    if (v->size() != n) {
      return Error::fmt("tokenizer.ggml.token_type has %zu entries, expected %zu (one per token)",
                        v->size(), n);
    }
    spec.token_types.reserve(n);
    for (int64_t t : *v) {
      if (t < 0 || t > 6) return Error::fmt("tokenizer.ggml.token_type has invalid value %lld", static_cast<long long>(t));
      spec.token_types.push_back(static_cast<int32_t>(t));
    }
  }
  if (const gguf::MetaValue* merges = f.find("tokenizer.ggml.merges")) {
    if (!merges->is_array() || merges->elem_type() != gguf::ValueType::string) {
      return Error{"tokenizer.ggml.merges: expected an array of strings, got " + merges->summary()};
    }
    for (auto m : merges->strings()) spec.merges.emplace_back(m);
  }
  PARLEY_TRY(spec.bos_id, optional_id(f, "tokenizer.ggml.bos_token_id", n));
  PARLEY_TRY(spec.eos_id, optional_id(f, "tokenizer.ggml.eos_token_id", n));
  PARLEY_TRY(spec.unk_id, optional_id(f, "tokenizer.ggml.unknown_token_id", n));
  PARLEY_TRY(spec.pad_id, optional_id(f, "tokenizer.ggml.padding_token_id", n));
  PARLEY_TRY(spec.sep_id, optional_id(f, "tokenizer.ggml.seperator_token_id", n));
  PARLEY_TRY(spec.eot_id, optional_id(f, "tokenizer.ggml.eot_token_id", n));
  PARLEY_TRY(spec.eom_id, optional_id(f, "tokenizer.ggml.eom_token_id", n));
  PARLEY_TRY(spec.fim_pre_id, optional_id(f, "tokenizer.ggml.fim_pre_token_id", n));
  PARLEY_TRY(spec.fim_suf_id, optional_id(f, "tokenizer.ggml.fim_suf_token_id", n));
  PARLEY_TRY(spec.fim_mid_id, optional_id(f, "tokenizer.ggml.fim_mid_token_id", n));
  PARLEY_TRY(spec.fim_pad_id, optional_id(f, "tokenizer.ggml.fim_pad_token_id", n));
  PARLEY_TRY(spec.fim_rep_id, optional_id(f, "tokenizer.ggml.fim_rep_token_id", n));
  PARLEY_TRY(spec.fim_sep_id, optional_id(f, "tokenizer.ggml.fim_sep_token_id", n));
  PARLEY_TRY(spec.mask_id, optional_id(f, "tokenizer.ggml.mask_token_id", n));
  // Older files name the first three prefix/suffix/middle.
  if (!spec.fim_pre_id) {
    PARLEY_TRY(spec.fim_pre_id, optional_id(f, "tokenizer.ggml.prefix_token_id", n));
  }
  if (!spec.fim_suf_id) {
    PARLEY_TRY(spec.fim_suf_id, optional_id(f, "tokenizer.ggml.suffix_token_id", n));
  }
  if (!spec.fim_mid_id) {
    PARLEY_TRY(spec.fim_mid_id, optional_id(f, "tokenizer.ggml.middle_token_id", n));
  }
  PARLEY_TRY(spec.add_bos, f.get_bool_opt("tokenizer.ggml.add_bos_token"));
  PARLEY_TRY(spec.add_eos, f.get_bool_opt("tokenizer.ggml.add_eos_token"));
  PARLEY_TRY(spec.add_space_prefix, f.get_bool_opt("tokenizer.ggml.add_space_prefix"));
  PARLEY_TRY(auto tmpl, f.get_string_opt("tokenizer.chat_template"));
  if (tmpl) spec.chat_template = std::string(*tmpl);
  PARLEY_TRY(auto name, f.get_string_opt("general.name"));
  if (name) spec.name = std::string(*name);
  return spec;
}

void write_vocab(gguf::Writer& w, const VocabSpec& spec) {
  using gguf::OwnedValue;
  w.set("tokenizer.ggml.model", OwnedValue::string(spec.model));
  if (!spec.pre.empty()) w.set("tokenizer.ggml.pre", OwnedValue::string(spec.pre));
  w.set("tokenizer.ggml.tokens", OwnedValue::strings(spec.tokens));
  if (!spec.scores.empty()) w.set("tokenizer.ggml.scores", OwnedValue::f32s(spec.scores));
  if (!spec.token_types.empty()) w.set("tokenizer.ggml.token_type", OwnedValue::i32s(spec.token_types));
  if (!spec.merges.empty()) w.set("tokenizer.ggml.merges", OwnedValue::strings(spec.merges));
  auto id = [&](const char* key, const std::optional<int64_t>& v) {
    if (v) w.set(key, OwnedValue::u32(static_cast<uint32_t>(*v)));
  };
  id("tokenizer.ggml.bos_token_id", spec.bos_id);
  id("tokenizer.ggml.eos_token_id", spec.eos_id);
  id("tokenizer.ggml.unknown_token_id", spec.unk_id);
  id("tokenizer.ggml.padding_token_id", spec.pad_id);
  id("tokenizer.ggml.seperator_token_id", spec.sep_id);
  id("tokenizer.ggml.eot_token_id", spec.eot_id);
  id("tokenizer.ggml.eom_token_id", spec.eom_id);
  id("tokenizer.ggml.fim_pre_token_id", spec.fim_pre_id);
  id("tokenizer.ggml.fim_suf_token_id", spec.fim_suf_id);
  id("tokenizer.ggml.fim_mid_token_id", spec.fim_mid_id);
  id("tokenizer.ggml.fim_pad_token_id", spec.fim_pad_id);
  id("tokenizer.ggml.fim_rep_token_id", spec.fim_rep_id);
  id("tokenizer.ggml.fim_sep_token_id", spec.fim_sep_id);
  id("tokenizer.ggml.mask_token_id", spec.mask_id);
  if (spec.add_bos) w.set("tokenizer.ggml.add_bos_token", OwnedValue::boolean(*spec.add_bos));
  if (spec.add_eos) w.set("tokenizer.ggml.add_eos_token", OwnedValue::boolean(*spec.add_eos));
  if (spec.add_space_prefix) {
    w.set("tokenizer.ggml.add_space_prefix", OwnedValue::boolean(*spec.add_space_prefix));
  }
  if (!spec.chat_template.empty()) {
    w.set("tokenizer.chat_template", OwnedValue::string(spec.chat_template));
  }
}

}  // namespace parley::tokenizer
