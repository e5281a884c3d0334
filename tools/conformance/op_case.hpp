// One generated conformance case: a one-node graph with seeded random inputs, the registry op it
// checks and the tolerance its results must meet against the reference backend. CaseBuilder
// writes cases tersely; the cases of each op family live in cases_<family>.cpp.
#pragma once

#include <loom/engine.hpp>
#include <loom/graph.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace loom::conformance {

// |out - ref| <= atol + rtol * |ref| for every element (a NaN matches only a NaN).
struct Tolerance {
  double atol = 0, rtol = 0;
};

struct OpCase {
  std::string op;     // the registry op it checks
  std::string name;   // unique, says what varies: "add f32 [4, 33] + [33]"
  Graph graph;        // the node as written
  TensorMap inputs;
  Tolerance tolerance;
  // Runs the core's reference decomposition of the fused op instead of the op itself; the
  // reference backend's result for the node as written is still the expected one.
  bool decompose = false;
};

// Per-op tolerances against the f64 reference, by dtype: a backend computing in the dtype
// itself may round every intermediate (f16: 2^-11, bf16: 2^-8 relative).
Tolerance tolerance_for(const std::string& op, DType dtype);

// Random values of an input, drawn uniformly from [lo, hi] (integers: whole numbers), then
// rounded to what the dtype holds.
struct Range {
  double lo = -1, hi = 1;
};

class CaseBuilder {
 public:
  // The data's seed is a hash of `name`, so a case's inputs never change between runs.
  CaseBuilder(std::string op, std::string name);
  CaseBuilder& input(const std::string& name, DType dtype, Shape shape, Range range = {});
  CaseBuilder& input(const std::string& name, Tensor value);
  CaseBuilder& absent();  // an optional input left out
  CaseBuilder& attr(const std::string& name, AttrValue value);
  CaseBuilder& outputs(int count);  // out, or out and out1, ... (default: one)
  CaseBuilder& tolerance(Tolerance t);
  CaseBuilder& decomposed();
  OpCase build();

  // Seeded values the caller edits before passing them to input() (special values, indices).
  Tensor random(DType dtype, const Shape& shape, Range range);

 private:
  OpCase case_;
  Node node_;
  int outputs_ = 1;
  std::optional<Tolerance> tolerance_;
  std::mt19937_64 rng_;
};

// Element i of `t` set to `v` (rounded as the dtype holds it; integers truncate).
void set_element(Tensor& t, int64_t i, double v);
// "[4, 33]"
std::string dims(const Shape& s);

// The generated cases, by op family (cases_<family>.cpp).
void elementwise_cases(std::vector<OpCase>& out);
void linalg_cases(std::vector<OpCase>& out);
void norm_cases(std::vector<OpCase>& out);
void reduce_cases(std::vector<OpCase>& out);  // reduce_mean, argmax, topk
void layout_cases(std::vector<OpCase>& out);  // roll, pad
void indexing_cases(std::vector<OpCase>& out);
void shape_cases(std::vector<OpCase>& out);
void attention_cases(std::vector<OpCase>& out);  // attention, cache_write, key_mask

// Every case of every family.
std::vector<OpCase> all_cases();

}  // namespace loom::conformance
