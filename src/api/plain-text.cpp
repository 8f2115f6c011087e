#include "api/plain-text.h"

#include <algorithm>
#include <cstring>

namespace parley::api {
namespace {

// U+E000 and U+E001 (private use): no template trims, escapes or splits on them.
constexpr std::string_view kOpen = "\xEE\x80\x80";
constexpr std::string_view kClose = "\xEE\x80\x81";
// U+E002: where a cache_control breakpoint ends (removed after rendering, its offset kept).
constexpr std::string_view kMark = "\xEE\x80\x82";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// The mark goes before trailing whitespace, so a template that trims the text renders the same
// characters as without it. Empty text gets none (it would make the text non-empty).
void add_mark(std::string& s) {
  size_t end = s.size();
  while (end > 0 && is_space(s[end - 1])) end--;
  if (end == 0) return;
  s.insert(end, kMark);
}

// The last string in a JSON value (depth first, in order), or null.
std::string* last_string(json::Value& v) {
  if (v.is_string()) return &v.as_string();
  if (v.is_array()) {
    auto& arr = v.as_array();
    for (auto it = arr.rbegin(); it != arr.rend(); ++it) {
      if (std::string* s = last_string(*it)) return s;
    }
  } else if (v.is_object()) {
    auto& obj = v.as_object();
    for (auto it = obj.rbegin(); it != obj.rend(); ++it) {
      if (std::string* s = last_string(it->second)) return s;
    }
  }
  return nullptr;
}

// Marks the end of each flagged part; an image has no text, so its mark goes to the nearest text
// part before it (else after it).
void mark_parts(std::vector<chat::ContentPart>& parts) {
  auto usable = [&](size_t k) {
    const auto& p = parts[k];
    if (p.kind == chat::ContentPart::Kind::image) return false;
    for (char c : p.text) {
      if (!is_space(c)) return true;
    }
    return false;
  };
  for (size_t i = 0; i < parts.size(); i++) {
    if (!parts[i].cache_breakpoint) continue;
    size_t target = parts.size();
    for (size_t k = i + 1; k-- > 0 && target == parts.size();) {
      if (usable(k)) target = k;
    }
    for (size_t k = i + 1; k < parts.size() && target == parts.size(); k++) {
      if (usable(k)) target = k;
    }
    if (target < parts.size()) add_mark(parts[target].text);
  }
}

// Markup-looking user-defined tokens are protected; whitespace-only ones (some vocabularies
// define "\n\n" or runs of spaces) are ordinary text that llama.cpp matches everywhere.
bool looks_like_markup(std::string_view t) {
  return t.find_first_of("<>[]|") != std::string_view::npos;
}

}  // namespace

PlainTextGuard::PlainTextGuard(const tokenizer::Tokenizer& tok) : by_first_byte_(256) {
  for (tokenizer::TokenId id = 0; id < tok.n_vocab(); id++) {
    if (!tok.is_special(id)) continue;
    std::string_view t = tok.token_text(id);
    if (t.empty() || (!tok.is_control(id) && !looks_like_markup(t))) continue;
    by_first_byte_[static_cast<unsigned char>(t[0])].emplace_back(t);
    n_texts_++;
  }
  // A request that itself contains the placeholder's opening character is protected too, so it
  // can never pass for a placeholder.
  by_first_byte_[static_cast<unsigned char>(kOpen[0])].emplace_back(kOpen);
  by_first_byte_[static_cast<unsigned char>(kMark[0])].emplace_back(kMark);
  for (auto& bucket : by_first_byte_) {
    std::sort(bucket.begin(), bucket.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });
    bucket.erase(std::unique(bucket.begin(), bucket.end()), bucket.end());
  }
}

void PlainTextGuard::protect_string(std::string& s, std::vector<std::string>& originals) const {
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < s.size(); i++) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(s[i])];
    for (const std::string& t : bucket) {
      if (t.size() > s.size() - i || std::memcmp(s.data() + i, t.data(), t.size()) != 0) continue;
      out.append(s, copied, i - copied);
      out += kOpen;
      out += std::to_string(originals.size());
      out += kClose;
      originals.push_back(t);
      i += t.size() - 1;
      copied = i + 1;
      break;
    }
  }
  if (copied == 0) return;  // nothing to protect (the common case): no copy
  out.append(s, copied, std::string::npos);
  s = std::move(out);
}

void PlainTextGuard::protect_json(json::Value& v, std::vector<std::string>& originals) const {
  if (v.is_string()) {
    protect_string(v.as_string(), originals);
  } else if (v.is_array()) {
    for (auto& e : v.as_array()) protect_json(e, originals);
  } else if (v.is_object()) {
    for (auto& [k, e] : v.as_object()) {
      protect_string(k, originals);
      protect_json(e, originals);
    }
  }
}

chat::Conversation PlainTextGuard::protect(const chat::Conversation& in,
                                           std::vector<std::string>& originals) const {
  chat::Conversation c = in;
  for (auto& m : c.messages) {
    for (auto& part : m.content) protect_string(part.text, originals);
    protect_string(m.reasoning, originals);
    protect_string(m.tool_call_id, originals);
    protect_string(m.name, originals);
    for (auto& call : m.tool_calls) {
      protect_string(call.id, originals);
      protect_string(call.name, originals);
      protect_json(call.arguments, originals);
    }
    // Breakpoint marks after protection, so they are the only marks in the rendering.
    mark_parts(m.content);
    for (auto& call : m.tool_calls) {
      if (!call.cache_breakpoint) continue;
      std::string* s = last_string(call.arguments);
      add_mark(s != nullptr && !s->empty() ? *s : call.name);
    }
  }
  for (auto& t : c.tools) {
    protect_string(t.name, originals);
    protect_string(t.description, originals);
    protect_json(t.parameters, originals);
    if (t.cache_breakpoint) add_mark(t.description.empty() ? t.name : t.description);
  }
  return c;
}

std::string PlainTextGuard::restore(std::string_view rendered, const std::vector<std::string>& originals,
                                    std::vector<tokenizer::TextRange>& plain,
                                    std::vector<size_t>* marks) const {
  plain.clear();
  if (marks != nullptr) marks->clear();
  if (originals.empty() && rendered.find(kMark) == std::string_view::npos) return std::string(rendered);
  std::string out;
  out.reserve(rendered.size());
  size_t i = 0;
  while (i < rendered.size()) {
    // Both private-use characters start with the same two bytes.
    size_t open = rendered.find(kOpen.substr(0, 2), i);
    if (open == std::string_view::npos) break;
    if (rendered.substr(open, kMark.size()) == kMark) {
      out.append(rendered.substr(i, open - i));
      if (marks != nullptr) marks->push_back(out.size());
      i = open + kMark.size();
      continue;
    }
    if (rendered.substr(open, kOpen.size()) != kOpen) {
      out.append(rendered.substr(i, open + 2 - i));
      i = open + 2;
      continue;
    }
    size_t digits = open + kOpen.size();
    size_t close = rendered.find(kClose, digits);
    size_t index = 0;
    bool ok = close != std::string_view::npos && close > digits && close - digits <= 9;
    for (size_t k = digits; ok && k < close; k++) {
      ok = rendered[k] >= '0' && rendered[k] <= '9';
      index = index * 10 + static_cast<size_t>(rendered[k] - '0');
    }
    ok = ok && index < originals.size();
    out.append(rendered.substr(i, open - i));
    if (!ok) {
      // Not one of ours (only the template can have written it: requests are protected).
      out.append(kOpen);
      i = digits;
      continue;
    }
    const std::string& orig = originals[index];
    plain.push_back({out.size(), out.size() + orig.size()});
    out += orig;
    i = close + kClose.size();
  }
  if (i < rendered.size()) out.append(rendered.substr(i));
  return out;
}

}  // namespace parley::api
