// Bounded symbols: `symbols: {seq: {max: N}}` in a graph. A session whose backends all accept
// plans made at bounds (LOOM_BACKEND_BOUNDED_SHAPES: here the test device backend) makes one plan
// for every size up to the bound; others plan per exact shape; every session refuses a size past
// the bound.
#include "session_graphs.hpp"

#include <loom/engine.hpp>
#include <loom/error.hpp>

#include <doctest/doctest.h>

#include <filesystem>

namespace {

using namespace loom;
namespace fs = std::filesystem;

constexpr const char* kBounded = R"(
loom: 1
name: bounded
inputs:
  - {name: x, dtype: f32, shape: [2, seq]}
outputs: [y]
symbols:
  seq: {max: 8}
initializers:
  - {name: c, dtype: f32, shape: [2, 1], values: [10, -10]}
nodes:
  - {op: add, inputs: [x, c], outputs: [s]}
  - {op: relu, inputs: [s], outputs: [y]}
)";

Tensor ramp(int64_t n) {
  Tensor t(DType::f32, {2, n});
  for (int64_t i = 0; i < 2 * n; ++i) t.data_as<float>()[i] = static_cast<float>(i) - 7.5f;
  return t;
}

void check_result(const Tensor& x, const Tensor& y) {
  REQUIRE(y.shape() == x.shape());
  const int64_t n = x.shape()[1];
  for (int64_t i = 0; i < 2 * n; ++i) {
    const float s = x.data_as<float>()[i] + (i < n ? 10.f : -10.f);
    CHECK(y.data_as<float>()[i] == (s > 0 ? s : 0.f));
  }
}

}  // namespace

TEST_CASE("bounds: backends that accept plans at bounds run every size up to the bound on one plan") {
  Engine e = test::device_engine();
  SessionOptions o;
  o.backends = {"external"};
  Session s = e.compile(parse_graph_yaml(kBounded, "bounded.yaml"), o);
  CHECK(s.stats().plans_at_bounds);
  for (int64_t n : {3, 8, 1, 5, 3}) {
    Tensor x = ramp(n);
    check_result(x, s.run({{"x", x}}).at("y"));
  }
  CHECK(s.stats().plans_made == 1);
  CHECK_THROWS_WITH_AS(s.run({{"x", ramp(9)}}), doctest::Contains("seq = 9, past the graph's bound seq <= 8"), Error);
  check_result(ramp(2), s.run({{"x", ramp(2)}}).at("y"));
}

TEST_CASE("bounds: other backends plan per exact shape, and the bound holds there too") {
  Engine e = test::device_engine();
  SessionOptions o;
  o.backends = {"onednn"};
  Session s = e.compile(parse_graph_yaml(kBounded, "bounded.yaml"), o);
  CHECK_FALSE(s.stats().plans_at_bounds);
  for (int64_t n : {3, 8, 3}) check_result(ramp(n), s.run({{"x", ramp(n)}}).at("y"));
  CHECK(s.stats().plans_made == 2);
  CHECK_THROWS_WITH_AS(s.run({{"x", ramp(9)}}), doctest::Contains("past the graph's bound seq <= 8"), Error);
}

TEST_CASE("bounds: symbols are written back, and bad bounds name where they were written") {
  Graph g = parse_graph_yaml(kBounded, "bounded.yaml");
  REQUIRE(g.symbols.size() == 1);
  CHECK(g.symbols[0].name == "seq");
  CHECK(g.symbols[0].max == 8);
  Graph again = parse_graph_yaml(write_graph_yaml(g), "again.yaml");
  REQUIRE(again.symbols.size() == 1);
  CHECK(again.symbols[0].max == 8);

  auto error_of = [](const std::string& symbols) {
    std::string text = kBounded;
    text.replace(text.find("  seq: {max: 8}"), 15, symbols);
    try {
      Engine e = test::onednn_engine();
      e.validate(parse_graph_yaml(text, "b.yaml"));
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("  seq: {max: 0}").find("b.yaml:8:") != std::string::npos);
  CHECK(error_of("  seq: {max: 0}").find("must be at least 1") != std::string::npos);
  CHECK(error_of("  batch: {max: 4}").find("symbol 'batch' has a bound, but no graph input has a dim that is just 'batch'") !=
        std::string::npos);
  CHECK(error_of("  seq: {most: 4}").find("unknown key") != std::string::npos);
}
