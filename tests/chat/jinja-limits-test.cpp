// Hostile and malformed templates: every bound ends in a clear error, never a crash or a hang;
// errors carry their kind and line.
#include <gtest/gtest.h>

#include <chrono>

#include "chat/jinja/template.h"

namespace parley::chat::jinja {
namespace {

struct Rendered {
  bool ok = false;
  std::string text;
  TemplateError error;
};

Rendered render(const std::string& src, const RenderOptions& opt = {}, const Variables& vars = {}) {
  Rendered r;
  auto t = Template::parse(src);
  if (!t.ok()) {
    r.error.kind = ErrorKind::syntax;
    r.error.message = t.error().message;
    return r;
  }
  auto out = t->render(vars, opt, &r.error);
  r.ok = out.ok();
  if (r.ok) r.text = *out;
  return r;
}

TEST(JinjaLimits, InfiniteRecursionIsBounded) {
  Rendered r = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
  EXPECT_NE(r.error.message.find("recursion"), std::string::npos) << r.error.message;
}

TEST(JinjaLimits, RecursiveLoopIsBounded) {
  Rendered r = render("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
}

TEST(JinjaLimits, StepBudget) {
  RenderOptions opt;
  opt.limits.max_steps = 100000;
  Rendered r = render("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", opt);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
  EXPECT_NE(r.error.message.find("step limit"), std::string::npos) << r.error.message;
}

TEST(JinjaLimits, DefaultsAreFinite) {
  RenderLimits d;
  EXPECT_LE(d.max_steps, 50'000'000u);
  EXPECT_LE(d.max_output_bytes, 64u << 20);
  EXPECT_LE(d.max_alloc_bytes, 1024u << 20);
  EXPECT_LE(d.max_depth, 1000u);
}

TEST(JinjaLimits, Deadline) {
  RenderOptions opt;
  opt.limits.max_steps = UINT64_MAX;
  opt.limits.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  Rendered r = render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", opt);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
  EXPECT_NE(r.error.message.find("time limit"), std::string::npos) << r.error.message;
}

TEST(JinjaLimits, OutputSize) {
  RenderOptions opt;
  opt.limits.max_output_bytes = 1000;
  Rendered r = render("{% for a in range(10000) %}xxxxxxxxxx{% endfor %}", opt);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
  EXPECT_NE(r.error.message.find("output limit"), std::string::npos) << r.error.message;
}

TEST(JinjaLimits, HugeStringsAndListsAreRefusedBeforeAllocating) {
  for (const char* src : {"{{ 'x' * 10000000000 }}", "{{ ([1] * 100000000000)|length }}",
                          "{{ 'ab'|center(99999999999) }}", "{{ '%099999999999d' % 1 }}",
                          "{{ 'x'|indent(99999999999) }}"}) {
    Rendered r = render(src);
    EXPECT_FALSE(r.ok) << src;
  }
}

// A NUL byte inside a %-format or strftime format (fuzz finding): Python reports an unsupported
// format character, and strftime ends at the NUL; printf must never see a cut-off spec.
TEST(JinjaErrors, NulBytesInFormatStrings) {
  using namespace std::string_literals;
  for (std::string src : {"{{ '%0\0005d' % 3 }}"s, "{{ '%\0' % 3 }}"s, "{{ '%-\0f' % 1.5 }}"s}) {
    Rendered r = render(src);
    ASSERT_FALSE(r.ok) << src;
    EXPECT_NE(r.error.message.find("unsupported format character '?' (0x0)"), std::string::npos)
        << r.error.message;
  }
  RenderOptions opt;
  opt.now_unix_seconds = 0;
  Rendered t = render("{{ strftime_now('a%Y\0%m') }}"s, opt);
  ASSERT_TRUE(t.ok) << t.error.message;
  EXPECT_EQ(t.text, "a1970");
}

// Floats past int64 (fuzz finding: a 21-digit string through int(0, 16) fell back to float and
// was converted out of range). Python would make a big integer; we stop with a limit error.
TEST(JinjaLimits, FloatsPastInt64AreALimitNotAConversion) {
  for (const char* src : {"{{ '022222222222222222222'|int(0, 16) }}", "{{ 1e30|int }}",
                          "{{ '-1e19'|int }}", "{{ '%d' % 1e30 }}", "{{ 9223372036854775807|round(-1) }}"}) {
    Rendered r = render(src);
    ASSERT_FALSE(r.ok) << src;
    EXPECT_EQ(r.error.kind, ErrorKind::limit) << src << ": " << r.error.message;
  }
  Rendered r = render("{{ 5|round(-1000) }}|{{ 125|round(-1) }}|{{ -9.2e18|int }}|{{ 'nan'|int(7) }}");
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.text, "0|120|-9200000000000000000|7");
  EXPECT_FALSE(render("{{ 'inf'|int }}").ok);
}

// str.format field numbers (fuzz finding: a 74-digit index threw std::out_of_range from stoul
// through the whole engine). Expected values are Python's.
TEST(JinjaFormat, FieldIndexesAreDigitsOnlyAndBounded) {
  Rendered big = render("{{ '{44444444444444444444444444} {}'.format('i', 1) }}");
  ASSERT_FALSE(big.ok);
  EXPECT_NE(big.error.message.find("Too many decimal digits in format string"), std::string::npos)
      << big.error.message;
  Rendered item = render("{{ '{0[99999999999999999999999]}'.format([1]) }}");
  ASSERT_FALSE(item.ok);
  EXPECT_NE(item.error.message.find("Too many decimal digits"), std::string::npos) << item.error.message;
  Rendered key = render("{{ '{0a}'.format(1) }}");
  ASSERT_FALSE(key.ok);
  EXPECT_NE(key.error.message.find("KeyError: '0a'"), std::string::npos) << key.error.message;
  Rendered ok = render("{{ '{0[01]}|{1}{0}'.format([1, 2], 'b') }}");
  ASSERT_TRUE(ok.ok) << ok.error.message;
  EXPECT_EQ(ok.text, "2|b[1, 2]");
}

TEST(JinjaFormat, WideIntegersAreNotCut) {
  Rendered r = render("{{ '%300d' % 7 }}|{{ '%-300x' % 255 }}");
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.text, std::string(299, ' ') + "7|ff" + std::string(298, ' '));
}

TEST(JinjaLimits, ExponentialValuesAreBounded) {
  // Each step doubles a shared list; printing it would be 2^40 items.
  std::string src = "{% set a = [1] %}";
  for (int i = 0; i < 40; i++) src += "{% set a = [a, a] %}";
  src += "{{ a }}";
  RenderOptions opt;
  opt.limits.max_output_bytes = 1u << 20;
  Rendered r = render(src, opt);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
  Rendered j = render(src.substr(0, src.size() - 7) + "{{ a|tojson }}", opt);
  ASSERT_FALSE(j.ok);
  EXPECT_EQ(j.error.kind, ErrorKind::limit);
}

TEST(JinjaLimits, MemoryBudget) {
  RenderOptions opt;
  opt.limits.max_alloc_bytes = 1u << 20;
  Rendered r = render("{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ 'xxxxxxxxxx' %}{% endfor %}", opt);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::limit);
}

TEST(JinjaLimits, DeepNestingIsASyntaxError) {
  std::string deep(5000, '(');
  Rendered r = render("{{ " + deep + "1" + std::string(5000, ')') + " }}");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::syntax);
  std::string ifs;
  for (int i = 0; i < 5000; i++) ifs += "{% if true %}";
  r = render(ifs);
  EXPECT_FALSE(r.ok);
  std::string nots = "{{ " + std::string(0, ' ');
  for (int i = 0; i < 5000; i++) nots += "not ";
  r = render(nots + "1 }}");
  EXPECT_FALSE(r.ok);
  r = render("{{ " + std::string(5000, '-') + "1 }}");
  EXPECT_FALSE(r.ok);
}

TEST(JinjaLimits, RangeIsCappedLikeTheSandbox) {
  Rendered r = render("{{ range(100001)|length }}");
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.message.find("MAX_RANGE"), std::string::npos) << r.error.message;
  EXPECT_TRUE(render("{{ range(100000)|length }}").ok);
}

TEST(JinjaErrors, KindsAndLines) {
  Rendered r = render("line1\n{{ raise_exception('boom') }}");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::raised);
  EXPECT_EQ(r.error.message, "boom");
  EXPECT_EQ(r.error.line, 2u);

  r = render("a\nb\n{{ x.y }}");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.kind, ErrorKind::runtime);
  EXPECT_EQ(r.error.message, "'x' is undefined");
  EXPECT_EQ(r.error.line, 3u);

  auto t = Template::parse("ok\n{% if %}");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("template syntax error at line 2"), std::string::npos)
      << t.error().message;

  t = Template::parse("{% for x in y %}");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("endfor"), std::string::npos) << t.error().message;

  t = Template::parse(std::string("bad \xff utf8"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("UTF-8"), std::string::npos) << t.error().message;

  t = Template::parse("{% break %}");
  EXPECT_FALSE(t.ok());
  t = Template::parse("{% include 'other.jinja' %}");
  EXPECT_FALSE(t.ok());
  t = Template::parse("{{ 'unterminated }}");
  EXPECT_FALSE(t.ok());
  t = Template::parse("{# never closed");
  EXPECT_FALSE(t.ok());
  t = Template::parse("{{ 99999999999999999999999 }}");
  EXPECT_FALSE(t.ok());
}

TEST(JinjaErrors, SandboxBlocksMutationAndDunder) {
  Variables vars{{"x", from_json(*json::parse("[1,2]"))}};
  Rendered r = render("{{ x.append(3) }}", {}, vars);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.message.find("unsafe"), std::string::npos) << r.error.message;
  r = render("{{ x.__class__ }}", {}, vars);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.text, "");
  r = render("{{ x.__class__.__mro__ }}", {}, vars);
  EXPECT_FALSE(r.ok);
}

TEST(JinjaValues, ParseOnceRenderManyWithDifferentVariables) {
  auto t = Template::parse("{{ a }}-{{ b|default('none') }}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->render({{"a", Value::integer(1)}}), "1-none");
  EXPECT_EQ(*t->render({{"a", Value::string("x")}, {"b", Value::floating(0.5)}}), "x-0.5");
  EXPECT_TRUE(t->references("b"));
  EXPECT_FALSE(t->references("c"));
}

}  // namespace
}  // namespace parley::chat::jinja
