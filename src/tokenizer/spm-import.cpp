// SentencePiece tokenizer.model (a protobuf ModelProto) -> "llama" vocabulary. Only the fields
// the tokenizer needs are read: pieces (1) with piece (1), score (2), type (3); the trainer's
// model_type (2.3) and the normalizer's add_dummy_prefix (3.3). The rest is skipped by wire
// type, and every length is checked against what is left.
#include <cstring>

#include "base/file.h"
#include "tokenizer/hf-common.h"

namespace parley::tokenizer::hf {
namespace {

class Reader {
 public:
  Reader(std::string_view data, size_t base) : data_(data), base_(base) {}
  bool done() const { return pos_ >= data_.size(); }
  size_t offset() const { return base_ + pos_; }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return fail("truncated varint");
      auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail("varint longer than 10 bytes");
  }
  Result<std::string_view> bytes(size_t n) {
    if (n > data_.size() - pos_) return fail("length runs past the end");
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // Skips a field of the given wire type.
  Status skip(uint32_t wire) {
    switch (wire) {
      case 0: {
        PARLEY_TRY(uint64_t v, varint());
        (void)v;
        return {};
      }
      case 1: {
        PARLEY_TRY(auto s, bytes(8));
        (void)s;
        return {};
      }
      case 2: {
        PARLEY_TRY(uint64_t n, varint());
        PARLEY_TRY(auto s, bytes(n > data_.size() ? data_.size() + 1 : static_cast<size_t>(n)));
        (void)s;
        return {};
      }
      case 5: {
        PARLEY_TRY(auto s, bytes(4));
        (void)s;
        return {};
      }
      default:
        return fail("unsupported wire type " + std::to_string(wire));
    }
  }
  Error fail(const std::string& what) const {
    return Error::fmt("invalid SentencePiece model at byte %zu: %s", base_ + pos_, what.c_str());
  }

 private:
  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

struct Piece {
  std::string text;
  float score = 0;
  int32_t type = 1;  // NORMAL
};

Result<Piece> read_piece(std::string_view data, size_t base) {
  Reader r(data, base);
  Piece p;
  while (!r.done()) {
    PARLEY_TRY(uint64_t key, r.varint());
    auto field = static_cast<uint32_t>(key >> 3), wire = static_cast<uint32_t>(key & 7);
    if (field == 1 && wire == 2) {
      PARLEY_TRY(uint64_t n, r.varint());
      PARLEY_TRY(auto s, r.bytes(static_cast<size_t>(std::min<uint64_t>(n, data.size() + 1))));
      p.text = std::string(s);
    } else if (field == 2 && wire == 5) {
      PARLEY_TRY(auto s, r.bytes(4));
      std::memcpy(&p.score, s.data(), 4);
    } else if (field == 3 && wire == 0) {
      PARLEY_TRY(uint64_t t, r.varint());
      if (t < 1 || t > 6) return r.fail("piece type " + std::to_string(t) + " is not 1..6");
      p.type = static_cast<int32_t>(t);
    } else {
      PARLEY_CHECK_OK(r.skip(wire));
    }
  }
  return p;
}

// Reads a varint field `want` of a sub-message (e.g. trainer_spec.model_type).
Result<std::optional<uint64_t>> sub_varint(std::string_view data, size_t base, uint32_t want) {
  Reader r(data, base);
  std::optional<uint64_t> out;
  while (!r.done()) {
    PARLEY_TRY(uint64_t key, r.varint());
    auto field = static_cast<uint32_t>(key >> 3), wire = static_cast<uint32_t>(key & 7);
    if (field == want && wire == 0) {
      PARLEY_TRY(uint64_t v, r.varint());
      out = v;
    } else {
      PARLEY_CHECK_OK(r.skip(wire));
    }
  }
  return out;
}

}  // namespace

Result<VocabSpec> from_sentencepiece(const fs::path& model_path) {
  PARLEY_TRY(std::string data, read_file(model_path.string(), 256u << 20));
  Reader r(data, 0);
  std::vector<Piece> pieces;
  std::optional<uint64_t> model_type, add_dummy_prefix, unk_id, bos_id, eos_id;
  while (!r.done()) {
    size_t at = r.offset();
    PARLEY_TRY(uint64_t key, r.varint());
    auto field = static_cast<uint32_t>(key >> 3), wire = static_cast<uint32_t>(key & 7);
    if (wire != 2) {
      PARLEY_CHECK_OK(r.skip(wire));
      continue;
    }
    PARLEY_TRY(uint64_t n, r.varint());
    size_t start = r.offset();
    PARLEY_TRY(auto body, r.bytes(static_cast<size_t>(std::min<uint64_t>(n, data.size() + 1))));
    if (field == 1) {
      PARLEY_TRY(Piece p, read_piece(body, start));
      pieces.push_back(std::move(p));
    } else if (field == 2) {
      PARLEY_TRY(model_type, sub_varint(body, start, 3));
      PARLEY_TRY(unk_id, sub_varint(body, start, 40));
      PARLEY_TRY(bos_id, sub_varint(body, start, 41));
      PARLEY_TRY(eos_id, sub_varint(body, start, 42));
    } else if (field == 3) {
      PARLEY_TRY(add_dummy_prefix, sub_varint(body, start, 3));
    }
    (void)at;
  }
  if (pieces.empty()) return Error{model_path.string() + ": no pieces (not a SentencePiece model?)"};
  // model_type: 1 unigram (the default), 2 BPE. llama.cpp runs both with its BPE-like
  // algorithm only for "llama"; unigram models use a different tokenizer ("t5").
  if (model_type.value_or(1) != 2) {
    return Error::fmt("%s: SentencePiece model type %llu is not supported (only BPE)",
                      model_path.c_str(), static_cast<unsigned long long>(model_type.value_or(1)));
  }

  VocabSpec spec;
  spec.model = "llama";
  spec.pre = "default";
  fs::path dir = model_path.parent_path();
  // The vocabulary is as large as the model's embedding (config.json vocab_size) or as the
  // added tokens need, whichever is larger; ids no piece or added token claims are "[PADn]".
  size_t n = pieces.size();
  if (fs::exists(dir / "config.json")) {
    PARLEY_TRY(json::Value cfg, read_json(dir / "config.json"));
    const json::Value* vs = cfg.is_object() ? cfg.find("vocab_size") : nullptr;
    if (vs && vs->is_int() && vs->as_int() > 0 && vs->as_int() <= 10'000'000) {
      n = std::max(n, static_cast<size_t>(vs->as_int()));
    }
  }
  std::vector<Added> config_added;
  if (fs::exists(dir / "tokenizer_config.json")) {
    PARLEY_TRY(json::Value cfg, read_json(dir / "tokenizer_config.json"));
    PARLEY_TRY(config_added, added_tokens_decoder(cfg, dir / "tokenizer_config.json"));
  }
  std::optional<json::Value> added_json;
  if (fs::exists(dir / "added_tokens.json")) {
    PARLEY_TRY(json::Value added, read_json(dir / "added_tokens.json"));
    if (added.is_object()) added_json = std::move(added);
  }
  for (const Added& a : config_added) n = std::max(n, static_cast<size_t>(a.id) + 1);
  if (added_json) {
    for (const auto& [text, idv] : added_json->as_object()) {
      if (idv.is_int() && idv.as_int() >= 0) n = std::max(n, static_cast<size_t>(idv.as_int()) + 1);
    }
  }
  if (n > 10'000'000) return Error::fmt("%s: token id %zu is absurd", model_path.c_str(), n - 1);
  spec.tokens.resize(n);
  spec.scores.assign(n, -10000.0f);
  spec.token_types.assign(n, static_cast<int32_t>(TokenType::unused));
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < n; i++) {
    if (i >= pieces.size()) {
      spec.tokens[i] = "[PAD" + std::to_string(i) + "]";
      continue;
    }
    spec.tokens[i] = pieces[i].text;
    spec.scores[i] = pieces[i].score;
    spec.token_types[i] = pieces[i].type;
    ids[pieces[i].text] = static_cast<int64_t>(i);
  }
  if (add_dummy_prefix && *add_dummy_prefix == 0) spec.add_space_prefix = false;

  // added_tokens.json: user-defined tokens (llama.cpp's converter).
  if (added_json) {
    for (const auto& [text, idv] : added_json->as_object()) {
      if (!idv.is_int() || idv.as_int() < 0) continue;
      auto i = static_cast<size_t>(idv.as_int());
      spec.tokens[i] = text;
      spec.scores[i] = -1000.0f;
      spec.token_types[i] = static_cast<int32_t>(TokenType::user_defined);
      ids[text] = idv.as_int();
    }
  }
  for (const Added& a : config_added) {
    auto i = static_cast<size_t>(a.id);
    bool control = a.special || looks_special(a.content);
    std::string text = a.content;
    if (!control) {
      for (size_t pos = text.find("\xE2\x96\x81"); pos != std::string::npos; pos = text.find("\xE2\x96\x81", pos + 1)) {
        text.replace(pos, 3, " ");
      }
    }
    spec.tokens[i] = text;
    spec.scores[i] = -1000.0f;
    spec.token_types[i] = static_cast<int32_t>(control ? TokenType::control : TokenType::user_defined);
    ids[text] = a.id;
  }
  // Trainer defaults: unk 0, bos 1, eos 2; -1 (a huge varint) means none.
  auto id_or = [&](const std::optional<uint64_t>& v, int64_t def) -> std::optional<int64_t> {
    uint64_t x = v.value_or(static_cast<uint64_t>(def));
    if (x >= n) return std::nullopt;
    return static_cast<int64_t>(x);
  };
  spec.unk_id = id_or(unk_id, 0);
  spec.bos_id = id_or(bos_id, 1);
  spec.eos_id = id_or(eos_id, 2);
  PARLEY_CHECK_OK(apply_config(spec, dir, ids));
  return spec;
}

}  // namespace parley::tokenizer::hf
