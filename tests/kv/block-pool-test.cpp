#include "kv/block-pool.h"

#include <gtest/gtest.h>

namespace parley::kv {
namespace {

std::unique_ptr<BlockPool> make_pool(int32_t n_blocks, DType type = DType::f16) {
  auto p = BlockPool::create(PoolShape{2, 2, 8, 4, n_blocks, type});
  EXPECT_TRUE(p.ok());
  return std::move(p).value();
}

TEST(BlockPool, AllocatesEveryBlockOnceAndReleasesToTheFreeList) {
  auto pool = make_pool(5);
  EXPECT_EQ(pool->n_free(), 5);
  std::vector<BlockId> got;
  for (int i = 0; i < 5; i++) got.push_back(pool->allocate());
  EXPECT_EQ(pool->allocate(), -1);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<BlockId>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pool->n_used(), 5);
  pool->check_invariants();
  for (BlockId id : got) pool->release(id);
  EXPECT_EQ(pool->n_free(), 5);
  pool->check_invariants();
}

TEST(BlockPool, SizesFollowTheShape) {
  auto pool = make_pool(3, DType::f32);
  // 2 kv heads x 4 positions x 8 dims x 4 bytes per block; 2 layers x K,V x 3 blocks.
  EXPECT_EQ(pool->block_bytes(), 256u);
  EXPECT_EQ(pool->total_bytes(), 256u * 2 * 2 * 3);
  EXPECT_EQ(pool->v_layer(0) - pool->k_layer(0), 256 * 3);
  EXPECT_EQ(pool->k_layer(1) - pool->k_layer(0), 256 * 3 * 2);
  EXPECT_FALSE(BlockPool::create(PoolShape{2, 2, 8, 4, 3, DType::q8_0}).ok());
  EXPECT_FALSE(BlockPool::create(PoolShape{2, 2, 8, 0, 3, DType::f16}).ok());
}

TEST(BlockTable, ReserveIsAllOrNothing) {
  auto pool = make_pool(4);  // 4 blocks of 4 positions
  BlockTable a(*pool), b(*pool);
  EXPECT_TRUE(a.reserve(5));  // 2 blocks
  EXPECT_EQ(a.blocks().size(), 2u);
  EXPECT_EQ(a.capacity(), 8);
  EXPECT_TRUE(a.reserve(8));  // still 2
  EXPECT_EQ(pool->n_free(), 2);
  EXPECT_EQ(b.blocks_needed(12), 3);
  EXPECT_FALSE(b.reserve(12));  // needs 3, 2 free: nothing taken
  EXPECT_TRUE(b.blocks().empty());
  EXPECT_EQ(pool->n_free(), 2);
  EXPECT_TRUE(b.reserve(7));
  EXPECT_EQ(pool->n_free(), 0);
  pool->check_invariants();
  a.truncate(3);  // keeps 1 block
  EXPECT_EQ(a.blocks().size(), 1u);
  EXPECT_EQ(pool->n_free(), 1);
  b.clear();
  EXPECT_EQ(pool->n_free(), 3);
  pool->check_invariants();
}

TEST(BlockTable, SharedBlocksReturnWhenTheLastOwnerLetsGo) {
  auto pool = make_pool(4);
  {
    BlockTable a(*pool);
    ASSERT_TRUE(a.reserve(8));
    {
      BlockTable b(*pool);
      b.append_shared(a.blocks()[0]);
      b.append_shared(a.blocks()[1]);
      EXPECT_EQ(pool->ref_count(a.blocks()[0]), 2);
      ASSERT_TRUE(b.reserve(9));  // one more block of its own
      EXPECT_EQ(pool->n_used(), 3);
      pool->check_invariants();
    }  // b releases its references; a's blocks stay
    EXPECT_EQ(pool->n_used(), 2);
    EXPECT_EQ(pool->ref_count(a.blocks()[0]), 1);
    BlockTable moved = std::move(a);
    EXPECT_EQ(pool->n_used(), 2);
    pool->check_invariants();
  }
  EXPECT_EQ(pool->n_free(), 4);
  pool->check_invariants();
}

TEST(BlockPoolDeathTest, DoubleReleaseAborts) {
  auto pool = make_pool(2);
  BlockId id = pool->allocate();
  pool->release(id);
  EXPECT_DEATH(pool->release(id), "double free");
}

}  // namespace
}  // namespace parley::kv
