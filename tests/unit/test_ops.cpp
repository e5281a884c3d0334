// The op registry against docs/ops.md: every documented op exists, its shape inference works on
// symbolic shapes, and schema violations are reported with the node's name and location.
#include <doctest/doctest.h>

#include "graph/program.hpp"
#include "ops/registry.hpp"
#include "slice_reference.hpp"

#include <loom/error.hpp>
#include <loom/graph.hpp>
#include <loom/plugin_sdk.hpp>
#include <loom/tensor.hpp>

#include <fstream>
#include <limits>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace loom;

namespace {

TensorInfo t(DType dtype, const std::vector<std::string>& shape) {
  TensorInfo info{dtype, {}};
  for (const auto& d : shape) info.shape.push_back(Dim::parse(d));
  return info;
}
TensorInfo f32(const std::vector<std::string>& shape) { return t(DType::f32, shape); }
TensorInfo i64(const std::vector<std::string>& shape) { return t(DType::i64, shape); }

Node make_node(const std::string& op, size_t num_inputs, std::map<std::string, AttrValue> attrs = {}) {
  Node n;
  n.name = "n." + op;
  n.op = op;
  for (size_t i = 0; i < num_inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"out"};
  n.attrs = std::move(attrs);
  n.loc = {"ops.yaml", 7, 5};
  return n;
}

// Normalises the node against its schema and infers its single output.
TensorInfo infer(const std::string& op, const std::vector<TensorInfo>& inputs, std::map<std::string, AttrValue> attrs = {}) {
  Node n = make_node(op, inputs.size(), std::move(attrs));
  ops::normalize_attrs(n);
  std::vector<const TensorInfo*> ptrs;
  for (const auto& i : inputs) ptrs.push_back(&i);
  auto outs = ops::infer(n, ptrs);
  REQUIRE(outs.size() == 1);
  return outs[0];
}

std::string shape(const TensorInfo& info) { return sym_shape_str(info.shape); }

// The message of the loom::Error that inference throws (empty when none is thrown).
std::string infer_error(const std::string& op, const std::vector<TensorInfo>& inputs,
                        std::map<std::string, AttrValue> attrs = {}) {
  try {
    infer(op, inputs, std::move(attrs));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool names_node(const std::string& message, const std::string& op) {
  return message.find("ops.yaml:7:5: node 'n." + op + "' (" + op + "): ") == 0;
}

using Ints = std::vector<int64_t>;
const int64_t kEnd = std::numeric_limits<int64_t>::max();

}  // namespace

TEST_CASE("ops: the registry holds exactly the ops of docs/ops.md") {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/docs/ops.md");
  REQUIRE(in);
  std::set<std::string> documented;
  std::regex row(R"(^\| (`[a-z0-9_]+`(, `[a-z0-9_]+`)*) \|)"), name(R"(`([a-z0-9_]+)`)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const std::string cell = m[1];
    for (std::sregex_iterator it(cell.begin(), cell.end(), name), end; it != end; ++it) documented.insert((*it)[1]);
  }
  std::set<std::string> registered;
  for (const auto& op : ops::all_ops()) registered.insert(op.name);
  CHECK(documented.size() >= 19);
  CHECK(documented == registered);
}

TEST_CASE("ops: element-wise shape inference") {
  for (const char* op : {"add", "sub", "mul", "div"}) {
    CAPTURE(op);
    CHECK(shape(infer(op, {f32({"batch", "seq", "768"}), f32({"768"})})) == "[batch, seq, 768]");
    CHECK(shape(infer(op, {f32({"batch", "1", "seq"}), f32({"batch", "seq", "1"})})) == "[batch, seq, seq]");
    CHECK(shape(infer(op, {f32({}), f32({"batch*seq", "4"})})) == "[batch*seq, 4]");
    CHECK(infer(op, {i64({"seq"}), i64({"1"})}).dtype == DType::i64);
    std::string e = infer_error(op, {f32({"batch", "seq"}), f32({"batch", "3"})});
    CHECK(names_node(e, op));
    CHECK(e.find("do not broadcast") != std::string::npos);
    CHECK(names_node(infer_error(op, {f32({"4"}), i64({"4"})}), op));
  }
  for (const char* op : {"relu", "tanh", "sigmoid", "gelu"}) {
    CAPTURE(op);
    CHECK(shape(infer(op, {f32({"batch", "seq", "3072"})})) == "[batch, seq, 3072]");
    CHECK(names_node(infer_error(op, {i64({"4"})}), op));
  }
  CHECK(shape(infer("gelu", {f32({"seq", "4"})}, {{"approximate", std::string("tanh")}})) == "[seq, 4]");
  CHECK(infer_error("gelu", {f32({"4"})}, {{"approximate", std::string("fast")}}).find("approximate") != std::string::npos);

  TensorInfo c = infer("cast", {i64({"batch", "seq"})}, {{"to", std::string("f32")}});
  CHECK(c.dtype == DType::f32);
  CHECK(shape(c) == "[batch, seq]");
  CHECK(names_node(infer_error("cast", {i64({"4"})}, {{"to", std::string("f64")}}), "cast"));
}

TEST_CASE("ops: matmul and linear shape inference") {
  CHECK(shape(infer("matmul", {f32({"batch", "12", "seq", "64"}), f32({"batch", "12", "64", "seq"})})) ==
        "[batch, 12, seq, seq]");
  CHECK(shape(infer("matmul", {f32({"batch", "12", "seq", "64"}), f32({"batch", "12", "seq", "64"})},
                    {{"transpose_b", true}, {"alpha", 0.125}})) == "[batch, 12, seq, seq]");
  CHECK(shape(infer("matmul", {f32({"64", "seq"}), f32({"64", "32"})}, {{"transpose_a", true}})) == "[seq, 32]");
  // Leading dims broadcast, either side may have fewer.
  CHECK(shape(infer("matmul", {f32({"batch", "seq", "768"}), f32({"768", "3072"})})) == "[batch, seq, 3072]");
  CHECK(shape(infer("matmul", {f32({"2", "1", "seq", "8"}), f32({"3", "8", "5"})})) == "[2, 3, seq, 5]");
  // An int alpha is accepted where a float is expected.
  CHECK(shape(infer("matmul", {f32({"4", "8"}), f32({"8", "2"})}, {{"alpha", int64_t(2)}})) == "[4, 2]");
  CHECK(infer_error("matmul", {f32({"seq", "64"}), f32({"32", "seq"})}).find("inner dimensions") != std::string::npos);
  CHECK(names_node(infer_error("matmul", {f32({"2", "4", "8"}), f32({"3", "8", "5"})}), "matmul"));
  CHECK(names_node(infer_error("matmul", {f32({"8"}), f32({"8", "5"})}), "matmul"));

  CHECK(shape(infer("linear", {f32({"batch", "seq", "768"}), f32({"3072", "768"}), f32({"3072"})},
                    {{"activation", std::string("gelu")}})) == "[batch, seq, 3072]");
  CHECK(shape(infer("linear", {f32({"batch", "768"}), f32({"2", "768"})})) == "[batch, 2]");
  CHECK(infer_error("linear", {f32({"batch", "768"}), f32({"2", "512"})}).find("does not match weight") != std::string::npos);
  CHECK(infer_error("linear", {f32({"batch", "768"}), f32({"2", "768"}), f32({"3"})}).find("bias") != std::string::npos);
  CHECK(infer_error("linear", {f32({"batch", "768"}), f32({"2", "768"})}, {{"activation", std::string("swish")}})
            .find("activation") != std::string::npos);
}

TEST_CASE("ops: normalisation, softmax and indexing shape inference") {
  CHECK(shape(infer("layer_norm", {f32({"batch", "seq", "768"}), f32({"768"}), f32({"768"})}, {{"epsilon", 1e-12}})) ==
        "[batch, seq, 768]");
  CHECK(shape(infer("layer_norm", {f32({"batch", "seq", "768"}), f32({"seq", "768"})}, {{"axis", int64_t(-2)}})) ==
        "[batch, seq, 768]");
  CHECK(infer_error("layer_norm", {f32({"batch", "seq", "768"}), f32({"64"})}).find("expected [768]") != std::string::npos);
  CHECK(names_node(infer_error("layer_norm", {f32({"4"})}, {{"axis", int64_t(1)}}), "layer_norm"));

  CHECK(shape(infer("softmax", {f32({"batch", "12", "seq", "seq"}), f32({"batch", "1", "1", "seq"})})) ==
        "[batch, 12, seq, seq]");
  CHECK(infer_error("softmax", {f32({"batch", "12", "seq", "seq"}), f32({"batch", "12", "seq", "seq", "2"})})
            .find("does not broadcast") != std::string::npos);

  CHECK(shape(infer("gather", {f32({"30522", "768"}), i64({"batch", "seq"})})) == "[batch, seq, 768]");
  CHECK(shape(infer("gather", {f32({"batch", "seq", "768"}), t(DType::i32, {"4"})}, {{"axis", int64_t(-1)}})) ==
        "[batch, seq, 4]");
  CHECK(shape(infer("gather", {f32({"batch", "seq", "768"}), i64({})}, {{"axis", int64_t(1)}})) == "[batch, 768]");
  CHECK(names_node(infer_error("gather", {f32({"10", "4"}), f32({"seq"})}), "gather"));
  CHECK(infer_error("gather", {f32({"10", "4"}), i64({"seq"})}, {{"axis", int64_t(2)}}).find("out of range") != std::string::npos);

  TensorInfo pos = infer("positions", {i64({"batch", "seq"})});
  CHECK(pos.dtype == DType::i64);
  CHECK(shape(pos) == "[seq]");
  CHECK(shape(infer("positions", {i64({"batch", "seq"}), i64({"1"})})) == "[seq]");
  CHECK(infer_error("positions", {i64({"batch", "seq"}), i64({"2"})}).find("one element") != std::string::npos);
}

// The backends' reshape (sdk::reshape_dims) on concrete dims gives what the core infers.
TEST_CASE("ops: sdk::reshape_dims cancels copied dims, keeps counts, and refuses overflow") {
  using V = std::vector<int64_t>;
  auto dims = [](V in, V spec) {
    auto r = loom::sdk::reshape_dims(in, spec);
    return r ? loom::shape_str(*r) : std::string("refused");
  };
  CHECK(dims({2, 3, 4}, {0, -1}) == "[2, 12]");
  CHECK(dims({2, 3, 4}, {-1, 4}) == "[6, 4]");
  CHECK(dims({0, 5}, {0, 1, 1, -1}) == "[0, 1, 1, 5]");
  CHECK(dims({0, 6}, {0, 2}) == "[0, 2]");  // no -1: the counts (0 and 0) agree
  CHECK(dims({0, 6}, {0, 2, -1}) == "[0, 2, 3]");
  CHECK(dims({3, 7}, {5, -1}) == "refused");
  CHECK(dims({3, 7}, {4, 5}) == "refused");
  CHECK(dims({3}, {0, 0}) == "refused");  // copies a dim the input lacks
  CHECK(dims({4, 6}, {-1, -1}) == "refused");
  CHECK(dims({int64_t{1} << 62, 4, 0}, {-1}) == "[0]");
  CHECK(dims({4}, {int64_t{1} << 62, int64_t{1} << 62, -1}) == "refused");  // overflow
  CHECK(dims({4}, {int64_t{1} << 62, int64_t{1} << 62}) == "refused");
}

TEST_CASE("ops: reshape and transpose shape inference") {
  CHECK(shape(infer("reshape", {f32({"batch", "seq", "768"})}, {{"shape", Ints{0, 0, 12, -1}}})) == "[batch, seq, 12, 64]");
  CHECK(shape(infer("reshape", {f32({"batch", "seq", "12", "64"})}, {{"shape", Ints{0, 0, 768}}})) == "[batch, seq, 768]");
  CHECK(shape(infer("reshape", {f32({"batch", "seq", "768"})}, {{"shape", Ints{-1, 768}}})) == "[batch*seq, 768]");
  CHECK(shape(infer("reshape", {f32({"batch", "seq", "768"})}, {{"shape", Ints{0, -1}}})) == "[batch, 768*seq]");
  CHECK(shape(infer("reshape", {f32({"batch", "seq"})}, {{"shape", Ints{0, 1, 1, -1}}})) == "[batch, 1, 1, seq]");
  // Dims copied by 0 cancel before -1 is inferred, so an empty batch keeps the other dims.
  CHECK(shape(infer("reshape", {f32({"0", "5"})}, {{"shape", Ints{0, 1, 1, -1}}})) == "[0, 1, 1, 5]");
  CHECK(shape(infer("reshape", {f32({"0", "4", "6"})}, {{"shape", Ints{0, 0, 2, -1}}})) == "[0, 4, 2, 3]");
  CHECK(infer_error("reshape", {f32({"0", "5"})}, {{"shape", Ints{0, 2, -1}}}).find("cannot reshape") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"3", "7"})}, {{"shape", Ints{5, -1}}}).find("cannot reshape") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"3", "7"})}, {{"shape", Ints{4, 5}}}).find("21 elements") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"batch", "seq"})}, {{"shape", Ints{0, 4}}}).find("cannot prove") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"4", "6"})}, {{"shape", Ints{-1, -1}}}).find("more than one -1") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"24"})}, {{"shape", Ints{0, 0}}}).find("rank 1") != std::string::npos);

  CHECK(shape(infer("transpose", {f32({"batch", "seq", "12", "64"})}, {{"perm", Ints{0, 2, 1, 3}}})) == "[batch, 12, seq, 64]");
  CHECK(shape(infer("transpose", {f32({"a", "b"})}, {{"perm", Ints{1, 0}}})) == "[b, a]");
}

TEST_CASE("ops: slice clamps like Python and stays symbolic where it can") {
  auto sliced = [](std::vector<std::string> in, int64_t axis, int64_t start, int64_t end, int64_t step = 1) {
    return shape(infer("slice", {f32(in)}, {{"axis", axis}, {"start", start}, {"end", end}, {"step", step}}));
  };
  CHECK(sliced({"batch", "10"}, 1, -3, kEnd) == "[batch, 3]");
  CHECK(sliced({"batch", "10"}, -1, 2, 100) == "[batch, 8]");
  CHECK(sliced({"batch", "10"}, 1, -100, 3) == "[batch, 3]");
  CHECK(sliced({"batch", "10"}, 1, 5, 2) == "[batch, 0]");
  CHECK(sliced({"batch", "10"}, 1, 0, kEnd, 3) == "[batch, 4]");
  CHECK(sliced({"batch", "10"}, 1, 1, -1, 2) == "[batch, 4]");
  CHECK(sliced({"batch", "seq", "64"}, 1, 0, 1) == "[batch, ?, 64]");  // known once seq is
  CHECK(sliced({"batch", "seq", "64"}, 1, 0, kEnd) == "[batch, seq, 64]");
  CHECK(shape(infer("slice", {f32({"4", "seq"})}, {{"axis", int64_t(0)}, {"start", int64_t(1)}})) == "[3, seq]");
  CHECK(infer_error("slice", {f32({"4"})}, {{"axis", int64_t(0)}, {"step", int64_t(0)}}).find("step") != std::string::npos);
  CHECK(infer_error("slice", {f32({"4"})}, {{"axis", int64_t(1)}}).find("out of range") != std::string::npos);
}

TEST_CASE("ops: slice follows Python for every start, end and step, the int64 limits included") {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}}) {
    for (int64_t start : loom::test::extreme_bounds(n))
      for (int64_t end : loom::test::extreme_bounds(n))
        for (int64_t step : loom::test::extreme_steps(n)) {
          if (step < 1) continue;
          CAPTURE(n);
          CAPTURE(start);
          CAPTURE(end);
          CAPTURE(step);
          const auto want = static_cast<int64_t>(loom::test::python_slice(n, start, end, step).size());
          TensorInfo out = infer("slice", {f32({"2", std::to_string(n)})}, {{"axis", int64_t(1)}, {"start", start}, {"end", end}, {"step", step}});
          REQUIRE(out.shape[1].is_known());
          CHECK(out.shape[1].value() == want);
        }
  }
}

TEST_CASE("ops: concat adds symbolic sizes along its axis") {
  CHECK(shape(infer("concat", {f32({"batch", "seq", "4"}), f32({"batch", "seq", "4"})}, {{"axis", int64_t(1)}})) ==
        "[batch, 2*seq, 4]");
  CHECK(shape(infer("concat", {f32({"batch", "seq", "4"}), f32({"batch", "seq", "4"}), f32({"batch", "seq", "4"})},
                    {{"axis", int64_t(-2)}})) == "[batch, 3*seq, 4]");
  CHECK(shape(infer("concat", {f32({"batch", "3"}), f32({"batch", "5"})}, {{"axis", int64_t(1)}})) == "[batch, 8]");
  CHECK(shape(infer("concat", {f32({"batch", "past", "4"}), f32({"batch", "seq", "4"})}, {{"axis", int64_t(1)}})) ==
        "[batch, ?, 4]");
  CHECK(shape(infer("concat", {f32({"seq", "4"})}, {{"axis", int64_t(0)}})) == "[seq, 4]");
  CHECK(infer_error("concat", {f32({"batch", "3"}), f32({"2", "5"})}, {{"axis", int64_t(1)}}).find("outside axis 1") !=
        std::string::npos);
  CHECK(infer_error("concat", {f32({"batch", "3"}), f32({"3"})}, {{"axis", int64_t(0)}}).find("rank") != std::string::npos);
  CHECK(names_node(infer_error("concat", {f32({"3"}), i64({"3"})}, {{"axis", int64_t(0)}}), "concat"));
}

TEST_CASE("ops: schema violations name the node and where it was written") {
  CHECK(names_node(infer_error("softmax", {f32({"4"})}, {{"dim", int64_t(0)}}), "softmax"));
  CHECK(infer_error("softmax", {f32({"4"})}, {{"dim", int64_t(0)}}).find("unknown attribute 'dim'") != std::string::npos);
  CHECK(infer_error("transpose", {f32({"4", "2"})}, {{"perm", std::string("1,0")}}).find("must be of type ints, not string") !=
        std::string::npos);
  CHECK(infer_error("transpose", {f32({"4", "2"})}, {{"perm", true}}).find("must be of type ints, not bool") != std::string::npos);
  CHECK(infer_error("reshape", {f32({"4"})}).find("required attribute 'shape' is missing") != std::string::npos);
  CHECK(infer_error("cast", {f32({"4"})}).find("required attribute 'to'") != std::string::npos);
  CHECK(infer_error("transpose", {f32({"4", "2", "3"})}, {{"perm", Ints{0, 0, 1}}}).find("not a permutation") != std::string::npos);
  CHECK(infer_error("transpose", {f32({"4", "2", "3"})}, {{"perm", Ints{0, 1, 3}}}).find("not a permutation") != std::string::npos);
  CHECK(infer_error("transpose", {f32({"4", "2", "3"})}, {{"perm", Ints{1, 0}}}).find("2 entries") != std::string::npos);
  CHECK(infer_error("relu", {f32({"4"}), f32({"4"})}).find("takes inputs (x), got 2") != std::string::npos);
  CHECK(infer_error("linear", {f32({"4"})}).find("takes inputs (x, weight, bias?), got 1") != std::string::npos);

  Node unknown = make_node("no_such_op", 1);
  try {
    ops::normalize_attrs(unknown);
    FAIL("an unknown op was accepted");
  } catch (const Error& e) {
    CHECK(names_node(e.what(), "no_such_op"));
    CHECK(std::string(e.what()).find("unknown op 'no_such_op'") != std::string::npos);
  }
  Node two_outputs = make_node("relu", 1);
  two_outputs.outputs = {"a", "b"};
  try {
    ops::normalize_attrs(two_outputs);
    FAIL("two outputs were accepted for relu");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("has 1 output(s), got 2") != std::string::npos);
  }
}

// The same violations in a graph file: the location comes from the parser.
namespace {

std::string graph_error(const std::string& node_line, const std::string& inputs = "  - {name: x, dtype: f32, shape: [batch, seq, 8]}\n") {
  const std::string text = "loom: 1\nname: bad\ninputs:\n" + inputs + "outputs: [y]\nnodes:\n" + node_line + "\n";
  try {
    Graph g = parse_graph_yaml(text, "bad.yaml");
    build_program(g, false);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("ops: schema violations in YAML name the node and its file:line:column") {
  struct Case {
    const char* what;
    std::string node;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"unknown op", "  - {name: n1, op: no_such_op, inputs: [x], outputs: [y]}", "unknown op 'no_such_op'"},
      {"unknown attribute", "  - {name: n1, op: softmax, inputs: [x], outputs: [y], attrs: {dim: 1}}", "unknown attribute 'dim'"},
      {"wrong attribute type", "  - {name: n1, op: transpose, inputs: [x], outputs: [y], attrs: {perm: first}}",
       "attribute 'perm' must be of type ints"},
      {"missing attribute", "  - {name: n1, op: reshape, inputs: [x], outputs: [y]}", "required attribute 'shape' is missing"},
      {"bad perm", "  - {name: n1, op: transpose, inputs: [x], outputs: [y], attrs: {perm: [0, 2, 2]}}", "not a permutation"},
      {"too many inputs", "  - {name: n1, op: relu, inputs: [x, x], outputs: [y]}", "takes inputs (x), got 2"},
      {"bad axis", "  - {name: n1, op: softmax, inputs: [x], outputs: [y], attrs: {axis: 3}}", "out of range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    std::string e = graph_error(c.node);
    CHECK(e.rfind("bad.yaml:7:", 0) == 0);
    CHECK(e.find("node 'n1'") != std::string::npos);
    CHECK(e.find(c.expected) != std::string::npos);
  }
  std::string e = graph_error("  - {name: n1, op: add, inputs: [x, m], outputs: [y]}",
                              "  - {name: x, dtype: f32, shape: [batch, seq, 8]}\n  - {name: m, dtype: f32, shape: [batch, 3, 8]}\n");
  CAPTURE(e);
  CHECK(e.rfind("bad.yaml:8:", 0) == 0);
  CHECK(e.find("node 'n1' (add)") != std::string::npos);
  CHECK(e.find("do not broadcast") != std::string::npos);
}

TEST_CASE("ops: add_layer_norm infers the sum's shape and outputs the sum only when the node lists it") {
  CHECK(shape(infer("add_layer_norm", {f32({"batch", "seq", "64"}), f32({"batch", "seq", "64"}), f32({"64"}), f32({"64"})})) ==
        "[batch, seq, 64]");
  CHECK(shape(infer("add_layer_norm", {f32({"batch", "seq", "64"}), f32({"64"})})) == "[batch, seq, 64]");
  CHECK(infer_error("add_layer_norm", {f32({"2", "64"}), f32({"2", "64"}), f32({"32"})}).find("expected [64]") != std::string::npos);
  CHECK(names_node(infer_error("add_layer_norm", {f32({"2", "64"}), f32({"3", "64"})}), "add_layer_norm"));
  CHECK(infer_error("add_layer_norm", {i64({"4"}), i64({"4"})}).find("dtype") != std::string::npos);

  // Two outputs: out and sum, both of the sum's shape.
  Node n = make_node("add_layer_norm", 2);
  n.outputs = {"y", "s"};
  ops::normalize_attrs(n);
  const TensorInfo a = f32({"batch", "8"}), b = f32({"8"});
  auto outs = ops::infer(n, {&a, &b});
  REQUIRE(outs.size() == 2);
  CHECK(shape(outs[1]) == "[batch, 8]");
  // A required output cannot be left out, and there is no third one.
  n.outputs = {};
  CHECK_THROWS_WITH_AS(ops::normalize_attrs(n), doctest::Contains("has 1 to 2 output(s), got 0"), Error);
  n.outputs = {"y", "s", "t"};
  CHECK_THROWS_WITH_AS(ops::normalize_attrs(n), doctest::Contains("has 1 to 2 output(s), got 3"), Error);
  // An op without optional outputs keeps its exact count.
  Node ln = make_node("layer_norm", 1);
  ln.outputs = {"y", "s"};
  CHECK_THROWS_WITH_AS(ops::normalize_attrs(ln), doctest::Contains("has 1 output(s), got 2"), Error);
}

TEST_CASE("ops: key_mask is [batch, 1.., queries, keys]") {
  CHECK(shape(infer("key_mask", {f32({"batch", "12", "q", "k"})})) == "[batch, 1, q, k]");
  CHECK(shape(infer("key_mask", {f32({"batch", "q", "k"}), i64({"batch"})}, {{"causal", true}})) == "[batch, q, k]");
  CHECK(infer_error("key_mask", {f32({"2", "4", "4"}), i64({"3"})}).find("one length per batch row") != std::string::npos);
  CHECK(infer_error("key_mask", {f32({"4", "4"})}).find("rank >= 3") != std::string::npos);
  CHECK(infer_error("key_mask", {f32({"2", "4", "4"}), t(DType::i32, {"2"})}).find("i64") != std::string::npos);
}

TEST_CASE("ops: op set 4 shapes (quick_gelu, exp, rms_norm, l2_normalize, reduce_mean, argmax, topk, gather_rows)") {
  CHECK(shape(infer("quick_gelu", {f32({"batch", "seq", "3072"})})) == "[batch, seq, 3072]");
  CHECK(shape(infer("exp", {f32({"1"})})) == "[1]");
  CHECK(shape(infer("rms_norm", {f32({"batch", "seq", "512"}), f32({"512"})})) == "[batch, seq, 512]");
  CHECK(infer_error("rms_norm", {f32({"batch", "seq", "512"}), f32({"511"})}).find("expected [512]") != std::string::npos);
  CHECK(shape(infer("l2_normalize", {f32({"batch", "512"})}, {{"axis", int64_t(0)}})) == "[batch, 512]");
  CHECK(infer_error("l2_normalize", {f32({"4"})}, {{"epsilon", -1.0}}).find("must not be negative") != std::string::npos);
  CHECK(shape(infer("reduce_mean", {f32({"batch", "seq", "768"})}, {{"axes", Ints{1}}})) == "[batch, 768]");
  CHECK(shape(infer("reduce_mean", {f32({"b", "3", "4", "5"})}, {{"axes", Ints{-1, 1}}, {"keepdims", true}})) == "[b, 1, 4, 1]");
  CHECK(infer_error("reduce_mean", {f32({"2", "3"})}, {{"axes", Ints{1, -1}}}).find("names axis -1 twice") != std::string::npos);
  CHECK(infer_error("reduce_mean", {f32({"2", "3"})}, {{"axes", Ints{}}}).find("names no axis") != std::string::npos);
  CHECK(infer_error("reduce_mean", {f32({"2", "3"})}, {{"axes", Ints{2}}}).find("axes") != std::string::npos);
  TensorInfo am = infer("argmax", {i64({"batch", "seq"})});
  CHECK(shape(am) == "[batch]");
  CHECK(am.dtype == DType::i64);
  CHECK(shape(infer("argmax", {f32({"2", "7"})}, {{"axis", int64_t(0)}, {"keepdims", true}})) == "[1, 7]");
  CHECK(infer_error("argmax", {f32({"2", "0"})}).find("axis of size 0") != std::string::npos);
  TensorInfo rows = infer("gather_rows", {f32({"batch", "seq", "512"}), i64({"batch"})});
  CHECK(shape(rows) == "[batch, 512]");
  CHECK(infer_error("gather_rows", {f32({"2", "5", "8"}), i64({"3"})}).find("must be [2]") != std::string::npos);
  CHECK(infer_error("gather_rows", {f32({"2", "5", "8"}), f32({"2"})}).find("dtype") != std::string::npos);

  // topk has two outputs.
  auto topk = [](const TensorInfo& x, int64_t k, int64_t axis) {
    Node n = make_node("topk", 1, {{"k", k}, {"axis", axis}});
    n.outputs = {"values", "indices"};
    ops::normalize_attrs(n);
    return ops::infer(n, {&x});
  };
  auto outs = topk(f32({"batch", "1000"}), 5, -1);
  REQUIRE(outs.size() == 2);
  CHECK(shape(outs[0]) == "[batch, 5]");
  CHECK(outs[0].dtype == DType::f32);
  CHECK(outs[1].dtype == DType::i64);
  CHECK_THROWS_WITH_AS(topk(f32({"2", "4"}), 5, -1), doctest::Contains("k = 5 is larger than the axis (4)"), Error);
  CHECK_THROWS_WITH_AS(topk(f32({"2", "4"}), 0, -1), doctest::Contains("'k' must be at least 1"), Error);
  CHECK(shape(topk(f32({"2", "seq"}), 3, 1)[1]) == "[2, 3]");

  // linear takes quick_gelu as its activation.
  CHECK(shape(infer("linear", {f32({"2", "8"}), f32({"4", "8"})}, {{"activation", std::string("quick_gelu")}})) == "[2, 4]");
}

TEST_CASE("ops: roll keeps the shape and pad adds before and after each axis") {
  CHECK(shape(infer("roll", {f32({"batch", "56", "56", "96"})}, {{"shifts", Ints{-3, -3}}, {"axes", Ints{1, 2}}})) ==
        "[batch, 56, 56, 96]");
  CHECK(infer_error("roll", {f32({"4", "4"})}, {{"shifts", Ints{1}}, {"axes", Ints{0, 1}}}).find("as many shifts as axes") !=
        std::string::npos);
  CHECK(infer_error("roll", {f32({"4", "4"})}, {{"shifts", Ints{1}}, {"axes", Ints{2}}}).find("axes") != std::string::npos);
  CHECK(shape(infer("pad", {f32({"1", "5", "6", "3"})}, {{"before", Ints{0, 0, 0, 0}}, {"after", Ints{0, 2, 1, 0}}})) == "[1, 7, 7, 3]");
  CHECK(shape(infer("pad", {f32({"b", "9"})}, {{"before", Ints{0, 1}}, {"after", Ints{0, 1}}})) == "[b, 11]");
  CHECK(infer_error("pad", {f32({"4"})}, {{"before", Ints{-1}}, {"after", Ints{0}}}).find("between 0 and 2^40") != std::string::npos);
  CHECK(infer_error("pad", {f32({"4", "2"})}, {{"before", Ints{0}}, {"after", Ints{0}}}).find("one entry per axis") != std::string::npos);
}

TEST_CASE("ops: conv2d refuses an empty kernel, as PyTorch does") {
  CHECK(shape(infer("conv2d", {f32({"1", "3", "8", "8"}), f32({"4", "3", "2", "3"})})) == "[1, 4, 7, 6]");
  CHECK(infer_error("conv2d", {f32({"1", "3", "8", "8"}), f32({"4", "3", "0", "3"})}).find("kernel height 0 is empty") !=
        std::string::npos);
}

TEST_CASE("ops: attention shapes in both layouts (op set 7: layout)") {
  using Attrs = std::map<std::string, AttrValue>;
  CHECK(shape(infer("attention", {f32({"b", "12", "s", "64"}), f32({"b", "12", "t", "64"}), f32({"b", "12", "t", "32"})})) ==
        "[b, 12, s, 32]");
  const Attrs bshd{{"layout", std::string("bshd")}};
  CHECK(shape(infer("attention", {f32({"b", "s", "12", "64"}), f32({"b", "t", "12", "64"}), f32({"b", "t", "12", "32"})}, bshd)) ==
        "[b, s, 12, 32]");
  // scale: finite and >= 0 (a NaN would be taken for 0 by one backend and multiplied by another).
  for (double bad : {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()})
    CHECK(infer_error("attention", {f32({"1", "2", "3", "4"}), f32({"1", "2", "3", "4"}), f32({"1", "2", "3", "4"})}, Attrs{{"scale", bad}})
              .find("attribute 'scale' must be a finite number >= 0") != std::string::npos);
  // The mask is per head in either layout: [b, heads, s, t].
  CHECK(shape(infer("attention", {f32({"2", "5", "3", "8"}), f32({"2", "7", "3", "8"}), f32({"2", "7", "3", "8"}), f32({"2", "3", "5", "7"})},
                    bshd)) == "[2, 5, 3, 8]");
  CHECK(infer_error("attention", {f32({"2", "5", "3", "8"}), f32({"2", "7", "4", "8"}), f32({"2", "7", "4", "8"})}, bshd)
            .find("must agree in batch, heads and head_dim") != std::string::npos);
  CHECK(infer_error("attention", {f32({"2", "5", "3", "8"}), f32({"2", "7", "3", "8"}), f32({"2", "6", "3", "8"})}, bshd)
            .find("must agree in batch, heads and positions") != std::string::npos);
  CHECK(infer_error("attention", {f32({"1", "1", "1", "1"}), f32({"1", "1", "1", "1"}), f32({"1", "1", "1", "1"})},
                    {{"layout", std::string("bsdh")}})
            .find("'bsdh', not bhsd or bshd") != std::string::npos);
}

TEST_CASE("ops: attention's k and v may share a dtype other than q's (op set 8: a bf16 KV cache)") {
  auto bf16 = [](const std::vector<std::string>& shape) { return t(DType::bf16, shape); };
  const TensorInfo out = infer("attention", {f32({"1", "12", "1", "64"}), bf16({"1", "12", "t", "64"}), bf16({"1", "12", "t", "64"})});
  CHECK(out.dtype == DType::f32);
  CHECK(shape(out) == "[1, 12, 1, 64]");
  CHECK(infer_error("attention", {f32({"1", "2", "1", "8"}), bf16({"1", "2", "3", "8"}), f32({"1", "2", "3", "8"})})
            .find("dtype") != std::string::npos);
  CHECK(infer_error("attention", {f32({"1", "2", "1", "8"}), i64({"1", "2", "3", "8"}), i64({"1", "2", "3", "8"})})
            .find("dtype") != std::string::npos);
}
