// A real model speaks: stories260K (real trained TinyStories weights), greedy from BOS, gives
// exactly the tokens llama.cpp gives (tests/data/engine/stories260K-greedy.json, recorded with
// tools/peer_greedy.mjs; its "text" field is the story).
#include <gtest/gtest.h>

#include "base/json.h"
#include "model/harness.h"
#include "sampling/sampler.h"

namespace parley::model {
namespace {

TEST(Stories260K, GreedyFromBosMatchesLlamaCpp) {
  PARLEY_REQUIRE_SHARED("models/stories260K.gguf");
  auto ref = json::parse(parley::test::read_file(parley::test::source_dir() / "tests/data/engine/stories260K-greedy.json"));
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  std::vector<int32_t> expected;
  for (const auto& t : (*ref)["tokens"].as_array()) expected.push_back(static_cast<int32_t>(t.as_int()));
  ASSERT_GE(expected.size(), 200u);

  auto model = Model::load((parley::test::shared_dir() / "models" / "stories260K.gguf").string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  for (DType kv_type : {DType::f32, DType::f16}) {
    test::Harness h(**model, kv_type, 2, 8, 1, 512);
    std::vector<int32_t> got;
    int32_t token = 1;  // BOS
    for (size_t pos = 0; got.size() < expected.size(); pos++) {
      Batch b;
      b.add(token, static_cast<int32_t>(pos), 0, true);
      auto logits = h.run(b);
      token = sampling::argmax(logits[0].data(), static_cast<int32_t>(logits[0].size()));
      got.push_back(token);
    }
    EXPECT_EQ(got, expected) << "KV " << dtype_name(kv_type) << "; llama.cpp's story: " << (*ref)["text"].as_string();
  }
}

}  // namespace
}  // namespace parley::model
