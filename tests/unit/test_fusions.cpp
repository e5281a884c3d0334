// The fusion passes (level all) on small graphs: what they fuse, what they must not fuse (an
// intermediate value read twice, or a graph output), and that outputs never change.
#ifdef LOOM_TEST_ONEDNN

#include "pass_graphs.hpp"

#include <doctest/doctest.h>

using namespace loom;
using namespace loom::test;

namespace {

using Ints = std::vector<int64_t>;

// scores = q @ k^T * 0.5 (through an explicit transpose of k when `k_transposed`), + mask,
// softmax, @ v.
Graph attention_graph(bool softmax_mask, bool k_transposed = false) {
  Graph g;
  g.inputs = {input("q", DType::f32, {"batch", "2", "3", "4"}),
              input("k", DType::f32, {"batch", "2", "5", "4"}),
              input("v", DType::f32, {"batch", "2", "5", "6"}), input("mask", DType::f32, {"batch", "1", "1", "5"})};
  if (k_transposed) {
    g.nodes.push_back(node("k.t", "transpose", {"k"}, {"k.t"}, {{"perm", Ints{0, 1, 3, 2}}}));
    g.nodes.push_back(node("scores", "matmul", {"q", "k.t"}, {"scores"}, {{"alpha", 0.5}}));
  } else {
    g.nodes.push_back(node("scores", "matmul", {"q", "k"}, {"scores"}, {{"transpose_b", true}, {"alpha", 0.5}}));
  }
  if (softmax_mask) {
    g.nodes.push_back(node("probs", "softmax", {"scores", "mask"}, {"probs"}));
  } else {
    g.nodes.push_back(node("masked", "add", {"mask", "scores"}, {"masked"}));
    g.nodes.push_back(node("probs", "softmax", {"masked"}, {"probs"}, {{"axis", int64_t(3)}}));
  }
  g.nodes.push_back(node("context", "matmul", {"probs", "v"}, {"context"}));
  g.outputs = {{"context", {}}};
  return g;
}

TensorMap attention_inputs() {
  return {{"q", pattern({2, 2, 3, 4}, 1)},
          {"k", pattern({2, 2, 5, 4}, 2)},
          {"v", pattern({2, 2, 5, 6}, 3)},
          {"mask", pattern({2, 1, 1, 5}, 4, -3, 0)}};
}

// Outputs at level all equal those at none; returns the level-all run.
LevelRun same_at_all(const Engine& engine, const Graph& g, const TensorMap& in) {
  const LevelRun none = run_at(engine, g, OptimizeLevel::none, in);
  LevelRun all = run_at(engine, g, OptimizeLevel::all, in);
  check_outputs(all.outputs, none.outputs);
  return all;
}

}  // namespace

TEST_CASE("fusions: attention written as ops becomes one attention node") {
  Engine engine = onednn_engine();
  for (bool softmax_mask : {true, false})
    for (bool k_transposed : {false, true}) {
      CAPTURE(softmax_mask);
      CAPTURE(k_transposed);
      const Graph g = attention_graph(softmax_mask, k_transposed);
      const Graph fused = engine.optimize(g, OptimizeLevel::all);
      REQUIRE(fused.nodes.size() == 1);
      const Node& a = fused.nodes[0];
      CHECK(a.op == "attention");
      CHECK(a.name == "context");
      CHECK(a.inputs == std::vector<std::string>{"q", "k", "v", "mask"});
      CHECK(a.outputs == std::vector<std::string>{"context"});
      CHECK(std::get<double>(a.attrs.at("scale")) == 0.5);
      CHECK(!std::get<bool>(a.attrs.at("causal")));
      const LevelRun all = same_at_all(engine, g, attention_inputs());
      REQUIRE(fused_count(all.report, "attention") == 1);
      CHECK(all.report.fused[0].nodes.size() == (softmax_mask ? 3u : 4u));
    }
}

TEST_CASE("fusions: attention is not fused when an intermediate value is needed elsewhere") {
  Engine engine = onednn_engine();
  auto check_not_fused = [&](const Graph& g, const TensorMap& in) {
    const Graph opt = engine.optimize(g, OptimizeLevel::all);
    CHECK(count_op(opt, "attention") == 0);
    CHECK(fused_count(same_at_all(engine, g, in).report, "attention") == 0);
  };
  SUBCASE("probs is a graph output") {
    Graph g = attention_graph(true);
    g.outputs.push_back({"probs", {}});
    check_not_fused(g, attention_inputs());
  }
  SUBCASE("the scores are read twice") {
    Graph g = attention_graph(false);
    g.nodes.push_back(node("scores.relu", "relu", {"scores"}, {"scores.relu"}));
    g.outputs.push_back({"scores.relu", {}});
    check_not_fused(g, attention_inputs());
  }
  SUBCASE("the masked scores are read twice") {
    Graph g = attention_graph(false);
    g.nodes.push_back(node("twice", "add", {"masked", "masked"}, {"twice"}));
    g.outputs.push_back({"twice", {}});
    check_not_fused(g, attention_inputs());
  }
  SUBCASE("softmax along another axis") {
    Graph g = attention_graph(false);
    g.nodes[2].attrs["axis"] = int64_t(2);
    check_not_fused(g, attention_inputs());
  }
  SUBCASE("the output matmul is scaled") {
    Graph g = attention_graph(true);
    g.nodes.back().attrs["alpha"] = 2.0;
    check_not_fused(g, attention_inputs());
  }
  SUBCASE("the mask widens the scores") {
    Graph g = attention_graph(false);
    g.inputs[3] = input("mask", DType::f32, {"3", "batch", "2", "3", "5"});
    TensorMap in = attention_inputs();
    in["mask"] = pattern({3, 2, 2, 3, 5}, 5, -2, 0);
    check_not_fused(g, in);
  }
  SUBCASE("3-D heads") {
    Graph g;
    g.inputs = {input("q", DType::f32, {"4", "3", "4"}), input("k", DType::f32, {"4", "5", "4"}),
                input("v", DType::f32, {"4", "5", "6"})};
    g.nodes = {node("scores", "matmul", {"q", "k"}, {"scores"}, {{"transpose_b", true}}),
               node("probs", "softmax", {"scores"}, {"probs"}), node("context", "matmul", {"probs", "v"}, {"context"})};
    g.outputs = {{"context", {}}};
    check_not_fused(g, {{"q", pattern({4, 3, 4}, 1)}, {"k", pattern({4, 5, 4}, 2)}, {"v", pattern({4, 5, 6}, 3)}});
  }
}

// Attention over heads cut from [batch, positions, heads, width] projections and transposed
// ([0, 2, 1, 3]) there and back, as the text and vision models write it; `what`: a value the
// fold must leave alone (the transposed q also a graph output, the attention's output a graph
// output or read twice, or one transpose read as both q and k).
enum class Unfoldable { none, q_read_elsewhere, context_is_output, context_read_twice, shared_transpose };
Graph heads_graph(Unfoldable what = Unfoldable::none) {
  Graph g;
  // Shared: the keys are the queries' transpose (self-attention over one tensor), 3 of them.
  const std::string tk = what == Unfoldable::shared_transpose ? "3" : "5";
  g.inputs = {input("q", DType::f32, {"batch", "3", "2", "4"}), input("k", DType::f32, {"batch", tk, "2", "4"}),
              input("v", DType::f32, {"batch", tk, "2", "6"}), input("mask", DType::f32, {"batch", "1", "1", tk})};
  for (const char* x : {"q", "k", "v"})
    g.nodes.push_back(node(std::string(x) + ".t", "transpose", {x}, {std::string(x) + ".t"}, {{"perm", Ints{0, 2, 1, 3}}}));
  const std::string keys = what == Unfoldable::shared_transpose ? "q.t" : "k.t";
  g.nodes.push_back(node("scores", "matmul", {"q.t", keys}, {"scores"}, {{"transpose_b", true}, {"alpha", 0.5}}));
  g.nodes.push_back(node("probs", "softmax", {"scores", "mask"}, {"probs"}));
  g.nodes.push_back(node("context", "matmul", {"probs", "v.t"}, {"context"}));
  g.nodes.push_back(node("context.t", "transpose", {"context"}, {"context.t"}, {{"perm", Ints{0, 2, 1, 3}}}));
  g.outputs = {{"context.t", {}}};
  if (what == Unfoldable::q_read_elsewhere) g.outputs.push_back({"q.t", {}});
  if (what == Unfoldable::context_is_output) g.outputs.push_back({"context", {}});
  if (what == Unfoldable::context_read_twice) {
    g.nodes.push_back(node("context.2", "mul", {"context", "context"}, {"context.2"}));
    g.outputs.push_back({"context.2", {}});
  }
  return g;
}

TEST_CASE("fusions: attention takes in the transposes of its heads (layout bshd)") {
  Engine engine = onednn_engine();
  const TensorMap in = {{"q", pattern({2, 3, 2, 4}, 1)},
                        {"k", pattern({2, 5, 2, 4}, 2)},
                        {"v", pattern({2, 5, 2, 6}, 3)},
                        {"mask", pattern({2, 1, 1, 5}, 4, -3, 0)}};
  const Graph fused = engine.optimize(heads_graph(), OptimizeLevel::all);
  REQUIRE(fused.nodes.size() == 1);
  const Node& a = fused.nodes[0];
  CHECK(a.op == "attention");
  CHECK(a.inputs == std::vector<std::string>{"q", "k", "v", "mask"});
  CHECK(a.outputs == std::vector<std::string>{"context.t"});
  CHECK(std::get<std::string>(a.attrs.at("layout")) == "bshd");
  const LevelRun all = same_at_all(engine, heads_graph(), in);
  CHECK(fused_count(all.report, "attention") == 2);  // the pattern, then its transposes

  // A transpose or an attention output that something else needs stays, and so does the bhsd form.
  for (Unfoldable what : {Unfoldable::q_read_elsewhere, Unfoldable::context_is_output, Unfoldable::context_read_twice,
                          Unfoldable::shared_transpose}) {
    CAPTURE(static_cast<int>(what));
    const Graph kept = engine.optimize(heads_graph(what), OptimizeLevel::all);
    CHECK(count_op(kept, "transpose") == (what == Unfoldable::shared_transpose ? 3u : 4u));
    CHECK(count_op(kept, "attention") == 1);
    for (const Node& n : kept.nodes)
      if (n.op == "attention") CHECK(std::get<std::string>(n.attrs.at("layout")) == "bhsd");
    const TensorMap shared = {{"q", pattern({2, 3, 2, 4}, 1)}, {"k", pattern({2, 3, 2, 4}, 2)},
                              {"v", pattern({2, 3, 2, 6}, 3)}, {"mask", pattern({2, 1, 1, 3}, 4, -3, 0)}};
    same_at_all(engine, heads_graph(what), what == Unfoldable::shared_transpose ? shared : in);
  }
}

TEST_CASE("fusions: linear followed by an activation becomes a linear with that activation") {
  Engine engine = onednn_engine();
  const std::vector<std::tuple<std::string, std::map<std::string, AttrValue>, std::string>> cases = {
      {"relu", {}, "relu"},     {"tanh", {}, "tanh"}, {"gelu", {}, "gelu"}, {"gelu", {{"approximate", std::string("tanh")}}, "gelu_tanh"},
      {"quick_gelu", {}, "quick_gelu"}, {"silu", {}, "silu"}};
  for (const auto& test_case : cases) {
    const auto& [op, attrs, fused_activation] = test_case;
    const std::string& activation = fused_activation;  // a variable, not a binding: CAPTURE's lambda takes it
    CAPTURE(activation);
    Graph g;
    g.inputs = {input("x", DType::f32, {"batch", "8"})};
    g.initializers = {inline_f32("w", {6, 8}, pattern_values(48, 1)), inline_f32("b", {6}, pattern_values(6, 2))};
    g.nodes = {node("fc", "linear", {"x", "w", "b"}, {"fc"}), node("act", op, {"fc"}, {"act"}, attrs)};
    g.outputs = {{"act", {}}};
    const Graph fused = engine.optimize(g, OptimizeLevel::all);
    REQUIRE(fused.nodes.size() == 1);
    CHECK(fused.nodes[0].op == "linear");
    CHECK(fused.nodes[0].outputs == std::vector<std::string>{"act"});
    CHECK(std::get<std::string>(fused.nodes[0].attrs.at("activation")) == activation);
    const LevelRun all = same_at_all(engine, g, {{"x", pattern({3, 8}, 3, -3, 3)}});
    REQUIRE(all.report.fused.size() == 1);
    CHECK(all.report.fused[0].nodes == std::vector<std::string>{"fc", "act"});

    // Not when the linear's output is also a graph output, or read by another node.
    Graph out = g;
    out.outputs.push_back({"fc", {}});
    CHECK(engine.optimize(out, OptimizeLevel::all).nodes.size() == 2);
    Graph twice = g;
    twice.nodes.push_back(node("fc.relu", "relu", {"fc"}, {"fc.relu"}));
    twice.outputs.push_back({"fc.relu", {}});
    CHECK(engine.optimize(twice, OptimizeLevel::all).nodes.size() == 3);
    same_at_all(engine, twice, {{"x", pattern({3, 8}, 3)}});
    // Nor when the linear already has an activation.
    Graph chained = g;
    chained.nodes[0].attrs["activation"] = std::string("relu");
    CHECK(engine.optimize(chained, OptimizeLevel::all).nodes.size() == 2);
  }
  // sigmoid is not one of linear's activations.
  Graph g;
  g.inputs = {input("x", DType::f32, {"batch", "8"})};
  g.initializers = {inline_f32("w", {6, 8}, pattern_values(48, 1))};
  g.nodes = {node("fc", "linear", {"x", "w"}, {"fc"}), node("act", "sigmoid", {"fc"}, {"act"})};
  g.outputs = {{"act", {}}};
  CHECK(engine.optimize(g, OptimizeLevel::all).nodes.size() == 2);
}

TEST_CASE("fusions: a residual add and its layer norm become add_layer_norm") {
  Engine engine = onednn_engine();
  Graph g;
  g.inputs = {input("x", DType::f32, {"batch", "4", "8"}), input("h", DType::f32, {"batch", "4", "8"})};
  g.initializers = {inline_f32("ln.w", {8}, pattern_values(8, 1)), inline_f32("ln.b", {8}, pattern_values(8, 2))};
  g.nodes = {node("sum", "add", {"h", "x"}, {"sum"}),
             node("norm", "layer_norm", {"sum", "ln.w", "ln.b"}, {"norm"}, {{"epsilon", 1e-12}})};
  g.outputs = {{"norm", {}}};
  const TensorMap in = {{"x", pattern({2, 4, 8}, 3)}, {"h", pattern({2, 4, 8}, 4)}};

  SUBCASE("post-norm: the sum is read only by the norm") {
    const Graph fused = engine.optimize(g, OptimizeLevel::all);
    REQUIRE(fused.nodes.size() == 1);
    const Node& n = fused.nodes[0];
    CHECK(n.op == "add_layer_norm");
    CHECK(n.name == "norm");
    CHECK(n.inputs == std::vector<std::string>{"h", "x", "ln.w", "ln.b"});
    CHECK(n.outputs == std::vector<std::string>{"norm"});
    CHECK(std::get<double>(n.attrs.at("epsilon")) == 1e-12);
    same_at_all(engine, g, in);
  }
  SUBCASE("pre-norm: the residual stream reads the sum, read before the norm runs") {
    // sum feeds a node written between the add and the norm: the fused node must come first.
    g.nodes.insert(g.nodes.begin() + 1, node("stream", "mul", {"sum", "x"}, {"stream"}));
    g.nodes.push_back(node("next", "add", {"stream", "norm"}, {"next"}));
    g.outputs = {{"next", {}}};
    const Graph fused = engine.optimize(g, OptimizeLevel::all);
    REQUIRE(fused.nodes.size() == 3);
    CHECK(fused.nodes[0].op == "add_layer_norm");
    CHECK(fused.nodes[0].outputs == std::vector<std::string>{"norm", "sum"});
    CHECK(fused.nodes[1].name == "stream");
    // The order is one the YAML reader accepts.
    parse_graph_yaml(write_graph_yaml(fused), "fused.yaml");
    same_at_all(engine, g, in);
  }
  SUBCASE("the sum is a graph output") {
    g.outputs.push_back({"sum", {}});
    const Graph fused = engine.optimize(g, OptimizeLevel::all);
    REQUIRE(fused.nodes.size() == 1);
    CHECK(fused.nodes[0].outputs == std::vector<std::string>{"norm", "sum"});
    same_at_all(engine, g, in);
  }
  SUBCASE("without weight, with bias, over two dims") {
    g.initializers = {inline_f32("ln.b", {4, 8}, pattern_values(32, 2))};
    g.nodes[1] = node("norm", "layer_norm", {"sum", "", "ln.b"}, {"norm"}, {{"axis", int64_t(-2)}});
    const Graph fused = engine.optimize(g, OptimizeLevel::all);
    REQUIRE(fused.nodes.size() == 1);
    CHECK(fused.nodes[0].inputs == std::vector<std::string>{"h", "x", "", "ln.b"});
    same_at_all(engine, g, in);
  }
  SUBCASE("not when the norm reads the sum as its weight too") {
    g.inputs = {input("x", DType::f32, {"8"}), input("h", DType::f32, {"8"})};
    g.nodes[1] = node("norm", "layer_norm", {"sum", "sum"}, {"norm"});
    CHECK(engine.optimize(g, OptimizeLevel::all).nodes.size() == 2);
  }
}

#endif  // LOOM_TEST_ONEDNN
