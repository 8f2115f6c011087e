// The marker-driven parser's JSON envelopes: {"name": .., "arguments": {..}} objects (also
// "tool_name"/"parameters", an OpenAI-style nested "function", {"NAME": {args}}), alone or in a
// list. Arguments stream through as they come; before the name is known they are held.
#include "base/json.h"
#include "chat/output-parser-markup.h"

namespace parley::chat::detail {

void MarkupParser::start_envelope() {
  st_ = St::envelope;
  env_ = Env::begin;
  env_list_ = false;
  reset_object();
}

void MarkupParser::reset_object() {
  env_nested_ = false;
  name_.clear();
  id_.clear();
  pending_args_.clear();
  args_seen_ = false;
  env_key_.clear();
}

bool MarkupParser::step_envelope(bool eof) {
  if (env_ != Env::value || value_first_) skip_ws();
  std::string_view r = rest();
  if (r.empty()) return false;
  char c = r[0];
  switch (env_) {
    case Env::begin:
      if (c == '[' && !env_list_) {
        env_list_ = true;
        consume(1);
        env_ = Env::elem;
        return true;
      }
      if (c == '{') {
        consume(1);
        env_ = Env::key;
        return true;
      }
      envelope_junk();
      return true;
    case Env::elem:
      if (c == '{') {
        consume(1);
        reset_object();
        env_ = Env::key;
      } else if (c == ',') {
        consume(1);
      } else if (c == ']') {
        consume(1);
        st_ = St::sec_next;
      } else {
        envelope_junk();
      }
      return true;
    case Env::key: return step_env_key(r, eof);
    case Env::colon:
      if (c != ':') {
        envelope_junk();
        return true;
      }
      consume(1);
      env_ = Env::value;
      begin_value();
      return true;
    case Env::value: return step_env_value();
    case Env::after_value:
      if (c == ',') {
        consume(1);
        env_ = Env::key;
      } else if (c == '}') {
        consume(1);
        if (env_nested_) {
          env_nested_ = false;
        } else {
          end_object();
        }
      } else {
        envelope_junk();
      }
      return true;
  }
  return false;
}

void MarkupParser::begin_value() {
  const std::string& k = env_key_;
  if (k == "name" || k == "tool_name" || k == "function_name") {
    env_value_ = EnvValue::name;
  } else if (k == "id" || k == "tool_call_id") {
    env_value_ = EnvValue::id;
  } else if ((k == "arguments" || k == "parameters" || k == "args") && !args_seen_) {
    env_value_ = EnvValue::args;
    args_seen_ = true;
    reset_args();
  } else if (spec_.name_is_key && name_.empty() && !args_seen_ && !call_open_) {
    env_value_ = EnvValue::keyed;
  } else {
    env_value_ = EnvValue::skip;
  }
  val_ = JsonStreamer(false);
  val_text_.clear();
  value_first_ = true;
}

bool MarkupParser::step_env_value() {
  std::string_view r = rest();
  if (value_first_) {
    value_first_ = false;
    if (env_value_ == EnvValue::keyed) {
      env_value_ = EnvValue::skip;
      if (r[0] == '{') {  // {"NAME": {args}}
        name_ = env_key_;
        args_seen_ = true;
        reset_args();
        env_value_ = EnvValue::args;
        if (!name_.empty()) start_with_pending();
      }
    }
    if (env_value_ == EnvValue::skip && env_key_ == "function" && !env_nested_ && r[0] == '{') {
      // OpenAI's {"type": "function", "function": {"name": .., "arguments": ..}}
      consume(1);
      env_nested_ = true;
      env_ = Env::key;
      return true;
    }
    if (env_value_ == EnvValue::args && r[0] == '"') env_value_ = EnvValue::args_string;
    if (env_value_ == EnvValue::args) {
      if (r[0] != '{') {
        env_value_ = EnvValue::skip;
        args_seen_ = false;
      } else {
        reset_args();
      }
    }
  }
  bool streaming = env_value_ == EnvValue::args;
  std::string frag;
  size_t n = 0;
  JsonStreamer::Status s = JsonStreamer::Status::more;
  const size_t limit = env_value_ == EnvValue::args_string ? (64u << 20) : kMaxName;
  const bool kept = !streaming && env_value_ != EnvValue::skip;
  while (n < r.size()) {
    s = streaming ? feed_args(r[n], frag) : val_.feed(r[n], frag);
    if (streaming ? args_consumed() : val_.consumed()) n++;
    if (s != JsonStreamer::Status::more) break;
    if (kept && val_text_.size() + frag.size() > limit) {  // checked per byte: split-independent
      s = JsonStreamer::Status::error;
      break;
    }
  }
  consume(n);
  if (streaming) {
    if (s == JsonStreamer::Status::error) complete_args(frag);
    if (call_open_) {
      emit_args(frag);
    } else {
      pending_args_ += frag;
    }
  } else if (env_value_ != EnvValue::skip) {
    val_text_ += frag;
  }
  if (s == JsonStreamer::Status::more) return false;
  if (s == JsonStreamer::Status::error) {
    if (streaming) {
      // The arguments were cut by something invalid: the call is what was valid.
      if (!call_open_ && !name_.empty()) start_with_pending();
      if (call_open_) end_call();
      envelope_junk();
      return true;
    }
    envelope_junk();
    return true;
  }
  finish_value();
  env_ = Env::after_value;
  return true;
}

void MarkupParser::finish_value() {
  if (env_value_ == EnvValue::name || env_value_ == EnvValue::id || env_value_ == EnvValue::args_string) {
    auto v = json::parse(val_text_);
    std::string s;
    if (v.ok() && v->is_string()) s = v->as_string();
    if (v.ok() && v->is_int()) s = std::to_string(v->as_int());
    if (env_value_ == EnvValue::name) {
      if (!s.empty() && !call_open_) {
        name_ = s;
        start_with_pending();
      }
    } else if (env_value_ == EnvValue::id) {
      if (!call_open_) id_ = s;
    } else {
      // Arguments written as a JSON string holding the object.
      auto inner = json::parse(s);
      std::string a = inner.ok() && inner->is_object() ? json::write(*inner) : "{}";
      if (call_open_) {
        emit_args(a);
      } else {
        pending_args_ = a;
      }
    }
  }
}

void MarkupParser::start_with_pending() {
  start_call();
  if (!pending_args_.empty()) emit_args(pending_args_);
  pending_args_.clear();
}

void MarkupParser::end_object() {
  if (!call_open_ && !name_.empty()) start_with_pending();
  if (call_open_) {
    if (!args_seen_) emit_args("{}");
    end_call();
  } else if (!section_has_call_) {
    section_fail();
    return;
  }
  reset_object();
  if (env_list_) {
    env_ = Env::elem;
  } else {
    st_ = St::sec_next;
  }
}

void MarkupParser::envelope_junk() {
  if (call_open_) {
    std::string frag;
    if (env_value_ == EnvValue::args && !args_done()) complete_args(frag);
    if (!args_seen_) frag = "{}";
    emit_args(frag);
    end_call();
    st_ = St::skip_to_close;
    return;
  }
  if (!section_has_call_) {
    section_fail();
    return;
  }
  st_ = St::skip_to_close;
}

// A key of the call object (or "," / "}").
bool MarkupParser::step_env_key(std::string_view r, bool eof) {
  char c = r[0];
  if (c == ',') {
    consume(1);
    return true;
  }
  if (c == '}') {
    consume(1);
    if (env_nested_) {
      env_nested_ = false;
      env_ = Env::after_value;
    } else {
      end_object();
    }
    return true;
  }
  if (c != '"') {
    envelope_junk();
    return true;
  }
  // A key longer than kMaxName is junk, decided at the same byte however the text is split.
  size_t end = 1;
  while (end < r.size() && end <= kMaxName && r[end] != '"') end += r[end] == '\\' ? 2 : 1;
  if (end > kMaxName) {
    envelope_junk();
    return true;
  }
  if (end >= r.size()) {
    if (eof) envelope_junk();
    return eof;
  }
  auto k = json::parse(r.substr(0, end + 1));
  env_key_ = k.ok() && k->is_string() ? k->as_string() : std::string();
  consume(end + 1);
  env_ = Env::colon;
  return true;
}

}  // namespace parley::chat::detail
