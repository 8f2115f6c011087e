// The marker-driven parser's XML-style arguments (Qwen3-Coder, GLM, MiniMax, Seed-OSS),
// converted to JSON as they stream: string parameters (per the tool's schema) are escaped as
// they come, other types are written as their JSON value once complete.
#include "base/json.h"
#include "base/utf8.h"
#include "chat/output-parser-markup.h"

namespace parley::chat::detail {
namespace {

bool schema_says_string(const json::Value& s) {
  if (const json::Value* t = s.find("type")) {
    if (t->is_string()) return t->as_string() == "string";
    if (t->is_array()) {
      for (const auto& x : t->as_array()) {
        if (x.is_string() && x.as_string() == "string") return true;
      }
      return false;
    }
  }
  for (const char* k : {"anyOf", "oneOf"}) {
    if (const json::Value* alts = s.find(k); alts && alts->is_array()) {
      for (const auto& a : alts->as_array()) {
        if (a.is_object() && schema_says_string(a)) return true;
      }
    }
  }
  if (const json::Value* e = s.find("enum"); e && e->is_array() && e->size() > 0) {
    return e->as_array()[0].is_string();
  }
  return false;
}

ValueType param_type(const std::vector<Tool>* tools, const std::string& name, const std::string& key) {
  if (!tools) return ValueType::unknown;
  for (const auto& t : *tools) {
    if (t.name != name) continue;
    const json::Value* props = t.parameters.find("properties");
    const json::Value* p = props ? props->find(key) : nullptr;
    if (!p || !p->is_object()) return ValueType::unknown;
    if (schema_says_string(*p)) return ValueType::string;
    if (p->contains("type") || p->contains("anyOf") || p->contains("oneOf")) {
      return ValueType::other;
    }
    return ValueType::unknown;
  }
  return ValueType::unknown;
}

}  // namespace

bool MarkupParser::step_xml_args(bool eof) {
  skip_ws();
  if (rest().empty()) return false;
  Match m = match(spec_.key_open, eof);
  if (m == Match::full) {
    consume(spec_.key_open.size());
    st_ = St::xml_key;
    return true;
  }
  Match c = match(spec_.xml_call_close, eof);
  if (c == Match::full) {
    consume(spec_.xml_call_close.size());
    close_xml_call();
    return true;
  }
  bool partial = m == Match::partial || c == Match::partial;
  match_any(spec_.call_close, eof, &partial);
  if (partial) return false;
  close_xml_call();  // junk or a closer of the section: the call ends
  return true;
}

void MarkupParser::close_xml_call() {
  emit_args("}");
  end_call();
  st_ = St::sec_next;
}

bool MarkupParser::step_xml_key(bool eof) {
  size_t p = rest().find(spec_.key_close);
  if (p == std::string_view::npos || p > kMaxName) {
    if (p != std::string_view::npos || eof || rest().size() >= kMaxName + spec_.key_close.size()) {
      close_xml_call();  // not a key: the call ends here
      return true;
    }
    return false;
  }
  key_ = std::string(trim_ws(rest().substr(0, p)));
  consume(p + spec_.key_close.size());
  st_ = spec_.value_open.empty() ? St::xml_value : St::xml_value_open;
  if (st_ == St::xml_value) start_xml_value();
  return true;
}

bool MarkupParser::step_xml_value_open(bool eof) {
  skip_ws();
  if (rest().empty() && !eof) return false;
  Match m = match(spec_.value_open, eof);
  if (m == Match::partial) return false;
  if (m == Match::full) consume(spec_.value_open.size());
  st_ = St::xml_value;
  start_xml_value();
  return true;
}

void MarkupParser::start_xml_value() {
  vtype_ = param_type(opt_.tools, name_, key_);
  value_buf_.clear();
  value_start_ = true;
  if (vtype_ == ValueType::string) {
    std::string s = first_arg_ ? "" : ",";
    json::write_string(s, key_);
    s += ":\"";
    emit_args(s);
    first_arg_ = false;
  }
}

bool MarkupParser::step_xml_value(bool eof) {
  std::string_view r = rest();
  if (value_start_ && spec_.trim_value_newline) {
    if (r.empty() && !eof) return false;
    if (!r.empty()) {
      value_start_ = false;
      if (r[0] == '\n') {
        consume(1);
        r = rest();
      }
    }
  }
  value_start_ = false;
  // The value ends at its closer; a missing closer is tolerated before the next key or the
  // end of the call.
  size_t end = std::string_view::npos;
  size_t end_len = 0;
  size_t hold = 0;
  for (const std::string* m : {&spec_.value_close, &spec_.key_open, &spec_.xml_call_close}) {
    if (m->empty()) continue;
    size_t p = r.find(*m);
    if (p < end) {
      end = p;
      end_len = m == &spec_.value_close ? m->size() : 0;
    }
    hold = std::max(hold, partial_marker_tail(r, *m));
  }
  bool found = end != std::string_view::npos;
  size_t n = found ? end : (eof ? r.size() : r.size() - hold);
  std::string_view chunk = r.substr(0, n);
  if (found || eof) {
    if (spec_.trim_value_newline && !chunk.empty() && chunk.back() == '\n') chunk.remove_suffix(1);
  } else {
    if (spec_.trim_value_newline && !chunk.empty() && chunk.back() == '\n') {
      chunk.remove_suffix(1);
      n--;
    }
    size_t u = incomplete_utf8_tail(chunk);
    chunk.remove_suffix(u);
    n -= u;
  }
  if (vtype_ == ValueType::string) {
    std::string frag;
    append_json_escaped(frag, chunk);
    emit_args(frag);
  } else {
    value_buf_.append(chunk);
  }
  consume(n);
  if (!found && !eof) return false;
  if (found) consume(end_len);
  finish_xml_value();
  st_ = St::xml_args;
  return true;
}

void MarkupParser::finish_xml_value() {
  if (vtype_ == ValueType::string) {
    emit_args("\"");
    return;
  }
  std::string s = first_arg_ ? "" : ",";
  first_arg_ = false;
  json::write_string(s, key_);
  s += ':';
  std::string_view t = trim_ws(value_buf_);
  auto v = json::parse(t);
  if (v.ok() && !t.empty()) {
    s.append(t);
  } else {
    std::string clean = utf8::sanitize(value_buf_);
    json::write_string(s, clean);
  }
  emit_args(s);
  value_buf_.clear();
}

}  // namespace parley::chat::detail
