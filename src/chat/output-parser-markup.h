// The marker-driven output parser used by every family but gpt-oss (output-parser-harmony.cpp):
// text and thinking between reasoning markers, and after a trigger a section of calls read in
// one of three styles (see ParserSpec). Bytes are consumed once: whatever is not yet decided is
// left in buf_ (at most a marker's length, a name or a key), everything else moves on, so the
// work per byte is bounded whatever the input. Internal: output-parser.cpp (text, sections,
// named calls), output-parser-envelope.cpp (JSON envelopes), output-parser-xml.cpp (XML args).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/output-parser-impl.h"
#include "chat/output-parser-json.h"
#include "chat/output-parser-python.h"

namespace parley::chat::detail {

using Kind = OutputEvent::Kind;
constexpr size_t kMaxName = 512;  // a name, key or id longer than this is not one

enum class Match { none, partial, full };

// The type a tool's schema gives a parameter: string (streamed), other (raw JSON), unknown.
enum class ValueType { string, other, unknown };

inline std::string_view trim_ws(std::string_view s) {
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
    at_end_ = true;
    run(true);
    close_at_end();
    buf_.clear();
    pos_ = 0;
  }

 private:
  enum class St {
    content,
    sec_start,
    sec_next,
    name,
    id,
    args,
    envelope,
    xml_args,
    xml_key,
    xml_value_open,
    xml_value,
    skip_to_close
  };
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
  int match_any(const std::vector<std::string>& markers, bool eof, bool* partial) const;
  void skip_ws() {
    size_t n = 0;
    std::string_view r = rest();
    while (n < r.size() && is_space(r[n])) n++;
    consume(n);
  }

  // ---- events
  void emit(Kind k, std::string_view s) { append_event(*out_, k, s); }
  void emit_content(std::string_view s);
  void new_block() { trim_.reset(); }
  void emit_args(std::string_view s) {
    if (s.empty()) return;
    emit(Kind::tool_call_args, s);
    args_emitted_ = true;
  }
  void start_call();
  void end_call();

  void run(bool eof) {
    while (step(eof)) {
    }
  }

  bool step(bool eof);

  // ---- content and thinking
  bool step_content(bool eof);

  // Not a call after all: what the section consumed goes out as text.
  void section_fail();

  bool begin_section_body();

  bool step_sec_start(bool eof);

  bool step_sec_next(bool eof);

  // ---- named calls: NAME name_end [id args_open] JSON
  // Finds the earliest of markers in rest(); npos when none. *which: its index.
  size_t find_first(const std::vector<std::string>& markers, size_t* which) const;

  bool step_name(bool eof);

  bool step_id(bool eof);

  void begin_call();

  template <class Streamer>
  bool step_args(Streamer& streamer);  // json_ or py_ (output-parser.cpp)
  bool step_gemma_args(bool eof);      // output-parser-gemma.cpp
  // What a step over streamed arguments produced goes out; a finished (or broken) argument
  // object ends the call.
  bool end_args_step(JsonStreamer::Status s, std::string_view frag, size_t n);

  // The arguments' scanner: JSON, or Python literals converted to JSON.
  bool python_scan() const { return spec_.python_args || spec_.python_dict_args; }
  void reset_args() {
    json_ = JsonStreamer(true);
    py_ = PythonArgsStreamer(spec_.python_dict_args ? PythonArgsStreamer::Shape::dict
                                                    : PythonArgsStreamer::Shape::kwargs);
  }
  JsonStreamer::Status feed_args(char c, std::string& out) {
    return python_scan() ? py_.feed(c, out) : json_.feed(c, out);
  }
  bool args_consumed() const { return python_scan() ? py_.consumed() : json_.consumed(); }
  bool args_done() const { return python_scan() ? py_.done() : json_.done(); }
  void complete_args(std::string& out) {
    if (python_scan()) {
      py_.complete(out);
    } else {
      json_.complete(out);
    }
  }

  // After invalid arguments: the rest of the call is dropped up to its closing marker (or,
  // for formats without one, it is text again).
  bool step_skip_to_close(bool eof);

  // ---- envelope: {"name": .., "arguments": {..}} objects, alone or in a list
  void start_envelope();
  void reset_object();

  bool step_envelope(bool eof);
  bool step_env_key(std::string_view r, bool eof);

  void begin_value();

  bool step_env_value();

  void finish_value();

  void start_with_pending();

  void end_object();

  // Something that is not part of a call object: the section ends here.
  void envelope_junk();

  // ---- XML-style arguments
  bool step_xml_args(bool eof);

  void close_xml_call();

  bool step_xml_key(bool eof);

  bool step_xml_value_open(bool eof);

  void start_xml_value();

  bool step_xml_value(bool eof);

  void finish_xml_value();

  // ---- end of generation
  void close_at_end();

  ParserSpec spec_;
  ParserOptions opt_;
  std::vector<OutputEvent>* out_ = nullptr;
  std::string buf_;
  size_t pos_ = 0;
  St st_ = St::content;
  bool thinking_ = false;
  bool text_started_ = false;
  TrimmedBlock trim_;
  std::string ws_before_section_;  // the text's trailing whitespace before a trigger
  std::string raw_;                // what the current section consumed, given back as text if no call
  bool section_has_call_ = false;
  bool any_call_ = false;  // a call has ended in this output
  bool at_end_ = false;    // finish() runs: nothing more will come
  // the current call
  std::string name_, id_;
  bool call_open_ = false;
  bool args_emitted_ = false;
  // Gemma 4 arguments (converted to JSON, then through json_)
  bool gemma_in_string_ = false;
  bool gemma_expect_key_ = false;
  std::vector<char> gemma_stack_;
  std::string gemma_key_;
  JsonStreamer json_;
  PythonArgsStreamer py_;  // pythonic / Python-dict arguments (converted to JSON)
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

}  // namespace parley::chat::detail
