// Hugging Face tokenizer files -> VocabSpec (the data llama.cpp's converter puts in GGUF):
// tokenizer.json, vocab.json + merges.txt (or encoder.json + vocab.bpe), SentencePiece and
// tiktoken tokenizer.model, with tokenizer_config.json for added/special tokens.
#include <algorithm>
#include <charconv>

#include "base/file.h"
#include "base/log.h"
#include "tokenizer/hf-common.h"

namespace parley::tokenizer {
namespace hf {

Result<json::Value> read_json(const fs::path& path) {
  PARLEY_TRY(std::string text, read_file(path.string()));
  auto parsed = json::parse(text);
  if (!parsed) return parsed.error().wrap(path.string());
  return std::move(*parsed);
}

std::string string_field(const json::Value& v, const char* key) {
  const json::Value* f = v.find(key);
  return f && f->is_string() ? f->as_string() : std::string();
}

bool looks_special(std::string_view t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.substr(0, open.size()) == open &&
           t.substr(t.size() - close.size()) == close;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<｜", "｜>") || wrapped("<unused", ">");
}

Result<std::vector<Added>> added_tokens_decoder(const json::Value& config, const fs::path& path) {
  std::vector<Added> added;
  const json::Value* dec = config.find("added_tokens_decoder");
  if (dec == nullptr || !dec->is_object()) return added;
  for (const auto& [id_str, a] : dec->as_object()) {
    int64_t id = -1;
    auto r = std::from_chars(id_str.data(), id_str.data() + id_str.size(), id);
    if (r.ec != std::errc() || r.ptr != id_str.data() + id_str.size() || id < 0) {
      return Error{path.string() + ": added_tokens_decoder key \"" + quote_for_message(id_str) +
                   "\" is not a token id"};
    }
    const json::Value* special = a.find("special");
    added.push_back({id, string_field(a, "content"), special && special->is_bool() && special->as_bool()});
  }
  return added;
}

namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// A special-token field of tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> token_field(const json::Value& cfg, const char* key) {
  const json::Value* v = cfg.find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->as_string();
  if (v->is_object()) {
    if (const json::Value* c = v->find("content"); c && c->is_string()) return c->as_string();
  }
  return std::nullopt;
}

}  // namespace

Status apply_config(VocabSpec& spec, const fs::path& dir,
                    const std::unordered_map<std::string, int64_t>& ids) {
  for (const char* file : {"special_tokens_map.json", "tokenizer_config.json"}) {
    fs::path path = dir / file;
    if (!fs::exists(path)) continue;
    PARLEY_TRY(json::Value cfg, read_json(path));
    if (!cfg.is_object()) return Error{path.string() + ": expected a JSON object"};
    auto lookup = [&](const char* key) -> std::optional<int64_t> {
      auto tok = token_field(cfg, key);
      if (!tok) return std::nullopt;
      auto it = ids.find(*tok);
      if (it == ids.end()) {
        log_warn("%s: %s %s is not in the vocabulary; ignored", path.c_str(), key, tok->c_str());
        return std::nullopt;
      }
      return it->second;
    };
    if (auto v = lookup("bos_token")) spec.bos_id = v;
    if (auto v = lookup("eos_token")) spec.eos_id = v;
    if (auto v = lookup("unk_token")) spec.unk_id = v;
    if (auto v = lookup("pad_token")) spec.pad_id = v;
    if (const json::Value* b = cfg.find("add_bos_token"); b && b->is_bool()) spec.add_bos = b->as_bool();
    if (const json::Value* b = cfg.find("add_eos_token"); b && b->is_bool()) spec.add_eos = b->as_bool();
    if (spec.model == "llama") {
      if (const json::Value* b = cfg.find("add_prefix_space"); b && b->is_bool()) {
        spec.add_space_prefix = b->as_bool();
      }
    }
    if (const json::Value* t = cfg.find("chat_template")) {
      if (t->is_string()) {
        spec.chat_template = t->as_string();
      } else if (t->is_array()) {
        // A list of named templates: take "default".
        for (const auto& item : t->as_array()) {
          if (item.is_object() && string_field(item, "name") == "default") {
            spec.chat_template = string_field(item, "template");
          }
        }
      }
    }
  }
  return {};
}

Status build_tokens(VocabSpec& spec, const std::unordered_map<std::string, int64_t>& ids,
                    const std::vector<Added>& added) {
  int64_t max_id = -1;
  for (const auto& [tok, id] : ids) max_id = std::max(max_id, id);
  for (const auto& a : added) max_id = std::max(max_id, a.id);
  if (max_id < 0) return Error{"the vocabulary is empty"};
  if (max_id > 10'000'000) return Error::fmt("token id %lld is absurd", static_cast<long long>(max_id));
  size_t n = static_cast<size_t>(max_id + 1);
  spec.tokens.assign(n, std::string());
  spec.token_types.assign(n, static_cast<int32_t>(TokenType::unused));
  std::vector<bool> seen(n, false);
  for (const auto& [tok, id] : ids) {
    if (id < 0) return Error::fmt("negative token id for %s", quote_for_message(tok).c_str());
    spec.tokens[static_cast<size_t>(id)] = tok;
    spec.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::normal);
    seen[static_cast<size_t>(id)] = true;
  }
  for (const auto& a : added) {
    if (a.id < 0) return Error::fmt("negative added-token id for %s", quote_for_message(a.content).c_str());
    size_t i = static_cast<size_t>(a.id);
    bool control = a.special || looks_special(a.content);
    spec.tokens[i] = a.content;
    if (!control) spec.tokens[i] = replace_all(a.content, "\xE2\x96\x81", " ");  // as llama.cpp's converter
    spec.token_types[i] = static_cast<int32_t>(control ? TokenType::control : TokenType::user_defined);
    seen[i] = true;
  }
  for (size_t i = 0; i < n; i++) {
    if (!seen[i]) spec.tokens[i] = "[PAD" + std::to_string(i) + "]";
  }
  return {};
}

}  // namespace hf

namespace {

using namespace hf;

// Pre-tokenizer regexes of tokenizer.json files, as the models ship them.
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDeepseek3Regex =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Collects the pre-tokenizer steps of tokenizer.json into a flat list.
void flatten_pre(const json::Value& v, std::vector<const json::Value*>& out) {
  if (!v.is_object()) return;
  const json::Value* type = v.find("type");
  if (type && type->is_string() && type->as_string() == "Sequence") {
    if (const json::Value* list = v.find("pretokenizers"); list && list->is_array()) {
      for (const auto& item : list->as_array()) flatten_pre(item, out);
    }
    return;
  }
  out.push_back(&v);
}

// Names the llama.cpp pre-tokenizer family of a tokenizer.json byte-level BPE: the Split
// regexes, ByteLevel's own regex and individual digits identify it exactly.
std::string detect_pre(const json::Value* pre, bool ignore_merges) {
  if (pre == nullptr || pre->is_null()) return "default";
  std::vector<const json::Value*> steps;
  flatten_pre(*pre, steps);
  bool digits_individual = false, byte_level_regex = false;
  std::vector<std::string> splits;
  for (const json::Value* s : steps) {
    std::string type = string_field(*s, "type");
    if (type == "Digits") {
      const json::Value* ind = s->find("individual_digits");
      digits_individual = ind && ind->is_bool() && ind->as_bool();
    } else if (type == "ByteLevel") {
      const json::Value* ur = s->find("use_regex");
      byte_level_regex = !ur || (ur->is_bool() && ur->as_bool());
    } else if (type == "Split") {
      const json::Value* pat = s->find("pattern");
      if (pat && pat->is_object()) splits.push_back(string_field(*pat, "Regex"));
    }
  }
  if (splits.size() == 1 && !byte_level_regex) {
    const std::string& r = splits[0];
    if (r == kLlama3Regex) return ignore_merges ? "llama-bpe" : "dbrx";
    if (r == kQwen2Regex) return "qwen2";
    if (r == kGpt4oRegex) return "gpt-4o";
    if (r == kGpt2Regex) return digits_individual ? "smollm" : "gpt-2";
  }
  if (splits.size() == 3 && splits[0] == R"(\p{N}{1,3})" && splits[2] == kDeepseek3Regex) {
    return "deepseek-v3";
  }
  if (splits.empty() && byte_level_regex) return digits_individual ? "smollm" : "gpt-2";
  log_warn("tokenizer.json: unrecognised pre-tokenizer; writing pre = \"default\"");
  return "default";
}

Result<VocabSpec> from_tokenizer_json(const fs::path& path) {
  PARLEY_TRY(json::Value root, read_json(path));
  const json::Value* model = root.find("model");
  if (model == nullptr || !model->is_object()) return Error{path.string() + ": no \"model\" object"};
  std::string type = string_field(*model, "type");
  if (type != "BPE") {
    return Error::fmt("%s: tokenizer model type \"%s\" is not supported (only BPE)", path.c_str(),
                      type.c_str());
  }
  const json::Value* vocab = model->find("vocab");
  if (vocab == nullptr || !vocab->is_object()) return Error{path.string() + ": model.vocab is not an object"};
  std::unordered_map<std::string, int64_t> ids;
  ids.reserve(vocab->size());
  for (const auto& [tok, id] : vocab->as_object()) {
    if (!id.is_int()) return Error{path.string() + ": model.vocab ids must be integers"};
    ids[tok] = id.as_int();
  }
  std::vector<Added> added;
  if (const json::Value* list = root.find("added_tokens"); list && list->is_array()) {
    for (const auto& a : list->as_array()) {
      const json::Value* id = a.find("id");
      const json::Value* special = a.find("special");
      if (!id || !id->is_int()) return Error{path.string() + ": added_tokens entry without an integer id"};
      added.push_back({id->as_int(), string_field(a, "content"), special && special->is_bool() && special->as_bool()});
    }
  }

  VocabSpec spec;
  const json::Value* byte_fallback = model->find("byte_fallback");
  bool spm_style = byte_fallback && byte_fallback->is_bool() && byte_fallback->as_bool();
  PARLEY_CHECK_OK(build_tokens(spec, ids, added));

  std::vector<std::string> merges;
  if (const json::Value* m = model->find("merges"); m && m->is_array()) {
    merges.reserve(m->size());
    for (const auto& item : m->as_array()) {
      if (item.is_string()) {
        merges.push_back(item.as_string());
      } else if (item.is_array() && item.size() == 2 && item.as_array()[0].is_string() &&
                 item.as_array()[1].is_string()) {
        merges.push_back(item.as_array()[0].as_string() + " " + item.as_array()[1].as_string());
      } else {
        return Error{path.string() + ": model.merges entries must be \"a b\" or [\"a\", \"b\"]"};
      }
    }
  }

  if (spm_style) {
    // SentencePiece BPE exported to tokenizer.json (no tokenizer.model at hand): llama.cpp's
    // "llama" tokenizer merges the pair whose result scores highest. The merge list is ordered
    // by the SentencePiece scores, so each merged piece scores -(its first merge rank); other
    // pieces are never the result of a merge and keep 0.
    spec.model = "llama";
    spec.scores.assign(spec.tokens.size(), 0.0f);
    std::vector<bool> scored(spec.tokens.size(), false);
    for (size_t r = 0; r < merges.size(); r++) {
      size_t sp = merges[r].find(' ', 1);
      if (sp == std::string::npos) continue;
      std::string joined = merges[r].substr(0, sp) + merges[r].substr(sp + 1);
      auto it = ids.find(joined);
      if (it != ids.end() && !scored[static_cast<size_t>(it->second)]) {
        spec.scores[static_cast<size_t>(it->second)] = -static_cast<float>(r);
        scored[static_cast<size_t>(it->second)] = true;
      }
    }
    for (size_t i = 0; i < spec.tokens.size(); i++) {
      const std::string& t = spec.tokens[i];
      if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' &&
          spec.token_types[i] == static_cast<int32_t>(TokenType::normal)) {
        spec.token_types[i] = static_cast<int32_t>(TokenType::byte);
      }
    }
    std::string unk = string_field(*model, "unk_token");
    if (!unk.empty()) {
      if (auto it = ids.find(unk); it != ids.end()) {
        spec.unk_id = it->second;
        spec.token_types[static_cast<size_t>(it->second)] = static_cast<int32_t>(TokenType::unknown);
      }
    }
    // Metaspace with prepend, or a Prepend("▁") normalizer: the space-prefix rule is on.
    std::string pre_dump = json::write(root.find("pre_tokenizer") ? *root.find("pre_tokenizer") : json::Value());
    std::string norm_dump = json::write(root.find("normalizer") ? *root.find("normalizer") : json::Value());
    bool prefix = norm_dump.find("\"Prepend\"") != std::string::npos ||
                  (pre_dump.find("Metaspace") != std::string::npos &&
                   pre_dump.find("\"prepend_scheme\":\"never\"") == std::string::npos);
    spec.add_space_prefix = prefix;
  } else {
    spec.model = "gpt2";
    const json::Value* im = model->find("ignore_merges");
    spec.pre = detect_pre(root.find("pre_tokenizer"), im && im->is_bool() && im->as_bool());
    spec.merges = std::move(merges);
  }

  for (const auto& a : added) ids[a.content] = a.id;
  PARLEY_CHECK_OK(apply_config(spec, path.parent_path(), ids));
  return spec;
}

// vocab.json + merges.txt, or encoder.json + vocab.bpe (the same data under GPT-2's names).
Result<VocabSpec> from_vocab_merges(const fs::path& vocab_path, const fs::path& merges_path) {
  fs::path dir = vocab_path.parent_path();
  PARLEY_TRY(json::Value vocab, read_json(vocab_path));
  if (!vocab.is_object()) return Error{vocab_path.string() + ": expected an object"};
  std::unordered_map<std::string, int64_t> ids;
  for (const auto& [tok, id] : vocab.as_object()) {
    if (!id.is_int()) return Error{vocab_path.string() + ": ids must be integers"};
    ids[tok] = id.as_int();
  }
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = "gpt-2";
  std::vector<Added> added;
  fs::path config = dir / "tokenizer_config.json";
  if (fs::exists(config)) {
    PARLEY_TRY(json::Value cfg, read_json(config));
    PARLEY_TRY(added, added_tokens_decoder(cfg, config));
    // Without tokenizer.json the regex is not written down; the tokenizer class names it.
    std::string cls = string_field(cfg, "tokenizer_class");
    if (cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast") spec.pre = "qwen2";
  }
  PARLEY_CHECK_OK(build_tokens(spec, ids, added));
  PARLEY_TRY(std::string merges_text, read_file(merges_path.string()));
  for (auto line : split(merges_text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || starts_with(line, "#version")) continue;
    spec.merges.emplace_back(line);
  }
  for (const auto& a : added) ids[a.content] = a.id;
  PARLEY_CHECK_OK(apply_config(spec, dir, ids));
  return spec;
}

bool is_sentencepiece_bpe_json(const fs::path& path) {
  auto root = read_json(path);
  if (!root) return false;
  const json::Value* model = root->find("model");
  if (model == nullptr || !model->is_object()) return false;
  const json::Value* bf = model->find("byte_fallback");
  return bf && bf->is_bool() && bf->as_bool();
}

Result<VocabSpec> from_tokenizer_model(const fs::path& path) {
  PARLEY_TRY(std::string text, read_file(path.string()));
  if (looks_like_tiktoken(text)) return from_tiktoken(path, text);
  return from_sentencepiece(path);
}

}  // namespace

Result<VocabSpec> vocab_from_hf(const std::string& path_str) {
  fs::path path(path_str);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    bool has_json = fs::exists(path / "tokenizer.json");
    bool has_model = fs::exists(path / "tokenizer.model");
    // A SentencePiece model beside its tokenizer.json export carries the real piece scores:
    // llama.cpp's converter reads it, so we do too.
    if (has_model && (!has_json || is_sentencepiece_bpe_json(path / "tokenizer.json"))) {
      return from_tokenizer_model(path / "tokenizer.model");
    }
    if (has_json) return from_tokenizer_json(path / "tokenizer.json");
    if (fs::exists(path / "vocab.json") && fs::exists(path / "merges.txt")) {
      return from_vocab_merges(path / "vocab.json", path / "merges.txt");
    }
    if (fs::exists(path / "encoder.json") && fs::exists(path / "vocab.bpe")) {
      return from_vocab_merges(path / "encoder.json", path / "vocab.bpe");
    }
    return Error{path_str + ": no tokenizer.json, tokenizer.model, or vocab.json + merges.txt "
                            "in this directory"};
  }
  if (!fs::exists(path, ec)) return Error{path_str + ": no such file"};
  std::string name = path.filename().string();
  if (name == "vocab.json") return from_vocab_merges(path, path.parent_path() / "merges.txt");
  if (name == "encoder.json") return from_vocab_merges(path, path.parent_path() / "vocab.bpe");
  if (path.extension() == ".model") return from_tokenizer_model(path);
  return from_tokenizer_json(path);
}

}  // namespace parley::tokenizer
