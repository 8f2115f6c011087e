#include "chat/conversation.h"

namespace parley::chat {

const char* role_name(Role r) {
  switch (r) {
    case Role::system: return "system";
    case Role::user: return "user";
    case Role::assistant: return "assistant";
    case Role::tool: return "tool";
  }
  return "?";
}

std::string Message::text() const {
  std::string out;
  for (const auto& p : content) {
    if (p.kind == ContentPart::Kind::text) out += p.text;
  }
  return out;
}

}  // namespace parley::chat
