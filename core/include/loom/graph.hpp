// The graph IR: values with dtype and (possibly symbolic) shape, nodes with named attributes,
// initializers naming tensors of a safetensors file, session state, graph inputs and outputs.
// The YAML format (docs/graph-format.md) reads into and writes from exactly these structs.
#pragma once

#include <loom/processing.hpp>
#include <loom/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace loom {

// One dimension: a known size, a product of symbols times a factor ("batch*seq*12"), or
// unknown ("?", e.g. after a data-dependent op). Products and exact divisions stay symbolic.
class Dim {
 public:
  Dim() = default;                       // known 0... use the named constructors
  static Dim known(int64_t v);
  static Dim symbol(std::string name);
  static Dim unknown();
  // Parses "128", "batch", "batch*seq*12", "?"; throws loom::Error on anything else.
  static Dim parse(std::string_view text);

  bool is_known() const { return !unknown_ && symbols_.empty(); }
  bool is_unknown() const { return unknown_; }
  bool is_symbolic() const { return !unknown_ && !symbols_.empty(); }
  int64_t value() const;  // known dims only
  int64_t factor() const { return factor_; }
  const std::vector<std::string>& symbols() const { return symbols_; }

  Dim operator*(const Dim& o) const;
  // Exact division, or std::nullopt when it cannot be expressed (e.g. "seq" / 2).
  std::optional<Dim> divided_by(const Dim& o) const;
  // Sum: exact for known dims or equal symbolic terms; unknown otherwise.
  Dim operator+(const Dim& o) const;
  bool operator==(const Dim& o) const = default;

  // Substitutes known values for symbols; symbols missing from `bindings` stay symbolic.
  Dim bind(const std::map<std::string, int64_t>& bindings) const;
  std::string str() const;

 private:
  int64_t factor_ = 0;
  std::vector<std::string> symbols_;  // sorted, repeated for powers
  bool unknown_ = false;
};

using SymShape = std::vector<Dim>;
std::string sym_shape_str(const SymShape& s);        // "[batch, seq, 768]"
SymShape to_sym_shape(const Shape& s);
std::optional<Shape> to_shape(const SymShape& s);    // nullopt if any dim is not known

enum class AttrType { Int, Float, String, Ints, Floats, Bool };
using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>, bool>;
AttrType attr_type(const AttrValue& v);
std::string_view attr_type_name(AttrType t);          // "int", "float", "string", "ints", "floats", "bool"

// Where something was written: file and 1-based line and column (0 when unknown).
struct SourceLoc {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const;  // "graph.yaml:12:7" or "graph.yaml" or ""
};

struct TensorInfo {
  DType dtype = DType::f32;
  SymShape shape;
};

struct Node {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;   // value names; "" marks an absent optional input
  std::vector<std::string> outputs;
  std::map<std::string, AttrValue> attrs;
  std::string backend;               // optional hint: preferred backend name
  SourceLoc loc;
};

// What a run uses for an input the caller leaves out (docs/graph-format.md, "Graph inputs"):
// every element `fill`, or with `range` each element's index along `axis` (position ids).
struct InputDefault {
  enum class Kind { Fill, Range };
  Kind kind = Kind::Fill;
  double fill = 0;
  int64_t axis = 0;  // Range: a non-negative axis of the input
  bool operator==(const InputDefault&) const = default;
};

// The values an integer input may hold, both ends included (token ids below the vocabulary's
// size, say). A run given a value outside them fails, naming the input and the element.
struct InputValues {
  int64_t min = 0;
  int64_t max = 0;
  bool operator==(const InputValues&) const = default;
};

struct GraphInput {
  std::string name;
  TensorInfo info;
  SourceLoc loc;
  std::optional<InputDefault> default_value;  // unset: the input is required
  std::optional<InputValues> values;          // unset: any value of its dtype
};

struct GraphOutput {
  std::string name;
  SourceLoc loc;
};

// A constant tensor: either a tensor of a safetensors file or small inline values.
struct Initializer {
  std::string name;
  std::optional<DType> dtype;      // if given, checked against the file (or required inline)
  std::optional<Shape> shape;      // likewise
  std::string file;                // safetensors path, relative to the graph's folder; "" = inline
  std::string tensor;              // name inside the file (defaults to `name`)
  std::vector<double> values;      // inline values, row-major
  SourceLoc loc;
};

// Session state: a tensor that persists across runs (a KV cache, a running sum). It is
// zero-filled when the state is created. If `update` names a value, that value becomes the
// state's content after each run, written in place into the state's memory.
struct StateDecl {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::string update;
  SourceLoc loc;
};

// An upper bound on a symbolic dim ("seq at most 1024"). A session whose backends all accept
// plans made at bounds plans once at the bound and passes each run's actual sizes; every session
// refuses inputs past a bound.
struct SymbolBound {
  std::string name;
  int64_t max = 0;
  SourceLoc loc;
};

// One tensor of the weights of a checkpoint.
struct CheckpointTensor {
  std::string name;
  std::string file;     // the safetensors file holding it, relative to the checkpoint's folder
  DType dtype = DType::f32;
  Shape shape;
  uint64_t bytes = 0;   // as stored
};

// The Hugging Face checkpoint a model plugin expanded a graph from (Engine::load_graph of a
// model manifest or a checkpoint folder): every tensor the plugin was offered, so that those
// its graph leaves out can be told (unused_checkpoint_tensors).
struct Checkpoint {
  std::filesystem::path dir;               // the folder of config.json
  std::string weights_file;                // model.safetensors, or the index of a sharded checkpoint
  std::vector<CheckpointTensor> tensors;   // by name
};

struct Graph {
  std::string name;
  std::filesystem::path path;        // file it came from (empty when parsed from text)
  std::filesystem::path base_dir;    // folder that relative weight files resolve against
  std::map<std::string, std::string> metadata;
  std::vector<GraphInput> inputs;
  std::vector<GraphOutput> outputs;
  std::vector<SymbolBound> symbols;      // bounds of symbols of the inputs' shapes
  std::vector<Initializer> initializers;
  std::vector<StateDecl> states;
  std::vector<Node> nodes;
  std::optional<Processing> processing;  // tokenizer, image processor, generation, tasks
  // Set by Engine::load_graph for a graph a model plugin expanded from a checkpoint; null for a
  // graph read from YAML (the format has no key for it, so an exported graph has none).
  std::shared_ptr<const Checkpoint> checkpoint;
};

// Reads a YAML graph (format v1). Errors name file:line:column and the key.
Graph read_graph_yaml(const std::filesystem::path& file);
// `source_name` is used in error messages; `base_dir` resolves relative weight files.
Graph parse_graph_yaml(std::string_view text, const std::string& source_name,
                       const std::filesystem::path& base_dir = {});
// Writes the same format (blocks expanded). read(write(g)) == g apart from source locations.
std::string write_graph_yaml(const Graph& g);

// The tensors of g.checkpoint that no initializer of `g` reads (none read the tensor of that name
// from the file that holds it), by name; empty without a checkpoint. Nothing is left out by its
// name: which tensors a graph reads is the model plugin's decision.
std::vector<CheckpointTensor> unused_checkpoint_tensors(const Graph& g);

// Every file the graph names (initializers' weights, the processing section's tokenizer and
// image-processor files), resolved against base_dir.
std::vector<std::filesystem::path> graph_files(const Graph& g);
// Rewrites the graph's relative file names so that the graph, written into folder `dir`, names
// the same files: relative to `dir` where possible, absolute otherwise. Absolute names stay as
// they are. base_dir becomes `dir`.
void rebase_graph_files(Graph& g, const std::filesystem::path& dir);

}  // namespace loom
