#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/graph.hpp>

#include "graph_yaml_helpers.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using loom::AttrValue;
using loom::Graph;
using loom::parse_graph_yaml;
using loom::test::check_round_trip;
using loom::test::error_of;
using loom::test::parse;

namespace {

const loom::Node& node_named(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes)
    if (n.name == name) return n;
  FAIL("no node " << name);
  throw 0;
}

const char* kMlp = R"(loom: 1
name: mlp
metadata: {source: "hand-written", version: "2"}
weights: mlp.safetensors
inputs:
  - {name: x, dtype: f32, shape: [batch, 784]}
outputs: [probs]
initializers:
  - {name: fc1.weight, dtype: f32, shape: [128, 784]}
  - {name: fc1.bias}
  - {name: fc2.weight, tensor: head.w, file: head.safetensors}
  - {name: fc2.bias, tensor: head.b, file: head.safetensors}
nodes:
  - {op: linear, inputs: [x, fc1.weight, fc1.bias], outputs: [h], attrs: {activation: relu}, backend: onednn}
  - name: head
    op: linear
    inputs: [h, fc2.weight, fc2.bias]
    outputs: [logits]
  - {op: softmax, inputs: [logits], outputs: [probs], attrs: {axis: -1}}
)";

const char* kEncoder = R"(loom: 1
weights: model.safetensors
inputs:
  - {name: x, dtype: f32, shape: [batch, seq, 8]}
  - {name: mask, dtype: f32, shape: [batch, 1, 1, seq]}
outputs: [encoded]
blocks:
  layer:
    inputs: [x, mask]
    outputs: [y]
    initializers:
      - {name: w, tensor: "encoder.layer.${i}.w"}
      - {name: ln}
    nodes:
      - {op: linear, inputs: [x, w], outputs: [h]}
      - {op: softmax, inputs: [h, mask], outputs: [p]}
      - {name: norm, op: layer_norm, inputs: [p, ln], outputs: [y], attrs: {epsilon: 1e-12}}
nodes:
  - {use: layer, repeat: 2, inputs: {x: x, mask: mask}, outputs: {y: encoded}, chain: {y: x}}
)";

}  // namespace

TEST_CASE("graph yaml: a small MLP reads into the IR") {
  Graph g = parse(kMlp);
  CHECK(g.name == "mlp");
  CHECK(g.metadata.at("source") == "hand-written");
  CHECK(g.metadata.at("version") == "2");
  REQUIRE(g.inputs.size() == 1);
  CHECK(g.inputs[0].info.dtype == loom::DType::f32);
  CHECK(loom::sym_shape_str(g.inputs[0].info.shape) == "[batch, 784]");
  CHECK(g.inputs[0].loc.str() == "g.yaml:6:5");
  REQUIRE(g.initializers.size() == 4);
  CHECK(g.initializers[0].file == "mlp.safetensors");
  CHECK(g.initializers[0].tensor == "fc1.weight");
  CHECK(g.initializers[0].shape == loom::Shape{128, 784});
  CHECK_FALSE(g.initializers[1].dtype.has_value());
  CHECK(g.initializers[2].file == "head.safetensors");
  CHECK(g.initializers[2].tensor == "head.w");
  REQUIRE(g.nodes.size() == 3);
  CHECK(g.nodes[0].name == "h");  // named after its first output
  CHECK(g.nodes[0].backend == "onednn");
  CHECK(std::get<std::string>(g.nodes[0].attrs.at("activation")) == "relu");
  CHECK(g.nodes[1].name == "head");
  CHECK(g.nodes[1].loc.str() == "g.yaml:15:5");
  CHECK(std::get<int64_t>(g.nodes[2].attrs.at("axis")) == -1);
  CHECK(g.outputs[0].name == "probs");
  CHECK(g.path.empty());
}

TEST_CASE("graph yaml: attribute values keep their YAML types") {
  Graph g = parse(R"(loom: 1
inputs: [{name: x, dtype: f32, shape: [2]}]
outputs: [y]
nodes:
  - op: custom
    inputs: [x, null, ""]
    outputs: [y]
    attrs:
      i: 3
      f: 2.5
      e: 1e-5
      whole: 1.0
      inf: -.inf
      b: true
      B: False
      s: relu
      quoted: "12"
      single: 'true'
      tagged: !!str 7
      ints: [1, -2, 3]
      floats: [1, 2.5]
      empty: []
)");
  const auto& a = g.nodes[0].attrs;
  CHECK(std::get<int64_t>(a.at("i")) == 3);
  CHECK(std::get<double>(a.at("f")) == 2.5);
  CHECK(std::get<double>(a.at("e")) == 1e-5);
  CHECK(std::get<double>(a.at("whole")) == 1.0);
  CHECK(std::get<double>(a.at("inf")) == -std::numeric_limits<double>::infinity());
  CHECK(std::get<bool>(a.at("b")) == true);
  CHECK(std::get<bool>(a.at("B")) == false);
  CHECK(std::get<std::string>(a.at("s")) == "relu");
  CHECK(std::get<std::string>(a.at("quoted")) == "12");
  CHECK(std::get<std::string>(a.at("single")) == "true");
  CHECK(std::get<std::string>(a.at("tagged")) == "7");
  CHECK(std::get<std::vector<int64_t>>(a.at("ints")) == std::vector<int64_t>{1, -2, 3});
  CHECK(std::get<std::vector<double>>(a.at("floats")) == std::vector<double>{1.0, 2.5});
  CHECK(std::get<std::vector<int64_t>>(a.at("empty")).empty());
  CHECK(g.nodes[0].inputs == std::vector<std::string>{"x", "", ""});
}

TEST_CASE("graph yaml: a repeated block expands to prefixed, chained instances") {
  Graph g = parse(kEncoder);
  REQUIRE(g.nodes.size() == 6);
  REQUIRE(g.initializers.size() == 4);
  CHECK(g.initializers[0].name == "layer.0.w");
  CHECK(g.initializers[0].tensor == "encoder.layer.0.w");
  CHECK(g.initializers[0].file == "model.safetensors");
  CHECK(g.initializers[1].name == "layer.0.ln");
  CHECK(g.initializers[1].tensor == "layer.0.ln");
  CHECK(g.initializers[2].tensor == "encoder.layer.1.w");

  const auto& first = node_named(g, "layer.0.h");
  CHECK(first.inputs == std::vector<std::string>{"x", "layer.0.w"});
  CHECK(node_named(g, "layer.0.p").inputs == std::vector<std::string>{"layer.0.h", "mask"});
  CHECK(node_named(g, "layer.0.norm").outputs == std::vector<std::string>{"layer.0.y"});
  // The second instance reads the first one's output; its own output is the bound name.
  CHECK(node_named(g, "layer.1.h").inputs == std::vector<std::string>{"layer.0.y", "layer.1.w"});
  CHECK(node_named(g, "layer.1.p").inputs == std::vector<std::string>{"layer.1.h", "mask"});
  CHECK(node_named(g, "layer.1.norm").outputs == std::vector<std::string>{"encoded"});
  CHECK(std::get<double>(node_named(g, "layer.1.norm").attrs.at("epsilon")) == 1e-12);
  // Expanded nodes point at their line inside the block.
  CHECK(first.loc.str() == "g.yaml:15:9");
}

TEST_CASE("graph yaml: blocks nest, and a block without repeat is one instance") {
  Graph g = parse(R"(loom: 1
inputs: [{name: x, dtype: f32, shape: [4]}]
outputs: [out, stack.1.inner.t]
blocks:
  inner:
    inputs: [a]
    outputs: [b]
    nodes:
      - {op: relu, inputs: [a], outputs: [t]}
      - {op: tanh, inputs: [t], outputs: [b]}
  outer:
    inputs: [u]
    outputs: [v]
    initializers:
      - {name: c, dtype: f32, shape: [1], values: [0.5]}
    nodes:
      - {use: inner, inputs: {a: u}, outputs: {b: m}}
      - {op: mul, inputs: [m, c], outputs: [v]}
nodes:
  - {use: outer, name: stack, repeat: 2, inputs: {u: x}, outputs: {v: out}, chain: {v: u}}
)");
  std::vector<std::string> names;
  for (const auto& n : g.nodes) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"stack.0.inner.t", "stack.0.inner.b", "stack.0.v", "stack.1.inner.t",
                                          "stack.1.inner.b", "stack.1.v"});
  CHECK(node_named(g, "stack.0.inner.b").outputs[0] == "stack.0.m");
  CHECK(node_named(g, "stack.1.inner.t").inputs[0] == "stack.0.v");
  CHECK(node_named(g, "stack.1.v").inputs == std::vector<std::string>{"stack.1.m", "stack.1.c"});
  CHECK(node_named(g, "stack.1.v").outputs[0] == "out");
  REQUIRE(g.initializers.size() == 2);
  CHECK(g.initializers[1].name == "stack.1.c");
  CHECK(g.initializers[1].file.empty());
  CHECK(g.initializers[1].tensor.empty());
  CHECK(g.initializers[1].values == std::vector<double>{0.5});
  check_round_trip(g);
}

TEST_CASE("graph yaml: state, inline values and per-instance state") {
  Graph g = parse(R"(loom: 1
inputs: [{name: x, dtype: f32, shape: [1, 4]}]
outputs: [total_out]
initializers:
  - {name: idx, dtype: i64, shape: [2, 2], values: [0, 1, 2, 3]}
state:
  - {name: total, dtype: f32, shape: [1, 4], update: new_total}
blocks:
  acc:
    inputs: [v]
    outputs: [w]
    state: [{name: mem, dtype: f32, shape: [4], update: w}]
    nodes: [{op: add, inputs: [v, mem], outputs: [w]}]
nodes:
  - {op: add, inputs: [total, x], outputs: [new_total]}
  - {use: acc, inputs: {v: new_total}, outputs: {w: total_out}}
)");
  REQUIRE(g.states.size() == 2);
  CHECK(g.states[0].name == "total");
  CHECK(g.states[0].shape == loom::Shape{1, 4});
  CHECK(g.states[0].update == "new_total");
  CHECK(g.states[1].name == "acc.mem");
  CHECK(g.states[1].update == "total_out");
  CHECK(g.initializers[0].values == std::vector<double>{0, 1, 2, 3});
  CHECK(g.initializers[0].dtype == loom::DType::i64);
  CHECK(node_named(g, "acc.w").inputs == std::vector<std::string>{"new_total", "acc.mem"});
  check_round_trip(g);
}

TEST_CASE("graph yaml: the writer's layout is stable and quotes what would change type") {
  Graph g;
  g.name = "tiny";
  g.inputs.push_back({"x", {loom::DType::f32, {loom::Dim::symbol("batch"), loom::Dim::known(3)}}, {}});
  g.outputs.push_back({"y", {}});
  loom::Node n;
  n.name = "y";
  n.op = "gelu";
  n.inputs = {"x"};
  n.outputs = {"y"};
  n.attrs["approximate"] = std::string("true");
  n.attrs["scale"] = 1.0;
  n.attrs["perm"] = std::vector<int64_t>{1, 0};
  g.nodes.push_back(n);
  CHECK(loom::write_graph_yaml(g) == R"(loom: 1
name: tiny
inputs:
  - name: x
    dtype: f32
    shape: [batch, 3]
outputs: [y]
nodes:
  - op: gelu
    inputs: [x]
    outputs: [y]
    attrs:
      approximate: "true"
      perm: [1, 0]
      scale: 1.0
)");
}

TEST_CASE("graph yaml: the writer escapes YAML 1.1's other line breaks, which other readers take raw for breaks") {
  Graph g;
  g.name = "g\u2028h";
  g.inputs.push_back({"x\u2029y", {loom::DType::f32, {loom::Dim::known(2)}}, {}});
  g.outputs.push_back({"y", {}});
  loom::Node n;
  n.name = "y";
  n.op = "relu";
  n.inputs = {"x\u2029y"};
  n.outputs = {"y"};
  n.attrs["label"] = std::string("a\u0085b é");
  g.nodes.push_back(n);
  const std::string text = loom::write_graph_yaml(g);
  CHECK(text.find("name: \"g\\u2028h\"") != std::string::npos);
  CHECK(text.find("\"a\\x85b \\xe9\"") != std::string::npos);
  CHECK(text.find("\u2029") == std::string::npos);
  const Graph back = loom::parse_graph_yaml(text, "back.yaml");
  CHECK(back.name == g.name);
  CHECK(back.inputs.at(0).name == "x\u2029y");
  CHECK(std::get<std::string>(back.nodes.at(0).attrs.at("label")) == "a\u0085b é");
}

TEST_CASE("graph yaml: read(write(g)) equals g") {
  for (const char* text : {kMlp, kEncoder}) check_round_trip(parse(text));

  Graph g;
  g.name = "123";
  g.metadata = {{"null", "~"}, {"empty", ""}, {"num", "1e5"}, {"colon", "a: b"}, {"hash", "x #y"}, {"multi", "a\nb"}};
  g.inputs.push_back({"in put", {loom::DType::bf16, {loom::Dim::parse("batch*seq*12"), loom::Dim::unknown(), loom::Dim::known(0)}}, {}});
  g.inputs.push_back({"true", {loom::DType::i64, {}}, {}});
  g.outputs.push_back({"out", {}});
  g.outputs.push_back({"s", {}});
  loom::Initializer w;
  w.name = "w";
  w.file = "weights/a.safetensors";
  w.tensor = "model.w";
  w.dtype = loom::DType::f16;
  w.shape = loom::Shape{2, 3};
  g.initializers.push_back(w);
  loom::Initializer other = w;
  other.name = "w2";
  other.file = "b.safetensors";
  other.tensor = "w2";
  other.dtype.reset();
  other.shape.reset();
  g.initializers.push_back(other);
  loom::Initializer c;
  c.name = "c";
  c.dtype = loom::DType::f32;
  c.shape = loom::Shape{5};
  c.values = {0.1, -0.0, 1e300, 5e-324, 3.0};
  g.initializers.push_back(c);
  loom::Initializer ids;
  ids.name = "ids";
  ids.dtype = loom::DType::i64;
  ids.shape = loom::Shape{2};
  ids.values = {-7, 9007199254740992.0};
  g.initializers.push_back(ids);
  loom::Initializer none;
  none.name = "none";
  none.dtype = loom::DType::u8;
  none.shape = loom::Shape{0, 4};
  g.initializers.push_back(none);
  g.states.push_back({"s", loom::DType::f32, {3}, "out", {}});
  g.states.push_back({"kv", loom::DType::f16, {1, 2, 0}, "", {}});
  loom::Node n;
  n.name = "first node";
  n.op = "matmul";
  n.inputs = {"in put", "", "w", "c", "ids", "none", "kv"};
  n.outputs = {"out", "2"};
  n.backend = "vulkan";
  n.attrs = {{"alpha", 0.1},   {"big", int64_t{-9223372036854775807 - 1}}, {"neg0", -0.0},
             {"nan", std::numeric_limits<double>::quiet_NaN()},       {"inf", std::numeric_limits<double>::infinity()},
             {"t", true},      {"f", false},
             {"s1", std::string("")},      {"s2", std::string("null")}, {"s3", std::string("- x")},
             {"s4", std::string("1.5")},   {"s5", std::string("[a]")},  {"s6", std::string(" lead")},
             {"s7", std::string("é ü ∑")}, {"s8", std::string("'\"\\")}, {"s9", std::string("tab\there")},
             {"ints", std::vector<int64_t>{0, -1, 9223372036854775807}}, {"floats", std::vector<double>{1.0, 1e-7, 1e21, 2.0 / 3.0}}};
  g.nodes.push_back(n);
  loom::Node m;
  m.name = "s_next";
  m.op = "add";
  m.inputs = {"out", "2"};
  m.outputs = {"s_next"};
  g.nodes.push_back(m);
  check_round_trip(g);
}

TEST_CASE("graph yaml: the examples of docs/graph-format.md read") {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/docs/graph-format.md");
  REQUIRE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  std::string text = doc.str();
  int examples = 0;
  for (size_t pos = text.find("```yaml\nloom: 1"); pos != std::string::npos; pos = text.find("```yaml\nloom: 1", pos)) {
    size_t start = pos + 8;
    size_t end = text.find("```", start);
    REQUIRE(end != std::string::npos);
    std::string example = text.substr(start, end - start);
    INFO(example);
    Graph g = parse_graph_yaml(example, "example.yaml");
    CHECK_FALSE(g.nodes.empty());
    check_round_trip(g);
    if (g.name == "tiny-encoder") {
      // What the text around the example says.
      CHECK(g.nodes.size() == 42);
      CHECK(g.initializers.size() == 32);
      CHECK(node_named(g, "layer.1.q").inputs == std::vector<std::string>{"layer.0.y", "layer.1.q.weight", "layer.1.q.bias"});
      CHECK(g.initializers[16].tensor == "encoder.layer.1.attention.self.query.weight");
      CHECK(g.nodes.back().outputs[0] == "encoded");
      CHECK(loom::write_graph_yaml(g).find("  - op: linear\n    inputs: [layer.0.y, layer.1.q.weight, layer.1.q.bias]\n    outputs: [layer.1.q]\n") !=
            std::string::npos);
    }
    ++examples;
    pos = end;
  }
  CHECK(examples >= 3);
}

TEST_CASE("graph yaml: read_graph_yaml resolves weights against the file's folder") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(LOOM_BUILD_DIR) / "test_graph_yaml";
  fs::create_directories(dir);
  fs::path file = dir / "mlp.yaml";
  std::ofstream(file) << kMlp;
  Graph g = loom::read_graph_yaml(file);
  CHECK(g.path == file);
  CHECK(g.base_dir == dir);
  CHECK(g.nodes[1].loc.file == file.string());
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml(dir / "missing.yaml"), doctest::Contains("missing.yaml: cannot open"), loom::Error);
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml(dir), doctest::Contains("not a regular file"), loom::Error);
  std::ofstream(dir / "bad.yaml") << "loom: 1\noutputs: []\nnodes: [{op: relu, outputs: [y], atrs: {}}]\n";
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml(dir / "bad.yaml"), doctest::Contains("bad.yaml:3:34: nodes[0].atrs: unknown key"), loom::Error);
}

TEST_CASE("graph yaml: malformed graphs name file:line:column, the key and the fault") {
  struct Case {
    const char* what;
    std::string text;
    const char* where;   // "line:column: key"
    const char* fault;
  };
  const std::string head = "loom: 1\ninputs: [{name: x, dtype: f32, shape: [4]}]\noutputs: [y]\n";
  const std::string layer_block =
      "blocks:\n  layer:\n    inputs: [a]\n    outputs: [b]\n    nodes: [{op: relu, inputs: [a], outputs: [b]}]\n";
  const std::vector<Case> cases = {
      {"syntax error", "loom: 1\nnodes: [a, b\n", "3:1", "YAML syntax error: end of sequence flow not found"},
      {"syntax error in a mapping", "loom: 1\noutputs: [y]\n  nodes: []\n", "3:3", "YAML syntax error: end of map not found"},
      {"not a mapping", "- loom\n", "1:1", "expected a mapping that starts with `loom: 1`"},
      {"empty file", "", "1:1", "expected a mapping"},
      {"missing version", "outputs: [y]\nnodes: []\n", "1:1", "missing key 'loom'"},
      {"other version", "loom: 2\noutputs: []\nnodes: []\n", "1:7: loom", "unsupported format version '2'"},
      {"unknown top-level key", head + "nodez: []\n", "4:1: nodez", "unknown key (allowed: loom, name, metadata"},
      {"unknown node key", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [y], atrs: {}}\n", "5:43: nodes[0].atrs",
       "unknown key (allowed: name, op, inputs, outputs, attrs, backend)"},
      {"attrs not a mapping", head + "nodes:\n  - op: relu\n    inputs: [x]\n    outputs: [y]\n    attrs: 5\n", "8:12: nodes[0].attrs",
       "expected a mapping, found a scalar"},
      {"inputs not a sequence", head + "nodes:\n  - {op: relu, inputs: x, outputs: [y]}\n", "5:24: nodes[0].inputs", "expected a sequence"},
      {"missing op", head + "nodes:\n  - {inputs: [x], outputs: [y]}\n", "5:5: nodes[0]", "missing key 'op'"},
      {"missing outputs", "loom: 1\nnodes: []\n", "1:1", "missing key 'outputs'"},
      {"duplicate key", head + "nodes:\n  - {op: relu, op: tanh, inputs: [x], outputs: [y]}\n", "5:16: nodes[0].op", "duplicate key"},
      {"bad dim", "loom: 1\ninputs: [{name: x, dtype: f32, shape: [batch, b-c]}]\noutputs: [x]\nnodes: []\n", "2:47: inputs[0].shape[1]",
       "bad dimension 'b-c'"},
      {"negative dim", "loom: 1\ninputs: [{name: x, dtype: f32, shape: [-1]}]\noutputs: [x]\nnodes: []\n", "2:40: inputs[0].shape[0]",
       "may not be negative"},
      {"float dim", "loom: 1\ninputs: [{name: x, dtype: f32, shape: [1.5]}]\noutputs: [x]\nnodes: []\n", "2:40: inputs[0].shape[0]",
       "expected a dimension"},
      {"unknown dtype", "loom: 1\ninputs: [{name: x, dtype: f33, shape: [1]}]\noutputs: [x]\nnodes: []\n", "2:27: inputs[0].dtype",
       "unknown dtype 'f33'"},
      {"duplicate value", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [y]}\n  - {name: t, op: tanh, inputs: [x], outputs: [y]}\n",
       "6:5: nodes[1]", "'y' is already defined as an output of node 'y' at g.yaml:5:5"},
      {"value shadows an input", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [x]}\n", "5:5: nodes[0]",
       "'x' is already defined as a graph input at g.yaml:2:10"},
      {"duplicate node name", head + "nodes:\n  - {name: n, op: relu, inputs: [x], outputs: [t]}\n  - {name: n, op: tanh, inputs: [t], outputs: [y]}\n",
       "6:5: nodes[1]", "node name 'n' is already used (line 5)"},
      {"undefined input", head + "nodes:\n  - {op: relu, inputs: [x, z], outputs: [y]}\n", "5:28: nodes[0].inputs[1]", "'z' is not defined"},
      {"cycle", head + "nodes:\n  - {op: add, inputs: [x, b], outputs: [a]}\n  - {op: relu, inputs: [a], outputs: [b]}\n  - {op: relu, inputs: [b], outputs: [y]}\n",
       "5:27: nodes[0].inputs[1]", "cycle: a -> b -> a"},
      {"self loop", head + "nodes:\n  - {op: add, inputs: [x, y], outputs: [y]}\n", "5:27: nodes[0].inputs[1]", "reads its own output 'y'"},
      {"use before definition", head + "nodes:\n  - {op: relu, inputs: [t], outputs: [y]}\n  - {op: tanh, inputs: [x], outputs: [t]}\n",
       "5:25: nodes[0].inputs[0]", "'t' is read before node 't' (line 6) produces it"},
      {"undefined graph output", head + "nodes: []\n", "3:11: outputs[0]", "graph output 'y' is not defined"},
      {"empty name", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [\"\"]}\n", "5:39: nodes[0].outputs[0]", "a name may not be empty"},
      {"attr list of strings", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [y], attrs: {k: [a]}}\n", "5:55: nodes[0].attrs.k[0]",
       "attribute lists hold numbers only"},
      {"integer out of range", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [y], attrs: {k: 99999999999999999999}}\n",
       "5:54: nodes[0].attrs.k", "out of range"},
      {"tag", head + "nodes:\n  - {op: relu, inputs: [x], outputs: [y], attrs: {k: !!int 5}}\n", "5:54",
       "YAML tag !!int is not supported"},
      {"anchor", head + "nodes:\n  - &n {op: relu, inputs: [x], outputs: [y]}\n  - *n\n", "5:5", "anchors (&name) are not supported"},
      {"invalid UTF-8", head + "nodes: [{op: relu, inputs: [x], outputs: [y], attrs: {s: \"a\xff\"}}]\n", "4:60", "the file is not valid UTF-8"},
      {"surrogate in UTF-8", head + "name: \xed\xa0\x80\n", "4:7", "the file is not valid UTF-8"},
      {"two documents", head + "nodes: []\n---\nloom: 1\n", "5:1", "one YAML document"},
      {"no weights file", head + "initializers: [{name: w}]\nnodes: []\n", "4:16: initializers[0]", "no `file` and no top-level `weights`"},
      {"values without dtype", head + "initializers: [{name: w, values: [1]}]\nnodes: []\n", "4:34: initializers[0].values",
       "inline `values` need `dtype` and `shape`"},
      {"values count", head + "initializers: [{name: w, dtype: f32, shape: [2, 2], values: [1, 2, 3]}]\nnodes: []\n",
       "4:61: initializers[0].values", "3 values, but shape [2, 2] holds 4"},
      {"value out of dtype range", head + "initializers: [{name: w, dtype: u8, shape: [1], values: [256]}]\nnodes: []\n",
       "4:58: initializers[0].values[0]", "does not fit dtype u8"},
      {"symbolic initializer shape", head + "initializers: [{name: w, file: a.safetensors, shape: [n]}]\nnodes: []\n",
       "4:55: initializers[0].shape[0]", "expected an integer"},
      {"state update undefined", head + "state: [{name: s, dtype: f32, shape: [1], update: nope}]\nnodes: [{op: relu, inputs: [x], outputs: [y]}]\n", "4:51: state[0].update",
       "updated from 'nope', which is not defined"},
      {"state without shape", head + "state: [{name: s, dtype: f32}]\nnodes: []\n", "4:9: state[0]", "missing key 'shape'"},
      {"unknown block", head + "nodes:\n  - {use: lyer, inputs: {a: x}}\n", "5:11: nodes[0].use", "unknown block 'lyer' (blocks: none)"},
      {"unbound block input", head + layer_block + "nodes:\n  - {use: layer, outputs: {b: y}}\n", "10:5: nodes[0]",
       "block 'layer' input 'a' is not bound"},
      {"unknown block input", head + layer_block + "nodes:\n  - {use: layer, inputs: {a: x, c: x}, outputs: {b: y}}\n",
       "10:36: nodes[0].inputs.c", "block 'layer' has no input 'c' (inputs: a)"},
      {"unknown block output", head + layer_block + "nodes:\n  - {use: layer, inputs: {a: x}, outputs: {q: y}}\n", "10:47: nodes[0].outputs.q",
       "block 'layer' has no output 'q' (outputs: b)"},
      {"undefined binding", head + layer_block + "nodes:\n  - {use: layer, inputs: {a: nope}, outputs: {b: y}}\n", "10:30: nodes[0].inputs.a",
       "'nope' is not defined"},
      {"repeat 0", head + layer_block + "nodes:\n  - {use: layer, repeat: 0, inputs: {a: x}, outputs: {b: y}}\n", "10:26: nodes[0].repeat",
       "repeat must be between 1 and 100000, found 0"},
      {"repeat negative", head + layer_block + "nodes:\n  - {use: layer, repeat: -3, inputs: {a: x}, outputs: {b: y}}\n",
       "10:26: nodes[0].repeat", "found -3"},
      {"repeat huge", head + layer_block + "nodes:\n  - {use: layer, repeat: 1000000, inputs: {a: x}, outputs: {b: y}}\n",
       "10:26: nodes[0].repeat", "found 1000000"},
      {"repeat not an int", head + layer_block + "nodes:\n  - {use: layer, repeat: two, inputs: {a: x}, outputs: {b: y}}\n",
       "10:26: nodes[0].repeat", "expected an integer, found 'two'"},
      {"chain without repeat", head + layer_block + "nodes:\n  - {use: layer, inputs: {a: x}, outputs: {b: y}, chain: {b: a}}\n",
       "10:58: nodes[0].chain", "`chain` links one instance to the next and needs `repeat`"},
      {"chain to an unknown input", head + layer_block + "nodes:\n  - {use: layer, repeat: 2, inputs: {a: x}, outputs: {b: y}, chain: {b: z}}\n",
       "10:73: nodes[0].chain.b", "block 'layer' has no input 'z'"},
      {"op and use", head + layer_block + "nodes:\n  - {use: layer, op: relu, inputs: {a: x}}\n", "10:18: nodes[0].op", "unknown key (allowed: use, name, repeat"},
      {"same instance name twice", head + layer_block +
                                       "nodes:\n  - {use: layer, inputs: {a: x}, outputs: {b: t}}\n  - {use: layer, inputs: {a: t}, outputs: {b: y}}\n",
       "11:5: nodes[1]", "instance name 'layer' is already used (line 10)"},
      {"block reads an outer value",
       head + "blocks:\n  layer:\n    inputs: [a]\n    outputs: [b]\n    nodes: [{op: add, inputs: [a, x], outputs: [b]}]\nnodes: []\n",
       "8:35: blocks.layer.nodes[0].inputs[1]", "'x' is neither an input of block 'layer' nor defined in it"},
      {"block output not produced",
       head + "blocks:\n  layer:\n    inputs: [a]\n    outputs: [b, c]\n    nodes: [{op: relu, inputs: [a], outputs: [b]}]\nnodes: []\n",
       "7:18: blocks.layer.outputs[1]", "block output 'c' is not produced by a node of block 'layer'"},
      {"block defines a name twice",
       head + "blocks:\n  layer:\n    inputs: [a]\n    outputs: [b]\n    nodes: [{op: relu, inputs: [a], outputs: [a]}, {op: relu, inputs: [a], outputs: [b]}]\nnodes: []\n",
       "8:47: blocks.layer.nodes[0].outputs[0]", "'a' is already defined in block 'layer' (line 6)"},
      {"block missing nodes", head + "blocks:\n  layer: {inputs: [a], outputs: [b]}\nnodes: []\n", "5:10: blocks.layer", "missing key 'nodes'"},
      {"unknown substitution",
       head + "weights: w.st\nblocks:\n  layer:\n    inputs: [a]\n    outputs: [b]\n    initializers: [{name: w, tensor: \"h.${j}.w\"}]\n"
              "    nodes: [{op: add, inputs: [a, w], outputs: [b]}]\nnodes: []\n",
       "9:20: blocks.layer.initializers[0]", "unknown substitution '${j}' (known: ${i}, ${prefix})"},
      {"recursion between blocks",
       head + "blocks:\n  a:\n    inputs: [p]\n    outputs: [q]\n    nodes: [{use: b, inputs: {p: p}, outputs: {q: q}}]\n"
              "  b:\n    inputs: [p]\n    outputs: [q]\n    nodes: [{use: a, inputs: {p: p}, outputs: {q: q}}]\nnodes: []\n",
       "12:19: blocks.b.nodes[0].use", "block 'a' uses itself: a -> b -> a"},
      {"block uses itself",
       head + "blocks:\n  a:\n    inputs: [p]\n    outputs: [q]\n    nodes: [{use: a, inputs: {p: p}, outputs: {q: q}}]\nnodes: []\n",
       "8:19: blocks.a.nodes[0].use", "block 'a' uses itself: a -> a"},
      {"instance clashes with a value", head + layer_block +
                                            "nodes:\n  - {name: n, op: relu, inputs: [x], outputs: [layer.0.b]}\n  - {use: layer, repeat: 2, inputs: {a: x}, outputs: {b: y}, chain: {b: a}}\n",
       "8:13: blocks.layer.nodes[0] (in layer.0)", "'layer.0.b' is already defined as an output of node 'n' at g.yaml:10:5"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::string message = error_of(c.text);
    CHECK_MESSAGE(message.find(std::string("g.yaml:") + c.where) == 0, message);
    CHECK_MESSAGE(message.find(c.fault) != std::string::npos, message);
  }
}

TEST_CASE("graph yaml: expansion is capped") {
  // 2 levels of 1000 instances: 1,000,000 nodes, far over the cap.
  std::string text = R"(loom: 1
inputs: [{name: x, dtype: f32, shape: [4]}]
outputs: [y]
blocks:
  one:
    inputs: [a]
    outputs: [b]
    nodes: [{op: relu, inputs: [a], outputs: [b]}]
  many:
    inputs: [a]
    outputs: [b]
    nodes: [{use: one, repeat: 1000, inputs: {a: a}, outputs: {b: b}, chain: {b: a}}]
nodes:
  - {use: many, repeat: 1000, inputs: {a: x}, outputs: {b: y}, chain: {b: a}}
)";
  std::string message = error_of(text);
  CHECK_MESSAGE(message.find("g.yaml:14:5: nodes[0]: the graph has more than 100000") == 0, message);
  CHECK_MESSAGE(message.find("more than 100000") != std::string::npos, message);
}

TEST_CASE("graph yaml: deep nesting is refused, not a crash") {
  std::string deep = "loom: 1\noutputs: []\nnodes: []\nmetadata: " + std::string(100000, '[') + "\n";
  CHECK_THROWS_WITH_AS(parse(deep), doctest::Contains("YAML nesting is too deep"), loom::Error);
  std::string deep_block = "loom: 1\noutputs: []\nnodes: []\nmetadata:\n";
  for (int i = 0; i < 5000; ++i) deep_block += "- ";
  deep_block += "x\n";
  CHECK_THROWS_WITH_AS(parse(deep_block), doctest::Contains("YAML nesting is too deep"), loom::Error);
}

TEST_CASE("graph yaml: input defaults (a fill value or a range along an axis) read, round-trip and are checked") {
  const std::string head = "loom: 1\nname: d\noutputs: [y]\nnodes:\n  - {op: add, inputs: [x, m], outputs: [y]}\ninputs:\n"
                           "  - {name: x, dtype: i64, shape: [b, s]}\n";
  Graph g = parse(head + "  - {name: m, dtype: i64, shape: [b, s], default: 1}\n");
  REQUIRE(g.inputs[1].default_value);
  CHECK(g.inputs[1].default_value->kind == loom::InputDefault::Kind::Fill);
  CHECK(g.inputs[1].default_value->fill == 1.0);
  CHECK(!g.inputs[0].default_value);
  check_round_trip(g);
  g = parse(head + "  - {name: m, dtype: i64, shape: [b, s], default: {range: 1}}\n");
  REQUIRE(g.inputs[1].default_value);
  CHECK(g.inputs[1].default_value->kind == loom::InputDefault::Kind::Range);
  CHECK(g.inputs[1].default_value->axis == 1);
  check_round_trip(g);

  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: {range: 2}}\n")
            .find("g.yaml:8:59: inputs[1].default.range: axis 2 is not an axis of a rank-2 input") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: f32, shape: [b, s], default: {range: 0}}\n").find("needs an i64 or i32 input") !=
        std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: 0.5}\n").find("must be a whole number") !=
        std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: .nan}\n").find("must be finite") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: {step: 1}}\n").find("unknown key") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: ones}\n").find("inputs[1].default") != std::string::npos);
}

TEST_CASE("graph yaml: input values (both ends included) read, round-trip and are checked") {
  const std::string head = "loom: 1\nname: v\noutputs: [y]\nnodes:\n  - {op: add, inputs: [x, m], outputs: [y]}\ninputs:\n"
                           "  - {name: x, dtype: i64, shape: [b, s]}\n";
  Graph g = parse(head + "  - {name: m, dtype: i64, shape: [b, s], default: 0, values: {min: -3, max: 30521}}\n");
  REQUIRE(g.inputs[1].values);
  CHECK(g.inputs[1].values->min == -3);
  CHECK(g.inputs[1].values->max == 30521);
  CHECK(!g.inputs[0].values);
  check_round_trip(g);
  CHECK(parse(head + "  - {name: m, dtype: u8, shape: [b, s], values: {min: 1, max: 1}}\n").inputs[1].values->max == 1);

  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], values: {min: 2, max: 1}}\n")
            .find("inputs[1].values: min 2 is above max 1") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: f32, shape: [b, s], values: {min: 0, max: 1}}\n")
            .find("values bound an integer input (i64, i32 or u8), not one of f32") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], default: 5, values: {min: 0, max: 1}}\n")
            .find("the input's default 5.0 is outside them") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], values: {min: 0}}\n").find("inputs[1].values") != std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], values: {min: 0, max: 1.5}}\n").find("expected an integer") !=
        std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], values: {min: 0, max: 1, step: 1}}\n").find("unknown key") !=
        std::string::npos);
  CHECK(error_of(head + "  - {name: m, dtype: i64, shape: [b, s], values: [0, 1]}\n").find("inputs[1].values") != std::string::npos);
}
