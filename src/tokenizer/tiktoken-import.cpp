// tiktoken "BPE ranks" files (Meta's Llama 3 / Llama 4 tokenizer.model): one line per token,
// "<base64 bytes> <rank>". Lowered to a byte-level BPE vocabulary the way Hugging Face converts
// them: tokens are the bytes GPT-2-mapped, and every split of a token into two tokens is a
// merge, ordered by the rank of the merged token (then by the ranks of its two halves).
#include <algorithm>
#include <charconv>
#include <string_view>
#include <unordered_map>

#include "tokenizer/bpe-model.h"
#include "tokenizer/hf-common.h"
#include "tokenizer/string-map.h"

namespace parley::tokenizer::hf {
namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; i++) {
    int v = base64_value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  for (; i < in.size(); i++) {
    if (in[i] != '=') return false;
  }
  return !out.empty();
}

}  // namespace

bool looks_like_tiktoken(std::string_view text) {
  size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  for (size_t i = 0; i < sp; i++) {
    if (base64_value(line[i]) < 0 && line[i] != '=') return false;
  }
  for (size_t i = sp + 1; i < line.size(); i++) {
    if (line[i] < '0' || line[i] > '9') return line[i] == '\r' && i + 1 == line.size();
  }
  return sp + 1 < line.size();
}

Result<VocabSpec> from_tiktoken(const fs::path& model_path, std::string_view text) {
  std::vector<std::string> by_rank;
  std::string bytes;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    line_no++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    uint64_t rank = 0;
    auto r = sp == std::string_view::npos
                 ? std::from_chars_result{line.data(), std::errc::invalid_argument}
                 : std::from_chars(line.data() + sp + 1, line.data() + line.size(), rank);
    if (r.ec != std::errc() || r.ptr != line.data() + line.size() ||
        !base64_decode(line.substr(0, sp), bytes)) {
      return Error::fmt("%s: line %zu is not \"<base64> <rank>\"", model_path.c_str(), line_no);
    }
    if (rank != by_rank.size()) {
      return Error::fmt("%s: line %zu has rank %llu, expected %zu (ranks must count up from 0)",
                        model_path.c_str(), line_no, static_cast<unsigned long long>(rank),
                        by_rank.size());
    }
    by_rank.push_back(bytes);
  }
  const size_t n = by_rank.size();
  if (n < 256) return Error{model_path.string() + ": fewer than 256 ranks"};
  StringIdMap rank_of;
  rank_of.reserve(n);
  for (size_t i = 0; i < n; i++) {
    if (rank_of.find_or_insert(by_rank[i], static_cast<int32_t>(i)) >= 0) {
      return Error::fmt("%s: rank %zu repeats the bytes of an earlier rank", model_path.c_str(), i);
    }
  }
  std::vector<std::string> mapped(n);
  for (size_t i = 0; i < n; i++) mapped[i] = gpt2_map(by_rank[i]);

  VocabSpec spec;
  spec.model = "gpt2";
  // The ranks file does not carry the split regex; the two Meta vocabularies are known by size.
  if (n == 128000) {
    spec.pre = "llama-bpe";
  } else if (n == 200000) {
    spec.pre = "llama4";
  } else {
    return Error::fmt("%s: a tiktoken vocabulary of %zu ranks is not one we know the pre-tokenizer "
                      "of (Llama 3 has 128000, Llama 4 200000)", model_path.c_str(), n);
  }

  struct Merge {
    int32_t left, right;
  };
  std::vector<Merge> local;
  for (size_t id = 0; id < n; id++) {
    std::string_view t = by_rank[id];
    if (t.size() < 2) continue;
    local.clear();
    for (size_t k = 1; k < t.size(); k++) {
      int32_t l = rank_of.find(t.substr(0, k));
      int32_t rr = l < 0 ? -1 : rank_of.find(t.substr(k));
      if (rr >= 0) local.push_back({l, rr});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    for (const Merge& m : local) {
      const std::string& a = mapped[static_cast<size_t>(m.left)];
      const std::string& b = mapped[static_cast<size_t>(m.right)];
      std::string& line = spec.merges.emplace_back();
      line.reserve(a.size() + b.size() + 1);
      line.append(a).append(" ").append(b);
    }
  }

  std::unordered_map<std::string, int64_t> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; i++) ids.emplace(std::move(mapped[i]), static_cast<int64_t>(i));
  std::vector<Added> added;
  fs::path dir = model_path.parent_path();
  if (fs::exists(dir / "tokenizer_config.json")) {
    PARLEY_TRY(json::Value cfg, read_json(dir / "tokenizer_config.json"));
    PARLEY_TRY(added, added_tokens_decoder(cfg, dir / "tokenizer_config.json"));
  }
  PARLEY_CHECK_OK(build_tokens(spec, ids, added));
  for (const Added& a : added) ids[a.content] = a.id;
  PARLEY_CHECK_OK(apply_config(spec, dir, ids));
  return spec;
}

}  // namespace parley::tokenizer::hf
