// The marker-driven output parser used by every family but gpt-oss (output-parser-harmony.cpp):
// text and thinking between reasoning markers, and after a trigger a section of calls read in
// one of three styles (see ParserSpec). Bytes are consumed once: whatever is not yet decided is
// left in buf_ (at most a marker's length, a name or a key), everything else moves on, so the
// work per byte is bounded whatever the input.
#include <optional>

#include "base/json.h"
#include "base/utf8.h"
#include "chat/output-parser-impl.h"
#include "chat/output-parser-json.h"

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

namespace {

using Kind = OutputEvent::Kind;
constexpr size_t kMaxName = 512;

enum class Match { none, partial, full };

// The type a tool's schema gives a parameter: string (streamed), other (raw JSON), unknown.
enum class ValueType { string, other, unknown };

bool schema_says_string(const json::Value& s) {
  if (const json::Value* t = s.find("type")) {
    if (t->is_string()) return t->as_string() == "string";
    if (t->is_array()) {
      for (const auto& x : t->as_array()) {
        if (x.is_string() && x.as_string() == "string") return true;
      }
      return false;
    }
  }
  for (const char* k : {"anyOf", "oneOf"}) {
    if (const json::Value* alts = s.find(k); alts && alts->is_array()) {
      for (const auto& a : alts->as_array()) {
        if (a.is_object() && schema_says_string(a)) return true;
      }
    }
  }
  if (const json::Value* e = s.find("enum"); e && e->is_array() && e->size() > 0) {
    return e->as_array()[0].is_string();
  }
  return false;
}

ValueType param_type(const std::vector<Tool>* tools, const std::string& name,
                     const std::string& key) {
  if (!tools) return ValueType::unknown;
  for (const auto& t : *tools) {
    if (t.name != name) continue;
    const json::Value* props = t.parameters.find("properties");
    const json::Value* p = props ? props->find(key) : nullptr;
    if (!p || !p->is_object()) return ValueType::unknown;
    if (schema_says_string(*p)) return ValueType::string;
    if (p->contains("type") || p->contains("anyOf") || p->contains("oneOf")) {
      return ValueType::other;
    }
    return ValueType::unknown;
  }
  return ValueType::unknown;
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

class MarkupParser final : public OutputParser {
 public:
  MarkupParser(ParserSpec spec, const ParserOptions& opt)
      : spec_(std::move(spec)), opt_(opt), thinking_(opt.starts_in_thinking) {
    if (spec_.think_open.empty() || spec_.think_close.empty()) thinking_ = false;
    if (spec_.starts_in_section && opt_.parse_tool_calls) st_ = St::sec_start;
  }

  void push(std::string_view text, std::vector<OutputEvent>& out) override {
    out_ = &out;
    buf_.append(text);
    run(false);
    buf_.erase(0, pos_);
    pos_ = 0;
  }

  void finish(std::vector<OutputEvent>& out) override {
    out_ = &out;
    run(true);
    close_at_end();
    buf_.clear();
    pos_ = 0;
  }

 private:
  enum class St { content, sec_start, sec_next, name, id, args, envelope, xml_args, xml_key,
                  xml_value_open, xml_value, skip_to_close };
  enum class Env { begin, elem, key, colon, value, after_value };
  enum class EnvValue { name, id, args, args_string, keyed, skip };

  // ---- buffer helpers
  std::string_view rest() const { return std::string_view(buf_).substr(pos_); }
  void consume(size_t n) {
    if (st_ != St::content) raw_.append(buf_, pos_, n);
    pos_ += n;
  }
  Match match(std::string_view marker, bool eof) const {
    std::string_view r = rest();
    if (marker.empty()) return Match::none;
    if (r.size() >= marker.size()) return r.substr(0, marker.size()) == marker ? Match::full : Match::none;
    return (!eof && marker.substr(0, r.size()) == r) ? Match::partial : Match::none;
  }
  // Full match of any marker (its index), or -1 with *partial set when one may still match.
  int match_any(const std::vector<std::string>& markers, bool eof, bool* partial) const {
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
  void skip_ws() {
    size_t n = 0;
    std::string_view r = rest();
    while (n < r.size() && is_space(r[n])) n++;
    consume(n);
  }

  // ---- events
  void emit(Kind k, std::string_view s) { append_event(*out_, k, s); }
  void emit_content(std::string_view s) {
    if (block_fresh_) {
      while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
      if (s.empty()) return;
      block_fresh_ = false;
    }
    size_t body = s.size();
    while (body > 0 && is_space(s[body - 1])) body--;
    if (body > 0) {
      std::string t = std::move(pending_ws_);
      pending_ws_.clear();
      std::string_view b = s.substr(0, body);
      if (utf8::is_valid(b)) {
        t.append(b);
      } else {
        t += utf8::sanitize(b);
      }
      emit(thinking_ ? Kind::thinking : Kind::text, t);
      if (!thinking_) text_started_ = true;
    }
    pending_ws_.append(s.substr(body));
  }
  void new_block() {
    pending_ws_.clear();
    block_fresh_ = true;
  }
  void emit_args(std::string_view s) {
    if (s.empty()) return;
    emit(Kind::tool_call_args, s);
    args_emitted_ = true;
  }
  void start_call() {
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
  void end_call() {
    if (!args_emitted_) emit_args("{}");  // a call whose arguments never came
    OutputEvent e;
    e.kind = Kind::tool_call_end;
    out_->push_back(std::move(e));
    call_open_ = false;
    name_.clear();
    id_.clear();
  }

  void run(bool eof) {
    while (step(eof)) {
    }
  }

  bool step(bool eof) {
    switch (st_) {
      case St::content: return step_content(eof);
      case St::sec_start: return step_sec_start(eof);
      case St::sec_next: return step_sec_next(eof);
      case St::name: return step_name(eof);
      case St::id: return step_id(eof);
      case St::args: return step_args();
      case St::envelope: return step_envelope(eof);
      case St::xml_args: return step_xml_args(eof);
      case St::xml_key: return step_xml_key(eof);
      case St::xml_value_open: return step_xml_value_open(eof);
      case St::xml_value: return step_xml_value(eof);
      case St::skip_to_close: return step_skip_to_close(eof);
    }
    return false;
  }

  // ---- content and thinking
  bool step_content(bool eof) {
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
      ws_before_section_ = std::move(pending_ws_);
      pending_ws_.clear();
      raw_.clear();
      section_has_call_ = false;
      st_ = St::sec_start;
      if (!t.keep) consume(t.text.size());
    }
    return true;
  }

  // Not a call after all: what the section consumed goes out as text.
  void section_fail() {
    st_ = St::content;
    if (section_has_call_) {
      new_block();
      return;
    }
    std::string raw = std::move(raw_);
    raw_.clear();
    if (raw.empty() && pos_ < buf_.size()) {
      raw.assign(1, buf_[pos_]);  // a kept trigger: step over its first byte
      pos_++;
    }
    bool fresh = block_fresh_;
    pending_ws_ = std::move(ws_before_section_);
    ws_before_section_.clear();
    emit_content(raw);
    if (raw.empty()) block_fresh_ = fresh;
  }

  bool begin_section_body() {
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

  bool step_sec_start(bool eof) {
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

  bool step_sec_next(bool eof) {
    skip_ws();
    if (rest().empty()) return false;
    bool partial = false;
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

  // ---- named calls: NAME name_end [id args_open] JSON
  // Finds the earliest of markers in rest(); npos when none. *which: its index.
  size_t find_first(const std::vector<std::string>& markers, size_t* which) const {
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

  bool step_name(bool eof) {
    size_t which = 0;
    size_t p = find_first(spec_.name_end, &which);
    if (p == std::string_view::npos) {
      if (eof || rest().size() > kMaxName) {
        section_fail();
        return true;
      }
      return false;
    }
    std::string_view name = trim_ws(rest().substr(0, p));
    const std::string& marker = spec_.name_end[which];
    if (name.empty() || name.size() > kMaxName) {
      section_fail();
      return true;
    }
    name_ = std::string(name);
    id_.clear();
    bool keep_marker = spec_.style == CallStyle::xml &&
                       (marker == spec_.key_open || marker == spec_.xml_call_close);
    consume(p + (keep_marker ? 0 : marker.size()));
    if (!spec_.id_marker.empty() && marker == spec_.id_marker) {
      st_ = St::id;
      return true;
    }
    begin_call();
    return true;
  }

  bool step_id(bool eof) {
    size_t p = rest().find(spec_.args_open);
    if (p == std::string_view::npos) {
      if (eof || rest().size() > kMaxName) {
        id_.clear();
        begin_call();
        if (eof) return true;
        return true;
      }
      return false;
    }
    id_ = std::string(trim_ws(rest().substr(0, p)));
    consume(p + spec_.args_open.size());
    begin_call();
    return true;
  }

  void begin_call() {
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
      json_ = JsonStreamer(true);
      st_ = St::args;
    }
  }

  bool step_args() {
    std::string frag;
    std::string_view r = rest();
    size_t n = 0;
    JsonStreamer::Status s = JsonStreamer::Status::more;
    while (n < r.size()) {
      s = json_.feed(r[n], frag);
      if (json_.consumed()) n++;
      if (s != JsonStreamer::Status::more) break;
    }
    if (s == JsonStreamer::Status::error) json_.complete(frag);
    emit_args(frag);
    consume(n);
    if (s == JsonStreamer::Status::more) return false;
    end_call();
    st_ = s == JsonStreamer::Status::error ? St::skip_to_close : St::sec_next;
    return true;
  }

  // After invalid arguments: the rest of the call is dropped up to its closing marker (or,
  // for formats without one, it is text again).
  bool step_skip_to_close(bool eof) {
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

  // ---- envelope: {"name": .., "arguments": {..}} objects, alone or in a list
  void start_envelope() {
    st_ = St::envelope;
    env_ = Env::begin;
    env_list_ = false;
    reset_object();
  }
  void reset_object() {
    env_nested_ = false;
    name_.clear();
    id_.clear();
    pending_args_.clear();
    args_seen_ = false;
    env_key_.clear();
  }

  bool step_envelope(bool eof) {
    if (env_ != Env::value || value_first_) skip_ws();
    std::string_view r = rest();
    if (r.empty()) return false;
    char c = r[0];
    switch (env_) {
      case Env::begin:
        if (c == '[' && !env_list_) {
          env_list_ = true;
          consume(1);
          env_ = Env::elem;
          return true;
        }
        if (c == '{') {
          consume(1);
          env_ = Env::key;
          return true;
        }
        envelope_junk();
        return true;
      case Env::elem:
        if (c == '{') {
          consume(1);
          reset_object();
          env_ = Env::key;
        } else if (c == ',') {
          consume(1);
        } else if (c == ']') {
          consume(1);
          st_ = St::sec_next;
        } else {
          envelope_junk();
        }
        return true;
      case Env::key: {
        if (c == ',') {
          consume(1);
          return true;
        }
        if (c == '}') {
          consume(1);
          if (env_nested_) {
            env_nested_ = false;
            env_ = Env::after_value;
          } else {
            end_object();
          }
          return true;
        }
        if (c != '"') {
          envelope_junk();
          return true;
        }
        size_t end = 1;
        while (end < r.size() && r[end] != '"') end += r[end] == '\\' ? 2 : 1;
        if (end >= r.size()) {
          if (eof || r.size() > kMaxName) envelope_junk();
          return eof || r.size() > kMaxName;
        }
        auto k = json::parse(r.substr(0, end + 1));
        env_key_ = k.ok() && k->is_string() ? k->as_string() : std::string();
        consume(end + 1);
        env_ = Env::colon;
        return true;
      }
      case Env::colon:
        if (c != ':') {
          envelope_junk();
          return true;
        }
        consume(1);
        env_ = Env::value;
        begin_value();
        return true;
      case Env::value:
        return step_env_value();
      case Env::after_value:
        if (c == ',') {
          consume(1);
          env_ = Env::key;
        } else if (c == '}') {
          consume(1);
          if (env_nested_) {
            env_nested_ = false;
          } else {
            end_object();
          }
        } else {
          envelope_junk();
        }
        return true;
    }
    return false;
  }

  void begin_value() {
    const std::string& k = env_key_;
    if (k == "name" || k == "tool_name" || k == "function_name") {
      env_value_ = EnvValue::name;
    } else if (k == "id" || k == "tool_call_id") {
      env_value_ = EnvValue::id;
    } else if ((k == "arguments" || k == "parameters" || k == "args") && !args_seen_) {
      env_value_ = EnvValue::args;
      args_seen_ = true;
      json_ = JsonStreamer(true);
    } else if (spec_.name_is_key && name_.empty() && !args_seen_ && !call_open_) {
      env_value_ = EnvValue::keyed;
    } else {
      env_value_ = EnvValue::skip;
    }
    val_ = JsonStreamer(false);
    val_text_.clear();
    value_first_ = true;
  }

  bool step_env_value() {
    std::string_view r = rest();
    if (value_first_) {
      value_first_ = false;
      if (env_value_ == EnvValue::keyed) {
        env_value_ = EnvValue::skip;
        if (r[0] == '{') {  // {"NAME": {args}}
          name_ = env_key_;
          args_seen_ = true;
          json_ = JsonStreamer(true);
          env_value_ = EnvValue::args;
          if (!name_.empty()) start_with_pending();
        }
      }
      if (env_value_ == EnvValue::skip && env_key_ == "function" && !env_nested_ && r[0] == '{') {
        // OpenAI's {"type": "function", "function": {"name": .., "arguments": ..}}
        consume(1);
        env_nested_ = true;
        env_ = Env::key;
        return true;
      }
      if (env_value_ == EnvValue::args && r[0] == '"') env_value_ = EnvValue::args_string;
      if (env_value_ == EnvValue::args) {
        if (r[0] != '{') {
          env_value_ = EnvValue::skip;
          args_seen_ = false;
        } else {
          json_ = JsonStreamer(true);
        }
      }
    }
    bool streaming = env_value_ == EnvValue::args;
    JsonStreamer& js = streaming ? json_ : val_;
    std::string frag;
    size_t n = 0;
    JsonStreamer::Status s = JsonStreamer::Status::more;
    while (n < r.size()) {
      s = js.feed(r[n], frag);
      if (js.consumed()) n++;
      if (s != JsonStreamer::Status::more) break;
    }
    consume(n);
    if (streaming) {
      if (s == JsonStreamer::Status::error) js.complete(frag);
      if (call_open_) {
        emit_args(frag);
      } else {
        pending_args_ += frag;
      }
    } else if (env_value_ != EnvValue::skip) {
      val_text_ += frag;
      if (val_text_.size() > (env_value_ == EnvValue::args_string ? (64u << 20) : kMaxName)) {
        s = JsonStreamer::Status::error;
      }
    }
    if (s == JsonStreamer::Status::more) return false;
    if (s == JsonStreamer::Status::error) {
      if (streaming) {
        // The arguments were cut by something invalid: the call is what was valid.
        if (!call_open_ && !name_.empty()) start_with_pending();
        if (call_open_) end_call();
        envelope_junk();
        return true;
      }
      envelope_junk();
      return true;
    }
    finish_value();
    env_ = Env::after_value;
    return true;
  }

  void finish_value() {
    if (env_value_ == EnvValue::name || env_value_ == EnvValue::id ||
        env_value_ == EnvValue::args_string) {
      auto v = json::parse(val_text_);
      std::string s;
      if (v.ok() && v->is_string()) s = v->as_string();
      if (v.ok() && v->is_int()) s = std::to_string(v->as_int());
      if (env_value_ == EnvValue::name) {
        if (!s.empty() && !call_open_) {
          name_ = s;
          start_with_pending();
        }
      } else if (env_value_ == EnvValue::id) {
        if (!call_open_) id_ = s;
      } else {
        // Arguments written as a JSON string holding the object.
        auto inner = json::parse(s);
        std::string a = inner.ok() && inner->is_object() ? json::write(*inner) : "{}";
        if (call_open_) {
          emit_args(a);
        } else {
          pending_args_ = a;
        }
      }
    }
  }

  void start_with_pending() {
    start_call();
    if (!pending_args_.empty()) emit_args(pending_args_);
    pending_args_.clear();
  }

  void end_object() {
    if (!call_open_ && !name_.empty()) start_with_pending();
    if (call_open_) {
      if (!args_seen_) emit_args("{}");
      end_call();
    } else if (!section_has_call_) {
      section_fail();
      return;
    }
    reset_object();
    if (env_list_) {
      env_ = Env::elem;
    } else {
      st_ = St::sec_next;
    }
  }

  // Something that is not part of a call object: the section ends here.
  void envelope_junk() {
    if (call_open_) {
      std::string frag;
      if (env_value_ == EnvValue::args && !json_.done()) json_.complete(frag);
      if (!args_seen_) frag = "{}";
      emit_args(frag);
      end_call();
      st_ = St::skip_to_close;
      return;
    }
    if (!section_has_call_) {
      section_fail();
      return;
    }
    st_ = St::skip_to_close;
  }

  // ---- XML-style arguments
  bool step_xml_args(bool eof) {
    skip_ws();
    if (rest().empty()) return false;
    Match m = match(spec_.key_open, eof);
    if (m == Match::full) {
      consume(spec_.key_open.size());
      st_ = St::xml_key;
      return true;
    }
    Match c = match(spec_.xml_call_close, eof);
    if (c == Match::full) {
      consume(spec_.xml_call_close.size());
      close_xml_call();
      return true;
    }
    bool partial = m == Match::partial || c == Match::partial;
    match_any(spec_.call_close, eof, &partial);
    if (partial) return false;
    close_xml_call();  // junk or a closer of the section: the call ends
    return true;
  }

  void close_xml_call() {
    emit_args("}");
    end_call();
    st_ = St::sec_next;
  }

  bool step_xml_key(bool eof) {
    size_t p = rest().find(spec_.key_close);
    if (p == std::string_view::npos) {
      if (eof || rest().size() > kMaxName) {
        close_xml_call();
        return true;
      }
      return false;
    }
    key_ = std::string(trim_ws(rest().substr(0, p)));
    consume(p + spec_.key_close.size());
    st_ = spec_.value_open.empty() ? St::xml_value : St::xml_value_open;
    if (st_ == St::xml_value) start_xml_value();
    return true;
  }

  bool step_xml_value_open(bool eof) {
    skip_ws();
    if (rest().empty() && !eof) return false;
    Match m = match(spec_.value_open, eof);
    if (m == Match::partial) return false;
    if (m == Match::full) consume(spec_.value_open.size());
    st_ = St::xml_value;
    start_xml_value();
    return true;
  }

  void start_xml_value() {
    vtype_ = param_type(opt_.tools, name_, key_);
    value_buf_.clear();
    value_start_ = true;
    if (vtype_ == ValueType::string) {
      std::string s = first_arg_ ? "" : ",";
      json::write_string(s, key_);
      s += ":\"";
      emit_args(s);
      first_arg_ = false;
    }
  }

  bool step_xml_value(bool eof) {
    std::string_view r = rest();
    if (value_start_ && spec_.trim_value_newline) {
      if (r.empty() && !eof) return false;
      if (!r.empty()) {
        value_start_ = false;
        if (r[0] == '\n') {
          consume(1);
          r = rest();
        }
      }
    }
    value_start_ = false;
    // The value ends at its closer; a missing closer is tolerated before the next key or the
    // end of the call.
    size_t end = std::string_view::npos;
    size_t end_len = 0;
    size_t hold = 0;
    for (const std::string* m : {&spec_.value_close, &spec_.key_open, &spec_.xml_call_close}) {
      if (m->empty()) continue;
      size_t p = r.find(*m);
      if (p < end) {
        end = p;
        end_len = m == &spec_.value_close ? m->size() : 0;
      }
      hold = std::max(hold, partial_marker_tail(r, *m));
    }
    bool found = end != std::string_view::npos;
    size_t n = found ? end : (eof ? r.size() : r.size() - hold);
    std::string_view chunk = r.substr(0, n);
    if (found || eof) {
      if (spec_.trim_value_newline && !chunk.empty() && chunk.back() == '\n') chunk.remove_suffix(1);
    } else {
      if (spec_.trim_value_newline && !chunk.empty() && chunk.back() == '\n') {
        chunk.remove_suffix(1);
        n--;
      }
      size_t u = incomplete_utf8_tail(chunk);
      chunk.remove_suffix(u);
      n -= u;
    }
    if (vtype_ == ValueType::string) {
      std::string frag;
      append_json_escaped(frag, chunk);
      emit_args(frag);
    } else {
      value_buf_.append(chunk);
    }
    consume(n);
    if (!found && !eof) return false;
    if (found) consume(end_len);
    finish_xml_value();
    st_ = St::xml_args;
    return true;
  }

  void finish_xml_value() {
    if (vtype_ == ValueType::string) {
      emit_args("\"");
      return;
    }
    std::string s = first_arg_ ? "" : ",";
    first_arg_ = false;
    json::write_string(s, key_);
    s += ':';
    std::string_view t = trim_ws(value_buf_);
    auto v = json::parse(t);
    if (v.ok() && !t.empty()) {
      s.append(t);
    } else {
      std::string clean = utf8::sanitize(value_buf_);
      json::write_string(s, clean);
    }
    emit_args(s);
    value_buf_.clear();
  }

  // ---- end of generation
  void close_at_end() {
    switch (st_) {
      case St::content:
        break;
      case St::sec_start:
      case St::name:
        section_fail();
        run(true);
        break;
      case St::sec_next:
      case St::skip_to_close:
        break;
      case St::id:
        begin_call();
        [[fallthrough]];
      case St::args: {
        if (call_open_) {
          std::string frag;
          json_.complete(frag);
          emit_args(frag);
          end_call();
        }
        break;
      }
      case St::envelope: {
        if (env_ == Env::value && env_value_ == EnvValue::args && !json_.done()) {
          std::string frag;
          json_.complete(frag);
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
      case St::xml_value_open:
        close_xml_call();
        break;
      case St::xml_value:
        finish_xml_value();
        close_xml_call();
        break;
    }
    if (call_open_) {
      emit_args("{}");
      end_call();
    }
    pending_ws_.clear();
    st_ = St::content;
  }

  ParserSpec spec_;
  ParserOptions opt_;
  std::vector<OutputEvent>* out_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
  St st_ = St::content;
  bool thinking_ = false;
  bool text_started_ = false;
  bool block_fresh_ = true;
  std::string pending_ws_;
  std::string ws_before_section_;  // the text's trailing whitespace before a trigger
  std::string raw_;  // what the current section consumed, given back as text if no call
  bool section_has_call_ = false;
  // the current call
  std::string name_, id_;
  bool call_open_ = false;
  bool args_emitted_ = false;
  JsonStreamer json_;
  // envelope
  Env env_ = Env::begin;
  EnvValue env_value_ = EnvValue::skip;
  bool env_list_ = false;
  bool env_nested_ = false;  // inside {"function": {...}}
  bool args_seen_ = false;
  bool value_first_ = false;
  std::string env_key_;
  JsonStreamer val_{false};
  std::string val_text_;
  std::string pending_args_;
  // xml
  std::string key_;
  bool first_arg_ = true;
  ValueType vtype_ = ValueType::unknown;
  std::string value_buf_;
  bool value_start_ = false;
};

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

std::unique_ptr<OutputParser> make_output_parser(const OutputFormat& format,
                                                 const ParserOptions& options) {
  if (format.family == "gpt-oss") return detail::make_harmony_parser(options);
  if (format.family == "none" || format.family.empty()) {
    return std::make_unique<detail::PlainParser>();
  }
  return std::make_unique<detail::MarkupParser>(detail::parser_spec(format), options);
}

}  // namespace parley::chat
