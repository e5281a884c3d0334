// The basic graph passes (dead nodes, constant folding, transposes into matmul) on small graphs,
// and the shipped encoder at every optimisation level: outputs never change.
#ifdef LOOM_TEST_ONEDNN

#include "pass_graphs.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace loom;
using namespace loom::test;

namespace {

const std::filesystem::path kEncoder = std::filesystem::path(LOOM_SOURCE_DIR) / "graphs" / "encoder";

TensorMap encoder_inputs() {
  TensorMap in;
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) in.emplace(name, read_npy(kEncoder / (std::string(name) + ".npy")));
  return in;
}

TensorMap encoder_expected() {
  return {{"last_hidden_state", read_npy(kEncoder / "expected_last_hidden_state.npy")},
          {"pooler_output", read_npy(kEncoder / "expected_pooler_output.npy")}};
}

Initializer inline_i64(std::string name, Shape shape, std::vector<double> values) {
  Initializer init = inline_f32(std::move(name), std::move(shape), std::move(values));
  init.dtype = DType::i64;
  return init;
}

}  // namespace

TEST_CASE("passes: optimisation levels have names") {
  for (OptimizeLevel l : {OptimizeLevel::none, OptimizeLevel::basic, OptimizeLevel::all})
    CHECK(parse_optimize_level(optimize_level_name(l)) == l);
  CHECK(!parse_optimize_level("fast"));
  CHECK(!parse_optimize_level(""));
  CHECK(SessionOptions{}.optimize == OptimizeLevel::all);
}

TEST_CASE("passes: the shipped encoder gives its reference outputs at every level") {
  Engine engine = onednn_engine();
  const Graph g = engine.load_graph(kEncoder / "encoder.yaml");
  const TensorMap in = encoder_inputs(), want = encoder_expected();
  for (OptimizeLevel level : {OptimizeLevel::none, OptimizeLevel::basic, OptimizeLevel::all}) {
    CAPTURE(optimize_level_name(level));
    LevelRun r = run_at(engine, g, level, in);
    check_outputs(r.outputs, want);  // the tolerance of the main job (loom run --expect)
    CHECK(r.report.level == level);
    CHECK(r.report.nodes_before == g.nodes.size());
    if (level == OptimizeLevel::none) {
      CHECK(r.report.passes.empty());
      CHECK(r.report.nodes_after == g.nodes.size());
    }
    if (level == OptimizeLevel::all) {
      // Two attention patterns, each then taking in the four transposes of its heads (layout
      // bshd); five residual adds with their layer norms (embeddings, two per layer).
      CHECK(fused_count(r.report, "attention") == 2 * 2);
      CHECK(fused_count(r.report, "add_layer_norm") == 5);
      CHECK(r.report.nodes_after == g.nodes.size() - 2 * (2 + 4) - 5);  // 3 nodes -> 1, 5 -> 1, 2 -> 1
    }
  }
}

TEST_CASE("passes: the optimised encoder written as YAML reads back and runs the same") {
  Engine engine = onednn_engine();
  OptimizationReport report;
  const Graph optimized = engine.optimize(engine.load_graph(kEncoder / "encoder.yaml"), OptimizeLevel::all, &report);
  CHECK(count_op(optimized, "attention") == 2);
  CHECK(count_op(optimized, "add_layer_norm") == 5);
  CHECK(optimized.nodes.size() == report.nodes_after);
  const Graph back = parse_graph_yaml(write_graph_yaml(optimized), "optimized.yaml", kEncoder);
  check_outputs(run_at(engine, back, OptimizeLevel::none, encoder_inputs()).outputs, encoder_expected());
}

TEST_CASE("passes: dead nodes, and initializers only they read, are removed") {
  Graph g;
  g.inputs = {input("x", DType::f32, {"2", "4"})};
  g.initializers = {inline_f32("w", {4}, pattern_values(4, 1)), inline_f32("unused.w", {4}, pattern_values(4, 2))};
  g.states = {StateDecl{"s", DType::f32, {2, 4}, "s.next", {}}};
  g.nodes = {node("y", "add", {"x", "w"}, {"y"}),
             node("dead.b", "mul", {"x", "unused.w"}, {"dead.b"}),
             node("dead.c", "relu", {"dead.b"}, {"dead.c"}),
             // Not a graph output, but a state's update: live.
             node("s.next", "add", {"s", "x"}, {"s.next"})};
  g.outputs = {{"y", {}}};

  Engine engine = onednn_engine();
  OptimizationReport report;
  const Graph basic = engine.optimize(g, OptimizeLevel::basic, &report);
  CHECK(basic.nodes.size() == 2);
  CHECK(find_node(basic, "y"));
  CHECK(find_node(basic, "s.next"));
  CHECK(!find_node(basic, "dead.b"));
  CHECK(!find_node(basic, "dead.c"));
  CHECK(basic.initializers.size() == 1);
  CHECK(basic.initializers[0].name == "w");
  REQUIRE(!report.passes.empty());
  CHECK(report.passes.front().pass == "remove-dead-nodes");
  CHECK(report.passes.front().rewrites == 2);
  CHECK(report.nodes_before == 4);
  CHECK(report.nodes_after == 2);
  // level none leaves the graph as written.
  CHECK(engine.optimize(g, OptimizeLevel::none).nodes.size() == 4);

  const TensorMap in = {{"x", pattern({2, 4}, 3)}};
  const LevelRun none = run_at(engine, g, OptimizeLevel::none, in);
  Session s = engine.compile(g, [] { SessionOptions o = on_onednn(); o.optimize = OptimizeLevel::basic; return o; }());
  check_outputs(s.run(in), none.outputs, 0, 0);
  // The state update still runs: a second run sees the state the first one wrote.
  s.run(in);
  const Tensor state = s.default_state().snapshot().at("s");
  for (int64_t i = 0; i < state.numel(); ++i) CHECK(state.data_as<float>()[i] == 2 * in.at("x").data_as<float>()[i]);
}

TEST_CASE("passes: constant subgraphs fold into inline initializers") {
  Graph g;
  g.inputs = {input("x", DType::f32, {"batch", "3"})};
  g.initializers = {inline_i64("c", {6}, {1, -2, 3, 4, 5, 6}), inline_f32("half", {}, {0.5}),
                    inline_f32("big", {130, 130}, std::vector<double>(130 * 130, 0.25))};
  g.nodes = {node("c.2x3", "reshape", {"c"}, {"c.2x3"}, {{"shape", std::vector<int64_t>{2, 3}}}),
             node("c.f", "cast", {"c.2x3"}, {"c.f"}, {{"to", std::string("f32")}}),
             node("c.t", "transpose", {"c.f"}, {"c.t"}, {{"perm", std::vector<int64_t>{1, 0}}}),
             node("c.back", "transpose", {"c.t"}, {"c.back"}, {{"perm", std::vector<int64_t>{1, 0}}}),
             node("c.row", "slice", {"c.back"}, {"c.row"}, {{"axis", int64_t(0)}, {"start", int64_t(1)}}),
             node("c.scaled", "mul", {"c.row", "half"}, {"c.scaled"}),
             node("y", "add", {"x", "c.scaled"}, {"y"}),
             // Not exact on the host: stays a node.
             node("half.tanh", "tanh", {"half"}, {"half.tanh"}),
             node("z", "mul", {"y", "half.tanh"}, {"z"}),
             // Past the size bound: stays a node.
             node("big.t", "transpose", {"big"}, {"big.t"}, {{"perm", std::vector<int64_t>{1, 0}}}),
             node("big.row", "slice", {"big.t"}, {"big.row"}, {{"axis", int64_t(0)}, {"end", int64_t(1)}}),
             // A folded value may be a graph output.
             node("c.ids", "positions", {"c.2x3"}, {"c.ids"}, {{"axis", int64_t(1)}})};
  g.outputs = {{"z", {}}, {"big.row", {}}, {"c.ids", {}}};

  Engine engine = onednn_engine();
  OptimizationReport report;
  const Graph basic = engine.optimize(g, OptimizeLevel::basic, &report);
  for (const char* folded : {"c.2x3", "c.f", "c.t", "c.back", "c.row", "c.scaled", "c.ids"}) {
    CAPTURE(folded);
    CHECK(!find_node(basic, folded));
  }
  CHECK(find_node(basic, "half.tanh"));
  CHECK(find_node(basic, "big.t"));
  const Initializer* scaled = nullptr;
  for (const auto& init : basic.initializers) {
    if (init.name == "c.scaled") scaled = &init;
    CHECK(init.name != "c");  // read only by folded nodes: dropped
  }
  REQUIRE(scaled);
  CHECK(scaled->file.empty());
  CHECK(scaled->dtype == DType::f32);
  CHECK(scaled->shape == Shape{1, 3});
  CHECK(scaled->values == std::vector<double>{2, 2.5, 3});

  const TensorMap in = {{"x", pattern({2, 3}, 4)}};
  const LevelRun none = run_at(engine, g, OptimizeLevel::none, in);
  check_outputs(run_at(engine, g, OptimizeLevel::basic, in).outputs, none.outputs, 0, 0);
  check_outputs(run_at(engine, g, OptimizeLevel::all, in).outputs, none.outputs, 0, 0);
}

TEST_CASE("passes: constant folding leaves run-time errors to the backends") {
  Graph g;
  g.inputs = {input("x", DType::i64, {"2"})};
  g.initializers = {inline_i64("table", {3}, {7, 8, 9}), inline_i64("far", {1}, {5}), inline_i64("zero", {1}, {0})};
  g.nodes = {node("picked", "gather", {"table", "far"}, {"picked"}), node("y", "add", {"x", "picked"}, {"y"})};
  g.outputs = {{"y", {}}};
  Engine engine = onednn_engine();
  CHECK(find_node(engine.optimize(g, OptimizeLevel::all), "picked"));
  const TensorMap in = {{"x", i64_tensor({2}, {1, 2})}};
  for (OptimizeLevel level : {OptimizeLevel::none, OptimizeLevel::all}) {
    SessionOptions o = on_onednn();
    o.optimize = level;
    Session s = engine.compile(g, o);
    CHECK(error_of([&] { s.run(in); }).find("picked") != std::string::npos);
  }

  g.nodes = {node("ratio", "div", {"table", "zero"}, {"ratio"}), node("y", "add", {"x", "ratio"}, {"y"})};
  g.inputs = {input("x", DType::i64, {"3"})};
  CHECK(find_node(engine.optimize(g, OptimizeLevel::all), "ratio"));
}

TEST_CASE("passes: transposes of the last two dims fold into matmul") {
  Graph g;
  g.inputs = {input("a", DType::f32, {"2", "3", "4"}), input("b", DType::f32, {"2", "5", "4"}),
              input("c", DType::f32, {"2", "4", "3"}), input("d", DType::f32, {"5", "2", "4"}),
              input("e", DType::f32, {"2", "3", "4"})};
  g.nodes = {node("b.t", "transpose", {"b"}, {"b.t"}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
             node("ab", "matmul", {"a", "b.t"}, {"ab"}),
             // Read by a relu too: the transpose stays, the matmul reads c directly.
             node("c.t", "transpose", {"c"}, {"c.t"}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
             node("c.relu", "relu", {"c.t"}, {"c.relu"}),
             node("cb", "matmul", {"c.t", "b.t"}, {"cb"}, {{"alpha", 0.5}}),
             node("e.t", "transpose", {"e"}, {"e.t"}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
             node("eb", "matmul", {"e.t", "b.t"}, {"eb"}, {{"transpose_a", true}}),
             // Not a swap of the last two dims: stays.
             node("d.t", "transpose", {"d"}, {"d.t"}, {{"perm", std::vector<int64_t>{1, 0, 2}}}),
             node("ad", "matmul", {"a", "d.t"}, {"ad"}, {{"transpose_b", true}})};
  g.outputs = {{"ab", {}}, {"cb", {}}, {"c.relu", {}}, {"ad", {}}, {"eb", {}}};

  Engine engine = onednn_engine();
  const Graph basic = engine.optimize(g, OptimizeLevel::basic);
  const Node* ab = find_node(basic, "ab");
  REQUIRE(ab);
  CHECK(ab->inputs == std::vector<std::string>{"a", "b"});
  CHECK(std::get<bool>(ab->attrs.at("transpose_b")));
  const Node* cb = find_node(basic, "cb");
  REQUIRE(cb);
  CHECK(cb->inputs == std::vector<std::string>{"c", "b"});
  CHECK(std::get<bool>(cb->attrs.at("transpose_a")));
  CHECK(std::get<bool>(cb->attrs.at("transpose_b")));
  CHECK(std::get<double>(cb->attrs.at("alpha")) == 0.5);
  const Node* eb = find_node(basic, "eb");
  REQUIRE(eb);
  CHECK(eb->inputs == std::vector<std::string>{"e", "b"});
  CHECK(!std::get<bool>(eb->attrs.at("transpose_a")));  // transposed twice
  CHECK(find_node(basic, "c.t"));
  CHECK(!find_node(basic, "b.t"));
  CHECK(find_node(basic, "d.t"));
  CHECK(find_node(basic, "ad")->inputs[1] == "d.t");

  const TensorMap in = {{"a", pattern({2, 3, 4}, 1)}, {"b", pattern({2, 5, 4}, 2)}, {"c", pattern({2, 4, 3}, 3)},
                        {"d", pattern({5, 2, 4}, 4)}, {"e", pattern({2, 3, 4}, 5)}};
  const LevelRun none = run_at(engine, g, OptimizeLevel::none, in);
  check_outputs(run_at(engine, g, OptimizeLevel::basic, in).outputs, none.outputs);
}

#endif  // LOOM_TEST_ONEDNN
