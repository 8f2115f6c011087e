#include "upstream/prefix-hash.h"

#include <string_view>

#include "base/xxh64.h"

namespace parley::upstream {
namespace {

// Length-prefixed, so that ("ab","c") and ("a","bc") differ.
void put(Xxh64& h, std::string_view s) {
  uint64_t n = s.size();
  h.update(&n, sizeof n);
  h.update(s);
}

void put_tag(Xxh64& h, char tag) { h.update(&tag, 1); }

void put_tool(Xxh64& h, const chat::Tool& t) {
  put_tag(h, 'T');
  put(h, t.name);
  put(h, t.description);
  put(h, json::write(t.parameters));
  put_tag(h, t.strict ? '1' : '0');
}

void put_message(Xxh64& h, const chat::Message& m) {
  put_tag(h, 'M');
  put(h, chat::role_name(m.role));
  for (const chat::ContentPart& p : m.content) {
    put_tag(h, static_cast<char>('0' + static_cast<int>(p.kind)));
    put(h, p.text);
    put(h, p.media_type);
    put(h, p.data);
    put_tag(h, p.is_url ? 'u' : 'b');
    // The block as sent (search results, documents' titles), which is kept without its
    // cache_control.
    if (!p.block.is_null()) put(h, json::write(p.block));
  }
  put(h, m.reasoning);
  for (const chat::ToolCall& c : m.tool_calls) {
    put_tag(h, 'C');
    put(h, c.id);
    put(h, c.name);
    put(h, json::write(c.arguments));
  }
  put(h, m.tool_call_id);
  put(h, m.name);
  put_tag(h, m.is_error ? '1' : '0');
}

}  // namespace

std::vector<uint64_t> prefix_hashes(const api::ChatRequest& req, size_t max_hashes) {
  if (max_hashes == 0) return {};
  // A fixed seed: the hashes are compared only within one process, but tests pin them.
  Xxh64 h(0x70726566);
  put(h, req.model);
  for (const chat::Tool& t : req.conversation.tools) put_tool(h, t);
  const auto& messages = req.conversation.messages;
  size_t i = 0;
  for (; i < messages.size() && messages[i].role == chat::Role::system; i++) put_message(h, messages[i]);
  std::vector<uint64_t> out;
  out.push_back(h.digest());
  const size_t n_rest = messages.size() - i;
  // Only the tail's digests are kept (the chain still runs over every message).
  const size_t keep_from = n_rest + 1 > max_hashes ? n_rest + 1 - max_hashes : 0;
  for (size_t k = 0; i < messages.size(); i++, k++) {
    put_message(h, messages[i]);
    if (k >= keep_from) out.push_back(h.digest());
  }
  return out;
}

}  // namespace parley::upstream
