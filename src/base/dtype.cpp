#include "base/dtype.h"

#include <cctype>

#include "base/check.h"

namespace parley {
namespace {

// Block sizes are facts of the ggml/GGUF format (ggml-common.h block structs).
constexpr DTypeInfo kTypes[] = {
    {DType::f32, "F32", 1, 4},          {DType::f16, "F16", 1, 2},
    {DType::q4_0, "Q4_0", 32, 18},      {DType::q4_1, "Q4_1", 32, 20},
    {DType::q5_0, "Q5_0", 32, 22},      {DType::q5_1, "Q5_1", 32, 24},
    {DType::q8_0, "Q8_0", 32, 34},      {DType::q8_1, "Q8_1", 32, 36},
    {DType::q2_k, "Q2_K", 256, 84},     {DType::q3_k, "Q3_K", 256, 110},
    {DType::q4_k, "Q4_K", 256, 144},    {DType::q5_k, "Q5_K", 256, 176},
    {DType::q6_k, "Q6_K", 256, 210},    {DType::q8_k, "Q8_K", 256, 292},
    {DType::iq2_xxs, "IQ2_XXS", 256, 66}, {DType::iq2_xs, "IQ2_XS", 256, 74},
    {DType::iq3_xxs, "IQ3_XXS", 256, 98}, {DType::iq1_s, "IQ1_S", 256, 50},
    {DType::iq4_nl, "IQ4_NL", 32, 18},  {DType::iq3_s, "IQ3_S", 256, 110},
    {DType::iq2_s, "IQ2_S", 256, 82},   {DType::iq4_xs, "IQ4_XS", 256, 136},
    {DType::i8, "I8", 1, 1},            {DType::i16, "I16", 1, 2},
    {DType::i32, "I32", 1, 4},          {DType::i64, "I64", 1, 8},
    {DType::f64, "F64", 1, 8},          {DType::iq1_m, "IQ1_M", 256, 56},
    {DType::bf16, "BF16", 1, 2},        {DType::tq1_0, "TQ1_0", 256, 54},
    {DType::tq2_0, "TQ2_0", 256, 66},   {DType::mxfp4, "MXFP4", 32, 17},
};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return t;
  }
  return std::nullopt;
}

const DTypeInfo& dtype_info(DType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  PARLEY_CHECK_MSG(false, "unknown dtype");
}

std::string_view dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name.size() != name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < name.size() && eq; i++) {
      eq = std::toupper(static_cast<unsigned char>(name[i])) == t.name[i];
    }
    if (eq) return t.type;
  }
  return std::nullopt;
}

}  // namespace parley
