// matmul against matmul_reference for every weight type, kernel path, thread count and odd
// shapes. Tolerances:
//  - quantized types round each activation block to 8 bits (scale d = max|x| / 127), so each
//    activation moves by at most d / 2; the product can differ from the f32 reference by at
//    most sum_c |w_c| * d_block(c) / 2, plus f32 accumulation error (1e-5 of sum |w x|);
//  - float types only differ by f32 accumulation order (1e-5 of sum |w x|);
//  - a SIMD path and the scalar path see the same quantized activations, so they agree to
//    accumulation order (1e-5 of sum |w x|).
#include "tensor/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/cpu.h"
#include "base/rng.h"
#include "tensor/packed.h"
#include "tensor/quant.h"

namespace parley {
namespace {

struct Matrix {
  DType type;
  int64_t rows, cols;
  std::vector<uint8_t> data;
  std::vector<float> dequant;  // rows x cols
  WeightView view() const {
    WeightView w;
    w.type = type;
    w.data = data.data();
    w.n_rows = rows;
    w.n_cols = cols;
    w.row_bytes = dtype_row_bytes(type, static_cast<uint64_t>(cols));
    return w;
  }
};

Matrix make_matrix(DType type, int64_t rows, int64_t cols, uint64_t seed) {
  Matrix m{type, rows, cols, {}, {}};
  size_t rb = dtype_row_bytes(type, static_cast<uint64_t>(cols));
  m.data.resize(rb * static_cast<size_t>(rows));
  m.dequant.resize(static_cast<size_t>(rows * cols));
  Rng rng(seed);
  std::vector<float> row(static_cast<size_t>(cols));
  float scale = 1.0f / std::sqrt(static_cast<float>(cols));
  for (int64_t r = 0; r < rows; r++) {
    for (auto& v : row) v = rng.normal() * scale;
    if (r % 3 == 0) row[static_cast<size_t>(r % cols)] = 4 * scale;  // some blocks with an outlier
    quantize_row(type, row.data(), m.data.data() + static_cast<size_t>(r) * rb, cols);
    dequantize_row(type, m.data.data() + static_cast<size_t>(r) * rb, m.dequant.data() + r * cols, cols);
  }
  return m;
}

std::vector<float> make_acts(int64_t n_tokens, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (auto& v : x) v = rng.normal();
  for (int64_t t = 0; t < n_tokens; t++) x[static_cast<size_t>(t * cols + (t * 7) % cols)] = 20.0f;  // outliers
  return x;
}

bool quantized(DType t) { return dtype_info(t).block_elems > 1; }
int64_t act_block(DType t) { return dtype_info(t).block_elems == 256 ? 256 : 32; }

// Largest allowed |y - y_ref| for (token t, row r), see the file comment.
double tolerance(const Matrix& m, const std::vector<float>& x, int64_t t, int64_t r) {
  const float* w = m.dequant.data() + r * m.cols;
  const float* xt = x.data() + t * m.cols;
  double abs_sum = 0, quant = 0;
  for (int64_t c = 0; c < m.cols; c++) abs_sum += std::fabs(static_cast<double>(w[c]) * xt[c]);
  if (quantized(m.type)) {
    int64_t bs = act_block(m.type);
    for (int64_t b = 0; b < m.cols / bs; b++) {
      double amax = 0, wsum = 0;
      for (int64_t c = b * bs; c < (b + 1) * bs; c++) {
        amax = std::fmax(amax, std::fabs(xt[c]));
        wsum += std::fabs(w[c]);
      }
      quant += wsum * amax / 127.0 / 2.0;
    }
  }
  return quant * 1.0001 + 1e-5 * abs_sum + 1e-6;
}

// Every path this CPU runs (the others are named by MatmulPaths.SimdPathsThisCpuLacks).
std::vector<MatmulPath> paths() {
  std::vector<MatmulPath> p = {MatmulPath::scalar};
  for (MatmulPath simd : {MatmulPath::avx2, MatmulPath::avx512}) {
    if (matmul_path_available(simd)) p.push_back(simd);
  }
  return p;
}

// What each path is tested with: the GGUF layout, and also the packed copy (tensor/packed.h)
// where the path has a packed kernel for the type.
struct Variant {
  MatmulPath path;
  WeightView w;
  std::string name;
};
std::vector<Variant> variants(const Matrix& m, PackedWeights& packs) {
  std::vector<Variant> v;
  for (MatmulPath path : paths()) {
    v.push_back({path, m.view(), matmul_path_name(path)});
    WeightView p = m.view();
    if (packs.pack(p, path)) v.push_back({path, p, std::string(matmul_path_name(path)) + " packed"});
  }
  return v;
}

struct Shape {
  DType type;
  int64_t rows, cols;
};

class Matmul : public ::testing::TestWithParam<Shape> {};

TEST_P(Matmul, MatchesReferenceOnEveryPath) {
  const Shape s = GetParam();
  Matrix m = make_matrix(s.type, s.rows, s.cols, 11);
  MatmulScratch scratch;
  PackedWeights packs;
  const std::vector<Variant> vs = variants(m, packs);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 3, 17, 64}) {
      std::vector<float> x = make_acts(n, s.cols, static_cast<uint64_t>(n));
      std::vector<float> ref(static_cast<size_t>(n * s.rows));
      matmul_reference(m.view(), x.data(), n, ref.data());
      for (const Variant& v : vs) {
        std::vector<float> y(ref.size(), NAN);
        matmul(v.w, x.data(), n, y.data(), pool, scratch, v.path);
        int failures = 0;
        for (int64_t t = 0; t < n && failures < 5; t++) {
          for (int64_t r = 0; r < s.rows && failures < 5; r++) {
            size_t i = static_cast<size_t>(t * s.rows + r);
            double tol = tolerance(m, x, t, r);
            if (!(std::fabs(y[i] - ref[i]) <= tol)) {
              ADD_FAILURE() << v.name << " threads " << threads << " n_tokens " << n << " token "
                            << t << " row " << r << ": got " << y[i] << ", reference " << ref[i]
                            << ", tolerance " << tol;
              failures++;
            }
          }
        }
      }
    }
  }
}

TEST_P(Matmul, SimdPathsAgreeWithScalarKernels) {
  const Shape s = GetParam();
  Matrix m = make_matrix(s.type, s.rows, s.cols, 12);
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t n = 17;
  std::vector<float> x = make_acts(n, s.cols, 5);
  std::vector<float> scalar(static_cast<size_t>(n * s.rows));
  matmul(m.view(), x.data(), n, scalar.data(), pool, scratch, MatmulPath::scalar);
  PackedWeights packs;
  for (const Variant& v : variants(m, packs)) {
    std::vector<float> y(scalar.size());
    matmul(v.w, x.data(), n, y.data(), pool, scratch, v.path);
    for (int64_t t = 0; t < n; t++) {
      for (int64_t r = 0; r < s.rows; r++) {
        size_t i = static_cast<size_t>(t * s.rows + r);
        double abs_sum = 0;
        for (int64_t c = 0; c < s.cols; c++) abs_sum += std::fabs(m.dequant[static_cast<size_t>(r * s.cols + c)] * x[static_cast<size_t>(t * s.cols + c)]);
        ASSERT_NEAR(y[i], scalar[i], 1e-5 * abs_sum + 1e-6) << v.name << " token " << t << " row " << r;
      }
    }
  }
}

TEST_P(Matmul, EachTokenIsIndependentOfTheBatch) {
  // A token's outputs are bit-identical whether it is alone or in a batch (the engine relies on
  // this for exact batching).
  const Shape s = GetParam();
  Matrix m = make_matrix(s.type, s.rows, s.cols, 13);
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t n = 17;
  std::vector<float> x = make_acts(n, s.cols, 9);
  PackedWeights packs;
  for (const Variant& v : variants(m, packs)) {
    std::vector<float> batch(static_cast<size_t>(n * s.rows));
    matmul(v.w, x.data(), n, batch.data(), pool, scratch, v.path);
    for (int64_t t : {int64_t{0}, int64_t{4}, int64_t{16}}) {
      std::vector<float> alone(static_cast<size_t>(s.rows));
      matmul(v.w, x.data() + t * s.cols, 1, alone.data(), pool, scratch, v.path);
      for (int64_t r = 0; r < s.rows; r++) {
        ASSERT_EQ(alone[static_cast<size_t>(r)], batch[static_cast<size_t>(t * s.rows + r)])
            << v.name << " token " << t << " row " << r;
      }
    }
  }
}

// Rows not a multiple of the 4-row tile, columns of several blocks; float types with columns
// that are not a multiple of 8.
INSTANTIATE_TEST_SUITE_P(
    Types, Matmul,
    ::testing::Values(Shape{DType::f32, 13, 67}, Shape{DType::f16, 7, 96}, Shape{DType::f16, 9, 37},
                      Shape{DType::bf16, 6, 45}, Shape{DType::q8_0, 13, 128}, Shape{DType::q8_0, 1, 32},
                      Shape{DType::q8_0, 37, 64}, Shape{DType::q4_0, 11, 96}, Shape{DType::q4_0, 50, 128}, Shape{DType::q4_1, 5, 64}, Shape{DType::q5_0, 7, 96},
                      Shape{DType::q5_1, 6, 64}, Shape{DType::q2_k, 5, 512}, Shape{DType::q3_k, 7, 256},
                      Shape{DType::q4_k, 9, 512}, Shape{DType::q4_k, 35, 256}, Shape{DType::q5_k, 6, 256}, Shape{DType::q5_k, 19, 512}, Shape{DType::q6_k, 10, 512}, Shape{DType::q6_k, 33, 256},
                      Shape{DType::mxfp4, 11, 96}, Shape{DType::mxfp4, 50, 128}, Shape{DType::mxfp4, 1, 32},
                      Shape{DType::iq4_nl, 11, 96}, Shape{DType::iq4_nl, 37, 64}, Shape{DType::iq4_xs, 9, 512},
                      Shape{DType::iq4_xs, 35, 256}),
    [](const auto& p) {
      return std::string(dtype_name(p.param.type)) + "_" + std::to_string(p.param.rows) + "x" +
             std::to_string(p.param.cols);
    });

TEST(Matmul, ConvenienceOverloadAndEmptyInputs) {
  Matrix m = make_matrix(DType::q8_0, 5, 64, 3);
  std::vector<float> x = make_acts(2, 64, 1);
  std::vector<float> a(10), b(10);
  ThreadPool pool(2);
  MatmulScratch scratch;
  matmul(m.view(), x.data(), 2, a.data(), pool);
  matmul(m.view(), x.data(), 2, b.data(), pool, scratch);
  EXPECT_EQ(a, b);
  matmul(m.view(), x.data(), 0, b.data(), pool, scratch);  // nothing to do
  EXPECT_TRUE(can_matmul(DType::q6_k));
  EXPECT_FALSE(can_matmul(DType::iq2_xxs));
  EXPECT_STRNE(matmul_path_name(MatmulPath::best), "?");
  EXPECT_TRUE(matmul_path_available(MatmulPath::best));
  // The convenience overload reuses the pool's scratch: no growth once warm.
  size_t warm = pool.matmul_scratch().capacity_bytes();
  EXPECT_GT(warm, 0u);
  matmul(m.view(), x.data(), 1, a.data(), pool);
  EXPECT_EQ(pool.matmul_scratch().capacity_bytes(), warm);
}

TEST(Matmul, MultiEqualsSeparateProducts) {
  // Same activation format (Q4_K and Q6_K, like attn_q / attn_v of a Q4_K_M file), and mixed
  // formats (F16 next to Q8_0), rows not a multiple of the tile.
  for (auto types : {std::vector<DType>{DType::q4_k, DType::q6_k, DType::q4_k},
                     std::vector<DType>{DType::f16, DType::q8_0}, std::vector<DType>{DType::q4_0}}) {
    std::vector<Matrix> ms;
    for (size_t i = 0; i < types.size(); i++) ms.push_back(make_matrix(types[i], 13 + 8 * static_cast<int64_t>(i), 512, i));
    ThreadPool pool(2);
    MatmulScratch scratch;
    for (int64_t n : {1, 5, 17}) {
      std::vector<float> x = make_acts(n, 512, 4);
      std::vector<std::vector<float>> sep(ms.size()), multi(ms.size());
      std::vector<const WeightView*> ws;
      std::vector<WeightView> views;
      for (const auto& m : ms) views.push_back(m.view());
      std::vector<float*> ys;
      for (size_t i = 0; i < ms.size(); i++) {
        sep[i].resize(static_cast<size_t>(n * ms[i].rows));
        multi[i].assign(sep[i].size(), NAN);
        matmul(views[i], x.data(), n, sep[i].data(), pool, scratch);
        ws.push_back(&views[i]);
        ys.push_back(multi[i].data());
      }
      matmul_multi(ws.data(), ys.data(), static_cast<int>(ws.size()), x.data(), n, pool, scratch);
      for (size_t i = 0; i < ms.size(); i++) EXPECT_EQ(multi[i], sep[i]) << dtype_name(types[i]) << " n " << n;
    }
  }
}

TEST(Matmul, ScratchStopsGrowingOnceWarm) {
  Matrix m = make_matrix(DType::q4_k, 8, 512, 3);
  std::vector<float> x = make_acts(64, 512, 1);
  std::vector<float> y(64 * 8);
  ThreadPool pool(2);
  MatmulScratch scratch;
  scratch.reserve(64, 512, 2);
  size_t reserved = scratch.capacity_bytes();
  matmul(m.view(), x.data(), 64, y.data(), pool, scratch);
  matmul(m.view(), x.data(), 1, y.data(), pool, scratch);
  EXPECT_EQ(scratch.capacity_bytes(), reserved);
}

TEST(Matmul, MXFP4ScaleExtremes) {
  // E8M0 bytes 0 and 1 are f32 subnormal scales (2^-128, 2^-127) and 2 the smallest normal one:
  // each row has one exponent, and every path (packed too) must scale it as the scalar kernel.
  const uint8_t exps[] = {0, 1, 2, 3, 60, 127, 128, 200, 1, 0, 2};
  const int64_t rows = sizeof(exps), cols = 96;
  Matrix m{DType::mxfp4, rows, cols, {}, {}};
  const size_t rb = dtype_row_bytes(DType::mxfp4, cols);
  m.data.resize(rb * rows);
  m.dequant.resize(static_cast<size_t>(rows * cols));
  Rng rng(5);
  for (int64_t r = 0; r < rows; r++) {
    uint8_t* row = m.data.data() + r * rb;
    for (size_t i = 0; i < rb; i++) row[i] = static_cast<uint8_t>(rng.next_u64() >> 13);
    for (int64_t b = 0; b < cols / 32; b++) row[b * 17] = exps[r];
    dequantize_row(DType::mxfp4, row, m.dequant.data() + r * cols, cols);
  }
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (int64_t n : {1, 5, 8}) {
    std::vector<float> x = make_acts(n, cols, static_cast<uint64_t>(n));
    std::vector<float> ref(static_cast<size_t>(n * rows));
    matmul(m.view(), x.data(), n, ref.data(), pool, scratch, MatmulPath::scalar);
    PackedWeights packs;
    for (const Variant& v : variants(m, packs)) {
      std::vector<float> y(ref.size(), NAN);
      matmul(v.w, x.data(), n, y.data(), pool, scratch, v.path);
      for (int64_t t = 0; t < n; t++) {
        for (int64_t r = 0; r < rows; r++) {
          const size_t i = static_cast<size_t>(t * rows + r);
          ASSERT_NE(ref[i], 0.0f) << "row " << r;
          // Accumulation order (and the packed kernel's +12 offset) only: relative to sum |w x|.
          double abs_sum = 0;
          for (int64_t c = 0; c < cols; c++) abs_sum += std::fabs(static_cast<double>(m.dequant[static_cast<size_t>(r * cols + c)]) * x[static_cast<size_t>(t * cols + c)]);
          ASSERT_NEAR(y[i], ref[i], 1e-5 * abs_sum) << v.name << " row " << r << " e " << int{exps[r]};
        }
      }
    }
  }
}

// The SIMD paths the tests above could not run here, skipped by name rather than passed.
TEST(MatmulPacked, SameBitsAsTheUnpackedKernels) {
  // Same integer sums and float steps in the same order: packing changes speed, not results
  // (Q4_0 on both SIMD paths; Q8_0 on avx2, where it keeps the signed dot products).
  struct Case {
    DType type;
    MatmulPath path;
  };
  int ran = 0;
  for (Case c : {Case{DType::q4_0, MatmulPath::avx512}, Case{DType::q4_0, MatmulPath::avx2}, Case{DType::q8_0, MatmulPath::avx2}}) {
    if (!can_pack(c.type, c.path)) continue;
    ran++;
    Matrix m = make_matrix(c.type, 48, 256, 21);
    PackedWeights packs;
    WeightView p = m.view();
    ASSERT_TRUE(packs.pack(p, c.path));
    EXPECT_EQ(packs.bytes(), m.data.size());  // 48 rows: three whole groups, no padding
    ThreadPool pool(2);
    MatmulScratch scratch;
    for (int64_t n : {1, 5, 12}) {
      std::vector<float> x = make_acts(n, 256, static_cast<uint64_t>(n));
      std::vector<float> a(static_cast<size_t>(n * 48)), b(a.size());
      matmul(m.view(), x.data(), n, a.data(), pool, scratch, c.path);
      matmul(p, x.data(), n, b.data(), pool, scratch, c.path);
      for (size_t i = 0; i < a.size(); i++) {
        ASSERT_EQ(a[i], b[i]) << dtype_name(c.type) << " " << matmul_path_name(c.path) << " n_tokens " << n << " output " << i;
      }
    }
  }
  if (ran == 0) GTEST_SKIP() << "no packed kernel on this CPU/build";
}

TEST(MatmulPacked, OnlySimdPathsPackAndOnlyTheirTypes) {
  EXPECT_FALSE(can_pack(DType::q4_0, MatmulPath::scalar));
  if (matmul_path_available(MatmulPath::avx2)) {
    EXPECT_TRUE(can_pack(DType::q8_0, MatmulPath::avx2));
    EXPECT_FALSE(can_pack(DType::q4_k, MatmulPath::avx2));  // avx512 only
  }
  EXPECT_FALSE(can_pack(DType::q3_k, MatmulPath::avx512));
  EXPECT_FALSE(can_pack(DType::f16, MatmulPath::avx512));
  Matrix m = make_matrix(DType::q4_0, 3, 64, 1);
  PackedWeights packs;
  WeightView w = m.view();
  EXPECT_FALSE(packs.pack(w, MatmulPath::scalar));
  EXPECT_EQ(w.packed, nullptr);
  EXPECT_EQ(packs.count(), 0u);
}

TEST(MatmulPaths, SimdPathsThisCpuLacks) {
  std::string missing;
  for (MatmulPath p : {MatmulPath::avx2, MatmulPath::avx512}) {
    if (!matmul_path_available(p)) missing += std::string(missing.empty() ? "" : ", ") + matmul_path_name(p);
  }
  if (!missing.empty()) {
    GTEST_SKIP() << "not tested on this CPU (" << cpu_flags_string(cpu_features()) << "): " << missing;
  }
  EXPECT_EQ(paths().size(), 3u);
}

}  // namespace
}  // namespace parley
