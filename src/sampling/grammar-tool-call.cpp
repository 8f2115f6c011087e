#include "sampling/grammar-tool-call.h"

#include <algorithm>
#include <cctype>

#include "sampling/json-schema-compiler.h"

namespace parley::sampling {

namespace {

bool is_raw_string(const json::Value& s) {
  const json::Value* t = s.find("type");
  return t && t->is_string() && t->as_string() == "string";
}

// arg_prefix KEY arg_middle VALUE arg_suffix for one property.
Result<NodeId> xml_param(SchemaCompiler& c, const chat::CallSyntax& syn, const std::string& key,
                         const json::Value& schema, const std::string& path) {
  GrammarBuilder& b = c.builder();
  NodeId head = b.literal(syn.arg_prefix + key + syn.arg_middle);
  PARLEY_TRY(json::Value flat, c.flatten(schema, path));
  if (!is_raw_string(flat)) {
    PARLEY_TRY(NodeId value, c.compile(flat, path));
    return b.seq({head, value, b.literal(syn.arg_suffix)});
  }
  const json::Value* e = flat.find("enum");
  const json::Value* k = flat.find("const");
  if (k && k->is_string()) return b.literal(syn.arg_prefix + key + syn.arg_middle + k->as_string() + syn.arg_suffix);
  if (e && e->is_array()) {
    std::vector<NodeId> alts;
    for (const auto& v : e->as_array()) {
      if (v.is_string()) alts.push_back(b.literal(v.as_string() + syn.arg_suffix));
    }
    if (!alts.empty()) return b.seq({head, b.choice(std::move(alts))});
  }
  for (const char* kw : {"pattern", "format", "minLength", "maxLength"}) {
    if (flat.find(kw)) PARLEY_CHECK_OK(c.issue(SchemaCompiler::join(path, kw), "not enforced on a raw XML value"));
  }
  if (syn.arg_suffix.empty()) return Error{"tool call syntax: XML arguments need an arg_suffix"};
  return b.seq({head, b.text_until(syn.arg_suffix)});
}

Result<NodeId> xml_args(SchemaCompiler& c, const chat::CallSyntax& syn, const json::Value& params,
                        const std::string& path) {
  GrammarBuilder& b = c.builder();
  PARLEY_TRY(json::Value flat, c.flatten(params, path));
  const std::vector<std::string> required = SchemaCompiler::required_names(flat);
  const json::Value* props = flat.find("properties");
  std::vector<std::string> declared;
  NodeId rest = b.empty();
  std::vector<std::pair<NodeId, bool>> params_in_order;
  if (props && props->is_object()) {
    for (const auto& [k, v] : props->as_object()) {
      if (std::find(declared.begin(), declared.end(), k) != declared.end()) continue;
      declared.push_back(k);
      bool req = std::find(required.begin(), required.end(), k) != required.end();
      PARLEY_TRY(NodeId p, xml_param(c, syn, k, v, SchemaCompiler::join(SchemaCompiler::join(path, "properties"), k)));
      params_in_order.push_back({p, req});
    }
  }
  for (const auto& r : required) {
    if (std::find(declared.begin(), declared.end(), r) == declared.end()) {
      PARLEY_CHECK_OK(c.issue(SchemaCompiler::join(path, "required"), "required '" + r + "' is not declared"));
    }
  }
  for (size_t i = params_in_order.size(); i-- > 0;) {
    NodeId with = b.seq({params_in_order[i].first, rest});
    rest = params_in_order[i].second ? with : b.choice({with, rest});
  }
  return rest;
}

// Pythonic keyword arguments: KEY arg_middle VALUE, joined by arg_suffix, each VALUE as the
// property's JSON (declared properties in order, optional ones may be skipped).
Result<NodeId> python_args(SchemaCompiler& c, const chat::CallSyntax& syn, const json::Value& params,
                           const std::string& path) {
  GrammarBuilder& b = c.builder();
  PARLEY_TRY(json::Value flat, c.flatten(params, path));
  const std::vector<std::string> required = SchemaCompiler::required_names(flat);
  struct Param {
    std::string key;
    NodeId value;
    bool required;
  };
  std::vector<Param> params_in_order;
  if (const json::Value* props = flat.find("properties"); props && props->is_object()) {
    for (const auto& [k, v] : props->as_object()) {
      bool seen = false;
      for (const auto& p : params_in_order) seen |= p.key == k;
      if (seen) continue;
      bool ident = !k.empty() && !(k[0] >= '0' && k[0] <= '9');
      for (char ch : k) ident &= std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
      if (!ident) {
        return Error{"tool call syntax: pythonic calls cannot be constrained for property '" + k +
                     "' (not a Python identifier, so not a keyword argument)"};
      }
      bool req = std::find(required.begin(), required.end(), k) != required.end();
      PARLEY_TRY(NodeId value, c.compile(v, SchemaCompiler::join(SchemaCompiler::join(path, "properties"), k)));
      params_in_order.push_back({k, value, req});
    }
  }
  for (const auto& r : required) {
    bool declared = false;
    for (const auto& p : params_in_order) declared |= p.key == r;
    if (!declared) {
      PARLEY_CHECK_OK(c.issue(SchemaCompiler::join(path, "required"), "required '" + r + "' is not declared"));
    }
  }
  // first: the rest when nothing was written yet; after: the rest after an argument (each
  // further one preceded by the separator).
  NodeId first = b.empty();
  NodeId after = b.empty();
  for (size_t i = params_in_order.size(); i-- > 0;) {
    const Param& p = params_in_order[i];
    NodeId head = b.seq({b.literal(p.key + syn.arg_middle), p.value});
    NodeId first_with = b.seq({head, after});
    NodeId after_with = b.seq({b.literal(syn.arg_suffix), head, after});
    first = p.required ? first_with : b.choice({first_with, first});
    after = p.required ? after_with : b.choice({after_with, after});
  }
  return first;
}

}  // namespace

Result<Grammar> tool_call_grammar(const chat::CallSyntax& syntax,
                                  std::span<const chat::Tool> tools,
                                  const ToolGrammarOptions& options) {
  GrammarBuilder b;
  std::vector<std::string> warnings;
  std::vector<NodeId> calls;
  static const json::Value empty_object = json::Value(json::Object{{"type", "object"}});
  for (size_t i = 0; i < tools.size(); i++) {
    const chat::Tool& tool = tools[i];
    if (!options.only_tool.empty() && tool.name != options.only_tool) continue;
    SchemaOptions so;
    so.strict = options.strict;
    so.path = "tools." + std::to_string(i) + ".input_schema";
    const json::Value& params = tool.parameters.is_null() ? empty_object : tool.parameters;
    SchemaCompiler c(b, params, so, warnings);
    NodeId args = 0;
    if (syntax.args == chat::CallSyntax::Args::json) {
      PARLEY_TRY(args, c.compile(params, ""));
    } else if (syntax.args == chat::CallSyntax::Args::python) {
      PARLEY_TRY(args, python_args(c, syntax, params, ""));
    } else {
      PARLEY_TRY(args, xml_args(c, syntax, params, ""));
    }
    NodeId head = b.literal(syntax.call_prefix + tool.name + syntax.name_suffix);
    if (!syntax.id_suffix.empty()) {
      // call_prefix ID id_suffix NAME: the id is the model's ([a-z0-9], the template's length).
      ByteSet id;
      id.add_range('a', 'z');
      id.add_range('0', '9');
      const auto n = static_cast<uint32_t>(std::max(syntax.id_length, 1));
      head = b.seq({b.literal(syntax.call_prefix), b.repeat(b.byte_set(id), n, n),
                    b.literal(syntax.id_suffix + tool.name + syntax.name_suffix)});
    }
    calls.push_back(b.seq({head, args, b.literal(syntax.call_suffix)}));
  }
  if (calls.empty()) {
    return Error{options.only_tool.empty() ? "tool call grammar: no tools"
                                           : "tool call grammar: no tool named '" + options.only_tool + "'"};
  }
  NodeId call = b.choice(std::move(calls));
  NodeId body = options.parallel
                    ? b.seq({call, b.star(b.seq({b.literal(syntax.separator), call}))})
                    : call;
  std::vector<NodeId> parts;
  if (!options.thinking.think_open.empty() && !options.thinking.think_close.empty()) {
    if (!options.thinking_started) parts.push_back(b.literal(options.thinking.think_open));
    parts.push_back(b.text_until(options.thinking.think_close));
    if (!options.thinking.after_close.empty()) {
      parts.push_back(b.literal(options.thinking.after_close));
    } else {
      ByteSet ws;
      ws.add('\n');
      ws.add(' ');
      parts.push_back(b.repeat(b.byte_set(ws), 0, 2));
    }
  }
  NodeId calls_part = b.seq({b.literal(syntax.begin), body, b.literal(syntax.end)});
  if (options.answer_schema != nullptr) {
    SchemaOptions so;
    so.strict = options.answer_strict;
    so.path = options.answer_path;
    SchemaCompiler c(b, *options.answer_schema, so, warnings);
    PARLEY_TRY(NodeId answer, c.compile(*options.answer_schema, ""));
    calls_part = b.choice({calls_part, answer});
  }
  parts.push_back(calls_part);
  auto g = b.build(b.seq(std::move(parts)));
  if (options.warnings) options.warnings->insert(options.warnings->end(), warnings.begin(), warnings.end());
  if (!g.ok()) return g.error().wrap("tool call grammar");
  return std::move(g).value();
}

}  // namespace parley::sampling
