// The families: detection from a chat template's source, the exact syntax each one writes
// (CallSyntax, what the grammar forces), and the more tolerant description the parser reads
// with (ParserSpec). Every marker here is what the family's own template renders for an
// assistant tool call / reasoning turn (see /work/shared/templates and the README table).
#include "base/json.h"
#include "chat/output-parser-impl.h"

namespace parley::chat {
namespace {

bool has(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

CallSyntax json_envelope(std::string begin, std::string separator, std::string end,
                         std::string args_key = "arguments") {
  CallSyntax c;
  c.begin = std::move(begin);
  c.call_prefix = "{\"name\": \"";
  c.name_suffix = "\", \"" + args_key + "\": ";
  c.call_suffix = "}";
  c.separator = std::move(separator);
  c.end = std::move(end);
  return c;
}

ReasoningSyntax think() {
  return {"<think>", "</think>"};
}

void add_markers(OutputFormat& f, std::initializer_list<const char*> m) {
  for (const char* s : m) f.special_markers.emplace_back(s);
}

// The JSON families of the priority list and the XML ones.
bool core_format(std::string_view family, OutputFormat& f) {
  CallSyntax& c = f.calls;
  if (family == "hermes" || family == "generic") {
    c = json_envelope("<tool_call>\n", "\n</tool_call>\n<tool_call>\n", "\n</tool_call>");
    c.triggers = {"<tool_call>"};
    add_markers(f, {"<tool_call>", "</tool_call>"});
  } else if (family == "qwen3-coder" || family == "seed-oss") {
    bool seed = family == "seed-oss";
    c.args = CallSyntax::Args::xml;
    c.begin = seed ? "<seed:tool_call>\n" : "<tool_call>\n";
    c.call_prefix = "<function=";
    c.name_suffix = ">\n";
    c.arg_prefix = "<parameter=";
    c.arg_middle = seed ? ">" : ">\n";
    c.arg_suffix = seed ? "</parameter>\n" : "\n</parameter>\n";
    c.call_suffix = "</function>";
    c.separator = seed ? "\n</seed:tool_call>\n<seed:tool_call>\n" : "\n</tool_call>\n<tool_call>\n";
    c.end = seed ? "\n</seed:tool_call>" : "\n</tool_call>";
    c.triggers = {seed ? "<seed:tool_call>" : "<tool_call>"};
    if (seed) {
      f.reasoning = {"<seed:think>", "</seed:think>"};
      add_markers(f, {"<seed:tool_call>", "</seed:tool_call>", "<seed:think>", "</seed:think>"});
    } else {
      add_markers(f, {"<tool_call>", "</tool_call>"});
    }
  } else if (family == "llama3") {
    // A bare JSON object at the start of the reply (one call per turn); <|python_tag|> too.
    // (The parser takes a bare object as a call only at the start of the reply.)
    c = json_envelope("", "", "", "parameters");
    c.triggers = {"{\"name\"", "<|python_tag|>"};
    add_markers(f, {"<|python_tag|>"});
  } else if (family == "mistral") {
    // Newer templates (Devstral, Mistral-Small-3.2, Ministral-3): name[ARGS]{...} per call;
    // older ones (v0.3, Nemo, Small-2501): one JSON list. detect_output_format picks.
    c.begin = "[TOOL_CALLS]";
    c.name_suffix = "[ARGS]";
    c.separator = "[TOOL_CALLS]";
    c.triggers = {"[TOOL_CALLS]"};
    add_markers(f, {"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "[THINK]", "[/THINK]"});
  } else if (family == "deepseek-v3.1") {
    c.begin = "<｜tool▁calls▁begin｜>";
    c.call_prefix = "<｜tool▁call▁begin｜>";
    c.name_suffix = "<｜tool▁sep｜>";
    c.call_suffix = "<｜tool▁call▁end｜>";
    c.end = "<｜tool▁calls▁end｜>";
    c.triggers = {"<｜tool▁calls▁begin｜>"};
    f.reasoning = think();
    add_markers(f, {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>",
                    "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "<think>", "</think>"});
  } else if (family == "deepseek-v3") {
    // DeepSeek-V3 / R1: the call's type, then the name, then the arguments in a json fence.
    c.begin = "<｜tool▁calls▁begin｜>";
    c.call_prefix = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>";
    c.name_suffix = "\n```json\n";
    c.call_suffix = "\n```<｜tool▁call▁end｜>";
    c.separator = "\n";
    c.end = "<｜tool▁calls▁end｜>";
    c.triggers = {"<｜tool▁calls▁begin｜>"};
    add_markers(f, {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>",
                    "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>"});
  } else if (family == "glm-4.5") {
    c.args = CallSyntax::Args::xml;
    c.begin = "<tool_call>";
    c.name_suffix = "\n";
    c.arg_prefix = "<arg_key>";
    c.arg_middle = "</arg_key>\n<arg_value>";
    c.arg_suffix = "</arg_value>\n";
    c.call_suffix = "</tool_call>";
    c.separator = "\n<tool_call>";
    c.triggers = {"<tool_call>"};
    f.reasoning = think();
    add_markers(f, {"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>",
                    "<think>", "</think>"});
  } else {
    return false;
  }
  return true;
}

// Kimi, MiniMax, gpt-oss.
bool core_format_2(std::string_view family, OutputFormat& f) {
  CallSyntax& c = f.calls;
  if (family == "kimi-k2") {
    // The call id is "functions.NAME:INDEX", INDEX counting the calls of the conversation.
    c.begin = "<|tool_calls_section_begin|>";
    c.call_prefix = "<|tool_call_begin|>functions.";
    c.name_suffix = ":0<|tool_call_argument_begin|>";
    c.call_suffix = "<|tool_call_end|>";
    c.end = "<|tool_calls_section_end|>";
    c.triggers = {"<|tool_calls_section_begin|>"};
    add_markers(f, {"<|tool_calls_section_begin|>", "<|tool_call_begin|>", "<|tool_call_argument_begin|>",
                    "<|tool_call_end|>", "<|tool_calls_section_end|>"});
  } else if (family == "minimax-m2") {
    c.args = CallSyntax::Args::xml;
    c.begin = "<minimax:tool_call>\n";
    c.call_prefix = "<invoke name=\"";
    c.name_suffix = "\">\n";
    c.arg_prefix = "<parameter name=\"";
    c.arg_middle = "\">";
    c.arg_suffix = "</parameter>\n";
    c.call_suffix = "</invoke>";
    c.separator = "\n";
    c.end = "\n</minimax:tool_call>";
    c.triggers = {"<minimax:tool_call>"};
    f.reasoning = think();
    add_markers(f, {"<minimax:tool_call>", "</minimax:tool_call>", "<think>", "</think>"});
  } else if (family == "gpt-oss") {
    // Harmony: a call is a commentary message addressed to functions.NAME. The parser reads
    // channels itself (analysis: thinking, final: text); these fields serve the grammar.
    // One call per turn: <|call|> ends the generation. After an analysis message the model
    // writes "<|start|>assistant" first (the parser takes either).
    c.call_prefix = "<|channel|>commentary to=functions.";
    c.name_suffix = " <|constrain|>json<|message|>";
    c.call_suffix = "<|call|>";
    c.triggers = {"<|channel|>commentary to=functions."};
    add_markers(
        f, {"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|call|>", "<|return|>", "<|constrain|>"});
  } else {
    return false;
  }
  return true;
}

// The smaller families.
bool more_format(std::string_view family, OutputFormat& f) {
  CallSyntax& c = f.calls;
  if (family == "nemotron") {
    c = json_envelope("<TOOLCALL>[", ", ", "]</TOOLCALL>");
    c.triggers = {"<TOOLCALL>"};
    f.reasoning = think();
    add_markers(f, {"<TOOLCALL>", "</TOOLCALL>", "<think>", "</think>"});
  } else if (family == "command-r7b") {
    c.begin = "<|START_ACTION|>[\n    ";
    c.call_prefix = "{\"tool_call_id\": \"0\", \"tool_name\": \"";
    c.name_suffix = "\", \"parameters\": ";
    c.call_suffix = "}";
    c.separator = ",\n    ";
    c.end = "\n]<|END_ACTION|>";
    c.triggers = {"<|START_ACTION|>"};
    f.reasoning = {"<|START_THINKING|>", "<|END_THINKING|>"};
    add_markers(f, {"<|START_ACTION|>", "<|END_ACTION|>", "<|START_THINKING|>", "<|END_THINKING|>",
                    "<|START_RESPONSE|>", "<|END_RESPONSE|>"});
  } else if (family == "granite") {
    c = json_envelope("<|tool_call|>[", ", ", "]");
    c.triggers = {"<|tool_call|>"};
    add_markers(f, {"<|tool_call|>"});
  } else if (family == "phi-4-mini") {
    c = json_envelope("<|tool_call|>[", ", ", "]<|/tool_call|>");
    c.triggers = {"<|tool_call|>"};
    add_markers(f, {"<|tool_call|>", "<|/tool_call|>"});
  } else if (family == "lfm2") {
    c = json_envelope("<|tool_call_start|>\n", "\n<|tool_call_end|>\n<|tool_call_start|>\n",
                      "\n<|tool_call_end|>");
    c.triggers = {"<|tool_call_start|>"};
    add_markers(f, {"<|tool_call_start|>", "<|tool_call_end|>"});
  } else if (family == "apriel") {
    c = json_envelope("<tool_calls>[", ", ", "]</tool_calls>");
    c.triggers = {"<tool_calls>"};
    f.reasoning = {"Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]"};
    add_markers(f, {"<tool_calls>", "</tool_calls>"});
  } else if (family == "apriel-1.5") {
    // Apriel-1.5 renders the arguments with |string: a Python dict inside the JSON envelope.
    c = json_envelope("<tool_calls>[", ", ", "]</tool_calls>");
    c.args_python_dict = true;
    c.triggers = {"<tool_calls>"};
    f.reasoning = {"Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]"};
    add_markers(f, {"<tool_calls>", "</tool_calls>"});
  } else if (family == "apertus") {
    // {"NAME": {args}} objects in a list.
    c.begin = "<|tools_prefix|>[";
    c.call_prefix = "{\"";
    c.name_suffix = "\": ";
    c.call_suffix = "}";
    c.separator = ", ";
    c.end = "]<|tools_suffix|>";
    c.triggers = {"<|tools_prefix|>"};
    f.reasoning = {"<|inner_prefix|>", "<|inner_suffix|>"};
    add_markers(f, {"<|tools_prefix|>", "<|tools_suffix|>", "<|inner_prefix|>", "<|inner_suffix|>"});
  } else if (family == "command-r") {
    c.begin = "Action: ```json\n[\n    ";
    c.call_prefix = "{\n        \"tool_name\": \"";
    c.name_suffix = "\",\n        \"parameters\": ";
    c.call_suffix = "\n    }";
    c.separator = ",\n    ";
    c.end = "\n]```";
    c.triggers = {"Action:"};
  } else if (family == "gigachat") {
    c = json_envelope("function call<|role_sep|>\n", "", "");
    c.triggers = {"function call<|role_sep|>", "<|function_call|>"};
    add_markers(f, {"<|role_sep|>", "<|message_sep|>", "<|function_call|>"});
  } else if (family == "lfm2-pythonic") {
    // LFM2 / LFM2.5: a Python list of calls, [get_weather(city="Paris", days=3), f()].
    c.args = CallSyntax::Args::python;
    c.begin = "<|tool_call_start|>[";
    c.name_suffix = "(";
    c.arg_middle = "=";
    c.arg_suffix = ", ";  // between arguments
    c.call_suffix = ")";
    c.separator = ", ";
    c.end = "]<|tool_call_end|>";
    c.triggers = {"<|tool_call_start|>"};
    add_markers(f, {"<|tool_call_start|>", "<|tool_call_end|>"});
  } else if (family == "solar-open") {
    // <|tool_calls|> then per call <|tool_call:begin|>ID<|tool_call:name|>NAME<|tool_call:args|>
    // {json}<|tool_call:end|>, then <|calls|>. The reply is <|think|>..<|end|> and
    // <|begin|>assistant<|content|>..<|end|> blocks (the prompt ends with <|begin|>assistant).
    c.begin = "<|tool_calls|>";
    c.call_prefix = "<|tool_call:begin|>";
    c.id_suffix = "<|tool_call:name|>";
    c.id_length = 10;
    c.name_suffix = "<|tool_call:args|>";
    c.call_suffix = "<|tool_call:end|>";
    c.end = "<|calls|>";
    c.triggers = {"<|tool_calls|>"};
    f.reasoning = {"<|think|>", "<|end|>", "<|begin|>assistant"};
    add_markers(f, {"<|begin|>", "<|content|>", "<|end|>", "<|think|>", "<|tool_calls|>", "<|tool_call:begin|>",
                    "<|tool_call:name|>", "<|tool_call:args|>", "<|tool_call:end|>", "<|calls|>"});
  } else if (family == "firefunction-v2") {
    // The reply's text, then " functools[" and a JSON list (no closing marker).
    c = json_envelope("functools[", ", ", "]");
    c.triggers = {"functools["};
  } else if (family == "gemma-4") {
    c.begin = "<|tool_call>";
    c.call_prefix = "call:";
    c.call_suffix = "<tool_call|>";
    c.separator = "<|tool_call>";
    c.args_gemma = true;
    c.triggers = {"<|tool_call>"};
    f.reasoning = {"<|channel>thought", "<channel|>"};
    add_markers(f, {"<|tool_call>", "<tool_call|>", "<|\"|>", "<|channel>", "<channel|>"});
  } else if (family == "functionary-v3.1") {
    c.call_prefix = "<function=";
    c.name_suffix = ">";
    c.call_suffix = "</function>";
    c.triggers = {"<function="};
  } else if (family == "functionary-v3.2") {
    // The generation prompt ends with ">>>": every message starts with a recipient line,
    // "all" for text.
    c.call_prefix = "";
    c.name_suffix = "\n";
    c.separator = ">>>";
    c.triggers = {">>>"};
  } else {
    return false;
  }
  return true;
}

// The family whose markers the template writes (most specific first).
std::string family_of(std::string_view src) {
  std::string family;
  if (has(src, "<|channel|>") && has(src, "<|message|>")) {
    family = "gpt-oss";
  } else if (has(src, "<minimax:tool_call>")) {
    family = "minimax-m2";
  } else if (has(src, "<seed:tool_call>")) {
    family = "seed-oss";
  } else if (has(src, "<|tool_calls_section_begin|>")) {
    family = "kimi-k2";
  } else if (has(src, "<arg_key>")) {
    family = "glm-4.5";
  } else if (has(src, "tool▁calls▁begin")) {
    family = has(src, "```json") ? "deepseek-v3" : "deepseek-v3.1";
  } else if (has(src, "<function=") && has(src, "<parameter=")) {
    family = "qwen3-coder";
  } else if (has(src, "[TOOL_CALLS]")) {
    family = "mistral";
  } else if (has(src, "<TOOLCALL>")) {
    family = "nemotron";
  } else if (has(src, "<|START_ACTION|>")) {
    family = "command-r7b";
  } else if (has(src, "<|tool_call>") && has(src, "<|\"|>")) {
    family = "gemma-4";
  } else if (has(src, "<|tool_call|>")) {
    family = has(src, "<|start_of_role|>") ? "granite" : "phi-4-mini";
  } else if (has(src, "<|start_header_id|>") && has(src, ">>>") && has(src, "all")) {
    family = "functionary-v3.2";
  } else if (has(src, "<|start_header_id|>") && has(src, "<function=")) {
    family = "functionary-v3.1";
  } else if (has(src, "<|tool_call_start|>")) {
    family = "lfm2";
  } else if (has(src, "List of tools:") && has(src, "<|im_start|>")) {
    // LFM2 templates that list the tools but leave the calls in the content: the model writes
    // them as <|tool_call_start|>[f(x=1)]<|tool_call_end|>.
    family = "lfm2-pythonic";
  } else if (has(src, "<tool_calls>") && has(src, "BEGIN FINAL RESPONSE")) {
    family = has(src, "['arguments']|string") ? "apriel-1.5" : "apriel";
  } else if (has(src, "<|tool_call:begin|>") && has(src, "<|tool_call:name|>")) {
    family = "solar-open";
  } else if (has(src, "functools[")) {
    family = "firefunction-v2";
  } else if (has(src, "<|tools_prefix|>")) {
    family = "apertus";
  } else if (has(src, "<|role_sep|>") && (has(src, "function call") || has(src, "<|function_call|>"))) {
    family = "gigachat";
  } else if (has(src, "<|START_OF_TURN_TOKEN|>") && has(src, "Action:") && has(src, "```json")) {
    family = "command-r";
  } else if (has(src, "<tool_call>")) {
    family = "hermes";
  } else if (has(src, "<|python_tag|>") ||
             (has(src, "<|start_header_id|>") && has(src, "\"parameters\"") && has(src, "tools"))) {
    family = "llama3";
  } else {
    family = "generic";
  }
  return family;
}

}  // namespace

OutputFormat output_format_for_family(std::string_view family) {
  OutputFormat f;
  f.family = std::string(family);
  if (!core_format(family, f) && !core_format_2(family, f) && !more_format(family, f)) {
    f.family = family.empty() ? "none" : std::string(family);
  }
  return f;
}

OutputFormat detect_output_format(std::string_view src) {
  std::string family = family_of(src);
  OutputFormat f = output_format_for_family(family);
  if (family == "mistral" && !has(src, "[ARGS]")) {
    f.calls = CallSyntax{};
    f.calls.begin = "[TOOL_CALLS][";
    f.calls.call_prefix = "{\"name\": \"";
    f.calls.name_suffix = "\", \"arguments\": ";
    f.calls.call_suffix = "}";
    f.calls.separator = ", ";
    f.calls.end = "]";
    f.calls.triggers = {"[TOOL_CALLS]"};
  }
  if (family == "mistral" && has(src, "[CALL_ID]")) f.calls.name_suffix = "[CALL_ID]";
  if (family == "glm-4.5" && has(src, "</arg_key><arg_value>")) {  // GLM-4.7: no newlines
    f.calls.name_suffix = "";
    f.calls.arg_middle = "</arg_key><arg_value>";
    f.calls.arg_suffix = "</arg_value>";
    f.calls.separator = "<tool_call>";
  }
  // Reasoning markers as the template writes them (families that think only in some models).
  if (f.reasoning.think_open.empty() && family != "gpt-oss") {
    if (has(src, "[THINK]")) {
      f.reasoning = {"[THINK]", "[/THINK]"};
    } else if (has(src, "<seed:think>")) {
      f.reasoning = {"<seed:think>", "</seed:think>"};
    } else if (has(src, "<think>") || has(src, "</think>")) {
      f.reasoning = think();
      bool listed = false;
      for (const auto& m : f.special_markers) listed |= m == "<think>";
      if (!listed) add_markers(f, {"<think>", "</think>"});
    }
  }
  if (family == "granite" && has(src, "<response>")) add_markers(f, {"<response>", "</response>"});
  return f;
}

bool prompt_opens_thinking(const OutputFormat& f, std::string_view prompt) {
  if (f.reasoning.think_open.empty()) return false;
  while (!prompt.empty() && detail::is_space(prompt.back())) prompt.remove_suffix(1);
  std::string_view open = f.reasoning.think_open;
  return prompt.size() >= open.size() && prompt.substr(prompt.size() - open.size()) == open;
}

std::string generic_tool_instructions(const std::vector<Tool>& tools) {
  std::string s =
      "You can call tools (functions) to help answer. The tools available, as JSON schemas:\n"
      "<tools>\n";
  for (const auto& t : tools) {
    json::Value v = json::Value::object();
    v["name"] = t.name;
    if (!t.description.empty()) v["description"] = t.description;
    v["parameters"] = t.parameters.is_null() ? json::Value::object() : t.parameters;
    s += json::write(v);
    s += '\n';
  }
  s += "</tools>\n\n"
       "To call a tool, write exactly one line per call, in this form (arguments as a JSON "
       "object matching the tool's parameters):\n"
       "<tool_call>{\"name\": \"TOOL_NAME\", \"arguments\": {\"ARG\": \"VALUE\"}}</tool_call>\n"
       "You may write several such lines to call several tools. After the calls, stop and wait: "
       "the results come back in the next message. Do not write a call as plain text or in a "
       "code block, and do not invent results.";
  return s;
}

namespace detail {

namespace {

// Reading the priority families.
bool core_spec(const std::string& fam, ParserSpec& p) {
  if (fam == "hermes" || fam == "generic") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<tool_call>"}};
    p.call_close = {"</tool_call>"};
  } else if (fam == "qwen3-coder" || fam == "seed-oss") {
    bool seed = fam == "seed-oss";
    p.style = CallStyle::xml;
    p.triggers = {{seed ? "<seed:tool_call>" : "<tool_call>"}, {"<function=", true, false}};
    p.call_open = {"<function="};
    p.name_end = {">"};
    p.key_open = "<parameter=";
    p.key_close = ">";
    p.value_close = "</parameter>";
    p.xml_call_close = "</function>";
    p.call_close = {seed ? "</seed:tool_call>" : "</tool_call>"};
    p.trim_value_newline = !seed;
  } else if (fam == "llama3") {
    p.style = CallStyle::envelope;
    p.triggers = {{"{", true, true}, {"<|python_tag|>"}};
    p.call_close = {";"};
  } else if (fam == "mistral") {
    p.style = CallStyle::named;
    p.triggers = {{"[TOOL_CALLS]"}};
    p.name_end = {"[ARGS]", "[CALL_ID]"};
    p.id_marker = "[CALL_ID]";
    p.args_open = "[ARGS]";
    p.envelope_if_json = true;
  } else if (fam == "deepseek-v3.1" || fam == "deepseek-v3") {
    p.style = CallStyle::named;
    p.triggers = {{"<｜tool▁calls▁begin｜>"}, {"<｜tool▁call▁begin｜>", true, false}};
    if (fam == "deepseek-v3") {
      p.call_open = {"<｜tool▁call▁begin｜>function<｜tool▁sep｜>", "<｜tool▁call▁begin｜>"};
      p.name_end = {"```json", "<｜tool▁sep｜>"};
      p.call_close = {"```", "<｜tool▁call▁end｜>"};
    } else {
      p.call_open = {"<｜tool▁call▁begin｜>"};
      p.name_end = {"<｜tool▁sep｜>"};
      p.call_close = {"<｜tool▁call▁end｜>"};
    }
    p.section_close = {"<｜tool▁calls▁end｜>"};
  } else if (fam == "glm-4.5") {
    p.style = CallStyle::xml;
    p.triggers = {{"<tool_call>"}};
    p.name_end = {"\n", "<arg_key>", "</tool_call>"};
    p.key_open = "<arg_key>";
    p.key_close = "</arg_key>";
    p.value_open = "<arg_value>";
    p.value_close = "</arg_value>";
    p.xml_call_close = "</tool_call>";
  } else if (fam == "kimi-k2") {
    p.style = CallStyle::named;
    p.triggers = {{"<|tool_calls_section_begin|>"}, {"<|tool_call_begin|>", true, false}};
    p.call_open = {"<|tool_call_begin|>"};
    p.name_end = {"<|tool_call_argument_begin|>"};
    p.call_close = {"<|tool_call_end|>"};
    p.section_close = {"<|tool_calls_section_end|>"};
    p.kimi_ids = true;
  } else if (fam == "minimax-m2") {
    p.style = CallStyle::xml;
    p.triggers = {{"<minimax:tool_call>"}};
    p.call_open = {"<invoke name=\""};
    p.name_end = {"\">"};
    p.key_open = "<parameter name=\"";
    p.key_close = "\">";
    p.value_close = "</parameter>";
    p.xml_call_close = "</invoke>";
    p.section_close = {"</minimax:tool_call>"};
  } else {
    return false;
  }
  return true;
}

// Reading the smaller families.
bool more_spec(const std::string& fam, ParserSpec& p) {
  if (fam == "nemotron") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<TOOLCALL>"}};
    p.section_close = {"</TOOLCALL>"};
  } else if (fam == "command-r7b") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<|START_ACTION|>"}};
    p.section_close = {"<|END_ACTION|>"};
    p.drop_markers = {"<|START_RESPONSE|>", "<|END_RESPONSE|>"};
  } else if (fam == "granite") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<|tool_call|>"}};
    p.drop_markers = {"<response>", "</response>"};
  } else if (fam == "phi-4-mini") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<|tool_call|>"}};
    p.section_close = {"<|/tool_call|>"};
  } else if (fam == "lfm2") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<|tool_call_start|>"}};
    p.call_close = {"<|tool_call_end|>"};
  } else if (fam == "apriel") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<tool_calls>"}};
    p.section_close = {"</tool_calls>"};
    p.drop_markers = {"[END FINAL RESPONSE]", "<|end|>"};
  } else if (fam == "apriel-1.5") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<tool_calls>"}};
    p.section_close = {"</tool_calls>"};
    p.drop_markers = {"[END FINAL RESPONSE]", "<|end|>"};
    p.python_dict_args = true;
  } else if (fam == "apertus") {
    p.style = CallStyle::envelope;
    p.triggers = {{"<|tools_prefix|>"}};
    p.section_close = {"<|tools_suffix|>"};
    p.name_is_key = true;
  } else if (fam == "command-r") {
    p.style = CallStyle::envelope;
    p.triggers = {{"Action:"}};
    p.section_open = {"```json", "```"};
    p.section_close = {"```"};
  } else if (fam == "gigachat") {
    p.style = CallStyle::envelope;
    p.triggers = {{"function call<|role_sep|>"}, {"<|function_call|>"}};
    p.drop_markers = {"<|message_sep|>"};
  } else if (fam == "lfm2-pythonic") {
    p.style = CallStyle::named;
    p.triggers = {{"<|tool_call_start|>"}};
    p.section_open = {"["};
    p.name_end = {"("};
    p.python_args = true;
    p.call_separator = ",";
    p.call_close = {"]"};
    p.section_close = {"<|tool_call_end|>"};
  } else if (fam == "solar-open") {
    p.style = CallStyle::named;
    p.triggers = {{"<|tool_calls|>"}, {"<|tool_call:begin|>", true, false}};
    p.call_open = {"<|tool_call:begin|>"};
    p.name_end = {"<|tool_call:name|>", "<|tool_call:args|>"};
    p.id_marker = "<|tool_call:name|>";
    p.args_open = "<|tool_call:args|>";
    p.id_first = true;
    p.call_close = {"<|tool_call:end|>"};
    p.section_close = {"<|calls|>"};
    p.drop_markers = {"<|begin|>assistant", "<|content|>", "<|end|>"};
  } else if (fam == "firefunction-v2") {
    p.style = CallStyle::envelope;
    p.triggers = {{"functools"}};
  } else if (fam == "gemma-4") {
    p.style = CallStyle::named;
    p.triggers = {{"<|tool_call>"}};
    p.call_open = {"call:"};
    p.name_end = {"{"};
    p.name_end_kept = true;
    p.gemma_args = true;
    p.call_close = {"<tool_call|>"};
  } else if (fam == "functionary-v3.1") {
    p.style = CallStyle::named;
    p.triggers = {{"<function=", true, false}};
    p.call_open = {"<function="};
    p.name_end = {">"};
    p.call_close = {"</function>"};
  } else if (fam == "functionary-v3.2") {
    p.style = CallStyle::named;
    p.triggers = {{">>>"}};
    p.name_end = {"\n"};
    p.text_name = "all";
    p.starts_in_section = true;
  } else {
    return false;
  }
  return true;
}

}  // namespace

ParserSpec parser_spec(const OutputFormat& f) {
  ParserSpec p;
  p.think_open = f.reasoning.think_open;
  p.think_close = f.reasoning.think_close;
  if (!core_spec(f.family, p)) more_spec(f.family, p);
  return p;
}

}  // namespace detail
}  // namespace parley::chat
