// The tolerance table and the list of every generated case.
#include "op_case.hpp"

#include <set>

namespace loom::conformance {

Tolerance tolerance_for(const std::string& op, DType dtype) {
  // Data movement and masks copy or pick exact values: any difference is a bug.
  static const std::set<std::string> exact = {"cast",    "concat", "gather", "positions", "reshape",
                                              "slice",   "transpose", "cache_write", "key_mask", "relu",
                                              "gather_rows", "argmax", "topk", "roll", "pad"};
  if (exact.count(op) || dtype == DType::i64 || dtype == DType::i32 || dtype == DType::u8) return {0, 0};
  // One rounding of a correctly rounded result: f32 add, sub, mul, div are exact to the ulp.
  const bool arithmetic = op == "add" || op == "sub" || op == "mul" || op == "div";
  // Long f32 sums (matmul, linear, attention, the norms' means) round at every step; oneDNN's
  // tanh, erf and exp are polynomial approximations to about 1e-6 relative.
  double atol = arithmetic ? 0 : 1e-5, rtol = arithmetic ? 1.2e-7 : 1e-5;
  if (op == "matmul" || op == "linear" || op == "conv2d" || op == "attention") atol = 1e-4, rtol = 1e-4;
  if (dtype == DType::f16) atol = std::max(atol, 2e-3), rtol = std::max(rtol, 2e-3);
  if (dtype == DType::bf16) atol = std::max(atol, 1.6e-2), rtol = std::max(rtol, 1.6e-2);
  return {atol, rtol};
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  elementwise_cases(cases);
  linalg_cases(cases);
  norm_cases(cases);
  reduce_cases(cases);
  layout_cases(cases);
  indexing_cases(cases);
  shape_cases(cases);
  attention_cases(cases);
  return cases;
}

}  // namespace loom::conformance
