// gpt-oss (OpenAI harmony): the reply is a sequence of messages
//   [<|start|>assistant] HEADER <|message|> CONTENT (<|end|> | <|call|> | <|return|>)
// where HEADER holds <|channel|>CHANNEL and maybe to=RECIPIENT (before or after the channel)
// and <|constrain|>json. analysis is thinking, final is text, commentary to=functions.NAME is a
// call whose content is the arguments JSON; commentary without a recipient is a preamble (text).
#include "base/utf8.h"
#include "chat/output-parser-impl.h"
#include "chat/output-parser-json.h"

namespace parley::chat::detail {
namespace {

using Kind = OutputEvent::Kind;
constexpr size_t kMaxHeader = 1024;
const std::string kMessage = "<|message|>";
const std::string kEnds[] = {"<|end|>", "<|call|>", "<|return|>", "<|start|>", "<|channel|>"};

class HarmonyParser final : public OutputParser {
 public:
  explicit HarmonyParser(const ParserOptions& opt) : opt_(opt) {}

  void push(std::string_view text, std::vector<OutputEvent>& out) override {
    out_ = &out;
    buf_.append(text);
    while (step(false)) {
    }
    buf_.erase(0, pos_);
    pos_ = 0;
  }

  void finish(std::vector<OutputEvent>& out) override {
    out_ = &out;
    while (step(true)) {
    }
    if (in_call_) {
      std::string frag;
      json_.complete(frag);
      append_event(out, Kind::tool_call_args, frag);
      end_call();
    }
    buf_.clear();
    pos_ = 0;
  }

 private:
  enum class Route { thinking, text, call, drop };

  std::string_view rest() const { return std::string_view(buf_).substr(pos_); }

  bool step(bool eof) { return in_message_ ? step_message(eof) : step_header(eof); }

  bool step_header(bool eof) {
    std::string_view r = rest();
    if (r.empty()) return false;
    size_t p = r.find(kMessage);
    if (p == std::string_view::npos || p > kMaxHeader) {
      // (The bound is decided the same way however the text is split.)
      if (p != std::string_view::npos || r.size() >= kMaxHeader + kMessage.size() || eof) {
        // Not a header: the model wrote plain text; it is the reply.
        route_ = Route::text;
        in_message_ = true;
        trim_.fresh = true;
        if (r.find("<|channel|>") != std::string_view::npos && eof) {
          pos_ = buf_.size();  // a cut-off header carries nothing
          return false;
        }
        return true;
      }
      return false;
    }
    std::string header(r.substr(0, p));
    pos_ += p + kMessage.size();
    start_message(header);
    return true;
  }

  static std::string word_after(const std::string& h, const std::string& key) {
    size_t p = h.find(key);
    if (p == std::string::npos) return "";
    p += key.size();
    size_t e = p;
    while (e < h.size() && h[e] != ' ' && h[e] != '<' && h[e] != '\n') e++;
    return h.substr(p, e - p);
  }

  void start_message(const std::string& header) {
    std::string channel = word_after(header, "<|channel|>");
    std::string to = word_after(header, "to=");
    in_message_ = true;
    trim_.reset();
    std::string name = to.rfind("functions.", 0) == 0 ? to.substr(10) : to;
    if (!name.empty()) {
      if (!opt_.parse_tool_calls) {
        route_ = Route::text;
        return;
      }
      route_ = Route::call;
      OutputEvent e;
      e.kind = Kind::tool_call_start;
      e.name = name;
      out_->push_back(std::move(e));
      in_call_ = true;
      json_ = JsonStreamer(true);
    } else if (channel == "analysis") {
      route_ = Route::thinking;
    } else {
      route_ = Route::text;  // final, commentary preambles, anything unknown
    }
  }

  void end_call() {
    OutputEvent e;
    e.kind = Kind::tool_call_end;
    out_->push_back(std::move(e));
    in_call_ = false;
  }

  bool step_message(bool eof) {
    std::string_view r = rest();
    if (r.empty()) return false;
    size_t end = std::string_view::npos;
    size_t end_len = 0;
    size_t hold = 0;
    for (const auto& m : kEnds) {
      size_t p = r.find(m);
      if (p < end) {
        end = p;
        // <|start|> and <|channel|> begin the next header: left for it ("<|start|>" dropped).
        end_len = (m == "<|channel|>") ? 0 : m.size();
      }
      hold = std::max(hold, partial_marker_tail(r, m));
    }
    bool found = end != std::string_view::npos;
    size_t n = found ? end : (eof ? r.size() : r.size() - hold);
    if (!found && !eof) n -= incomplete_utf8_tail(r.substr(0, n));
    content(r.substr(0, n));
    pos_ += n;
    if (!found) return false;
    pos_ += end_len;
    if (in_call_) {
      std::string frag;
      json_.complete(frag);
      append_event(*out_, Kind::tool_call_args, frag);
      end_call();
    }
    in_message_ = false;
    trim_.pending_ws.clear();
    return true;
  }

  void content(std::string_view s) {
    if (route_ == Route::call) {
      std::string frag;
      for (char c : s) {
        if (json_.done()) break;
        if (json_.feed(c, frag) == JsonStreamer::Status::error) {
          json_.complete(frag);
          break;
        }
      }
      append_event(*out_, Kind::tool_call_args, frag);
      return;
    }
    if (route_ == Route::drop) return;
    std::string t = trim_.take(s);
    if (!t.empty()) append_event(*out_, route_ == Route::thinking ? Kind::thinking : Kind::text, t);
  }

  ParserOptions opt_;
  std::vector<OutputEvent>* out_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
  bool in_message_ = false;
  bool in_call_ = false;
  Route route_ = Route::text;
  TrimmedBlock trim_;
  JsonStreamer json_;
};

}  // namespace

std::unique_ptr<OutputParser> make_harmony_parser(const ParserOptions& options) {
  return std::make_unique<HarmonyParser>(options);
}

}  // namespace parley::chat::detail
