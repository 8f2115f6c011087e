#include "tokenizer/tokenizer.h"

#include "base/utf8.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer-impl.h"

namespace parley::tokenizer {

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::from_spec(const VocabSpec& spec) {
  auto impl = std::make_unique<Impl>();
  if (spec.model == "llama") {
    impl->kind = Impl::Kind::spm;
    PARLEY_CHECK_OK(load_vocab(*impl, spec, nullptr));
    impl->spm.emplace(SpmModel::build(impl->text, spec.scores, impl->unk));
  } else if (spec.model == "gpt2") {
    impl->kind = Impl::Kind::bpe;
    PARLEY_TRY(PreTokenizerFamily family, pre_tokenizer_family(spec.pre));
    PARLEY_CHECK_OK(load_vocab(*impl, spec, &family));
    PARLEY_TRY(PreTokenizer pre, PreTokenizer::compile(family.regexes));
    impl->pre.emplace(std::move(pre));
    impl->ignore_merges = family.ignore_merges;
    impl->bpe.emplace(BpeModel::build(impl->text, spec.merges, true));
  } else {
    return Error{"tokenizer model " + quote_for_message(spec.model) +
                 " is not supported (llama = SentencePiece, gpt2 = byte-level BPE)"};
  }
  return Tokenizer(std::move(impl));
}

Result<Tokenizer> Tokenizer::from_gguf(const std::string& path) {
  PARLEY_TRY(gguf::File file, gguf::File::open(path));
  auto spec = vocab_from_gguf(file);
  if (!spec) return spec.error().wrap(path);
  auto tok = from_spec(*spec);
  if (!tok) return tok.error().wrap(path);
  return tok;
}

Result<Tokenizer> Tokenizer::from_hf(const std::string& path) {
  PARLEY_TRY(VocabSpec spec, vocab_from_hf(path));
  auto tok = from_spec(spec);
  if (!tok) return tok.error().wrap(path);
  return tok;
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  encode_into(text, options, out);
  return out;
}

void Tokenizer::encode_into(std::string_view text, const EncodeOptions& options,
                            std::vector<TokenId>& out) const {
  const Impl& t = *impl_;
  std::vector<Fragment> fragments;
  split_special(t, options.parse_special ? t.special_all : t.special_text, text, fragments, options.plain);
  if (options.add_special && t.add_bos && t.bos >= 0) out.push_back(t.bos);
  if (t.kind == Impl::Kind::spm) {
    SpmScratch scratch;
    scratch.cache.reserve(text.size() / 16);
    std::string escaped;
    bool prev_special = true;  // text at the start gets the space prefix too
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      escaped.clear();
      if (t.add_space_prefix && prev_special) escaped += "\xE2\x96\x81";
      for (size_t i = f.offset; i < f.offset + f.length; i++) {
        if (text[i] == ' ') {
          escaped += "\xE2\x96\x81";
        } else {
          escaped += text[i];
        }
      }
      t.spm->encode(escaped, scratch, out);
      prev_special = false;
    }
  } else {
    BpeScratch scratch;
    scratch.cache.reserve(text.size() / 16);
    std::vector<size_t> ends;
    std::string clean;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        continue;
      }
      std::string_view raw = text.substr(f.offset, f.length);
      if (!utf8::is_valid(raw)) {
        clean = utf8::sanitize(raw);
        raw = clean;
      }
      ends.clear();
      t.pre->split(raw, ends);
      size_t start = 0;
      for (size_t end : ends) {
        t.bpe->encode(raw.substr(start, end - start), t.ignore_merges, scratch, out);
        start = end;
      }
    }
  }
  if (options.add_special && t.add_eos && t.eos >= 0) out.push_back(t.eos);
}

std::string_view Tokenizer::piece_view(TokenId id, bool special) const {
  const Impl& t = *impl_;
  if (!t.valid(id)) return {};
  if (!special && t.hidden(id)) return {};
  auto i = static_cast<size_t>(id);
  return std::string_view(t.pieces).substr(t.piece_off[i], t.piece_off[i + 1] - t.piece_off[i]);
}

std::string Tokenizer::token_to_piece(TokenId id, bool special) const {
  return std::string(piece_view(id, special));
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool special) const {
  const Impl& t = *impl_;
  std::string out;
  bool strip = t.add_space_prefix;
  for (TokenId id : ids) {
    if (!t.valid(id)) continue;
    std::string_view p = piece_view(id, special);
    if (is_special(id)) {
      // encode puts a space in front of text that follows a special token
      out += p;
      strip = t.add_space_prefix;
      continue;
    }
    if (strip && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    if (!p.empty() || (t.attr[static_cast<size_t>(id)] & (kAttrNormal | kAttrByte))) strip = false;
    out += p;
  }
  return out;
}

bool Tokenizer::byte_representable(uint8_t b) const {
  if (impl_->kind == Impl::Kind::spm) return impl_->spm->byte_token(b) >= 0;
  char c = static_cast<char>(b);
  return impl_->bpe->token_of_bytes(std::string_view(&c, 1)) >= 0;
}

bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(impl_->text.size()); }
TokenId Tokenizer::bos() const { return impl_->bos; }
TokenId Tokenizer::eos() const { return impl_->eos; }
TokenId Tokenizer::eot() const { return impl_->eot; }
TokenId Tokenizer::unk() const { return impl_->unk; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
const std::string& Tokenizer::model() const { return impl_->model_name; }
const std::string& Tokenizer::pre() const { return impl_->pre_name; }

bool Tokenizer::is_eog(TokenId id) const {
  return impl_->valid(id) && impl_->eog_flag[static_cast<size_t>(id)] != 0;
}
const std::vector<TokenId>& Tokenizer::eog_ids() const { return impl_->eog; }
bool Tokenizer::is_control(TokenId id) const {
  return impl_->valid(id) && (impl_->attr[static_cast<size_t>(id)] & kAttrControl) != 0;
}
bool Tokenizer::is_special(TokenId id) const {
  return impl_->valid(id) && (impl_->attr[static_cast<size_t>(id)] &
                              (kAttrControl | kAttrUserDefined | kAttrUnknown)) != 0;
}
std::string_view Tokenizer::token_text(TokenId id) const {
  return impl_->valid(id) ? std::string_view(impl_->text[static_cast<size_t>(id)]) : std::string_view();
}
TokenType Tokenizer::token_type(TokenId id) const {
  return impl_->valid(id) ? impl_->types[static_cast<size_t>(id)] : TokenType::undefined;
}

}  // namespace parley::tokenizer
