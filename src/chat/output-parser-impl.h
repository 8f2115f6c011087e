// Internals of the output parser shared by its files: the parse-side description of a family
// (more tolerant than CallSyntax, which says what the grammar forces) and small helpers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/output-parser.h"

namespace parley::chat::detail {

struct Trigger {
  std::string text;
  bool keep = false;      // the trigger is part of the call body (Llama's "{"): not consumed
  bool at_start = false;  // only before any text (Llama's bare JSON call)
};

// How the calls after a trigger are read.
enum class CallStyle {
  envelope,  // JSON objects {"name": .., "arguments": {..}}, alone or in a [list]
  named,     // [call_open] NAME name_end ARGS-json [call_close...]
  xml,       // [call_open] NAME name_end (key_open K key_close [value_open] V value_close)*
             // xml_call_close
};

struct ParserSpec {
  std::string think_open, think_close;
  CallStyle style = CallStyle::envelope;
  std::vector<Trigger> triggers;
  std::vector<std::string> call_open;      // opens one call inside a section (may be empty)
  std::vector<std::string> name_end;       // named/xml: ends the name
  std::string id_marker;                   // named: a name_end that introduces an id
  std::string args_open;                   // named: ends the id
  std::vector<std::string> call_close;     // optional markers after a call (any order)
  std::vector<std::string> section_close;  // optional marker ending the section
  bool envelope_if_json = false;           // named: a JSON list/object after the trigger is an envelope
  bool kimi_ids = false;                   // named: "functions.NAME:IDX" is the id, NAME the name
  std::string text_name;                   // named: a call of this name is text (functionary "all")
  bool starts_in_section = false;          // the prompt ends with the trigger (functionary v3.2 ">>>")
  // xml
  std::string key_open, key_close, value_open, value_close, xml_call_close;
  bool trim_value_newline = false;        // one leading and one trailing "\n" of a value dropped
  std::vector<std::string> drop_markers;  // wrappers of the reply text, removed (<response>)
  std::vector<std::string> section_open;  // envelope: optional after the trigger ("```json")
  bool name_is_key = false;               // envelope: {"NAME": {args}} objects (Apertus)
  bool name_end_kept = false;             // named: the name_end marker belongs to the arguments
  bool gemma_args = false;                // named: Gemma 4's {key:<|"|>str<|"|>,n:1} instead of JSON
  // named: pythonic calls NAME(key=value, ...) with Python literals (LFM2); the name is an
  // identifier and call_separator (",") leads to the next call of the list.
  bool python_args = false;
  std::string call_separator;
  bool python_dict_args = false;  // envelope: the arguments are a Python dict (Apriel-1.5)
  // named: call_open ID id_marker NAME args_open ARGS (Solar Open writes the id first); a
  // call_open NAME args_open without an id is read too.
  bool id_first = false;
};

ParserSpec parser_spec(const OutputFormat& format);

std::unique_ptr<OutputParser> make_harmony_parser(const ParserOptions& options);

inline bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// The text of one block (thinking, reply) with the whitespace templates put around markers
// trimmed: leading whitespace is dropped until the first other byte, trailing whitespace is held
// until more text follows it (and so dropped at the block's end).
struct TrimmedBlock {
  bool fresh = true;       // nothing but whitespace seen since the block started
  std::string pending_ws;  // trailing whitespace held back
  void reset() {
    fresh = true;
    pending_ws.clear();
  }
  // What s adds to the block now (held whitespace first, invalid UTF-8 as U+FFFD); "" when
  // nothing is due yet.
  std::string take(std::string_view s);
};

// How many bytes at the end of s could start a UTF-8 sequence still missing bytes.
size_t incomplete_utf8_tail(std::string_view s);
// The longest suffix of s that is a proper prefix of marker.
size_t partial_marker_tail(std::string_view s, std::string_view marker);
// Appends s JSON-escaped without quotes (invalid UTF-8 as U+FFFD).
void append_json_escaped(std::string& out, std::string_view s);
// Appends text as an event of that kind, merging with the last event when it is the same kind.
void append_event(std::vector<OutputEvent>& out, OutputEvent::Kind kind, std::string_view text);

}  // namespace parley::chat::detail
