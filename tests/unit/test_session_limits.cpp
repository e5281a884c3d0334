// Sizes decided by data are checked before anything is allocated: declared dims near 2^63, a
// state of 10^12 elements, a plan larger than the machine's memory.
#include "session_graphs.hpp"

#include "runtime/memory_limit.hpp"

#include <string>

using namespace loom;
using namespace loom::test;

namespace {

Graph graph_yaml(const std::string& nodes_and_more) {
  return parse_graph_yaml("loom: 1\nname: big\n" + nodes_and_more, "big.yaml");
}

}  // namespace

TEST_CASE("session limits: a shape whose byte size overflows fails validation and names the value") {
  Engine engine = onednn_engine();
  // Passed `validate` before: 2^63 - 1 elements of 4 bytes.
  const std::string input = error_of([&] {
    engine.validate(graph_yaml("inputs: [{name: x, dtype: f32, shape: [9223372036854775807, batch]}]\noutputs: [y]\n"
                               "nodes: [{op: relu, inputs: [x], outputs: [y]}]\n"));
  });
  CHECK_MESSAGE(input.find("big.yaml:3:10: graph input 'x' has shape [9223372036854775807, batch] of f32, more than "
                           "4611686018427387904 bytes") == 0, input);
  // 2^61 elements fit the element limit but not the byte limit as f32.
  const std::string state = error_of([&] {
    engine.validate(graph_yaml("outputs: [s]\nstate: [{name: s, dtype: f32, shape: [2305843009213693952]}]\nnodes: []\n"));
  });
  CHECK_MESSAGE(state.find("big.yaml:4:9: state 's' has shape [2305843009213693952] of f32, more than") == 0, state);
  // Each input fits; the node's output does not.
  std::string inputs, names;
  for (int i = 0; i < 9; ++i) {
    inputs += std::string(i ? ", " : "") + "{name: x" + std::to_string(i) + ", dtype: u8, shape: [576460752303423488]}";
    names += std::string(i ? ", " : "") + "x" + std::to_string(i);
  }
  const std::string output = error_of([&] {
    engine.validate(graph_yaml("inputs: [" + inputs + "]\noutputs: [y]\nnodes: [{op: concat, inputs: [" + names +
                               "], outputs: [y], attrs: {axis: 0}}]\n"));
  });
  CHECK_MESSAGE(output.find("node 'y' (concat): output 'y' has shape [5188146770730811392] of u8, more than") != std::string::npos,
                output);
}

TEST_CASE("session limits: a state larger than memory is refused with its size before it is allocated") {
  Engine engine = onednn_engine();
  // 10^12 elements of f32: 4 TB.
  Graph g = graph_yaml("inputs: [{name: x, dtype: f32, shape: [1]}]\noutputs: [y]\n"
                       "state: [{name: cache, dtype: f32, shape: [1000000, 1000000]}]\n"
                       "nodes: [{op: relu, inputs: [x], outputs: [y]}]\n");
  engine.validate(g);  // a valid graph: only this machine is too small for it
  const std::string message = error_of([&] { engine.compile(g, on_onednn()); });
  CHECK_MESSAGE(message.find("big.yaml:5:9: state 'cache' (shape [1000000, 1000000] of f32) needs 4000000000000 bytes, "
                             "more than this machine's memory (" + std::to_string(physical_memory_bytes()) + " bytes)") == 0,
                message);
}

TEST_CASE("session limits: a plan larger than memory says how many bytes it needs") {
  // On the reference backend: oneDNN's refuses a value of 2^31 elements or more first.
  EngineOptions options;
  options.plugin_files = {std::filesystem::path(LOOM_BUILD_PLUGIN_DIR) / "loom-reference.so"};
  options.search_default_paths = false;
  Engine engine(options);
  // Two inputs of 4 MB broadcast to an output of 2^40 elements: 4 TB of activations.
  Graph g = graph_yaml("inputs: [{name: a, dtype: f32, shape: [1, n]}, {name: b, dtype: f32, shape: [n, 1]}]\noutputs: [y]\n"
                       "nodes: [{op: add, inputs: [a, b], outputs: [y]}]\n");
  Session s = engine.compile(g, on_reference());
  const int64_t n = int64_t(1) << 20;
  const std::string message = error_of([&] { s.run({{"a", Tensor(DType::f32, {1, n})}, {"b", Tensor(DType::f32, {n, 1})}}); });
  CHECK_MESSAGE(message.find("running graph 'big' with these input shapes: the activations and scratch of backend 'reference' needs "
                             "4398046511104 bytes, more than this machine's memory") == 0, message);
  // The session stays usable.
  CHECK(s.run({{"a", Tensor(DType::f32, {1, 2})}, {"b", Tensor(DType::f32, {2, 1})}}).at("y").shape() == Shape{2, 2});
}

TEST_CASE("session limits: a tensor larger than memory is a loom::Error with its size, never attempted") {
  const std::string message = error_of([] { Tensor t(DType::f32, {int64_t(1) << 40, int64_t(1) << 20}); });
  CHECK_MESSAGE(message.find("a tensor of shape [1099511627776, 1048576] of f32 needs 4611686018427387904 bytes, more than this "
                             "machine's memory") == 0, message);
}
