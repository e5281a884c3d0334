// Repeated runs of one session: each run reads the input tensors it is given and the state it
// is run with, wherever they live, in every partition that reads them. The executor patches
// only those tensors' pointers per run; this checks that none is left pointing at an earlier
// run's memory.
#include <loom/engine.hpp>
#include <loom/graph.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#if LOOM_TEST_ONEDNN

namespace {

using loom::DType;
using loom::Tensor;

// Four partitions alternating between two host backends (the adds on the test plugin by hint):
// x is read by partitions 0 and 2, z by partition 1; `sum` updates the state in place, so the
// state's memory is written by partition 0 and read by partition 1.
constexpr const char* kGraph = R"(loom: 1
name: patched-runs
inputs:
  - {name: x, dtype: f32, shape: [1, 4]}
  - {name: z, dtype: f32, shape: [1, 4]}
outputs: [y, sum]
state:
  - {name: total, dtype: f32, shape: [1, 4], update: sum}
initializers:
  - {name: two, dtype: f32, shape: [1, 4], values: [2, 2, 2, 2]}
nodes:
  - {op: add, inputs: [total, x], outputs: [sum], backend: test-good}
  - {op: mul, inputs: [sum, z], outputs: [p]}
  - {op: add, inputs: [p, x], outputs: [q], backend: test-good}
  - {op: mul, inputs: [q, two], outputs: [y]}
)";

Tensor row(float scale) {
  Tensor t(DType::f32, {1, 4});
  for (int i = 0; i < 4; ++i) t.data_as<float>()[i] = scale * static_cast<float>(i + 1);
  return t;
}

// Runs with fresh input tensors (new addresses every time) and checks y and sum against the
// total the state held before the run; returns the new total.
Tensor run_and_check(loom::Session& s, loom::State* state, float xs, float zs, const Tensor& total) {
  loom::TensorMap inputs;
  inputs.emplace("x", row(xs));
  inputs.emplace("z", row(zs));
  loom::TensorMap out = state ? s.run(inputs, *state) : s.run(inputs);
  const float* x = inputs.at("x").data_as<float>();
  const float* z = inputs.at("z").data_as<float>();
  Tensor expected_sum(DType::f32, {1, 4});
  for (int i = 0; i < 4; ++i) {
    const float sum = total.data_as<float>()[i] + x[i];
    expected_sum.data_as<float>()[i] = sum;
    CHECK(out.at("sum").data_as<float>()[i] == sum);
    CHECK(out.at("y").data_as<float>()[i] == (sum * z[i] + x[i]) * 2.0f);
  }
  return expected_sum;
}

}  // namespace

TEST_CASE("session runs read each run's own inputs and state in every partition") {
  loom::EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so",
                          std::filesystem::path(LOOM_TEST_PLUGIN_DIR) / "loom-test-good.so"};
  options.search_default_paths = false;
  loom::Engine engine(options);
  loom::Graph g = loom::parse_graph_yaml(kGraph, "patched-runs.yaml");
  loom::SessionOptions so;
  so.backends = {"onednn", "test-good"};
  so.threads = 1;
  loom::Session s = engine.compile(g, so);
  REQUIRE(s.placement().partitions.size() == 4);
  CHECK(s.placement().partitions[0].backend == "test-good");
  CHECK(s.placement().partitions[1].backend == "onednn");

  loom::State a = s.new_state(), b = s.new_state();
  Tensor zero(DType::f32, {1, 4});
  for (int i = 0; i < 4; ++i) zero.data_as<float>()[i] = 0.0f;

  Tensor ta = run_and_check(s, &a, 1.0f, 2.0f, zero);
  Tensor tb = run_and_check(s, &b, 10.0f, 3.0f, zero);
  ta = run_and_check(s, &a, 5.0f, -1.0f, ta);
  Tensor td = run_and_check(s, nullptr, 7.0f, 0.5f, zero);
  tb = run_and_check(s, &b, -2.0f, 4.0f, tb);
  td = run_and_check(s, nullptr, 3.0f, 1.0f, td);

  auto check_state = [](const loom::State& st, const Tensor& want) {
    Tensor got = st.snapshot().at("total");
    for (int i = 0; i < 4; ++i) CHECK(got.data_as<float>()[i] == want.data_as<float>()[i]);
  };
  check_state(a, ta);
  check_state(b, tb);
  check_state(s.default_state(), td);
}


TEST_CASE("session runs give inputs left out their defaults, by the run's shapes, through maps and bindings") {
  loom::EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
  options.search_default_paths = false;
  loom::Engine engine(options);
  const loom::Graph g = loom::parse_graph_yaml(R"(loom: 1
name: defaults
inputs:
  - {name: x, dtype: i64, shape: [b, s]}
  - {name: mask, dtype: i64, shape: [b, s], default: 1}
  - {name: positions, dtype: i64, shape: [b, s], default: {range: 1}}
  - {name: extra, dtype: i64, shape: [t], default: 0}
outputs: [y]
nodes:
  - {op: add, inputs: [x, mask], outputs: [xm]}
  - {op: add, inputs: [xm, positions], outputs: [y]}
  - {op: reshape, inputs: [extra], outputs: [unused], attrs: {shape: [-1]}}
)", "defaults.yaml");
  // `extra` is read by nothing that reaches y, but its shape's symbol t is bound by no other input.
  loom::Session s = engine.compile(g, {.backends = {"onednn"}});
  Tensor x(DType::i64, {2, 3}), extra(DType::i64, {5});
  for (int64_t i = 0; i < 6; ++i) x.data_as<int64_t>()[i] = 10 * i;
  loom::TensorMap out = s.run({{"x", x}, {"extra", extra}});
  for (int64_t i = 0; i < 6; ++i) CHECK(out.at("y").data_as<int64_t>()[i] == 10 * i + 1 + i % 3);
  // Given, an input is used as it is.
  Tensor mask(DType::i64, {2, 3});
  for (int64_t i = 0; i < 6; ++i) mask.data_as<int64_t>()[i] = 100;
  out = s.run({{"x", x}, {"extra", extra}, {"mask", mask}});
  for (int64_t i = 0; i < 6; ++i) CHECK(out.at("y").data_as<int64_t>()[i] == 10 * i + 100 + i % 3);
  try {
    s.run({{"x", x}});
    FAIL("no error");
  } catch (const loom::Error& e) {
    CHECK(std::string(e.what()).find("input 'extra' is left out, and its default's shape [t] is not set by the inputs given") !=
          std::string::npos);
  }
  // A binding makes the default for the bound shapes and remakes it when they change.
  loom::Binding b = s.new_binding();
  b.bind_input("x", x);
  b.bind_input("extra", extra);
  s.run(b);
  for (int64_t i = 0; i < 6; ++i) CHECK(b.output("y").data_as<int64_t>()[i] == 10 * i + 1 + i % 3);
  Tensor wide(DType::i64, {1, 4});
  for (int64_t i = 0; i < 4; ++i) wide.data_as<int64_t>()[i] = 0;
  b.bind_input("x", wide);
  s.run(b);
  for (int64_t i = 0; i < 4; ++i) CHECK(b.output("y").data_as<int64_t>()[i] == 1 + i);
}

TEST_CASE("session runs refuse an input element outside the input's declared values, by name and index") {
  loom::EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
  options.search_default_paths = false;
  loom::Engine engine(options);
  const loom::Graph g = loom::parse_graph_yaml(R"(loom: 1
name: ids
inputs:
  - {name: ids, dtype: i64, shape: [b, s], values: {min: 0, max: 3}}
  - {name: small, dtype: i32, shape: [b, s], default: 0, values: {min: -1, max: 1}}
initializers:
  - {name: table, dtype: f32, shape: [4, 2], values: [0, 1, 2, 3, 4, 5, 6, 7]}
outputs: [y, z]
nodes:
  - {op: gather, inputs: [table, ids], outputs: [y]}
  - {op: cast, inputs: [small], outputs: [z], attrs: {to: f32}}
)", "ids.yaml");
  loom::Session s = engine.compile(g, {.backends = {"onednn"}});
  Tensor ids(DType::i64, {2, 3});
  for (int64_t i = 0; i < 6; ++i) ids.data_as<int64_t>()[i] = i % 4;
  CHECK(s.run({{"ids", ids}}).at("y").data_as<float>()[11] == 3.0f);  // ids[1][2] = 1: row 1
  auto refused = [&](const loom::TensorMap& inputs) -> std::string {
    try {
      s.run(inputs);
    } catch (const loom::Error& e) {
      return e.what();
    }
    return "no error";
  };
  ids.data_as<int64_t>()[4] = 4;
  CHECK(refused({{"ids", ids}}) == "run: input 'ids' holds 4 at [1, 1], outside its values 0..3");
  ids.data_as<int64_t>()[4] = -1;  // a negative id would be read from the end by gather: refused before
  CHECK(refused({{"ids", ids}}) == "run: input 'ids' holds -1 at [1, 1], outside its values 0..3");
  ids.data_as<int64_t>()[4] = 0;
  Tensor small(DType::i32, {2, 3});
  for (int64_t i = 0; i < 6; ++i) small.data_as<int32_t>()[i] = -1;
  small.data_as<int32_t>()[5] = 2;
  CHECK(refused({{"ids", ids}, {"small", small}}) == "run: input 'small' holds 2 at [1, 2], outside its values -1..1");
  // Through a binding too.
  loom::Binding b = s.new_binding();
  ids.data_as<int64_t>()[0] = 9;
  b.bind_input("ids", ids);
  CHECK_THROWS_WITH_AS(s.run(b), "run: input 'ids' holds 9 at [0, 0], outside its values 0..3", loom::Error);
  ids.data_as<int64_t>()[0] = 2;
  b.bind_input("ids", ids);
  s.run(b);
  CHECK(b.output("y").data_as<float>()[0] == 4.0f);
}

#endif  // LOOM_TEST_ONEDNN
