// parley inspect FILE.gguf [--json]: what a GGUF file holds, readable by a person.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "app/commands.h"
#include "base/json.h"
#include "base/strings.h"
#include "base/utf8.h"
#include "gguf/gguf.h"

namespace parley::app {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool all_metadata = false;
};

const char* file_type_name(uint64_t ft) {
  // llama_ftype values as written in general.file_type.
  switch (ft) {
    case 0: return "ALL_F32";   case 1: return "MOSTLY_F16"; case 2: return "MOSTLY_Q4_0";
    case 3: return "MOSTLY_Q4_1"; case 7: return "MOSTLY_Q8_0"; case 8: return "MOSTLY_Q5_0";
    case 9: return "MOSTLY_Q5_1"; case 10: return "MOSTLY_Q2_K"; case 11: return "MOSTLY_Q3_K_S";
    case 12: return "MOSTLY_Q3_K_M"; case 13: return "MOSTLY_Q3_K_L"; case 14: return "MOSTLY_Q4_K_S";
    case 15: return "MOSTLY_Q4_K_M"; case 16: return "MOSTLY_Q5_K_S"; case 17: return "MOSTLY_Q5_K_M";
    case 18: return "MOSTLY_Q6_K"; case 19: return "MOSTLY_IQ2_XXS"; case 20: return "MOSTLY_IQ2_XS";
    case 21: return "MOSTLY_Q2_K_S"; case 22: return "MOSTLY_IQ3_XS"; case 23: return "MOSTLY_IQ3_XXS";
    case 24: return "MOSTLY_IQ1_S"; case 25: return "MOSTLY_IQ4_NL"; case 26: return "MOSTLY_IQ3_S";
    case 27: return "MOSTLY_IQ3_M"; case 28: return "MOSTLY_IQ2_S"; case 29: return "MOSTLY_IQ2_M";
    case 30: return "MOSTLY_IQ4_XS"; case 31: return "MOSTLY_IQ1_M"; case 32: return "MOSTLY_BF16";
    case 36: return "MOSTLY_TQ1_0"; case 37: return "MOSTLY_TQ2_0"; case 38: return "MOSTLY_MXFP4_MOE";
    default: return "unknown";
  }
}

// A metadata value as JSON: scalars as themselves, arrays as their type and length (the
// tokenizer arrays would be megabytes otherwise).
json::Value meta_json(const gguf::MetaValue& v) {
  using gguf::ValueType;
  switch (v.type()) {
    case ValueType::string: return json::Value(utf8::sanitize(*v.as_string()));
    case ValueType::boolean: return json::Value(*v.as_bool());
    case ValueType::f32: {
      // Shortest decimal that reads back as the same f32 (1e-05, not 9.99999974e-06).
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(*v.as_float()));
      return json::Value(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
    }
    case ValueType::f64: return json::Value(*v.as_float());
    case ValueType::array: {
      json::Value o = json::Value::object();
      o["type"] = "array";
      o["element_type"] = std::string(gguf::value_type_name(v.elem_type()));
      o["count"] = v.count();
      return o;
    }
    default:
      if (auto i = v.as_int()) return json::Value(*i);
      return json::Value(static_cast<double>(*v.as_uint()));
  }
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

struct SpecialToken {
  const char* name;
  const char* key;
};
constexpr SpecialToken kSpecial[] = {
    {"bos", "tokenizer.ggml.bos_token_id"},       {"eos", "tokenizer.ggml.eos_token_id"},
    {"unk", "tokenizer.ggml.unknown_token_id"},   {"pad", "tokenizer.ggml.padding_token_id"},
    {"sep", "tokenizer.ggml.seperator_token_id"}, {"eot", "tokenizer.ggml.eot_token_id"},
    {"eom", "tokenizer.ggml.eom_token_id"},
};

// The mixture-of-experts layout: the 3-D expert tensors (`blk.N.<kind>_exps.weight`, one matrix
// per expert along the last dimension), shared experts (`_shexp`) and what a token touches.
struct ExpertKind {
  std::set<std::string> types;
  std::vector<uint64_t> matrix;  // one expert's shape
  uint64_t bytes_per_expert = 0;
};
struct ExpertLayout {
  uint64_t count = 0, used = 0, ffn = 0;
  std::set<int> layers;
  std::map<std::string, ExpertKind> kinds;  // "ffn_gate_exps" -> ...
  uint64_t expert_elems = 0, expert_bytes = 0, shared_elems = 0, shared_bytes = 0;
  bool router_bias = false;
  // Parameters and bytes a token touches: everything but the experts it is not routed to.
  uint64_t active_elems(uint64_t total) const {
    return count == 0 ? total : total - expert_elems + expert_elems / count * used;
  }
  uint64_t active_bytes(uint64_t total) const {
    return count == 0 ? total : total - expert_bytes + expert_bytes / count * used;
  }
};

ExpertLayout expert_layout(const gguf::File& f, const std::string& arch) {
  ExpertLayout e;
  auto hp = [&](const char* k) -> uint64_t {
    auto v = f.find(arch + "." + k);
    return v && v->as_uint() ? *v->as_uint() : 0;
  };
  e.count = hp("expert_count");
  e.used = hp("expert_used_count");
  e.ffn = hp("expert_feed_forward_length");
  for (const auto& t : f.tensors()) {
    int layer = -1, consumed = 0;
    if (std::sscanf(t.name.c_str(), "blk.%d.%n", &layer, &consumed) != 1 || consumed == 0) continue;
    const std::string rest = t.name.substr(static_cast<size_t>(consumed));
    if (rest == "ffn_gate_inp.bias") e.router_bias = true;
    const bool exps = rest.find("_exps.weight") != std::string::npos;
    const bool shexp = rest.find("_shexp.") != std::string::npos;
    if (shexp) {
      e.shared_elems += t.n_elements;
      e.shared_bytes += t.n_bytes;
    }
    if (!exps || t.shape.size() != 3 || t.shape[2] == 0) continue;
    e.layers.insert(layer);
    e.expert_elems += t.n_elements;
    e.expert_bytes += t.n_bytes;
    ExpertKind& k = e.kinds[rest.substr(0, rest.size() - std::string(".weight").size())];
    k.types.insert(std::string(dtype_name(t.type)));
    k.matrix = {t.shape[0], t.shape[1]};
    k.bytes_per_expert = t.n_bytes / t.shape[2];
  }
  return e;
}

std::string join_types(const std::set<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : "/") + t;
  return out;
}

int run_inspect(const InspectOptions& opt) {
  auto opened = gguf::File::open(opt.path);
  if (!opened) return fail(opened.error().message);
  const gguf::File& f = *opened;

  std::string arch;
  if (auto a = f.find("general.architecture"); a && a->as_string()) arch = std::string(*a->as_string());
  std::string model_name;
  if (auto n = f.find("general.name"); n && n->as_string()) model_name = std::string(*n->as_string());

  // Hyper-parameters: every "<arch>." key.
  std::vector<std::pair<std::string, const gguf::MetaValue*>> hparams;
  for (const auto& [key, value] : f.metadata()) {
    if (!arch.empty() && starts_with(key, arch + ".")) hparams.emplace_back(key.substr(arch.size() + 1), &value);
  }
  auto hp_uint = [&](const std::string& k) -> std::optional<uint64_t> {
    if (auto v = f.find(arch + "." + k)) return v->as_uint();
    return std::nullopt;
  };
  std::optional<uint64_t> head_dim = hp_uint("attention.key_length");
  if (!head_dim) {
    auto embd = hp_uint("embedding_length");
    auto heads = hp_uint("attention.head_count");
    if (embd && heads && *heads > 0) head_dim = *embd / *heads;
  }

  // Tokenizer summary.
  const gguf::MetaValue* tokens = f.find("tokenizer.ggml.tokens");
  const std::vector<std::string_view>* token_list =
      tokens && tokens->is_array() && tokens->elem_type() == gguf::ValueType::string ? &tokens->strings() : nullptr;
  uint64_t n_vocab = token_list ? token_list->size() : 0;
  uint64_t n_merges = 0;
  if (auto m = f.find("tokenizer.ggml.merges"); m && m->is_array()) n_merges = m->count();
  std::string tok_model, tok_pre;
  if (auto m = f.find("tokenizer.ggml.model"); m && m->as_string()) tok_model = std::string(*m->as_string());
  if (auto p = f.find("tokenizer.ggml.pre"); p && p->as_string()) tok_pre = std::string(*p->as_string());
  std::optional<std::string_view> chat_template;
  if (auto t = f.find("tokenizer.chat_template"); t && t->as_string()) chat_template = *t->as_string();

  // Totals.
  uint64_t total_elems = 0, total_bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // name -> (count, bytes)
  for (const auto& t : f.tensors()) {
    total_elems += t.n_elements;
    total_bytes += t.n_bytes;
    auto& e = by_type[std::string(dtype_name(t.type))];
    e.first++;
    e.second += t.n_bytes;
  }
  std::optional<uint64_t> file_type;
  if (auto ft = f.find("general.file_type")) file_type = ft->as_uint();
  const ExpertLayout experts = expert_layout(f, arch);

  if (opt.json) {
    json::Value out = json::Value::object();
    out["file"] = opt.path;
    out["gguf_version"] = f.version();
    out["file_size"] = f.file_size();
    out["alignment"] = f.alignment();
    out["data_offset"] = f.data_offset();
    out["architecture"] = arch.empty() ? json::Value() : json::Value(arch);
    out["name"] = model_name.empty() ? json::Value() : json::Value(utf8::sanitize(model_name));
    if (file_type) out["file_type"] = file_type_name(*file_type);
    json::Value hp = json::Value::object();
    for (const auto& [k, v] : hparams) hp[k] = meta_json(*v);
    out["hyperparameters"] = hp;
    if (head_dim) out["head_dim"] = *head_dim;
    json::Value tok = json::Value::object();
    tok["model"] = tok_model.empty() ? json::Value() : json::Value(tok_model);
    tok["pre"] = tok_pre.empty() ? json::Value() : json::Value(tok_pre);
    tok["vocab_size"] = n_vocab;
    tok["merges"] = n_merges;
    json::Value special = json::Value::object();
    for (const auto& s : kSpecial) {
      auto v = f.find(s.key);
      if (!v || !v->as_uint()) continue;
      json::Value e = json::Value::object();
      e["id"] = *v->as_uint();
      if (token_list && *v->as_uint() < n_vocab) e["text"] = utf8::sanitize((*token_list)[*v->as_uint()]);
      special[s.name] = e;
    }
    tok["special_tokens"] = special;
    for (const char* flag : {"add_bos_token", "add_eos_token", "add_space_prefix"}) {
      if (auto v = f.find(std::string("tokenizer.ggml.") + flag); v && v->as_bool()) tok[flag] = *v->as_bool();
    }
    out["tokenizer"] = tok;
    json::Value ct = json::Value::object();
    ct["present"] = chat_template.has_value();
    if (chat_template) ct["bytes"] = chat_template->size();
    out["chat_template"] = ct;
    json::Value meta = json::Value::object();
    for (const auto& [k, v] : f.metadata()) meta[k] = meta_json(v);
    out["metadata"] = meta;
    json::Value tensors = json::Value::array();
    for (const auto& t : f.tensors()) {
      json::Value e = json::Value::object();
      e["name"] = t.name;
      e["type"] = std::string(dtype_name(t.type));
      json::Value shape = json::Value::array();
      for (uint64_t d : t.shape) shape.push_back(d);
      e["shape"] = shape;
      e["elements"] = t.n_elements;
      e["bytes"] = t.n_bytes;
      e["offset"] = t.offset;
      tensors.push_back(e);
    }
    out["tensors"] = tensors;
    json::Value totals = json::Value::object();
    totals["tensors"] = f.tensors().size();
    totals["elements"] = total_elems;
    totals["bytes"] = total_bytes;
    json::Value types = json::Value::object();
    for (const auto& [name, e] : by_type) {
      json::Value te = json::Value::object();
      te["tensors"] = e.first;
      te["bytes"] = e.second;
      types[name] = te;
    }
    totals["by_type"] = types;
    out["totals"] = totals;
    if (experts.count > 0 || !experts.kinds.empty()) {
      json::Value ex = json::Value::object();
      ex["count"] = experts.count;
      ex["used_per_token"] = experts.used;
      ex["feed_forward_length"] = experts.ffn;
      ex["layers"] = static_cast<uint64_t>(experts.layers.size());
      ex["router_bias"] = experts.router_bias;
      json::Value kinds = json::Value::object();
      for (const auto& [name, k] : experts.kinds) {
        json::Value kj = json::Value::object();
        json::Value kt = json::Value::array();
        for (const auto& t : k.types) kt.push_back(t);
        kj["types"] = kt;
        json::Value shape = json::Value::array();
        for (uint64_t d : k.matrix) shape.push_back(d);
        kj["expert_shape"] = shape;
        kj["bytes_per_expert"] = k.bytes_per_expert;
        kinds[name] = kj;
      }
      ex["tensors"] = kinds;
      ex["expert_parameters"] = experts.expert_elems;
      ex["expert_bytes"] = experts.expert_bytes;
      ex["shared_expert_parameters"] = experts.shared_elems;
      ex["active_parameters_per_token"] = experts.active_elems(total_elems);
      ex["active_bytes_per_token"] = experts.active_bytes(total_bytes);
      out["experts"] = ex;
    }
    json::WriteOptions wo;
    wo.indent = 2;
    wo.key_separator = ": ";
    std::printf("%s\n", json::write(out, wo).c_str());
    return 0;
  }

  std::printf("%s\n", opt.path.c_str());
  std::printf("  GGUF v%u, %s (%llu bytes), %zu metadata keys, %zu tensors, alignment %llu, data at byte %llu\n",
              f.version(), human_bytes(f.file_size()).c_str(),
              static_cast<unsigned long long>(f.file_size()), f.metadata().size(), f.tensors().size(),
              static_cast<unsigned long long>(f.alignment()),
              static_cast<unsigned long long>(f.data_offset()));
  std::printf("\nmodel\n");
  std::printf("  architecture    %s\n", arch.empty() ? "(not set)" : arch.c_str());
  std::printf("  name            %s\n", model_name.empty() ? "(not set)" : quote_for_message(model_name, 60).c_str());
  if (file_type) std::printf("  file type       %s (%llu)\n", file_type_name(*file_type), static_cast<unsigned long long>(*file_type));
  std::printf("  parameters      %s (%llu)\n", human_count(total_elems).c_str(), static_cast<unsigned long long>(total_elems));
  if (experts.count > 0 || !experts.kinds.empty()) {
    std::printf("  active / token  %s of the experts' weights: %s parameters, %s of weights (the embedding matrix counted whole)\n",
                experts.count > 0 ? (std::to_string(experts.used) + " of " + std::to_string(experts.count)).c_str() : "?",
                human_count(experts.active_elems(total_elems)).c_str(), human_bytes(experts.active_bytes(total_bytes)).c_str());
  }
  if (!hparams.empty()) {
    std::printf("\nhyper-parameters (%s.*)\n", arch.c_str());
    for (const auto& [k, v] : hparams) std::printf("  %-34s %s\n", k.c_str(), v->summary().c_str());
    if (head_dim && !f.find(arch + ".attention.key_length")) {
      std::printf("  %-34s %llu (embedding_length / head_count)\n", "head_dim", static_cast<unsigned long long>(*head_dim));
    }
  }
  if (experts.count > 0 || !experts.kinds.empty()) {
    std::printf("\nexperts\n");
    std::printf("  per layer       %llu experts, %llu used per token, expert ffn %llu; in %zu layers; router ffn_gate_inp%s\n",
                static_cast<unsigned long long>(experts.count), static_cast<unsigned long long>(experts.used),
                static_cast<unsigned long long>(experts.ffn), experts.layers.size(), experts.router_bias ? " with bias" : "");
    for (const auto& [name, k] : experts.kinds) {
      std::printf("  %-15s %s %s per expert, %s each\n", name.c_str(), join_types(k.types).c_str(),
                  shape_string(k.matrix).c_str(), human_bytes(k.bytes_per_expert).c_str());
    }
    std::printf("  experts hold    %s parameters (%s of weights) of %s; shared experts: %s\n",
                human_count(experts.expert_elems).c_str(), human_bytes(experts.expert_bytes).c_str(),
                human_count(total_elems).c_str(),
                experts.shared_elems > 0 ? human_count(experts.shared_elems).c_str() : "none");
  }
  std::printf("\ntokenizer\n");
  if (tok_model.empty()) {
    std::printf("  (none)\n");
  } else {
    const char* kind = tok_model == "llama" ? " (SentencePiece)" : tok_model == "gpt2" ? " (byte-level BPE)" : "";
    std::printf("  model           %s%s\n", tok_model.c_str(), kind);
    std::printf("  pre-tokenizer   %s\n", tok_pre.empty() ? "(not set)" : tok_pre.c_str());
    std::printf("  vocab size      %llu\n", static_cast<unsigned long long>(n_vocab));
    std::printf("  merges          %llu\n", static_cast<unsigned long long>(n_merges));
    for (const auto& s : kSpecial) {
      auto v = f.find(s.key);
      if (!v) continue;
      auto id = v->as_uint();
      if (!id) {
        std::printf("  %-15s %s\n", s.name, v->summary().c_str());
      } else if (*id >= n_vocab) {
        std::printf("  %-15s %llu (none)\n", s.name, static_cast<unsigned long long>(*id));
      } else {
        std::printf("  %-15s %llu %s\n", s.name, static_cast<unsigned long long>(*id),
                    token_list ? quote_for_message((*token_list)[*id], 40).c_str() : "");
      }
    }
    for (const char* flag : {"add_bos_token", "add_eos_token", "add_space_prefix"}) {
      if (auto v = f.find(std::string("tokenizer.ggml.") + flag)) std::printf("  %-15s %s\n", flag, v->summary().c_str());
    }
  }
  if (chat_template) {
    std::printf("  chat template   present (%zu bytes)\n", chat_template->size());
  } else {
    std::printf("  chat template   absent\n");
  }

  std::printf("\nmetadata\n");
  for (const auto& [k, v] : f.metadata()) {
    if (!opt.all_metadata && !arch.empty() && starts_with(k, arch + ".")) continue;  // shown above
    std::printf("  %-40s %-8s %s\n", k.c_str(), std::string(gguf::value_type_name(v.type())).c_str(),
                v.summary(opt.all_metadata ? 400 : 60).c_str());
  }

  std::printf("\ntensors\n");
  size_t name_w = 4;
  for (const auto& t : f.tensors()) name_w = std::max(name_w, std::min<size_t>(t.name.size(), 48));
  std::printf("  %-*s  %-7s  %-22s  %14s\n", static_cast<int>(name_w), "name", "type", "shape", "bytes");
  for (const auto& t : f.tensors()) {
    std::printf("  %-*s  %-7s  %-22s  %14llu\n", static_cast<int>(name_w), t.name.c_str(),
                std::string(dtype_name(t.type)).c_str(), shape_string(t.shape).c_str(),
                static_cast<unsigned long long>(t.n_bytes));
  }
  std::printf("\ntotals\n");
  std::printf("  %zu tensors, %llu elements, %llu bytes (%s)\n", f.tensors().size(),
              static_cast<unsigned long long>(total_elems), static_cast<unsigned long long>(total_bytes),
              human_bytes(total_bytes).c_str());
  for (const auto& [name, e] : by_type) {
    std::printf("  %-7s %4llu tensors  %14llu bytes\n", name.c_str(), static_cast<unsigned long long>(e.first),
                static_cast<unsigned long long>(e.second));
  }
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "Show what a GGUF file holds: architecture, "
                                                "hyper-parameters, tokenizer, chat template, tensors");
  sub->add_option("file", opt->path, "GGUF file")->required();
  sub->add_flag("--json", opt->json, "Machine-readable JSON output");
  sub->add_flag("--all", opt->all_metadata, "List every metadata key, with longer values");
  sub->callback([opt, &run] { run = [opt] { return run_inspect(*opt); }; });
}

}  // namespace parley::app
