// Sessions that mix a device-memory backend with a host one: the copies the core inserts
// between memories, and the results. The device backend is tests/external-backend's plugin
// (add, sub, mul, div, relu on f32, buffers behind opaque handles; it refuses host pointers),
// built in-tree as loom-test-device.so.
#include "session_graphs.hpp"

#include <doctest/doctest.h>

#include <loom/engine.hpp>
#include <loom/error.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>

namespace {

using namespace loom;
namespace fs = std::filesystem;

Tensor filled(Shape shape, float start, float step) {
  Tensor t(DType::f32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = start + step * static_cast<float>(i);
  return t;
}

std::set<std::tuple<std::string, std::string, std::string>> copies(const Session& s) {
  std::set<std::tuple<std::string, std::string, std::string>> out;
  for (const auto& c : s.placement().copies) out.emplace(c.value, c.from_backend, c.to_backend);
  return out;
}

void check_close(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    REQUIRE_MESSAGE(std::abs(a.data_as<float>()[i] - b.data_as<float>()[i]) <= 1e-5f, "at flat index " << i);
}

// The first partition runs on the device and reads the graph input directly.
constexpr const char* kDeviceFirst = R"(
loom: 1
name: device-first
inputs:
  - {name: x, dtype: f32, shape: [batch, 3]}
outputs: [a, b]
initializers:
  - {name: c, dtype: f32, shape: [3], values: [1, -2, 3]}
nodes:
  - {op: relu, inputs: [x], outputs: [a]}
  - {op: add, inputs: [a, c], outputs: [b]}
)";

// Values go host -> device -> host -> device, a graph input feeds three device partitions, and
// device values (a) stay on the device across a host partition.
constexpr const char* kAlternating = R"(
loom: 1
name: alternating
inputs:
  - {name: x, dtype: f32, shape: [batch, 4]}
  - {name: w, dtype: f32, shape: [4, 4]}
outputs: [a, d, e, f]
initializers:
  - {name: c, dtype: f32, shape: [4], values: [1, -2, 3, -4]}
nodes:
  - {op: relu, inputs: [x], outputs: [a]}
  - {op: add, inputs: [a, c], outputs: [b]}
  - {op: matmul, inputs: [b, w], outputs: [m]}
  - {op: mul, inputs: [m, x], outputs: [d]}
  - {op: sub, inputs: [d, a], outputs: [d2]}
  - {op: softmax, inputs: [d2], outputs: [e]}
  - {op: div, inputs: [e, c], outputs: [f0]}
  - {op: add, inputs: [f0, x], outputs: [f1]}
  - {op: matmul, inputs: [f1, w], outputs: [f2], attrs: {transpose_b: true}}
  - {op: relu, inputs: [f2], outputs: [f]}
)";

}  // namespace

TEST_CASE("session device: a device partition first reads the graph input through a copy") {
  Engine engine = test::device_engine();
  Session s = engine.compile(parse_graph_yaml(kDeviceFirst, "device-first.yaml"), {.backends = {"external"}});
  CHECK(copies(s) == std::set<std::tuple<std::string, std::string, std::string>>{
                         {"x", "host", "external"}, {"a", "external", "host"}, {"b", "external", "host"}});
  const Tensor x = filled({2, 3}, -2.5f, 1.f);
  for (int run = 0; run < 2; ++run) {  // the second run reuses the pooled device buffers
    TensorMap out = s.run({{"x", x}});
    const float c[3] = {1, -2, 3};
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float a = std::max(x.data_as<float>()[i], 0.f);
      CHECK(out.at("a").data_as<float>()[i] == a);
      CHECK(out.at("b").data_as<float>()[i] == a + c[i % 3]);
    }
  }
}

TEST_CASE("session device: values cross between device and host partitions in both directions") {
  Engine engine = test::device_engine();
  const Graph g = parse_graph_yaml(kAlternating, "alternating.yaml");
  Session mixed = engine.compile(g, {.backends = {"external", "onednn"}});
  Session host = engine.compile(g, {.backends = {"onednn"}});

  std::vector<std::string> partitions;
  for (const auto& p : mixed.placement().partitions) partitions.push_back(p.backend);
  CHECK(partitions == std::vector<std::string>{"external", "onednn", "external", "onednn", "external", "onednn", "external"});
  CHECK(copies(mixed) == std::set<std::tuple<std::string, std::string, std::string>>{
                             {"x", "host", "external"}, {"a", "external", "host"}, {"b", "external", "host"},
                             {"m", "onednn", "external"}, {"d", "external", "host"}, {"d2", "external", "host"},
                             {"e", "onednn", "external"}, {"f1", "external", "host"}, {"f2", "onednn", "external"},
                             {"f", "external", "host"}});

  for (int64_t batch : {3, 1, 3}) {  // two shape signatures, one of them planned twice
    TensorMap in{{"x", filled({batch, 4}, -1.f, 0.37f)}, {"w", filled({4, 4}, 0.5f, -0.11f)}};
    TensorMap want = host.run(in), got = mixed.run(in);
    for (const char* name : {"a", "d", "e", "f"}) {
      CAPTURE(name);
      check_close(got.at(name), want.at(name));
    }
  }
}

// A running sum whose every node runs on the device: its state lives in the device's memory,
// is updated there in place, and is never copied in or out around a run.
constexpr const char* kDeviceState = R"(
loom: 1
name: device-state
inputs:
  - {name: x, dtype: f32, shape: [1, 4]}
outputs: [y]
state:
  - {name: total, dtype: f32, shape: [1, 4], update: sum}
nodes:
  - {op: add, inputs: [total, x], outputs: [sum]}
  - {op: relu, inputs: [sum], outputs: [y]}
)";

TEST_CASE("session device: state lives in the device's memory and is updated there in place") {
  Engine e = test::device_engine();
  SessionOptions o;
  o.backends = {"external", "onednn"};
  Session s = e.compile(parse_graph_yaml(kDeviceState, "device-state.yaml"), o);
  for (const auto& n : s.placement().nodes) CHECK(n.backend == "external");
  // Only the input goes in and the output comes out: nothing of the state crosses.
  CHECK(copies(s) == std::set<std::tuple<std::string, std::string, std::string>>{{"x", "host", "external"}, {"y", "external", "host"}});

  State a = s.new_state();
  float expected[4] = {0, 0, 0, 0};
  for (int step = 1; step <= 3; ++step) {
    Tensor x = filled({1, 4}, -2.0f * static_cast<float>(step), 1.5f);
    for (int i = 0; i < 4; ++i) expected[i] += x.data_as<float>()[i];
    const Tensor y = s.run({{"x", x}}, a).at("y");
    for (int i = 0; i < 4; ++i) CHECK(y.data_as<float>()[i] == doctest::Approx(std::max(expected[i], 0.0f)));
  }
  const Tensor total = a.snapshot().at("total");
  for (int i = 0; i < 4; ++i) CHECK(total.data_as<float>()[i] == doctest::Approx(expected[i]));

  // A copy branches on the device; the original goes on unchanged.
  State b = a.copy();
  s.run({{"x", filled({1, 4}, 100.0f, 0.0f)}}, b);
  CHECK(a.snapshot().at("total").data_as<float>()[0] == doctest::Approx(expected[0]));
  CHECK(b.snapshot().at("total").data_as<float>()[0] == doctest::Approx(expected[0] + 100.0f));
  b.reset();
  CHECK(b.snapshot().at("total").data_as<float>()[3] == 0.0f);
  // assign writes a's device buffers into b's.
  b.assign(a);
  for (int i = 0; i < 4; ++i) CHECK(b.snapshot().at("total").data_as<float>()[i] == doctest::Approx(expected[i]));
}
