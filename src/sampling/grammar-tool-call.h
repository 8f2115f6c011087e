// Tool-call grammars: the calls a model family writes (chat::CallSyntax), each call's arguments
// constrained by its tool's JSON schema, so that what the output parser reads back is valid by
// construction.
//
//   [think_open text... think_close (after_close | ws{0,2})]  (begin call (separator call)* end | ANSWER)
//   call = call_prefix NAME name_suffix ARGS call_suffix
//
// ARGS: JSON (the schema's grammar), or XML-style params: for each declared property in order
// (optional ones may be skipped) arg_prefix KEY arg_middle VALUE arg_suffix, where a property
// whose schema is `type: "string"` is written raw (any text up to arg_suffix, or one of its enum
// values) and any other as canonical JSON. XML-style arguments never hold undeclared properties.
// Pythonic arguments (LFM2): KEY arg_middle VALUE joined by arg_suffix, declared properties in
// order, each VALUE as JSON (a tool whose property keys are not Python identifiers has no
// grammar: an error, so under tool_choice auto the calls are parsed unconstrained and a forced
// tool_choice is refused). With id_suffix, call = call_prefix ID id_suffix NAME ... (Solar Open's
// model-written id, id_length bytes of [a-z0-9]).
//
// Lazy use (tool_choice auto): build without thinking and run the matcher with
// MatcherOptions{.lazy_triggers = syntax.triggers, .trigger_in_grammar = true} when the grammar
// starts with the trigger (begin or call_prefix begins with it), as every family's does.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "chat/call-syntax.h"
#include "chat/conversation.h"
#include "sampling/grammar.h"

namespace parley::sampling {

struct ToolGrammarOptions {
  std::string only_tool;  // non-empty: calls of this tool only (tool_choice {type: tool})
  bool parallel = true;   // false: exactly one call (disable_parallel_tool_use)
  // Free thinking first (think_open ... think_close), when think_open is not empty.
  chat::ReasoningSyntax thinking;
  bool thinking_started = false;  // the prompt already ends with think_open
  bool strict = false;            // unsupported schema features are errors
  // Set: a JSON answer of this schema is the alternative to the calls (tool_choice auto with a
  // structured output format), and the grammar runs from the first token, not lazily.
  const json::Value* answer_schema = nullptr;
  std::string answer_path = "output_config.format.schema";
  bool answer_strict = false;
  std::vector<std::string>* warnings = nullptr;  // where non-strict findings go (may be null)
};

Result<Grammar> tool_call_grammar(const chat::CallSyntax& syntax,
                                  std::span<const chat::Tool> tools,
                                  const ToolGrammarOptions& options);

}  // namespace parley::sampling
