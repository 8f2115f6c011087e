// How an answer is read and steered, per request: the family's output parser, thinking
// (forced opener, budget, masked opener), tool_choice (forced or lazy grammar, masked opener) and
// structured output (a JSON-schema grammar for the final text; thinking stays free).
#include <algorithm>

#include "api/service.h"
#include "base/log.h"
#include "base/sha256.h"
#include "sampling/grammar-constraint.h"
#include "sampling/grammar-tool-call.h"
#include "sampling/json-schema.h"

namespace parley::api {

std::vector<engine::TokenId> Service::marker_tokens(std::string_view text) const {
  tokenizer::EncodeOptions opt;
  opt.parse_special = true;
  return tokenizer_.encode(text, opt);
}

std::shared_ptr<const sampling::TokenVocab> Service::token_vocab() const {
  std::call_once(vocab_once_, [&] {
    vocab_ = std::make_shared<const sampling::TokenVocab>(sampling::TokenVocab::from_tokenizer(tokenizer_));
  });
  return vocab_;
}

std::shared_ptr<const sampling::CompiledGrammar> Service::compiled_grammar(
    const std::string& key, const std::function<Result<sampling::Grammar>()>& build,
    const sampling::MatcherOptions& options, Status& status) const {
  // Agents send the same tools every turn: the compiled grammar (and its mask cache) is kept.
  const std::string digest = to_hex(sha256(key));
  {
    std::lock_guard lock(grammar_mu_);
    for (auto& [k, g] : grammars_) {
      if (k == digest) return g;
    }
  }
  auto grammar = build();
  if (!grammar.ok()) {
    status = grammar.error();
    return nullptr;
  }
  auto compiled = std::make_shared<const sampling::CompiledGrammar>(std::move(grammar).value(), token_vocab(), options);
  std::lock_guard lock(grammar_mu_);
  grammars_.emplace_back(digest, compiled);
  if (grammars_.size() > 16) grammars_.erase(grammars_.begin());
  return compiled;
}

Status Service::plan_tools(const ChatRequest& req, const chat::OutputFormat& f, bool thinking, GenerationSpec& spec) {
  const auto& tools = req.conversation.tools;
  const ToolChoiceMode mode = req.tool_choice.mode;
  if (mode == ToolChoiceMode::none) {
    // The call's opening marker never comes when it is one token (as text it stays text: the
    // parser does not look for calls).
    std::vector<engine::TokenId> banned;
    for (const std::string& t : f.calls.triggers) {
      auto ids = marker_tokens(t);
      if (ids.size() == 1) banned.push_back(ids[0]);
    }
    if (!banned.empty()) spec.sampling_constraints.push_back(sampling::ban_tokens(std::move(banned)));
    return {};
  }
  if (f.calls.triggers.empty() && f.calls.call_prefix.empty()) return {};  // no call syntax
  const bool forced = mode == ToolChoiceMode::any || mode == ToolChoiceMode::tool;
  const bool strict = std::any_of(tools.begin(), tools.end(), [](const chat::Tool& t) { return t.strict; });
  sampling::ToolGrammarOptions o;
  o.only_tool = mode == ToolChoiceMode::tool ? req.tool_choice.name : "";
  o.parallel = !req.tool_choice.disable_parallel_tool_use;
  // A structured answer is the other way out of an auto turn: calls or the schema's JSON, so the
  // grammar runs from the first token (tool_choice any/tool leaves only calls).
  const bool with_answer = !forced && !req.output_schema.is_null();
  if (with_answer) {
    o.answer_schema = &req.output_schema;
    o.answer_strict = req.output_schema_strict;
  }
  const bool from_first_token = forced || with_answer;
  if (from_first_token && thinking) {
    o.thinking = f.reasoning;
    o.thinking_started = spec.starts_in_thinking;
  }
  o.strict = strict;
  std::vector<std::string> warnings;
  o.warnings = &warnings;
  sampling::MatcherOptions mo;
  if (!from_first_token) {
    // tool_choice auto: free until the model opens a call, then its arguments follow the schema.
    mo.lazy_triggers = f.calls.triggers;
    mo.trigger_in_grammar = true;
  }
  std::string key = std::string(forced ? "forced:" : with_answer ? "answer:" : "lazy:") + o.only_tool + (o.parallel ? "p" : "1") +
                    o.thinking.think_open + (o.thinking_started ? "s" : "") + (strict ? "!" : "") + f.family;
  for (const auto& t : tools) key += t.name + "\n" + json::write(t.parameters) + "\n";
  if (with_answer) key += (o.answer_strict ? "answer!" : "answer") + json::write(req.output_schema);
  Status status;
  auto g = compiled_grammar(key, [&] { return sampling::tool_call_grammar(f.calls, tools, o); }, mo, status);
  for (const auto& w : warnings) log_debug("tool grammar: %s", w.c_str());
  if (!g) {
    // Under strict the schema must be honoured: a 400 naming the field. Otherwise the call is
    // still parsed, only not constrained.
    if (strict || from_first_token) return status.error().with_code(ErrorCode::invalid);
    log_warn("tool grammar: %s (tool calls are parsed but not constrained)", status.error().message.c_str());
    return {};
  }
  spec.sampling_constraints.insert(spec.sampling_constraints.begin(), sampling::grammar_constraint(g));
  return {};
}

Status Service::plan_structured_output(const ChatRequest& req, const chat::OutputFormat* f, bool thinking,
                                       GenerationSpec& spec) {
  if (req.output_schema.is_null()) return {};
  const bool free_thinking = f != nullptr && thinking && !f->reasoning.think_open.empty();
  sampling::SchemaOptions so;
  so.strict = req.output_schema_strict;
  so.path = "output_config.format.schema";
  std::vector<std::string> warnings;
  auto build = [&]() -> Result<sampling::Grammar> {
    sampling::GrammarBuilder b;
    PARLEY_TRY(sampling::NodeId value, sampling::add_json_schema(b, req.output_schema, so, warnings));
    if (!free_thinking) return b.build(value);
    // Thinking stays free: think_open ... think_close, then the JSON.
    const chat::ReasoningSyntax& r = f->reasoning;
    sampling::NodeId think = b.text_until(r.think_close);
    if (!spec.starts_in_thinking) think = b.seq({b.literal(r.think_open), think});
    sampling::NodeId ws = b.repeat(b.literal("\n"), 0, 2);
    return b.build(b.seq({think, ws, value}));
  };
  std::string key = "schema" + std::string(free_thinking ? "t" : "") + (spec.starts_in_thinking ? "s" : "") +
                    (so.strict ? "!" : "") + json::write(req.output_schema);
  Status status;
  auto g = compiled_grammar(key, build, sampling::MatcherOptions{}, status);
  for (const auto& w : warnings) log_debug("output schema: %s", w.c_str());
  if (!g) return status.error().with_code(ErrorCode::invalid);
  spec.sampling_constraints.insert(spec.sampling_constraints.begin(), sampling::grammar_constraint(g));
  return {};
}

Status Service::plan_output(const ChatRequest& req, const Prompt& prompt, Shape shape, GenerationSpec& spec) {
  spec.new_tool_id = tool_id_maker(shape);
  spec.sign_thinking = thinking_signer();
  const chat::OutputFormat* f = config_.output_format.get();
  if (f == nullptr) return plan_structured_output(req, nullptr, false, spec);
  spec.format = config_.output_format;
  const bool has_tools = !req.conversation.tools.empty();
  spec.parse_tool_calls = has_tools && req.tool_choice.mode != ToolChoiceMode::none;
  spec.tools = req.conversation.tools;
  spec.stop_after_first_call = req.tool_choice.disable_parallel_tool_use;
  spec.starts_in_thinking = chat::prompt_opens_thinking(*f, prompt.text);

  const chat::ReasoningSyntax& r = f->reasoning;
  const bool has_reasoning = !r.think_open.empty() && !r.think_close.empty();
  const bool thinking = has_reasoning && req.enable_thinking.value_or(spec.starts_in_thinking);
  if (thinking) {
    int32_t n_before_budget = 0;
    if (!spec.starts_in_thinking) {
      // The answer starts in thinking, even from a model that would skip it.
      auto open = marker_tokens(r.think_open);
      n_before_budget = static_cast<int32_t>(open.size());
      spec.sampling_constraints.push_back(sampling::force_after(0, std::move(open)));
    }
    if (req.thinking_budget > 0) {
      // budget_tokens: the family's end of thinking is forced once the budget is spent.
      const int64_t budget = std::min<int64_t>(req.thinking_budget, INT32_MAX - n_before_budget);
      spec.sampling_constraints.push_back(sampling::force_after(static_cast<int32_t>(budget) + n_before_budget,
                                                                marker_tokens(r.think_close + r.after_close)));
    }
  } else if (has_reasoning && !spec.starts_in_thinking) {
    // Thinking is off: a stray opener is masked (the template's no-think control did the rest).
    auto open = marker_tokens(r.think_open);
    if (open.size() == 1) spec.sampling_constraints.push_back(sampling::ban_tokens(std::move(open)));
  }
  if (has_tools) PARLEY_CHECK_OK(plan_tools(req, *f, thinking, spec));
  // One grammar at a time: with tools that may be called, the tool grammar (which holds the JSON
  // answer as the alternative to calls when a format is asked for); without, the answer's.
  if (!spec.parse_tool_calls) PARLEY_CHECK_OK(plan_structured_output(req, f, thinking, spec));
  return {};
}

}  // namespace parley::api
