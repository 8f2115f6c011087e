// parley template (-m MODEL.gguf | --template FILE.jinja) --input CONV.json: prints the prompt a
// chat template makes of a conversation, byte for byte what transformers' apply_chat_template
// gives — the tool to reach for when a model misbehaves.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>

#include "app/commands.h"
#include "base/file.h"
#include "base/json.h"
#include "chat/chat-template.h"
#include "gguf/gguf.h"

namespace parley::app {
namespace {

namespace jinja = chat::jinja;

struct TemplateOptions {
  std::string model;
  std::string template_file;
  std::string template_name;
  std::string input;
  bool no_generation_prompt = false;
  std::vector<std::string> vars;
  std::optional<std::string> bos, eos;
  std::string now;
  bool ir = false;
  bool capabilities = false;
};

Result<std::string> read_all(const std::string& path) {
  if (path == "-") {
    std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return s;
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Error{"cannot open " + path};
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

// The template and special tokens from a GGUF file.
Result<chat::SpecialTokens> load_from_gguf(const TemplateOptions& opt, std::string* source) {
  PARLEY_TRY(gguf::File f, gguf::File::open(opt.model));
  std::string key = "tokenizer.chat_template";
  if (!opt.template_name.empty()) key += "." + opt.template_name;
  if (opt.template_file.empty()) {
    PARLEY_TRY(auto t, f.get_string_opt(key));
    if (!t) return Error{opt.model + ": no " + key + " in this GGUF (give --template FILE.jinja)"};
    *source = std::string(*t);
  }
  chat::SpecialTokens tokens;
  const gguf::MetaValue* vocab = f.find("tokenizer.ggml.tokens");
  auto token_text = [&](const char* id_key) -> Result<std::string> {
    PARLEY_TRY(auto id, f.get_uint_opt(id_key));
    if (!id) return std::string();
    if (!vocab || !vocab->is_array() || *id >= vocab->strings().size()) {
      return Error{opt.model + ": " + id_key + " " + std::to_string(*id) + " is not a token id"};
    }
    return std::string(vocab->strings()[*id]);
  };
  PARLEY_TRY(tokens.bos_token, token_text("tokenizer.ggml.bos_token_id"));
  PARLEY_TRY(tokens.eos_token, token_text("tokenizer.ggml.eos_token_id"));
  PARLEY_TRY(std::string unk, token_text("tokenizer.ggml.unknown_token_id"));
  PARLEY_TRY(std::string pad, token_text("tokenizer.ggml.padding_token_id"));
  if (!unk.empty()) tokens.extra.emplace_back("unk_token", unk);
  if (!pad.empty()) tokens.extra.emplace_back("pad_token", pad);
  return tokens;
}

Result<int64_t> parse_now(const std::string& s) {
  if (s.empty()) {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  }
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (!end || *end) return Error{"--now: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, got '" + s + "'"};
  return static_cast<int64_t>(timegm(&tm));
}

int run_template(const TemplateOptions& opt) {
  if (opt.model.empty() && opt.template_file.empty()) {
    return fail("give a model (-m MODEL.gguf) or a template (--template FILE.jinja)");
  }
  std::string source;
  chat::SpecialTokens tokens;
  if (!opt.model.empty()) {
    auto t = load_from_gguf(opt, &source);
    if (!t.ok()) return fail(t.error().message);
    tokens = std::move(*t);
  }
  if (!opt.template_file.empty()) {
    auto s = read_all(opt.template_file);
    if (!s.ok()) return fail(s.error().message);
    source = std::move(*s);
  }
  if (opt.bos) tokens.bos_token = *opt.bos;
  if (opt.eos) tokens.eos_token = *opt.eos;
  const std::string tpl_name = opt.template_file.empty() ? opt.model : opt.template_file;
  auto tpl = chat::ChatTemplate::parse(source, tokens);
  if (!tpl.ok()) return fail(tpl_name + ": " + tpl.error().message);
  if (opt.capabilities) {
    std::printf("%s\n", json::write(tpl->capabilities().to_json(), {.indent = 2, .key_separator = ": "}).c_str());
    return 0;
  }
  if (opt.input.empty()) return fail("--input CONV.json is required (or --capabilities)");

  auto text = read_all(opt.input);
  if (!text.ok()) return fail(text.error().message);
  auto doc = json::parse(*text);
  if (!doc.ok()) return fail(opt.input + ": " + doc.error().message);
  if (!doc->is_object() || !doc->contains("messages")) {
    return fail(opt.input + ": expected an object with \"messages\" (Hugging Face chat format)");
  }
  auto now = parse_now(opt.now);
  if (!now.ok()) return fail(now.error().message);

  // Variables: defaults, then every top-level key of the input, then --var, then the flag.
  std::vector<std::pair<std::string, json::Value>> vars;
  vars.emplace_back("tools", json::Value());
  vars.emplace_back("documents", json::Value());
  vars.emplace_back("add_generation_prompt", true);
  for (const auto& [k, v] : doc->as_object()) vars.emplace_back(k, v);
  for (const auto& kv : opt.vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return fail("--var expects name=value, got '" + kv + "'");
    auto parsed = json::parse(kv.substr(eq + 1));
    vars.emplace_back(kv.substr(0, eq), parsed.ok() ? *parsed : json::Value(kv.substr(eq + 1)));
  }
  if (opt.no_generation_prompt) vars.emplace_back("add_generation_prompt", false);

  jinja::TemplateError detail;
  Result<std::string> out = std::string();
  if (opt.ir) {
    // The server's path: parse into the typed IR, then render from it.
    const json::Value* msgs = nullptr;
    const json::Value* tools = nullptr;
    chat::ChatRenderOptions ropt;
    ropt.now_unix_seconds = *now;
    for (const auto& [k, v] : vars) {
      if (k == "messages") msgs = &v;
      else if (k == "tools") tools = &v;
      else if (k == "documents") ropt.documents = v;
      else if (k == "add_generation_prompt" && v.is_bool()) ropt.add_generation_prompt = v.as_bool();
      else if (k == "enable_thinking" && v.is_bool()) ropt.enable_thinking = v.as_bool();
      else ropt.extra_vars.emplace_back(k, v);
    }
    auto conv = chat::conversation_from_hf_json(*msgs, tools);
    if (!conv.ok()) return fail(opt.input + ": " + conv.error().message);
    out = tpl->render(*conv, ropt, &detail);
  } else {
    jinja::Variables jv;
    for (const auto& [k, v] : vars) jv.emplace_back(k, jinja::from_json(v));
    jinja::RenderOptions ropt;
    ropt.now_unix_seconds = *now;
    out = tpl->render_vars(jv, ropt, &detail);
  }
  if (!out.ok()) return fail(tpl_name + ": " + out.error().message);
  std::fwrite(out->data(), 1, out->size(), stdout);
  return 0;
}

}  // namespace

void add_template_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<TemplateOptions>();
  CLI::App* sub = app.add_subcommand(
      "template", "Render a chat template over a conversation and print the prompt, byte for "
                  "byte what Hugging Face transformers' apply_chat_template gives");
  sub->add_option("-m,--model", opt->model,
                  "GGUF model: its tokenizer.chat_template and its BOS/EOS/UNK/PAD token texts");
  sub->add_option("--template", opt->template_file,
                  "Jinja chat template file (overrides the model's; '-' reads stdin)");
  sub->add_option("--template-name", opt->template_name,
                  "use the GGUF's named template tokenizer.chat_template.NAME (e.g. tool_use)");
  sub->add_option("--input", opt->input,
                  "CONV.json in the Hugging Face chat format: {\"messages\": [...], \"tools\": [...], "
                  "other keys become template variables (e.g. \"enable_thinking\": false)}; '-' reads stdin");
  sub->add_flag("--no-generation-prompt", opt->no_generation_prompt,
                "add_generation_prompt=false (default true: the prompt ends where the assistant starts)");
  sub->add_option("--var", opt->vars,
                  "name=value: one more template variable; value is JSON when it parses, else a "
                  "string (repeatable, wins over the input file)");
  sub->add_option("--bos", opt->bos, "bos_token text (default: from the GGUF, else empty)");
  sub->add_option("--eos", opt->eos, "eos_token text (default: from the GGUF, else empty)");
  sub->add_option("--now", opt->now,
                  "time strftime_now formats, YYYY-MM-DD[THH:MM:SS] UTC (default: the current time)");
  sub->add_flag("--ir", opt->ir,
                "render through the typed chat IR like the server (messages re-encoded in the "
                "canonical Hugging Face shape) instead of passing the JSON as it is");
  sub->add_flag("--capabilities", opt->capabilities,
                "print what the template supports (system role, tools, tool calls, reasoning, "
                "enable_thinking, typed content) as JSON instead of rendering");
  sub->callback([opt, &run] { run = [opt] { return run_template(*opt); }; });
}

}  // namespace parley::app
