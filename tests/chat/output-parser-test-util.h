// What the output-parser tests share: feeding a parser, folding its events into text,
// thinking and calls, and checking the event rules on the way.
#pragma once

#include <string>
#include <vector>

#include "base/json.h"
#include "base/utf8.h"
#include "chat/output-parser.h"

namespace parley::chat::test_util {

struct FoldedCall {
  std::string name, id, args;
  bool operator==(const FoldedCall&) const = default;
};

struct Folded {
  std::string text, thinking;
  std::vector<FoldedCall> calls;
  int first_call_fragments = 0;
  std::string problems;  // broken event rules, empty when none
  bool operator==(const Folded& o) const {
    return text == o.text && thinking == o.thinking && calls == o.calls;
  }
};

inline std::ostream& operator<<(std::ostream& os, const Folded& f) {
  os << "text=" << json::write(json::Value(f.text)) << " thinking=" << json::write(json::Value(f.thinking))
     << " calls=[";
  for (const auto& c : f.calls) os << "{" << c.name << " id=" << c.id << " " << c.args << "}";
  return os << "]";
}

inline Folded fold_events(const std::vector<OutputEvent>& events) {
  Folded f;
  bool in_call = false;
  for (const auto& e : events) {
    switch (e.kind) {
      case OutputEvent::Kind::text:
      case OutputEvent::Kind::thinking:
        if (in_call) f.problems += "text inside a call; ";
        if (e.text.empty()) f.problems += "empty text event; ";
        if (!utf8::is_valid(e.text)) f.problems += "invalid UTF-8 in a text event; ";
        (e.kind == OutputEvent::Kind::text ? f.text : f.thinking) += e.text;
        break;
      case OutputEvent::Kind::tool_call_start:
        if (in_call) f.problems += "call started inside a call; ";
        if (e.name.empty()) f.problems += "call without a name; ";
        in_call = true;
        f.calls.push_back({e.name, e.id, ""});
        break;
      case OutputEvent::Kind::tool_call_args:
        if (!in_call) f.problems += "args outside a call; ";
        if (!f.calls.empty()) f.calls.back().args += e.text;
        if (f.calls.size() == 1) f.first_call_fragments++;
        break;
      case OutputEvent::Kind::tool_call_end:
        if (!in_call) f.problems += "end outside a call; ";
        in_call = false;
        {
          auto v = json::parse(f.calls.back().args);
          if (!v.ok() || !v->is_object()) {
            f.problems += "args not a JSON object: " + f.calls.back().args + "; ";
          }
        }
        break;
    }
  }
  if (in_call) f.problems += "call not ended; ";
  return f;
}

inline Folded fold(const OutputFormat& fmt, const ParserOptions& opt,
                   const std::vector<std::string>& chunks) {
  auto p = make_output_parser(fmt, opt);
  // Events drained after each push, as the server does: a fragment per push stays separate.
  std::vector<OutputEvent> ev, step;
  for (const auto& c : chunks) {
    p->push(c, step);
    for (auto& e : step) ev.push_back(std::move(e));
    step.clear();
  }
  p->finish(step);
  for (auto& e : step) ev.push_back(std::move(e));
  return fold_events(ev);
}

inline std::vector<Tool> weather_tools() {
  Tool t;
  t.name = "get_weather";
  t.description = "Get weather";
  t.parameters = *json::parse(
      R"({"type": "object", "properties": {"city": {"type": "string", "description": "City"},
          "days": {"type": "integer", "description": "Days"}}, "required": ["city"]})");
  return {t};
}

}  // namespace parley::chat::test_util
