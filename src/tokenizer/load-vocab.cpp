// From VocabSpec to the tokenizer's tables: special ids with llama.cpp's defaults, token
// attributes (including the fix-ups llama.cpp applies by token text and model name), the set
// of end-of-generation tokens, the special-token index and what each token decodes to.
#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "base/utf8.h"
#include "tokenizer/bpe-model.h"
#include "tokenizer/tokenizer-impl.h"

namespace parley::tokenizer {
namespace {

uint32_t attr_of_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::normal: return kAttrNormal;
    case TokenType::unknown: return kAttrUnknown;
    case TokenType::control: return kAttrControl;
    case TokenType::user_defined: return kAttrUserDefined;
    case TokenType::unused: return kAttrUnused;
    case TokenType::byte: return kAttrByte;
    default: return 0;
  }
}

// Token texts llama.cpp uses to find special ids a file does not name. The first match by id
// wins (llama.cpp walks a hash map, so its choice among several is unspecified).
const std::vector<std::string_view> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
const std::vector<std::string_view> kEomTexts = {"<|eom_id|>"};
const std::vector<std::string_view> kFimPreTexts = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"};
const std::vector<std::string_view> kFimSufTexts = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"};
const std::vector<std::string_view> kFimMidTexts = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"};
const std::vector<std::string_view> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
    "[PAD]"};
const std::vector<std::string_view> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
    "<REPO>", "<reponame>"};
const std::vector<std::string_view> kFimSepTexts = {"<|file_sep|>"};
// Tokens that end generation whatever the file says.
const std::vector<std::string_view> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

bool in(std::string_view s, const std::vector<std::string_view>& list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

void build_special_index(Tokenizer::Impl& t, SpecialIndex& index, bool parse_special) {
  index.order.clear();
  index.by_first_byte.assign(256, {});
  for (size_t id = 0; id < t.text.size(); id++) {
    uint32_t a = t.attr[id];
    if (!(a & (kAttrControl | kAttrUserDefined | kAttrUnknown))) continue;
    if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
    if (t.text[id].empty()) continue;
    index.order.push_back(static_cast<TokenId>(id));
  }
  std::stable_sort(index.order.begin(), index.order.end(), [&](TokenId a, TokenId b) {
    return t.text[static_cast<size_t>(a)].size() > t.text[static_cast<size_t>(b)].size();
  });
  for (size_t r = 0; r < index.order.size(); r++) {
    TokenId id = index.order[r];
    auto first = static_cast<unsigned char>(t.text[static_cast<size_t>(id)][0]);
    index.by_first_byte[first].push_back({id, static_cast<uint32_t>(r)});
  }
  index.any = !index.order.empty();
}

// What a token decodes to when special tokens are shown.
std::string piece_of(const Tokenizer::Impl& t, size_t id) {
  const std::string& text = t.text[id];
  uint32_t a = t.attr[id];
  if (a & (kAttrControl | kAttrUnknown | kAttrUserDefined)) return text;
  if (t.kind == Tokenizer::Impl::Kind::spm) {
    if (a & kAttrNormal) {
      std::string out;
      out.reserve(text.size());
      for (size_t i = 0; i < text.size(); i++) {
        if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
          out += ' ';
          i += 2;
        } else {
          out += text[i];
        }
      }
      return out;
    }
    if (a & kAttrByte) {
      unsigned v = 0;
      if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>", &v) == 1) {
        return std::string(1, static_cast<char>(v));
      }
      return text;
    }
    return {};
  }
  if (a & kAttrNormal) {
    // Byte-mapped text back to bytes; a character outside the mapping is kept as it is.
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
      size_t len = 1;
      int32_t cp = utf8::decode(text, pos, &len);
      int b = cp < 0 ? -1 : gpt2_cp_to_byte(static_cast<uint32_t>(cp));
      if (b >= 0) {
        out += static_cast<char>(b);
      } else {
        out.append(text, pos, len);
      }
      pos += len;
    }
    return out;
  }
  return {};
}

}  // namespace

Status load_vocab(Tokenizer::Impl& t, const VocabSpec& spec, const PreTokenizerFamily* family) {
  const size_t n = spec.tokens.size();
  if (n == 0) return Error{"the vocabulary is empty"};
  if (n > 0x7FFFFFFF) return Error{"the vocabulary is too large"};
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return Error::fmt("%zu scores for %zu tokens", spec.scores.size(), n);
  }
  if (!spec.token_types.empty() && spec.token_types.size() != n) {
    return Error::fmt("%zu token types for %zu tokens", spec.token_types.size(), n);
  }
  t.model_name = spec.model;
  t.pre_name = spec.pre;
  t.text.resize(n);
  t.types.assign(n, TokenType::undefined);
  t.attr.assign(n, kAttrNormal);
  for (size_t i = 0; i < n; i++) {
    t.text[i] = spec.tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : spec.tokens[i];
    if (!spec.token_types.empty()) {
      t.types[i] = static_cast<TokenType>(spec.token_types[i]);
      t.attr[i] = attr_of_type(spec.token_types[i]);
    }
  }

  // Defaults by model, then what the file says (ids outside the vocabulary are ignored).
  if (t.kind == Tokenizer::Impl::Kind::spm) {
    t.bos = 1, t.eos = 2, t.unk = 0;
    t.add_space_prefix = true;
    t.add_bos = true;
  } else {
    t.bos = family && family->no_bos ? -1 : 11;
    t.eos = 11;
    t.add_bos = family && family->add_bos.value_or(false);
  }
  auto apply = [&](TokenId& id, const std::optional<int64_t>& v) {
    if (!t.valid(id)) id = -1;
    if (v && *v >= 0 && static_cast<size_t>(*v) < n) id = static_cast<TokenId>(*v);
  };
  apply(t.bos, spec.bos_id);
  apply(t.eos, spec.eos_id);
  apply(t.eot, spec.eot_id);
  apply(t.eom, spec.eom_id);
  apply(t.unk, spec.unk_id);
  apply(t.sep, spec.sep_id);
  apply(t.pad, spec.pad_id);
  apply(t.mask, spec.mask_id);
  apply(t.fim_pre, spec.fim_pre_id);
  apply(t.fim_suf, spec.fim_suf_id);
  apply(t.fim_mid, spec.fim_mid_id);
  apply(t.fim_pad, spec.fim_pad_id);
  apply(t.fim_rep, spec.fim_rep_id);
  apply(t.fim_sep, spec.fim_sep_id);
  if (spec.add_bos) t.add_bos = *spec.add_bos;
  if (spec.add_eos) t.add_eos = *spec.add_eos;
  if (spec.add_space_prefix) t.add_space_prefix = *spec.add_space_prefix;

  // Ids found by text; such a token becomes control whatever its stored type.
  struct ByText {
    TokenId* id;
    const std::vector<std::string_view>* texts;
  };
  const ByText by_text[] = {{&t.eot, &kEotTexts},       {&t.eom, &kEomTexts},
                            {&t.fim_pre, &kFimPreTexts}, {&t.fim_suf, &kFimSufTexts},
                            {&t.fim_mid, &kFimMidTexts}, {&t.fim_pad, &kFimPadTexts},
                            {&t.fim_rep, &kFimRepTexts}, {&t.fim_sep, &kFimSepTexts}};
  // Every text looked for starts with '<', '[', '_' or U+2581: only those tokens are compared.
  std::vector<size_t> candidates;
  for (size_t i = 0; i < n; i++) {
    char c = t.text[i][0];
    if (c == '<' || c == '[' || c == '_' || c == '\xE2') candidates.push_back(i);
  }
  for (const ByText& b : by_text) {
    if (*b.id >= 0) continue;
    for (size_t i : candidates) {
      if (in(t.text[i], *b.texts)) {
        *b.id = static_cast<TokenId>(i);
        t.attr[i] |= kAttrControl;
        break;
      }
    }
  }

  // End-of-generation set.
  std::vector<TokenId> eog;
  for (TokenId id : {t.fim_pad, t.fim_rep, t.fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (size_t i : candidates) {
    if (in(t.text[i], kEogTexts)) {
      eog.push_back(static_cast<TokenId>(i));
      t.attr[i] |= kAttrControl;
    }
  }
  // gpt-oss (harmony) tokens are always parsed as text.
  for (size_t i : candidates) {
    const std::string& s = t.text[i];
    if (s == "<|channel|>" || s == "<|message|>" || s == "<|start|>" || s == "<|constrain|>") {
      t.attr[i] = kAttrUserDefined;
    }
  }
  for (TokenId id : {t.eos, t.eot, t.eom}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto has_text = [&](std::string_view s) -> TokenId {
    for (TokenId id : eog) {
      if (t.text[static_cast<size_t>(id)] == s) return id;
    }
    return -1;
  };
  auto drop = [&](TokenId id, uint32_t new_attr) {
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    t.attr[static_cast<size_t>(id)] = new_attr;
  };
  // With harmony's <|return|>/<|call|> (or solar's <|flush|>/<|calls|>), <|end|> only ends a
  // message, not the generation.
  TokenId end_id = has_text("<|end|>");
  bool has_call = has_text("<|call|>") >= 0 || has_text("<|calls|>") >= 0;
  if (end_id >= 0 && has_call && (has_text("<|return|>") >= 0 || has_text("<|flush|>") >= 0)) {
    drop(end_id, kAttrUserDefined);
  }
  TokenId s_id = has_text("</s>");
  if (s_id >= 0 && has_text("<|tool_response>") >= 0) drop(s_id, kAttrNormal);
  t.eog = eog;
  t.eog_flag.assign(n, 0);
  for (TokenId id : eog) t.eog_flag[static_cast<size_t>(id)] = 1;

  // Attributes llama.cpp sets by model name: Phi-3 strips white space after its special tokens.
  std::string name = spec.name;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto set_by_text = [&](std::string_view s, uint32_t bit, bool on) {
    for (size_t i = n; i-- > 0;) {  // the last id with this text, as llama.cpp's map holds
      if (t.text[i] == s) {
        t.attr[i] = on ? (t.attr[i] | bit) : (t.attr[i] & ~bit);
        return;
      }
    }
  };
  if (t.pre_name.find("jina-v2-de") != std::string::npos ||
      t.pre_name.find("jina-v2-es") != std::string::npos ||
      t.pre_name.find("jina-v2-code") != std::string::npos) {
    set_by_text("<mask>", kAttrLstrip, true);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (size_t i = 0; i < n; i++) {
      if (t.attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) t.attr[i] |= kAttrRstrip;
    }
    set_by_text("</s>", kAttrRstrip, true);
    for (const char* s : {"<unk>", "<s>", "<|endoftext|>"}) set_by_text(s, kAttrRstrip, false);
  } else if (name.find("modern-bert") != std::string::npos) {
    set_by_text("[MASK]", kAttrLstrip, true);
  }

  build_special_index(t, t.special_all, true);
  build_special_index(t, t.special_text, false);

  t.pieces.clear();
  t.piece_off.assign(n + 1, 0);
  for (size_t i = 0; i < n; i++) {
    t.piece_off[i] = t.pieces.size();
    t.pieces += piece_of(t, i);
  }
  t.piece_off[n] = t.pieces.size();
  return {};
}

}  // namespace parley::tokenizer
