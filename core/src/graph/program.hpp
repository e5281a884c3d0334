// A Program is a Graph after validation: attributes normalised against the op registry, nodes
// in execution order, every value indexed with its kind and symbolic type, initializers bound
// to their bytes (memory-mapped safetensors or inline values). Sessions are built from it.
#pragma once

#include "io/weight_files.hpp"

#include <loom/graph.hpp>
#include <loom/io.hpp>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace loom {

enum class ValueKind { Input, Constant, State, Activation };

struct ProgramValue {
  std::string name;
  ValueKind kind = ValueKind::Activation;
  TensorInfo info;
  Tensor constant;              // Constant: the bytes (a view into the mapped file, or owned)
  int producer = -1;            // Activation: index of the producing node
  std::vector<int> consumers;   // node indices, ascending, may repeat
  bool graph_output = false;
  int state = -1;               // State: index into Program::states
};

struct ProgramNode {
  Node node;                    // attributes normalised, defaults filled in
  std::vector<int> inputs;      // value indices; -1 for an absent optional input
  std::vector<int> outputs;
};

struct ProgramState {
  int value = -1;               // the State value
  int update = -1;              // the value that replaces it after a run, or -1
  StateDecl decl;
};

struct Program {
  Graph graph;
  std::vector<ProgramValue> values;
  std::vector<ProgramNode> nodes;      // execution order
  std::vector<int> inputs;             // graph inputs, in declaration order
  std::vector<int> outputs;            // graph outputs, in declaration order
  std::vector<ProgramState> states;
  std::unordered_map<std::string, int> index;
  std::vector<std::shared_ptr<SafetensorsFile>> files;
  // The engine's mapped files the program was built with (null: files opened on their own);
  // programs rebuilt from this one (graph passes, decompositions) map through it too.
  std::shared_ptr<WeightFiles> weight_files;
  uint64_t weight_bytes = 0;      // bytes of the file constants as read (widened ones as f32)
  uint64_t converted_bytes = 0;   // of which widened from f16 or bf16 on load

  int find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
  }
};

// Validates `graph` and binds its initializers. With load_weights == false, file initializers
// must declare dtype and shape and no file is opened (used by tools that only read the graph).
// Weight files are mapped through `files` when given, so that programs share their mappings and
// the f32 copies of f16 and bf16 tensors declared f32. An initializer's file may be a
// safetensors index: the tensor is read from the shard it names.
std::shared_ptr<const Program> build_program(const Graph& graph, bool load_weights = true,
                                             std::shared_ptr<WeightFiles> files = nullptr);

// Concrete shapes of every value for the given graph input shapes, checking them against the
// declared dtypes and shapes (a symbol must have one value across all inputs).
struct ConcreteShapes {
  std::map<std::string, int64_t> bindings;
  std::vector<Shape> shapes;  // per value
};
ConcreteShapes infer_concrete(const Program& program, const std::vector<Shape>& input_shapes);
// The same from symbol values alone (unbound symbols count as 1), for planning reports.
ConcreteShapes infer_concrete(const Program& program, const std::map<std::string, int64_t>& bindings);

}  // namespace loom
