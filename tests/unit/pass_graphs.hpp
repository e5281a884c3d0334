// Helpers of the graph pass tests (test_passes.cpp, test_fusions.cpp, test_decompose.cpp): run a
// graph at an optimisation level on oneDNN, compare outputs, count ops.
#pragma once

#include "session_graphs.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

namespace loom::test {

struct LevelRun {
  TensorMap outputs;
  OptimizationReport report;
  Graph graph;  // what the session ran
};

inline LevelRun run_at(const Engine& engine, const Graph& g, OptimizeLevel level, const TensorMap& inputs) {
  SessionOptions o = on_onednn();
  o.optimize = level;
  Session s = engine.compile(g, o);
  return {s.run(inputs), s.optimization(), s.graph()};
}

// Every output of `got` equals `want` within atol + rtol*|ref|.
inline void check_outputs(const TensorMap& got, const TensorMap& want, double atol = 1e-5, double rtol = 1e-5) {
  REQUIRE(got.size() == want.size());
  for (const auto& entry : want) {  // named, not bound: the assertions' lambdas capture them
    const std::string& name = entry.first;
    const Tensor& ref = entry.second;
    CAPTURE(name);
    REQUIRE(got.count(name));
    const Comparison c = compare(got.at(name), ref, atol, rtol);
    CAPTURE(c.mismatch);
    CAPTURE(c.max_abs_error);
    CHECK(c.ok());
  }
}

inline size_t count_op(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const auto& node : g.nodes) n += node.op == op;
  return n;
}

inline const Node* find_node(const Graph& g, const std::string& name) {
  for (const auto& node : g.nodes)
    if (node.name == name) return &node;
  return nullptr;
}

inline size_t fused_count(const OptimizationReport& r, const std::string& op) {
  size_t n = 0;
  for (const auto& f : r.fused) n += f.op == op;
  return n;
}

// Deterministic values in [lo, hi) that are not all alike.
inline Tensor pattern(Shape shape, double seed, double lo = -1, double hi = 1) {
  Tensor t(DType::f32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = 0.5 + 0.5 * std::sin(seed + 1.7 * static_cast<double>(i) + 0.013 * static_cast<double>(i * i));
    t.data_as<float>()[i] = static_cast<float>(lo + (hi - lo) * u);
  }
  return t;
}

inline std::vector<double> pattern_values(int64_t n, double seed) {
  std::vector<double> v;
  const Tensor t = pattern({n}, seed);
  for (int64_t i = 0; i < n; ++i) v.push_back(t.data_as<float>()[i]);
  return v;
}

inline Tensor i64_tensor(Shape shape, const std::vector<int64_t>& values) {
  Tensor t(DType::i64, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::copy(values.begin(), values.end(), t.data_as<int64_t>());
  return t;
}

}  // namespace loom::test
