#include "model/load.h"

#include <cmath>

#include "base/check.h"
#include "tensor/quant.h"

namespace parley::model {

std::string shape_str(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

WeightView row_slice(const WeightView& w, int64_t first, int64_t n) {
  PARLEY_CHECK(first >= 0 && n >= 0 && first + n <= w.n_rows);
  WeightView s = w;
  s.data = w.row(first);
  s.n_rows = n;
  s.packed = nullptr;
  return s;
}

Result<int32_t> ConfigReader::count(const std::string& key) {
  PARLEY_TRY(uint64_t v, f_.get_uint(prefix_ + key));
  if (v == 0 || v > (1u << 30)) return Error::fmt("key '%s%s': %llu is out of range", prefix_.c_str(), key.c_str(), static_cast<unsigned long long>(v));
  return static_cast<int32_t>(v);
}

Result<int32_t> ConfigReader::count_or(const std::string& key, int32_t fallback) {
  PARLEY_TRY(auto v, f_.get_uint_opt(prefix_ + key));
  if (!v) return fallback;
  return count(key);
}

Result<float> ConfigReader::real_or(const std::string& key, float fallback) {
  PARLEY_TRY(auto v, f_.get_float_opt(prefix_ + key));
  if (!v) return fallback;
  if (!std::isfinite(*v) || *v <= 0) return Error::fmt("key '%s%s': %g is not a positive number", prefix_.c_str(), key.c_str(), *v);
  return static_cast<float>(*v);
}

Result<float> ConfigReader::real(const std::string& key) {
  PARLEY_TRY(double v, f_.get_float(prefix_ + key));  // "key '...' is missing"
  (void)v;
  return real_or(key, 0.0f);
}

Result<WeightView> Binder::matrix(const std::string& name, int64_t n_cols, int64_t n_rows) {
  PARLEY_TRY(const gguf::TensorInfo* t, find(name));
  PARLEY_CHECK_OK(expect_shape(*t, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)}));
  if (!can_dequantize(t->type)) {
    return Error::fmt("tensor '%s' has type %s, which is not supported", name.c_str(), std::string(dtype_name(t->type)).c_str());
  }
  WeightView w;
  w.type = t->type;
  w.data = t->data;
  w.n_rows = n_rows;
  w.n_cols = n_cols;
  w.row_bytes = dtype_row_bytes(t->type, static_cast<uint64_t>(n_cols));
  bytes += t->n_bytes;
  return w;
}

Result<ExpertWeights> Binder::experts(const std::string& name, int64_t n_cols, int64_t n_rows, int32_t n) {
  PARLEY_TRY(const gguf::TensorInfo* t, find(name));
  PARLEY_CHECK_OK(expect_shape(*t, {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows), static_cast<uint64_t>(n)}));
  if (!can_dequantize(t->type)) {
    return Error::fmt("tensor '%s' has type %s, which is not supported", name.c_str(), std::string(dtype_name(t->type)).c_str());
  }
  ExpertWeights e;
  e.first.type = t->type;
  e.first.data = t->data;
  e.first.n_rows = n_rows;
  e.first.n_cols = n_cols;
  e.first.row_bytes = dtype_row_bytes(t->type, static_cast<uint64_t>(n_cols));
  e.n = n;
  e.stride = e.first.row_bytes * static_cast<size_t>(n_rows);
  bytes += t->n_bytes;
  return e;
}

Result<const float*> Binder::vectors(const std::string& name, int64_t n, int64_t count) {
  return f32(name, {static_cast<uint64_t>(n), static_cast<uint64_t>(count)});
}

Result<const float*> Binder::vector(const std::string& name, int64_t n, bool optional) {
  if (optional && f_.find_tensor(name) == nullptr) return static_cast<const float*>(nullptr);
  return f32(name, {static_cast<uint64_t>(n)});
}

Result<const float*> Binder::f32(const std::string& name, const std::vector<uint64_t>& shape) {
  PARLEY_TRY(const gguf::TensorInfo* t, find(name));
  PARLEY_CHECK_OK(expect_shape(*t, shape));
  if (t->type != DType::f32) {
    return Error::fmt("tensor '%s': expected type F32, got %s", name.c_str(), std::string(dtype_name(t->type)).c_str());
  }
  if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
    return Error::fmt("tensor '%s': data is not 4-byte aligned", name.c_str());
  }
  bytes += t->n_bytes;
  return reinterpret_cast<const float*>(t->data);
}

Result<const gguf::TensorInfo*> Binder::find(const std::string& name) {
  const gguf::TensorInfo* t = f_.find_tensor(name);
  if (t == nullptr) return Error::fmt("missing tensor '%s'", name.c_str());
  return t;
}

Status Binder::expect_shape(const gguf::TensorInfo& t, const std::vector<uint64_t>& want) {
  if (t.shape != want) {
    return Error::fmt("tensor '%s': expected shape %s, got %s", t.name.c_str(), shape_str(want).c_str(), shape_str(t.shape).c_str());
  }
  return {};
}

}  // namespace parley::model
