// parley tokenize -m MODEL.gguf "text": the token ids (and pieces) a model's tokenizer gives.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "app/commands.h"
#include "base/file.h"
#include "base/json.h"
#include "base/utf8.h"
#include "tokenizer/tokenizer.h"

namespace parley::app {
namespace {

struct TokenizeOptions {
  std::string model, hf, text, file;
  bool ids = false, pieces = false, json = false, no_bos = false, parse_special = false;
  bool count = false;
};

// A piece as a readable literal: printable ASCII and valid UTF-8 as they are, the rest as \xNN.
std::string show_piece(std::string_view p) {
  std::string out = "'";
  for (size_t i = 0; i < p.size();) {
    auto c = static_cast<unsigned char>(p[i]);
    size_t len = 1;
    if (c >= 0x80 && utf8::decode(p, i, &len) >= 0) {
      out.append(p, i, len);
      i += len;
      continue;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
    i += 1;
  }
  return out + "'";
}

int run_tokenize(const TokenizeOptions& opt) {
  if (opt.model.empty() == opt.hf.empty()) {
    return fail("tokenize needs a tokenizer: -m MODEL.gguf or --tokenizer PATH (one of them)");
  }
  std::string text = opt.text;
  if (!opt.file.empty()) {
    if (!opt.text.empty()) return fail("give the text as an argument or with --file, not both");
    if (opt.file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      auto r = read_file(opt.file);
      if (!r) return fail(r.error().message);
      text = std::move(*r);
    }
  }
  auto tok = opt.model.empty() ? tokenizer::Tokenizer::from_hf(opt.hf)
                               : tokenizer::Tokenizer::from_gguf(opt.model);
  if (!tok) return fail(tok.error().message);
  tokenizer::EncodeOptions eo;
  eo.add_special = !opt.no_bos;
  eo.parse_special = opt.parse_special;
  std::vector<tokenizer::TokenId> ids = tok->encode(text, eo);

  std::string out;
  if (opt.json) {
    json::Value doc = json::Value::object();
    doc["n_tokens"] = static_cast<int64_t>(ids.size());
    json::Value jids = json::Value::array();
    json::Value jpieces = json::Value::array();
    for (auto id : ids) {
      jids.as_array().push_back(json::Value(static_cast<int64_t>(id)));
      jpieces.as_array().push_back(json::Value(utf8::sanitize(tok->piece_view(id, true))));
    }
    if (!opt.count) {
      if (!opt.pieces) doc["ids"] = std::move(jids);
      if (!opt.ids) doc["pieces"] = std::move(jpieces);
    }
    out = json::write(doc) + "\n";
  } else if (opt.count) {
    out = std::to_string(ids.size()) + "\n";
  } else if (opt.ids) {
    out = "[";
    for (size_t i = 0; i < ids.size(); i++) out += (i ? ", " : "") + std::to_string(ids[i]);
    out += "]\n";
  } else if (opt.pieces) {
    for (size_t i = 0; i < ids.size(); i++) out += (i ? " " : "") + show_piece(tok->piece_view(ids[i], true));
    out += "\n";
  } else {
    for (auto id : ids) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%8d -> ", id);
      out += buf + show_piece(tok->piece_view(id, true)) + "\n";
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, Runner& run) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "tokenize", "Tokenize text with a model's tokenizer (default output: one 'id -> piece' line "
                  "per token)");
  sub->add_option("-m,--model", opt->model, "GGUF file whose tokenizer to use");
  sub->add_option("--tokenizer", opt->hf,
                  "Hugging Face tokenizer instead of a GGUF: tokenizer.json, tokenizer.model "
                  "(SentencePiece or tiktoken), vocab.json + merges.txt, or a folder with them");
  sub->add_option("text", opt->text, "Text to tokenize");
  sub->add_option("-f,--file", opt->file, "Read the text from this file ('-' for stdin)");
  sub->add_flag("--ids", opt->ids, "Print only the ids, as [1, 2, 3]");
  sub->add_flag("--pieces", opt->pieces, "Print only the pieces, quoted, on one line");
  sub->add_flag("--json", opt->json,
                "JSON output: {\"n_tokens\", \"ids\", \"pieces\"} (--ids / --pieces keep one list)");
  sub->add_flag("--count", opt->count, "Print only the number of tokens");
  sub->add_flag("--no-bos", opt->no_bos,
                "Do not add the BOS/EOS tokens the model's add_bos/add_eos flags ask for");
  sub->add_flag("--parse-special", opt->parse_special,
                "Recognise special-token text such as <|im_start|> in the input (default: it is "
                "tokenized as plain text)");
  sub->callback([opt, &run] { run = [opt] { return run_tokenize(*opt); }; });
}

}  // namespace parley::app
