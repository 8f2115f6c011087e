// How a model family writes tool calls and reasoning in its output: the data both the output
// parser (chat/output-parser.h) and the constrained-decoding grammar (sampling/) are built from,
// so that what the grammar forces is exactly what the parser reads back.
#pragma once

#include <string>
#include <vector>

namespace parley::chat {

// One or more calls are written as
//   begin  call  (separator call)*  end
//   call = call_prefix NAME name_suffix ARGS call_suffix
// ARGS is the arguments object: JSON (args == json), or, for XML-style families
// (Qwen3-Coder, GLM, MiniMax), a sequence of
//   arg_prefix KEY arg_middle VALUE arg_suffix
// where a string VALUE is written raw and any other VALUE as JSON; or, for pythonic families
// (args == python, LFM2: [get_weather(city="Paris", days=3)]), keyword arguments
//   KEY=VALUE (", " KEY=VALUE)*
// with each VALUE written as JSON (a JSON string or number is a Python literal too; the parser
// reads true/false/null as well as True/False/None).
struct CallSyntax {
  enum class Args { json, xml, python };
  Args args = Args::json;
  std::string begin;
  std::string call_prefix;
  std::string name_suffix;
  std::string call_suffix;
  std::string separator;
  std::string end;
  std::string arg_prefix;
  std::string arg_middle;
  std::string arg_suffix;
  // Gemma 4 (Args::json): ARGS is an object written with bare keys and <|"|> as the string
  // quote ({city:<|"|>Paris<|"|>,days:3}), not JSON.
  bool args_gemma = false;
  // Apriel-1.5 (Args::json): the template renders ARGS as a Python dict ({'city': 'Paris'}); the
  // parser reads that and JSON, the grammar forces JSON.
  bool args_python_dict = false;
  // Solar Open: call = call_prefix ID id_suffix NAME name_suffix ARGS call_suffix, ID being
  // id_length bytes of [a-z0-9] (the template asks for 10); empty id_suffix: no ID.
  std::string id_suffix;
  int id_length = 0;
  // Text that, once generated, means a tool call has started (the lazy grammar's trigger under
  // tool_choice auto; masked under tool_choice none when it is one token). Usually `begin`'s
  // first marker ("<tool_call>", "[TOOL_CALLS]").
  std::vector<std::string> triggers;
};

// Reasoning written as think_open ... think_close ("<think>" / "</think>", "[THINK]" /
// "[/THINK]"); empty when the family has none (or uses channels, see OutputFormat::family).
struct ReasoningSyntax {
  std::string think_open;
  std::string think_close;
  // What the template writes after think_close before the reply's next block (Solar Open:
  // "<|begin|>assistant"); a forced end of thinking and the tool grammar write it too.
  std::string after_close;
};

}  // namespace parley::chat
