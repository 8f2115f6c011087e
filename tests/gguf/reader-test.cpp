#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf.h"
#include "support/test-support.h"

namespace parley::gguf {
namespace {

// Assembles GGUF bytes by hand so tests can write lies into any field.
class RawGguf {
 public:
  RawGguf& magic(const char* m) { out_.append(m, 4); return *this; }
  RawGguf& u32(uint32_t v) { return put(v); }
  RawGguf& u64(uint64_t v) { return put(v); }
  RawGguf& u8(uint8_t v) { return put(v); }
  RawGguf& str(std::string_view s) {
    u64(s.size());
    out_.append(s);
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return magic("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& tensor(std::string_view name, std::vector<uint64_t> shape, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(shape.size()));
    for (uint64_t d : shape) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t alignment) {
    while (out_.size() % alignment) out_ += '\0';
    return *this;
  }
  RawGguf& bytes(size_t n, char c = 0) {
    out_.append(n, c);
    return *this;
  }
  size_t size() const { return out_.size(); }
  const std::string& data() const { return out_; }

 private:
  template <class T>
  RawGguf& put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  std::string out_;
};

Result<File> parse(const std::string& bytes) {
  return File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.gguf");
}

// Expects a parse error that contains `what` and names byte `at`.
void expect_error(const std::string& bytes, const std::string& what, uint64_t at) {
  auto f = parse(bytes);
  ASSERT_FALSE(f.ok()) << "parsed although it should not: " << what;
  const std::string& m = f.error().message;
  EXPECT_NE(m.find(what), std::string::npos) << m;
  EXPECT_NE(m.find("at byte " + std::to_string(at) + ":"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "error must be one line: " << m;
}

TEST(GgufReader, ReadsStories260K) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto f = File::open((test::shared_dir() / "models/stories260K.gguf").string());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 19u);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_uint("llama.block_count"), 5u);
  EXPECT_EQ(*f->get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(*f->get_uint("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*f->get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(*f->get_uint("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*f->get_uint("llama.context_length"), 2048u);
  EXPECT_NEAR(*f->get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->count(), 512u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strings()[1], "<s>");
  EXPECT_EQ(f->find("tokenizer.chat_template"), nullptr);
  // The last tensor's data ends exactly at the end of the file.
  uint64_t end = 0;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.type, DType::f32);
    end = std::max(end, f->data_offset() + t.offset + t.n_bytes);
  }
  EXPECT_EQ(end, f->file_size());
  const TensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<uint64_t>{64, 512}));
}

TEST(GgufReader, ReadsLlama2TinyRandom) {
  PARLEY_REQUIRE_SHARED("models/llama-2-tiny-random.gguf");
  auto f = File::open((test::shared_dir() / "models/llama-2-tiny-random.gguf").string());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->metadata().size(), 18u);
  EXPECT_EQ(f->tensors().size(), 12u);
  EXPECT_EQ(*f->get_uint("general.file_type"), 1u);
  int n_f16 = 0, n_f32 = 0;
  for (const auto& t : f->tensors()) {
    n_f16 += t.type == DType::f16;
    n_f32 += t.type == DType::f32;
  }
  EXPECT_EQ(n_f16, 9);
  EXPECT_EQ(n_f32, 3);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->strings()[15043], "\xE2\x96\x81Hello");
  EXPECT_EQ(f->find("tokenizer.ggml.scores")->to_f32()->size(), 32000u);
}

TEST(GgufReader, TypedGettersNameTheKeyAndType) {
  std::string b = RawGguf().header(0, 1).str("general.architecture").u32(4).u32(7).data();
  auto f = parse(b);
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto s = f->get_string("general.architecture");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "key 'general.architecture': expected a string, got u32");
  EXPECT_EQ(f->get_uint("missing").error().message, "key 'missing' is missing");
}

TEST(GgufReader, BrokenFilesGiveOneLineErrorsWithOffsets) {
  expect_error("GGU", "not a GGUF file", 0);
  expect_error(RawGguf().magic("GGML").u32(3).u64(0).u64(0).data(), "not a GGUF file (magic 'GGML'", 0);
  expect_error(RawGguf().header(0, 0, 1).data(), "GGUF version 1 is not supported", 4);
  expect_error(RawGguf().header(0, 0, 99).data(), "unknown GGUF version 99", 4);
  expect_error(RawGguf().header(0, 0, 0x03000000).data(), "big-endian", 4);
  expect_error(RawGguf().magic("GGUF").u32(3).u64(0).data(), "file ends inside the metadata count", 16);
  // Absurd counts are rejected before any allocation.
  expect_error(RawGguf().header(~0ull, 0).data(), "tensor count 18446744073709551615 is impossible", 8);
  expect_error(RawGguf().header(0, 1ull << 40).data(), "metadata count 1099511627776 is impossible", 16);
  // Key length beyond the file.
  expect_error(RawGguf().header(0, 1).u64(1000).bytes(20).data(), "metadata key length 1000 runs past the end", 24);
  // A non-UTF-8 key.
  expect_error(RawGguf().header(0, 1).str("ab\xFF").u32(4).u32(1).data(), "metadata key 0 is not valid UTF-8", 34);
  // Unknown value type.
  expect_error(RawGguf().header(0, 1).str("k").u32(13).u32(0).data(), "unknown value type 13", 33);
  // String value longer than the file.
  expect_error(RawGguf().header(0, 1).str("k").u32(8).u64(~0ull).data(), "a string value length 18446744073709551615 runs past", 37);
  // Array with an absurd count.
  expect_error(RawGguf().header(0, 1).str("k").u32(9).u32(4).u64(1ull << 60).bytes(8).data(),
               "array of 1152921504606846976 u32 elements", 41);
  // Arrays nested too deep.
  RawGguf deep;
  deep.header(0, 1).str("k").u32(9);
  for (int i = 0; i < 12; i++) deep.u32(9).u64(1);
  deep.u32(4).u64(0);
  auto d = parse(deep.data());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("nested deeper than 8"), std::string::npos) << d.error().message;
  // Duplicate key.
  expect_error(RawGguf().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).data(), "duplicate metadata key 'a'", 41);
  // Bool that is neither 0 nor 1.
  expect_error(RawGguf().header(0, 1).str("b").u32(7).u8(2).data(), "bool value is 2", 37);
  // Alignment that is not a power of two.
  expect_error(RawGguf().header(0, 1).kv_u32("general.alignment", 24).data(), "general.alignment must be a power of two", 0);
}

TEST(GgufReader, BrokenTensorDirectoriesAreCaught) {
  auto base = [] { return RawGguf().header(1, 0); };
  // Too many dimensions.
  expect_error(base().str("t").u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0).bytes(64).data(),
               "tensor 't' has 5 dimensions", 33);
  // Element count overflow.
  expect_error(base().tensor("t", {1ull << 40, 1ull << 40}, 0, 0).bytes(64).data(), "element count overflows", 45);
  // Unknown type.
  expect_error(base().tensor("t", {4}, 4, 0).bytes(64).data(), "unknown type id 4", 45);
  // Row not a multiple of the block size.
  expect_error(base().tensor("t", {33}, 8, 0).bytes(64).data(), "row length 33 is not a multiple of the Q8_0 block size 32", 45);
  // Misaligned offset.
  expect_error(base().tensor("t", {4}, 0, 8).bytes(64).data(), "data offset 8 is not a multiple of the alignment 32", 49);
  // Offset that lies: data beyond the end of the file.
  {
    RawGguf r = base().tensor("t", {16}, 0, 64);
    r.pad(32).bytes(64);
    expect_error(r.data(), "tensor 't': data [64, 128) runs past the end of the file", 24);
  }
  // Overlapping tensors.
  {
    RawGguf r = RawGguf().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32);
    size_t b_at = 24 + (8 + 1 + 4 + 8 + 4 + 8);
    r.pad(32).bytes(96);
    expect_error(r.data(), "tensors 'a' and 'b' overlap", b_at);
  }
  // Duplicate tensor names.
  {
    RawGguf r = RawGguf().header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32);
    r.pad(32).bytes(64);
    expect_error(r.data(), "duplicate tensor name 'a'", 57);
  }
  // Non-UTF-8 tensor name.
  expect_error(base().tensor("w\xC3", {4}, 0, 0).bytes(64).data(), "tensor name is not valid UTF-8", 24);
}

TEST(GgufReader, VocabOnlyFileMayEndWithoutPadding) {
  std::string b = RawGguf().header(0, 1).kv_u32("x", 1).data();
  EXPECT_TRUE(parse(b).ok());
}

TEST(GgufReader, EveryTruncationIsAnErrorNotACrash) {
  RawGguf r = RawGguf().header(2, 2).kv_u32("general.alignment", 32).str("arr").u32(9).u32(8).u64(2).str("x").str("yz");
  r.tensor("a", {8}, 0, 0).tensor("b", {4}, 1, 32);
  r.pad(32);
  size_t data_at = r.size();
  r.bytes(32, 1).bytes(8, 2);
  const std::string full = r.data();
  ASSERT_TRUE(parse(full).ok()) << parse(full).error().message;
  for (size_t n = 0; n < full.size(); n++) {
    auto f = parse(full.substr(0, n));
    if (n < data_at + 40) {
      EXPECT_FALSE(f.ok()) << "prefix of " << n << " bytes parsed";
    }
  }
}

}  // namespace
}  // namespace parley::gguf
