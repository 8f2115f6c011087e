// The streaming output parser: turns a model's generated text into reasoning, text and tool
// calls, per model family. The family is detected from the chat template's source (what the
// template renders for an assistant tool call is what the model was trained to emit).
//
//   chat::OutputFormat fmt = chat::detect_output_format(tpl.source());
//   chat::ParserOptions opt{.starts_in_thinking = chat::prompt_opens_thinking(fmt, prompt),
//                           .parse_tool_calls = !conv.tools.empty(), .tools = &conv.tools};
//   auto parser = chat::make_output_parser(fmt, opt);
//   std::vector<chat::OutputEvent> events;
//   for (each decoded piece) parser->push(piece, events);   // split anywhere
//   parser->finish(events);
//
// Text and thinking events never hold a partial marker or a partial UTF-8 sequence; the
// tool_call_args fragments of one call concatenate to one JSON object (keys in generated order)
// and are streamed as generated. Nothing in the input makes the parser crash, hang or go
// quadratic: invalid calls are closed with what was valid, or given back as text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/call-syntax.h"
#include "chat/conversation.h"

namespace parley::chat {

struct OutputEvent {
  enum class Kind { text, thinking, tool_call_start, tool_call_args, tool_call_end };
  Kind kind = Kind::text;
  std::string text;  // text/thinking delta; tool_call_args: a fragment of the arguments JSON
  std::string name;  // tool_call_start: the tool's name
  std::string id;    // tool_call_start: the call id when the format carries one, else ""
};

struct OutputFormat {
  // "hermes", "qwen3-coder", "llama3", "mistral", "deepseek-v3" (V3/R1: ```json fenced args),
  // "deepseek-v3.1", "glm-4.5", "kimi-k2", "minimax-m2", "gpt-oss", "seed-oss", "gemma-4",
  // "nemotron", "command-r7b", "command-r", "granite", "phi-4-mini", "functionary-v3.1",
  // "functionary-v3.2", "lfm2", "lfm2-pythonic" (LFM2/LFM2.5's [f(k="v")] Python calls),
  // "apriel", "apriel-1.5" (Python-dict arguments), "solar-open", "firefunction-v2", "apertus",
  // "gigachat", "generic" (the template has no
  // tool-call syntax we read: our own JSON envelope, see generic_tool_instructions), "none"
  // (plain text, never detected).
  std::string family;
  CallSyntax calls;           // how to write a call of this family (the grammar forces this)
  ReasoningSyntax reasoning;  // empty when the family has no <think>-style markers
  // Control-token texts the parser must see in the generated text: the server decodes control
  // tokens to text only when they are in this list.
  std::vector<std::string> special_markers;
};

OutputFormat detect_output_format(std::string_view template_source);
// The format of a family by name ("none" and unknown names: plain text).
OutputFormat output_format_for_family(std::string_view family);

// Whether a rendered prompt (with generation prompt) leaves the model already inside a
// thinking block (templates that end the generation prompt with "<think>\n").
bool prompt_opens_thinking(const OutputFormat& f, std::string_view prompt_text);

// For the "generic" family: the system-prompt text that tells a model without native tool
// support how to call tools (listing them) in the JSON envelope the same parser reads back.
std::string generic_tool_instructions(const std::vector<Tool>& tools);

struct ParserOptions {
  bool starts_in_thinking = false;
  bool parse_tool_calls = true;              // false when the request has no tools or tool_choice none
  const std::vector<Tool>* tools = nullptr;  // schemas, to type XML-style parameters
};

class OutputParser {
 public:
  virtual ~OutputParser() = default;
  // Feeds generated text, split anywhere (even inside a marker or a UTF-8 sequence).
  virtual void push(std::string_view text, std::vector<OutputEvent>& out) = 0;
  // End of generation: flushes what is held back; an unterminated tool call is closed (its
  // args fragments completed so that they concatenate to valid JSON).
  virtual void finish(std::vector<OutputEvent>& out) = 0;
};

std::unique_ptr<OutputParser> make_output_parser(const OutputFormat& format, const ParserOptions& options);

}  // namespace parley::chat
