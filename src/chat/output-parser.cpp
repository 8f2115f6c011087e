// The output parser's shared helpers, the marker-driven parser's text, thinking, sections and
// named calls (output-parser-markup.h), and the factory.
#include <cctype>
#include <optional>

#include "base/json.h"
#include "base/utf8.h"
#include "chat/output-parser-impl.h"
#include "chat/output-parser-json.h"
#include "chat/output-parser-markup.h"

namespace parley::chat {
namespace detail {

size_t incomplete_utf8_tail(std::string_view s) {
  size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; k++) {
    auto c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    int len = utf8::sequence_length(c);
    return len > static_cast<int>(k) ? k : 0;
  }
  return 0;
}

size_t partial_marker_tail(std::string_view s, std::string_view marker) {
  size_t max = std::min(s.size(), marker.size() - 1);
  for (size_t k = max; k > 0; k--) {
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  }
  return 0;
}

void append_json_escaped(std::string& out, std::string_view s) {
  std::string clean = utf8::is_valid(s) ? std::string() : utf8::sanitize(s);
  std::string_view v = clean.empty() ? s : std::string_view(clean);
  std::string quoted;
  json::write_string(quoted, v);
  out.append(quoted, 1, quoted.size() - 2);
}

void append_event(std::vector<OutputEvent>& out, OutputEvent::Kind kind, std::string_view text) {
  if (text.empty()) return;
  if (!out.empty() && out.back().kind == kind &&
      (kind == OutputEvent::Kind::text || kind == OutputEvent::Kind::thinking ||
       kind == OutputEvent::Kind::tool_call_args)) {
    out.back().text.append(text);
    return;
  }
  OutputEvent e;
  e.kind = kind;
  e.text = std::string(text);
  out.push_back(std::move(e));
}

int MarkupParser::match_any(const std::vector<std::string>& markers, bool eof, bool* partial) const {
  // Markers are listed longest first where one is a prefix of another: a full match waits
  // while an earlier one may still match.
  bool earlier_partial = false;
  for (size_t i = 0; i < markers.size(); i++) {
    Match m = match(markers[i], eof);
    if (m == Match::full) {
      if (earlier_partial) break;
      return static_cast<int>(i);
    }
    if (m == Match::partial) *partial = earlier_partial = true;
  }
  return -1;
}

std::string TrimmedBlock::take(std::string_view s) {
  if (fresh) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    if (s.empty()) return {};
    fresh = false;
  }
  size_t body = s.size();
  while (body > 0 && is_space(s[body - 1])) body--;
  std::string t;
  if (body > 0) {
    t = std::move(pending_ws);
    pending_ws.clear();
    std::string_view b = s.substr(0, body);
    if (utf8::is_valid(b)) {
      t.append(b);
    } else {
      t += utf8::sanitize(b);
    }
  }
  pending_ws.append(s.substr(body));
  return t;
}

void MarkupParser::emit_content(std::string_view s) {
  std::string t = trim_.take(s);
  if (t.empty()) return;
  emit(thinking_ ? Kind::thinking : Kind::text, t);
  if (!thinking_) text_started_ = true;
}

void MarkupParser::start_call() {
  OutputEvent e;
  e.kind = Kind::tool_call_start;
  e.name = name_;
  e.id = id_;
  out_->push_back(std::move(e));
  call_open_ = true;
  args_emitted_ = false;
  section_has_call_ = true;
  raw_.clear();
}

void MarkupParser::end_call() {
  if (!args_emitted_) emit_args("{}");  // a call whose arguments never came
  OutputEvent e;
  e.kind = Kind::tool_call_end;
  out_->push_back(std::move(e));
  call_open_ = false;
  any_call_ = true;
  name_.clear();
  id_.clear();
}

bool MarkupParser::step(bool eof) {
  switch (st_) {
    case St::content: return step_content(eof);
    case St::sec_start: return step_sec_start(eof);
    case St::sec_next: return step_sec_next(eof);
    case St::name: return step_name(eof);
    case St::id: return step_id(eof);
    case St::args:
      if (spec_.gemma_args) return step_gemma_args(eof);
      return spec_.python_args ? step_args(py_) : step_args(json_);
    case St::envelope: return step_envelope(eof);
    case St::xml_args: return step_xml_args(eof);
    case St::xml_key: return step_xml_key(eof);
    case St::xml_value_open: return step_xml_value_open(eof);
    case St::xml_value: return step_xml_value(eof);
    case St::skip_to_close: return step_skip_to_close(eof);
  }
  return false;
}

bool MarkupParser::step_content(bool eof) {
  std::string_view r = rest();
  if (r.empty()) return false;
  // Candidate markers: (text, what) with what 0 = think open, 1 = think close, 2+i = trigger i.
  size_t best = std::string_view::npos;
  int best_what = -1;
  size_t hold = 0;
  auto consider = [&](std::string_view m, int what, bool at_start) {
    if (m.empty()) return;
    if (at_start) {
      // Only where nothing but whitespace came before in the response.
      if (text_started_) return;
      size_t first = 0;
      while (first < r.size() && is_space(r[first])) first++;
      std::string_view tail = r.substr(first);
      if (tail.substr(0, m.size()) == m) {
        if (first < best) best = first, best_what = what;
      } else if (!tail.empty() && tail.size() < m.size() && m.substr(0, tail.size()) == tail) {
        hold = std::max(hold, tail.size());
      }
      return;
    }
    size_t i = r.find(m);
    if (i < best) best = i, best_what = what;
    hold = std::max(hold, partial_marker_tail(r, m));
  };
  for (size_t i = 0; i < spec_.drop_markers.size(); i++) {
    // A wrapper that is also the end of thinking (Solar's <|end|>) ends the thinking there.
    if (thinking_ && spec_.drop_markers[i] == spec_.think_close) continue;
    consider(spec_.drop_markers[i], -2 - static_cast<int>(i), false);
  }
  if (thinking_) {
    consider(spec_.think_close, 1, false);
  } else {
    consider(spec_.think_open, 0, false);
    if (opt_.parse_tool_calls) {
      for (size_t i = 0; i < spec_.triggers.size(); i++) {
        consider(spec_.triggers[i].text, 2 + static_cast<int>(i), spec_.triggers[i].at_start);
      }
    }
  }
  if (best == std::string_view::npos) {
    if (eof) hold = 0;
    size_t n = r.size() - std::min(hold, r.size());
    if (!eof) n -= incomplete_utf8_tail(r.substr(0, n));
    emit_content(r.substr(0, n));
    pos_ += n;
    return false;
  }
  emit_content(r.substr(0, best));
  pos_ += best;
  if (best_what <= -2) {
    pos_ += spec_.drop_markers[static_cast<size_t>(-2 - best_what)].size();
    new_block();
  } else if (best_what == 0) {
    pos_ += spec_.think_open.size();
    thinking_ = true;
    new_block();
  } else if (best_what == 1) {
    pos_ += spec_.think_close.size();
    thinking_ = false;
    new_block();
  } else {
    const Trigger& t = spec_.triggers[static_cast<size_t>(best_what - 2)];
    ws_before_section_ = std::move(trim_.pending_ws);
    trim_.pending_ws.clear();
    raw_.clear();
    section_has_call_ = false;
    st_ = St::sec_start;
    if (!t.keep) consume(t.text.size());
  }
  return true;
}

void MarkupParser::section_fail() {
  st_ = St::content;
  if (section_has_call_) {
    new_block();
    return;
  }
  if (at_end_ && any_call_) {
    // The output ended (max_tokens) after one more call's trigger, before its name was known:
    // that is a cut-off call's markup, not text, and is dropped. Without an earlier call it may
    // be prose that only looked like a trigger, and is shown as text below.
    raw_.clear();
    ws_before_section_.clear();
    pos_ = buf_.size();
    return;
  }
  std::string raw = std::move(raw_);
  raw_.clear();
  if (raw.empty() && pos_ < buf_.size()) {
    raw.assign(1, buf_[pos_]);  // a kept trigger: step over its first byte
    pos_++;
  }
  bool fresh = trim_.fresh;
  trim_.pending_ws = std::move(ws_before_section_);
  ws_before_section_.clear();
  emit_content(raw);
  if (raw.empty()) trim_.fresh = fresh;
}

bool MarkupParser::begin_section_body() {
  if (spec_.style == CallStyle::envelope) {
    start_envelope();
    return true;
  }
  if (spec_.envelope_if_json && !rest().empty() && (rest()[0] == '[' || rest()[0] == '{')) {
    start_envelope();
    return true;
  }
  st_ = St::name;
  return true;
}

bool MarkupParser::step_sec_start(bool eof) {
  skip_ws();
  if (rest().empty()) return false;
  if (!spec_.section_open.empty()) {
    bool partial = false;
    int i = match_any(spec_.section_open, eof, &partial);
    if (i >= 0) {
      consume(spec_.section_open[static_cast<size_t>(i)].size());
      return true;
    }
    if (partial) return false;
  }
  if (spec_.style == CallStyle::envelope || spec_.call_open.empty()) return begin_section_body();
  if (spec_.envelope_if_json && (rest()[0] == '[' || rest()[0] == '{')) {
    return begin_section_body();
  }
  bool partial = false;
  int i = match_any(spec_.call_open, eof, &partial);
  if (i >= 0) {
    consume(spec_.call_open[static_cast<size_t>(i)].size());
    st_ = St::name;
    return true;
  }
  if (partial) return false;
  section_fail();
  return true;
}

bool MarkupParser::step_sec_next(bool eof) {
  skip_ws();
  if (rest().empty()) return false;
  bool partial = false;
  if (!spec_.call_separator.empty()) {
    Match m = match(spec_.call_separator, eof);
    if (m == Match::full) {
      consume(spec_.call_separator.size());
      skip_ws();
      st_ = St::name;
      return true;
    }
    if (m == Match::partial) return false;
  }
  int i = match_any(spec_.call_close, eof, &partial);
  if (i >= 0) {
    consume(spec_.call_close[static_cast<size_t>(i)].size());
    return true;
  }
  i = match_any(spec_.section_close, eof, &partial);
  if (i >= 0) {
    consume(spec_.section_close[static_cast<size_t>(i)].size());
    st_ = St::content;
    new_block();
    return true;
  }
  if (spec_.style != CallStyle::envelope) {
    i = match_any(spec_.call_open, eof, &partial);
    if (i >= 0) {
      consume(spec_.call_open[static_cast<size_t>(i)].size());
      st_ = St::name;
      return true;
    }
  }
  for (const auto& t : spec_.triggers) {
    if (t.keep || t.at_start) continue;
    Match m = match(t.text, eof);
    if (m == Match::full) {
      raw_.clear();
      section_has_call_ = false;
      consume(t.text.size());
      st_ = St::sec_start;
      return true;
    }
    if (m == Match::partial) partial = true;
  }
  if (partial) return false;
  st_ = St::content;
  new_block();
  return true;
}

size_t MarkupParser::find_first(const std::vector<std::string>& markers, size_t* which) const {
  std::string_view r = rest();
  size_t best = std::string_view::npos;
  for (size_t i = 0; i < markers.size(); i++) {
    size_t p = r.find(markers[i]);
    if (p < best) {
      best = p;
      *which = i;
    }
  }
  return best;
}

bool MarkupParser::step_name(bool eof) {
  // A name is at most kMaxName bytes before its end marker, decided the same way however the
  // text is split: when rest() is long enough to hold any marker starting within the bound.
  size_t which = 0;
  size_t p = find_first(spec_.name_end, &which);
  size_t longest = 0;
  for (const auto& m : spec_.name_end) longest = std::max(longest, m.size());
  if (p == std::string_view::npos) {
    if (eof || rest().size() >= kMaxName + longest) {
      section_fail();
      return true;
    }
    return false;
  }
  std::string_view name = trim_ws(rest().substr(0, p));
  const std::string& marker = spec_.name_end[which];
  const bool id_next = !spec_.id_marker.empty() && marker == spec_.id_marker;
  bool bad = (name.empty() && !(spec_.id_first && id_next)) || p > kMaxName;
  if (spec_.python_args) {
    // A pythonic call's name is an identifier (dotted names allowed).
    for (char c : name) {
      auto u = static_cast<unsigned char>(c);
      bad |= !(std::isalnum(u) || c == '_' || c == '.' || c == '-' || u >= 0x80);
    }
  }
  if (bad) {
    section_fail();
    return true;
  }
  name_ = std::string(name);
  id_.clear();
  bool keep_marker = spec_.name_end_kept || (spec_.style == CallStyle::xml &&
                                             (marker == spec_.key_open || marker == spec_.xml_call_close));
  consume(p + (keep_marker ? 0 : marker.size()));
  if (id_next) {
    st_ = St::id;
    return true;
  }
  begin_call();
  return true;
}

bool MarkupParser::step_id(bool eof) {
  size_t p = rest().find(spec_.args_open);
  if (p == std::string_view::npos || p > kMaxName) {
    if (p != std::string_view::npos || eof || rest().size() >= kMaxName + spec_.args_open.size()) {
      if (spec_.id_first) {  // what was read is an id, and no name follows: not a call
        section_fail();
        return true;
      }
      id_.clear();  // no id after all: what follows is read as the arguments
      begin_call();
      return true;
    }
    return false;
  }
  id_ = std::string(trim_ws(rest().substr(0, p)));
  if (spec_.id_first) {
    std::swap(name_, id_);  // St::name read the id, this the name
    if (name_.empty()) {
      section_fail();
      return true;
    }
  }
  consume(p + spec_.args_open.size());
  begin_call();
  return true;
}

void MarkupParser::begin_call() {
  if (spec_.kimi_ids) {
    // "functions.get_weather:0": the whole is the id, the part between is the name.
    id_ = name_;
    std::string n = name_;
    if (n.rfind("functions.", 0) == 0) n.erase(0, 10);
    size_t colon = n.rfind(':');
    if (colon != std::string::npos) n.erase(colon);
    name_ = n.empty() ? name_ : n;
  }
  if (!spec_.text_name.empty() && name_ == spec_.text_name) {
    raw_.clear();
    st_ = St::content;
    new_block();
    return;
  }
  start_call();
  if (spec_.style == CallStyle::xml) {
    emit_args("{");
    first_arg_ = true;
    st_ = St::xml_args;
  } else {
    reset_args();
    gemma_in_string_ = false;
    gemma_expect_key_ = false;
    gemma_stack_.clear();
    gemma_key_.clear();
    st_ = St::args;
  }
}

// JSON arguments (json_) or Python keyword arguments (py_, read as NAME( ... ) and converted).
template <class Streamer>
bool MarkupParser::step_args(Streamer& streamer) {
  std::string frag;
  std::string_view r = rest();
  size_t n = 0;
  JsonStreamer::Status s = JsonStreamer::Status::more;
  while (n < r.size()) {
    s = streamer.feed(r[n], frag);
    if (streamer.consumed()) n++;
    if (s != JsonStreamer::Status::more) break;
  }
  if (s == JsonStreamer::Status::error) streamer.complete(frag);
  return end_args_step(s, frag, n);
}

bool MarkupParser::end_args_step(JsonStreamer::Status s, std::string_view frag, size_t n) {
  emit_args(frag);
  consume(n);
  if (s == JsonStreamer::Status::more) return false;
  end_call();
  st_ = s == JsonStreamer::Status::error ? St::skip_to_close : St::sec_next;
  return true;
}

bool MarkupParser::step_skip_to_close(bool eof) {
  std::vector<std::string> closers = spec_.call_close;
  closers.insert(closers.end(), spec_.section_close.begin(), spec_.section_close.end());
  if (closers.empty()) {
    st_ = St::content;
    new_block();
    return true;
  }
  size_t which = 0;
  size_t p = find_first(closers, &which);
  if (p == std::string_view::npos) {
    size_t hold = 0;
    for (const auto& m : closers) hold = std::max(hold, partial_marker_tail(rest(), m));
    consume(eof ? rest().size() : rest().size() - hold);
    return false;
  }
  consume(p + closers[which].size());
  st_ = which < spec_.call_close.size() ? St::sec_next : St::content;
  if (st_ == St::content) new_block();
  return true;
}

void MarkupParser::close_at_end() {
  switch (st_) {
    case St::content: break;
    case St::sec_start:
    case St::name:
      section_fail();
      run(true);
      break;
    case St::sec_next:
    case St::skip_to_close: break;
    case St::id:
      if (spec_.id_first) {
        section_fail();
        run(true);
        break;
      }
      begin_call();
      [[fallthrough]];
    case St::args: {
      if (call_open_) {
        std::string frag;
        complete_args(frag);
        emit_args(frag);
        end_call();
      }
      break;
    }
    case St::envelope: {
      if (env_ == Env::value && env_value_ == EnvValue::args && !args_done()) {
        std::string frag;
        complete_args(frag);
        if (call_open_) {
          emit_args(frag);
        } else {
          pending_args_ += frag;
        }
      }
      if (!call_open_ && !name_.empty()) start_with_pending();
      if (call_open_) {
        if (!args_seen_) emit_args("{}");
        end_call();
      } else if (!section_has_call_) {
        section_fail();
        run(true);
      }
      break;
    }
    case St::xml_args:
    case St::xml_key:
    case St::xml_value_open: close_xml_call(); break;
    case St::xml_value:
      finish_xml_value();
      close_xml_call();
      break;
  }
  if (call_open_) {
    emit_args("{}");
    end_call();
  }
  trim_.pending_ws.clear();
  st_ = St::content;
}

namespace {

class PlainParser final : public OutputParser {
 public:
  void push(std::string_view text, std::vector<OutputEvent>& out) override {
    held_.append(text);
    size_t n = held_.size() - incomplete_utf8_tail(held_);
    flush(n, out);
  }
  void finish(std::vector<OutputEvent>& out) override { flush(held_.size(), out); }

 private:
  void flush(size_t n, std::vector<OutputEvent>& out) {
    std::string_view s = std::string_view(held_).substr(0, n);
    append_event(out, Kind::text, utf8::is_valid(s) ? std::string(s) : utf8::sanitize(s));
    held_.erase(0, n);
  }
  std::string held_;
};

}  // namespace
}  // namespace detail

std::unique_ptr<OutputParser> make_output_parser(const OutputFormat& format, const ParserOptions& options) {
  if (format.family == "gpt-oss") return detail::make_harmony_parser(options);
  if (format.family == "none" || format.family.empty()) {
    return std::make_unique<detail::PlainParser>();
  }
  return std::make_unique<detail::MarkupParser>(detail::parser_spec(format), options);
}

}  // namespace parley::chat
