// What an architecture's config reader and weight loader are written with: typed access to the
// <arch>.* keys and tensor binding that checks shape and type once ("expected X, got Y").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tensor/matmul.h"

namespace parley::model {

// Reads <arch>.* hyper-parameters.
class ConfigReader {
 public:
  ConfigReader(const gguf::File& f, std::string arch) : f_(f), prefix_(std::move(arch) + ".") {}

  Result<int32_t> count(const std::string& key);
  Result<int32_t> count_or(const std::string& key, int32_t fallback);
  Result<float> real_or(const std::string& key, float fallback);
  Result<float> real(const std::string& key);  // required, a positive number
  const gguf::File& file() const { return f_; }
  const std::string& prefix() const { return prefix_; }

 private:
  const gguf::File& f_;
  std::string prefix_;
};

// Binds tensors by name, checking shape and type once; counts the bytes bound.
class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}
  uint64_t bytes = 0;

  // A matrix of n_rows rows of n_cols elements (GGUF shape [n_cols, n_rows]).
  Result<WeightView> matrix(const std::string& name, int64_t n_cols, int64_t n_rows);
  // n matrices of n_rows x n_cols (GGUF shape [n_cols, n_rows, n]): the experts of a layer.
  Result<ExpertWeights> experts(const std::string& name, int64_t n_cols, int64_t n_rows, int32_t n);
  bool has(const std::string& name) const { return f_.find_tensor(name) != nullptr; }
  // An F32 vector of n elements; nullptr when optional and absent.
  Result<const float*> vector(const std::string& name, int64_t n, bool optional = false);
  // count F32 vectors of n elements one after another (GGUF shape [n, count]): per-expert biases.
  Result<const float*> vectors(const std::string& name, int64_t n, int64_t count);

 private:
  Result<const gguf::TensorInfo*> find(const std::string& name);
  Result<const float*> f32(const std::string& name, const std::vector<uint64_t>& shape);  // vector(s)
  Status expect_shape(const gguf::TensorInfo& t, const std::vector<uint64_t>& want);
  const gguf::File& f_;
};

std::string shape_str(const std::vector<uint64_t>& shape);

// Rows [first, first + n) of w, a view of the same bytes: one part of a fused matrix (phi3's
// attn_qkv, its ffn_up holding gate and up). Rows are whole blocks, so this is exact for every type.
WeightView row_slice(const WeightView& w, int64_t first, int64_t n);

}  // namespace parley::model
