#!/usr/bin/python3
"""Golden chat-template renders made by Python jinja2, configured the way Hugging Face
transformers configures it in apply_chat_template (transformers/utils/chat_template_utils.py):

  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[AssistantTracker, jinja2.ext.loopcontrols])
  filters["tojson"]  = json.dumps(x, ensure_ascii=False, indent, separators, sort_keys)
  globals["raise_exception"] raises TemplateError(message)
  globals["strftime_now"](fmt) = datetime.now().strftime(fmt)   (here: a fixed time)
  render(messages=..., tools=..., documents=..., add_generation_prompt=..., **kwargs)

Writes tests/data/templates/:
  conversations.json          the conversation matrix (messages, tools, documents)
  renders/<template>.json     per template: every case and its output (deduplicated) or error
  snippets.json               small feature templates with their Python output

Run with /usr/bin/python3 (Debian's python3-jinja2) from the repository root:
  /usr/bin/python3 tools/chat-template-goldens.py [--shared ../shared] [--out tests/data/templates]
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.meta
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The time strftime_now formats in every golden (the C++ tests pass the same instant, UTC).
FIXED_NOW = datetime.datetime(2025, 6, 15, 10, 30, 0)
BOS = "<s>"
EOS = "</s>"


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} block: renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env(strftime_now=True):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    if strftime_now:
        env.globals["strftime_now"] = strftime
    return env


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search_files",
        "description": "Search the workspace for files matching a glob pattern.",
        "parameters": {"type": "object", "properties": {
            "pattern": {"type": "string", "description": "Glob pattern"},
            "max_results": {"type": "integer", "minimum": 1, "default": 10},
            "paths": {"type": "array", "items": {"type": "string"}, "description": "Folders to search"},
            "include_hidden": {"type": "boolean"}},
            "required": ["pattern"]}}},
]


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def tool_result(cid, name, content):
    return {"role": "tool", "tool_call_id": cid, "name": name, "content": content}


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "What is the weather in Paris?"}

CONVERSATIONS = {
    "user": {"messages": [USER]},
    "system-user": {"messages": [SYSTEM, USER]},
    "multi-turn": {"messages": [
        SYSTEM,
        {"role": "user", "content": "What day comes after Monday?"},
        {"role": "assistant", "content": "Tuesday."},
        {"role": "user", "content": "And after that?"}]},
    "multi-turn-no-system": {"messages": [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."}]},
    "tools-user": {"tools": TOOLS, "messages": [USER]},
    "tools-system-user": {"tools": TOOLS, "messages": [SYSTEM, USER]},
    "tool-call": {"tools": TOOLS, "messages": [
        SYSTEM, USER,
        {"role": "assistant", "content": "", "tool_calls": [call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})]},
        tool_result("call_1", "get_weather", "{\"temperature\": 18, \"condition\": \"sunny\"}")]},
    "tool-calls-parallel": {"tools": TOOLS, "messages": [
        {"role": "user", "content": "Weather in Paris and Oslo, and find my notes?"},
        {"role": "assistant", "content": "Let me check both cities and search.", "tool_calls": [
            call("call_a", "get_weather", {"city": "Paris"}),
            call("call_b", "get_weather", {"city": "Oslo", "unit": "celsius"}),
            call("call_c", "search_files", {"pattern": "notes/**/*.md", "max_results": 5, "paths": ["docs", "home"], "include_hidden": False})]},
        tool_result("call_a", "get_weather", "18 C, sunny"),
        tool_result("call_b", "get_weather", "4 C, \"light\" snow"),
        tool_result("call_c", "search_files", "notes/today.md\nnotes/ideas.md"),
        {"role": "assistant", "content": "Paris: 18 C and sunny. Oslo: 4 C with light snow. Found 2 notes."},
        {"role": "user", "content": "Thanks!"}]},
    # The other shapes some templates are written for: bare tool definitions, and tool-call
    # arguments as a JSON string (OpenAI style).
    "tool-call-flat-tools": {"tools": [t["function"] for t in TOOLS], "messages": [
        SYSTEM, USER,
        {"role": "assistant", "content": "", "tool_calls": [call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})]},
        tool_result("call_1", "get_weather", "18 C, sunny"),
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "Thanks."}]},
    "tool-call-string-args": {"tools": TOOLS, "messages": [
        USER,
        {"role": "assistant", "content": "", "tool_calls": [
            call("call_1", "get_weather", json.dumps({"city": "Zürich", "unit": "celsius"}, ensure_ascii=False))]},
        tool_result("call_1", "get_weather", "12 C, cloudy"),
        {"role": "assistant", "content": "12 C and cloudy in Zürich."},
        {"role": "user", "content": "Thanks."}]},
    "reasoning": {"messages": [
        {"role": "user", "content": "What is 17 * 3?"},
        {"role": "assistant", "reasoning_content": "17 * 3 = 51.", "content": "51"},
        {"role": "user", "content": "And 51 + 9?"}]},
    "reasoning-tool-call": {"tools": TOOLS, "messages": [
        SYSTEM, USER,
        {"role": "assistant", "reasoning_content": "I need the weather tool.", "content": "",
         "tool_calls": [call("call_1", "get_weather", {"city": "Paris"})]},
        tool_result("call_1", "get_weather", "18 C, sunny"),
        {"role": "assistant", "reasoning_content": "The tool says sunny.", "content": "It is 18 C and sunny in Paris."}]},
    "reasoning-last-assistant": {"messages": [
        SYSTEM,
        {"role": "user", "content": "Name a prime number."},
        {"role": "assistant", "reasoning_content": "2 is the smallest prime.", "content": "2"}]},
    "unicode": {"messages": [
        {"role": "system", "content": "Réponds en français — avec des « guillemets »."},
        {"role": "user", "content": "Café ☕, naïve, 日本語, emoji 😀, quote \" and backslash \\ and tab\t."},
        {"role": "assistant", "content": "Line one.\nLine two with trailing spaces   \n\n  indented."},
        {"role": "user", "content": "  spaces around  "}]},
    "typed-content": {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "this in one word."}]}]},
    "documents": {"documents": [
        {"title": "Paris", "text": "Paris is the capital of France."},
        {"title": "Oslo", "text": "Oslo is the capital of Norway."}],
        "messages": [{"role": "user", "content": "Which city is in Norway?"}]},
}


def template_variables(conv, add_generation_prompt, enable_thinking):
    kwargs = {"bos_token": BOS, "eos_token": EOS}
    if enable_thinking is not None:
        kwargs["enable_thinking"] = enable_thinking
    return dict(messages=conv["messages"], tools=conv.get("tools"), documents=conv.get("documents"),
                add_generation_prompt=add_generation_prompt, **kwargs)


def render(env, source, variables):
    try:
        template = env.from_string(source) if isinstance(source, str) else source
        return {"output": template.render(**variables)}
    except Exception as e:  # what Python raised decides what we must raise
        return {"error": type(e).__name__, "message": str(e)}


def golden_for_template(env, path):
    source = open(path, encoding="utf-8", newline="").read()
    names = jinja2.meta.find_undeclared_variables(env.parse(source))
    compiled = env.from_string(source)
    thinking_values = [None, True, False] if "enable_thinking" in names else [None]
    outputs, index, cases = [], {}, []
    for conv_name, conv in CONVERSATIONS.items():
        for agp in (True, False):
            for thinking in thinking_values:
                r = render(env, compiled, template_variables(conv, agp, thinking))
                case = {"conversation": conv_name, "add_generation_prompt": agp}
                if thinking is not None:
                    case["enable_thinking"] = thinking
                if "output" in r:
                    text = r["output"]
                    if text not in index:
                        index[text] = len(outputs)
                        outputs.append(text)
                    case["output"] = index[text]
                else:
                    case["error"] = r["error"]
                    case["message"] = r["message"]
                cases.append(case)
    return {
        "template": os.path.basename(path),
        "sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "bos_token": BOS,
        "eos_token": EOS,
        "now": FIXED_NOW.isoformat(),
        "cases": cases,
        "outputs": outputs,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(root, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "data", "templates"))
    args = ap.parse_args()

    env = make_env()
    os.makedirs(os.path.join(args.out, "renders"), exist_ok=True)
    with open(os.path.join(args.out, "conversations.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS, "now": FIXED_NOW.isoformat(),
                   "conversations": CONVERSATIONS}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    paths = sorted(glob.glob(os.path.join(args.shared, "templates", "*.jinja")))
    if not paths:
        sys.exit(f"no templates under {args.shared}/templates")
    n_cases = n_errors = 0
    for path in paths:
        g = golden_for_template(env, path)
        n_cases += len(g["cases"])
        n_errors += sum(1 for c in g["cases"] if "error" in c)
        stem = os.path.basename(path)[: -len(".jinja")]
        with open(os.path.join(args.out, "renders", stem + ".json"), "w", encoding="utf-8") as f:
            json.dump(g, f, ensure_ascii=False, indent=0)
            f.write("\n")

    import snippets  # tools/snippets.py, beside this script
    snippet_out = []
    for s in snippets.SNIPPETS:
        name, source, context = s[0], s[1], s[2] if len(s) > 2 else {}
        r = render(make_env(), source, context)
        snippet_out.append({"name": name, "template": source, "context": context, **r})
    with open(os.path.join(args.out, "snippets.json"), "w", encoding="utf-8") as f:
        json.dump(snippet_out, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{len(paths)} templates, {n_cases} cases ({n_errors} raise), {len(snippet_out)} snippets "
          f"-> {args.out} (jinja2 {jinja2.__version__})")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
