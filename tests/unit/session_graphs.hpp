// Small graphs built as loom::Graph structs, and an engine that loads only the built oneDNN
// plugin, for the tests that hold sessions to their contract (test_session.cpp).
#pragma once

#include <loom/loom.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace loom::test {

inline Engine onednn_engine() {
  EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
  options.search_default_paths = false;
  Engine engine(options);
  const auto names = engine.backend_names();
  REQUIRE_MESSAGE(std::find(names.begin(), names.end(), "onednn") != names.end(),
                  "the oneDNN plugin did not load: " << engine.plugins().front().error);
  return engine;
}

// The test device backend (tests/external-backend, built in-tree) beside the oneDNN plugin.
inline Engine device_engine() {
  EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_TEST_DEVICE_PLUGIN), std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
  options.search_default_paths = false;
  Engine engine(options);
  for (const auto& r : engine.plugins()) REQUIRE_MESSAGE(r.loaded, r.path.string() << ": " << r.error);
  return engine;
}

inline SessionOptions on_reference() {
  SessionOptions o;
  o.backends = {"reference"};
  return o;
}

inline SessionOptions on_onednn() {
  SessionOptions o;
  o.backends = {"onednn"};
  o.threads = 1;
  return o;
}

inline SymShape dims(const std::vector<std::string>& text) {
  SymShape s;
  for (const auto& t : text) s.push_back(Dim::parse(t));
  return s;
}

inline GraphInput input(std::string name, DType dtype, const std::vector<std::string>& shape) {
  return GraphInput{std::move(name), TensorInfo{dtype, dims(shape)}, {}};
}

inline Node node(std::string name, std::string op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                 std::map<std::string, AttrValue> attrs = {}) {
  Node n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  return n;
}

inline Initializer inline_f32(std::string name, Shape shape, std::vector<double> values) {
  Initializer init;
  init.name = std::move(name);
  init.dtype = DType::f32;
  init.shape = std::move(shape);
  init.values = std::move(values);
  return init;
}

inline Tensor f32(Shape shape, const std::vector<float>& values) {
  Tensor t(DType::f32, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == values.size());
  std::copy(values.begin(), values.end(), t.data_as<float>());
  return t;
}

inline std::vector<float> values_of(const Tensor& t) {
  REQUIRE(t.dtype() == DType::f32);
  return std::vector<float>(t.data_as<float>(), t.data_as<float>() + t.numel());
}

// Runs `f`, which must throw loom::Error; returns the message.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("no loom::Error was thrown");
  return {};
}

}  // namespace loom::test
