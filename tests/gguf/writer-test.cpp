#include "gguf/writer.h"

#include <gtest/gtest.h>

#include "support/test-support.h"
#include "tensor/quant.h"

namespace parley::gguf {
namespace {

Result<File> reparse(const std::string& bytes) {
  return File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

class WriterRoundTrip : public ::testing::TestWithParam<std::pair<uint32_t, uint32_t>> {};

TEST_P(WriterRoundTrip, MetadataAndTensorsSurvive) {
  auto [alignment, version] = GetParam();
  Writer w(alignment, version);
  OwnedValue u8v; u8v.type = ValueType::u8; u8v.u = 200;
  OwnedValue i8v; i8v.type = ValueType::i8; i8v.i = -100;
  OwnedValue u16v; u16v.type = ValueType::u16; u16v.u = 60000;
  OwnedValue i16v; i16v.type = ValueType::i16; i16v.i = -30000;
  OwnedValue u64v = OwnedValue::u64(1ull << 50);
  OwnedValue i64v; i64v.type = ValueType::i64; i64v.i = -(1ll << 50);
  OwnedValue f64v; f64v.type = ValueType::f64; f64v.f = 3.25;
  w.set("a.u8", u8v);
  w.set("a.i8", i8v);
  w.set("a.u16", u16v);
  w.set("a.i16", i16v);
  w.set("a.u32", OwnedValue::u32(4000000000u));
  w.set("a.i32", OwnedValue::i32(-5));
  w.set("a.u64", u64v);
  w.set("a.i64", i64v);
  w.set("a.f32", OwnedValue::f32(0.5f));
  w.set("a.f64", f64v);
  w.set("a.bool", OwnedValue::boolean(true));
  w.set("a.str", OwnedValue::string("héllo"));
  w.set("a.strs", OwnedValue::strings({"x", "", "zz"}));
  w.set("a.f32s", OwnedValue::f32s({1.5f, -2.0f}));
  // Nested: an array of arrays of i32.
  w.set("a.nested", OwnedValue::array(ValueType::array, {OwnedValue::i32s({1, 2}), OwnedValue::i32s({3})}));
  w.add_tensor("t.f32", DType::f32, {3, 2}, pattern(24, 1));
  w.add_tensor("t.f16", DType::f16, {5}, pattern(10, 2));
  w.add_tensor("t.q8", DType::q8_0, {64, 3}, pattern(34 * 6, 3));
  w.add_tensor("t.q4", DType::q4_0, {32}, pattern(18, 4));
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto f = reparse(*bytes);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->version(), version);
  EXPECT_EQ(f->alignment(), alignment);
  EXPECT_EQ(*f->find("a.u8")->as_uint(), 200u);
  EXPECT_EQ(*f->find("a.i8")->as_int(), -100);
  EXPECT_EQ(*f->find("a.u16")->as_uint(), 60000u);
  EXPECT_EQ(*f->find("a.i16")->as_int(), -30000);
  EXPECT_EQ(*f->find("a.u32")->as_uint(), 4000000000u);
  EXPECT_EQ(*f->find("a.i32")->as_int(), -5);
  EXPECT_EQ(*f->find("a.u64")->as_uint(), 1ull << 50);
  EXPECT_EQ(*f->find("a.i64")->as_int(), -(1ll << 50));
  EXPECT_EQ(*f->find("a.f32")->as_float(), 0.5);
  EXPECT_EQ(*f->find("a.f64")->as_float(), 3.25);
  EXPECT_EQ(*f->find("a.bool")->as_bool(), true);
  EXPECT_EQ(*f->find("a.str")->as_string(), "héllo");
  EXPECT_EQ(f->find("a.strs")->strings(), (std::vector<std::string_view>{"x", "", "zz"}));
  EXPECT_EQ(*f->find("a.f32s")->to_f32(), (std::vector<float>{1.5f, -2.0f}));
  const MetaValue* nested = f->find("a.nested");
  ASSERT_EQ(nested->items().size(), 2u);
  EXPECT_EQ(*nested->items()[0].to_i64(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(*nested->items()[1].to_i64(), (std::vector<int64_t>{3}));
  // Keys in insertion order.
  EXPECT_EQ(f->metadata()[alignment == 32 ? 0 : 1].first, "a.u8");

  ASSERT_EQ(f->tensors().size(), 4u);
  const std::pair<const char*, std::vector<uint8_t>> expected[] = {
      {"t.f32", pattern(24, 1)}, {"t.f16", pattern(10, 2)}, {"t.q8", pattern(204, 3)}, {"t.q4", pattern(18, 4)}};
  for (const auto& [name, data] : expected) {
    const TensorInfo* t = f->find_tensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ((f->data_offset() + t->offset) % alignment, 0u) << name;
    ASSERT_EQ(t->n_bytes, data.size()) << name;
    EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->n_bytes), data) << name;
  }
  EXPECT_EQ(f->find_tensor("t.q8")->shape, (std::vector<uint64_t>{64, 3}));

  // Re-writing what was read gives the same bytes (metadata copy is exact).
  Writer w2(alignment, version);
  for (const auto& [k, v] : f->metadata()) {
    if (k != "general.alignment") w2.set(k, OwnedValue::from(v));
  }
  for (const auto& t : f->tensors()) {
    w2.add_tensor(t.name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
  }
  auto bytes2 = w2.to_bytes();
  ASSERT_TRUE(bytes2.ok());
  EXPECT_EQ(*bytes2, *bytes);
}

INSTANTIATE_TEST_SUITE_P(Alignments, WriterRoundTrip,
                         ::testing::Values(std::make_pair(32u, 3u), std::make_pair(64u, 3u),
                                           std::make_pair(32u, 2u), std::make_pair(256u, 3u)));

TEST(GgufWriter, WritesFilesAtomically) {
  test::TempDir dir;
  Writer w;
  w.set("k", OwnedValue::u32(1));
  w.add_tensor("t", DType::f32, {2}, [](std::vector<uint8_t>& out) { out.assign(8, 0); });
  std::string path = (dir / "m.gguf").string();
  ASSERT_TRUE(w.write(path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->tensors().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));

  // A filler that produces the wrong size fails the write and leaves no file behind.
  Writer bad;
  bad.add_tensor("t", DType::f32, {2}, [](std::vector<uint8_t>& out) { out.assign(4, 0); });
  std::string bad_path = (dir / "bad.gguf").string();
  auto st = bad.write(bad_path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("filler produced 4 bytes, expected 8"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(bad_path));
  EXPECT_FALSE(std::filesystem::exists(bad_path + ".partial"));
}

}  // namespace
}  // namespace parley::gguf
