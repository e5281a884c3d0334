// Reference decompositions of the fused ops: attention against a direct computation for every
// combination of mask, per-row valid lengths and causality; add_layer_norm; and sessions that
// decompose the fused nodes that the backend placement tries first for them does not run.
#ifdef LOOM_TEST_ONEDNN

#include "model_checks.hpp"
#include "heads_layout.hpp"
#include "pass_graphs.hpp"
#include "passes/passes.hpp"

#include <loom/error.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <set>

using namespace loom;
using namespace loom::test;

namespace {

constexpr int64_t B = 2, H = 2, Tq = 3, Tk = 5, D = 4, Dv = 3;

// docs/ops.md, attention, computed directly in double: mask is [B, 1, Tq, Tk].
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask,
                           const std::vector<int64_t>* valid, bool causal, double scale) {
  Tensor out(DType::f32, {B, H, Tq, Dv});
  const float *pq = q.data_as<float>(), *pk = k.data_as<float>(), *pv = v.data_as<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t len = valid ? (*valid)[b] : Tk, position = len - Tq + i;
        std::vector<double> s(Tk, -std::numeric_limits<double>::infinity());
        double top = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < Tk; ++j) {
          if (j >= len || (causal && j > position)) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += double(pq[((b * H + h) * Tq + i) * D + d]) * pk[((b * H + h) * Tk + j) * D + d];
          s[j] = scale * dot + (mask ? mask->data_as<float>()[(b * Tq + i) * Tk + j] : 0.0);
          top = std::max(top, s[j]);
        }
        double total = 0;
        for (double& x : s) total += (x = std::exp(x - top));
        for (int64_t e = 0; e < Dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < Tk; ++j) acc += s[j] / total * pv[((b * H + h) * Tk + j) * Dv + e];
          out.data_as<float>()[((b * H + h) * Tq + i) * Dv + e] = static_cast<float>(acc);
        }
      }
  return out;
}

std::vector<RewrittenNode> decompose_all(const Graph& g, Graph& out) {
  std::vector<RewrittenNode> done;
  out = passes::decompose(build_program(g), [](const Program&) { return [](int) { return std::optional<std::string>("every node"); }; }, done)->graph;
  return done;
}

}  // namespace

TEST_CASE("decompose: attention matches a direct computation with every mask, valid length and causality") {
  Engine engine = onednn_engine();
  const Tensor q = pattern({B, H, Tq, D}, 1), k = pattern({B, H, Tk, D}, 2), v = pattern({B, H, Tk, Dv}, 3);
  const Tensor mask = pattern({B, 1, Tq, Tk}, 4, -2, 0);
  // Rows of different lengths; each leaves every query at least one key, also when causal.
  const std::vector<int64_t> valid = {5, 3};
  for (bool with_mask : {false, true})
    for (bool with_valid : {false, true})
      for (bool causal : {false, true}) {
        CAPTURE(with_mask);
        CAPTURE(with_valid);
        CAPTURE(causal);
        const double scale = with_mask ? 0.3 : 0.0;  // 0: 1/sqrt(D)
        Graph g;
        g.inputs = {input("q", DType::f32, {"batch", "2", "3", "4"}), input("k", DType::f32, {"batch", "2", "5", "4"}),
                    input("v", DType::f32, {"batch", "2", "5", "3"})};
        TensorMap in = {{"q", q}, {"k", k}, {"v", v}};
        std::vector<std::string> ins = {"q", "k", "v", "", ""};
        if (with_mask) {
          g.inputs.push_back(input("mask", DType::f32, {"batch", "1", "3", "5"}));
          in.emplace("mask", mask);
          ins[3] = "mask";
        }
        if (with_valid) {
          g.inputs.push_back(input("valid", DType::i64, {"batch"}));
          in.emplace("valid", i64_tensor({B}, valid));
          ins[4] = "valid";
        }
        g.nodes = {node("attn", "attention", ins, {"out"}, {{"causal", causal}, {"scale", scale}})};
        g.outputs = {{"out", {}}};

        Graph basic;
        const auto done = decompose_all(g, basic);
        REQUIRE(done.size() == 1);
        CHECK(done[0].node == "attn");
        CHECK(count_op(basic, "attention") == 0);
        CHECK(count_op(basic, "key_mask") == (with_valid || causal ? 1u : 0u));
        CHECK(count_op(basic, "softmax") == 1);
        CHECK(count_op(basic, "matmul") == 2);
        CHECK(find_node(basic, "attn"));  // the last node keeps the fused node's name
        const Tensor want = reference_attention(q, k, v, with_mask ? &mask : nullptr, with_valid ? &valid : nullptr, causal,
                                                scale > 0 ? scale : 1 / std::sqrt(double(D)));
        check_outputs(run_at(engine, basic, OptimizeLevel::none, in).outputs, {{"out", want}}, 1e-5, 0);
      }
}

TEST_CASE("decompose: attention with layout bshd is the bhsd form between transposes") {
  Engine engine = onednn_engine();
  const Tensor q = pattern({B, H, Tq, D}, 1), k = pattern({B, H, Tk, D}, 2), v = pattern({B, H, Tk, Dv}, 3);
  const std::vector<int64_t> valid = {5, 3};
  Graph g;
  g.inputs = {input("q", DType::f32, {"batch", "3", "2", "4"}), input("k", DType::f32, {"batch", "5", "2", "4"}),
              input("v", DType::f32, {"batch", "5", "2", "3"}), input("valid", DType::i64, {"batch"})};
  g.nodes = {node("attn", "attention", {"q", "k", "v", "", "valid"}, {"out"}, {{"causal", true}, {"layout", std::string("bshd")}})};
  g.outputs = {{"out", {}}};
  Graph basic;
  const auto done = decompose_all(g, basic);  // bshd -> transposes around bhsd attention -> basic ops
  REQUIRE(done.size() == 2);
  CHECK(done[0].node == "attn");
  CHECK(done[1].op == "attention");
  CHECK(count_op(basic, "attention") == 0);
  CHECK(count_op(basic, "transpose") == 4);
  CHECK(find_node(basic, "attn"));
  const Tensor want = swap_heads(reference_attention(q, k, v, nullptr, &valid, true, 1 / std::sqrt(double(D))));
  TensorMap in = {{"q", swap_heads(q)}, {"k", swap_heads(k)}, {"v", swap_heads(v)}, {"valid", i64_tensor({B}, valid)}};
  check_outputs(run_at(engine, basic, OptimizeLevel::none, in).outputs, {{"out", want}}, 1e-5, 0);
  // The fused node itself, wherever it runs, gives the same.
  check_outputs(run_at(engine, g, OptimizeLevel::none, in).outputs, {{"out", want}}, 1e-5, 0);
}

TEST_CASE("decompose: attention over bf16 k and v is the same attention over their f32 casts") {
  Engine engine = onednn_engine();
  // k and v cut to bf16 (their upper 16 bits), and the same values in f32 for the reference.
  auto halves = [](const Tensor& x, Tensor& narrow, Tensor& wide) {
    narrow = Tensor(DType::bf16, x.shape());
    wide = Tensor(DType::f32, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      const uint32_t bits = std::bit_cast<uint32_t>(x.data_as<float>()[i]) & 0xffff0000u;
      narrow.data_as<uint16_t>()[i] = static_cast<uint16_t>(bits >> 16);
      wide.data_as<float>()[i] = std::bit_cast<float>(bits);
    }
  };
  const Tensor q = pattern({B, H, Tq, D}, 1);
  Tensor k16, k32, v16, v32;
  halves(pattern({B, H, Tk, D}, 2), k16, k32);
  halves(pattern({B, H, Tk, Dv}, 3), v16, v32);
  const std::vector<int64_t> valid = {5, 3};
  Graph g;
  g.inputs = {input("q", DType::f32, {"batch", "3", "2", "4"}), input("k", DType::bf16, {"batch", "5", "2", "4"}),
              input("v", DType::bf16, {"batch", "5", "2", "3"}), input("valid", DType::i64, {"batch"})};
  g.nodes = {node("attn", "attention", {"q", "k", "v", "", "valid"}, {"out"}, {{"causal", true}, {"layout", std::string("bshd")}})};
  g.outputs = {{"out", {}}};
  Graph basic;
  const auto done = decompose_all(g, basic);  // casts of k and v -> transposes around bhsd -> basic ops
  REQUIRE(done.size() == 3);
  CHECK(done[0].node == "attn");
  CHECK(count_op(basic, "attention") == 0);
  CHECK(count_op(basic, "cast") == 2);
  CHECK(count_op(basic, "transpose") == 4);
  const Tensor want = swap_heads(reference_attention(q, k32, v32, nullptr, &valid, true, 1 / std::sqrt(double(D))));
  TensorMap in = {{"q", swap_heads(q)}, {"k", swap_heads(k16)}, {"v", swap_heads(v16)}, {"valid", i64_tensor({B}, valid)}};
  check_outputs(run_at(engine, basic, OptimizeLevel::none, in).outputs, {{"out", want}}, 1e-5, 0);
  check_outputs(run_at(engine, g, OptimizeLevel::none, in).outputs, {{"out", want}}, 1e-5, 0);
}

TEST_CASE("decompose: attention needs a known head dim when scale is 0") {
  Graph g;
  g.inputs = {input("q", DType::f32, {"1", "1", "2", "d"}), input("k", DType::f32, {"1", "1", "2", "d"}),
              input("v", DType::f32, {"1", "1", "2", "d"})};
  g.nodes = {node("attn", "attention", {"q", "k", "v"}, {"out"})};
  g.outputs = {{"out", {}}};
  Graph out;
  const std::string msg = error_of([&] { decompose_all(g, out); });
  CHECK(msg.find("node 'attn' (attention)") != std::string::npos);
  CHECK(msg.find("head_dim") != std::string::npos);
  g.nodes[0].attrs["scale"] = 0.5;
  CHECK(decompose_all(g, out).size() == 1);

  // Layout bshd needs no head dim for its first level, the transposes around the bhsd form.
  Graph b;
  b.inputs = g.inputs;
  b.nodes = {node("attn", "attention", {"q", "k", "v"}, {"out"}, {{"layout", std::string("bshd")}})};
  b.outputs = {{"out", {}}};
  std::vector<RewrittenNode> done;
  const auto first_level = passes::decompose(build_program(b), [](const Program& p) {
    return [&p](int n) -> std::optional<std::string> {
      if (p.nodes[static_cast<size_t>(n)].node.attrs.at("layout") == AttrValue{std::string("bshd")}) return "bshd";
      return std::nullopt;
    };
  }, done);
  CHECK(done.size() == 1);
  CHECK(count_op(first_level->graph, "attention") == 1);
  CHECK(count_op(first_level->graph, "transpose") == 4);
}

TEST_CASE("decompose: add_layer_norm is add then layer_norm, with or without the sum") {
  Engine engine = onednn_engine();
  for (bool with_sum : {false, true}) {
    CAPTURE(with_sum);
    Graph g;
    g.inputs = {input("a", DType::f32, {"batch", "6"}), input("b", DType::f32, {"6"})};
    g.initializers = {inline_f32("w", {6}, pattern_values(6, 1))};
    g.nodes = {node("n", "add_layer_norm", {"a", "b", "w"}, with_sum ? std::vector<std::string>{"y", "s"} : std::vector<std::string>{"y"},
                    {{"epsilon", 1e-6}})};
    g.outputs = {{"y", {}}};
    if (with_sum) g.outputs.push_back({"s", {}});
    const TensorMap in = {{"a", pattern({3, 6}, 2, -2, 2)}, {"b", pattern({6}, 3)}};
    Graph basic;
    REQUIRE(decompose_all(g, basic).size() == 1);
    REQUIRE(basic.nodes.size() == 2);
    CHECK(basic.nodes[0].op == "add");
    CHECK(basic.nodes[0].outputs[0] == (with_sum ? "s" : "n.sum"));
    CHECK(basic.nodes[1].op == "layer_norm");
    CHECK(basic.nodes[1].inputs == std::vector<std::string>{basic.nodes[0].outputs[0], "w"});
    // The decomposition against the fused kernel (itself checked against PyTorch by the op fixtures).
    check_outputs(run_at(engine, basic, OptimizeLevel::none, in).outputs, run_at(engine, g, OptimizeLevel::none, in).outputs);
  }
}

TEST_CASE("decompose: a session decomposes only the fused nodes none of its backends runs") {
  Engine engine = onednn_engine();
  Graph g;
  g.inputs = {input("q", DType::f32, {"1", "2", "3", "4"}), input("x", DType::f32, {"1", "2", "3", "4"})};
  g.nodes = {node("attn", "attention", {"q", "q", "q"}, {"ctx"}),
             node("norm", "add_layer_norm", {"ctx", "x"}, {"y"})};
  g.outputs = {{"y", {}}};

  // With no backend at all, every fused node is decomposed before placement fails.
  std::vector<RewrittenNode> done;
  const auto program = passes::decompose_unsupported(build_program(g), {}, done);
  CHECK(done.size() == 2);
  CHECK(count_op(program->graph, "attention") + count_op(program->graph, "add_layer_norm") == 0);

  // oneDNN runs add_layer_norm: it stays. attention stays exactly when oneDNN says it runs it.
  const TensorMap in = {{"q", pattern({1, 2, 3, 4}, 1)}, {"x", pattern({1, 2, 3, 4}, 2)}};
  const LevelRun r = run_at(engine, g, OptimizeLevel::none, in);
  CHECK(count_op(r.graph, "add_layer_norm") == 1);
  const bool attention_decomposed = r.report.decomposed.size() == 1 && r.report.decomposed[0].node == "attn";
  CHECK(attention_decomposed == (count_op(r.graph, "attention") == 0));
  CHECK(r.report.decomposed.size() == (attention_decomposed ? 1u : 0u));
  // Both ways give the decomposition's result.
  Graph basic;
  decompose_all(g, basic);
  check_outputs(r.outputs, run_at(engine, basic, OptimizeLevel::none, in).outputs);
}

// A fused node that the first backend in priority order declines is decomposed, so that its
// parts run on that backend beside their neighbours, not fused on a backend further down the
// list with copies both ways (a GPU among the default backends got oneDNN's attention so).
TEST_CASE("decompose: a fused node the first backend declines is decomposed there, not moved down the list") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so"});
  Graph g;
  g.inputs = {input("q", DType::f32, {"1", "2", "3", "4"})};
  g.nodes = {node("pre", "relu", {"q"}, {"r"}), node("attn", "attention", {"r", "r", "r"}, {"ctx"}),
             node("post", "relu", {"ctx"}, {"y"})};
  g.outputs = {{"y", {}}};
  const TensorMap in = {{"q", pattern({1, 2, 3, 4}, 3)}};
  auto placed_on = [](const Session& s) {
    std::set<std::string> backends;
    for (const auto& n : s.placement().nodes) backends.insert(n.backend);
    return backends;
  };
  SessionOptions o;
  o.optimize = OptimizeLevel::none;
  o.backends = {"onednn", "reference"};  // oneDNN declines attention without causal or valid_length
  Session first = engine.compile(g, o);
  CHECK(count_op(first.graph(), "attention") == 0);
  CHECK(placed_on(first) == std::set<std::string>{"onednn"});
  CHECK(first.placement().copies.empty());
  o.backends = {"reference", "onednn"};  // the reference backend runs it fused
  Session second = engine.compile(g, o);
  CHECK(count_op(second.graph(), "attention") == 1);
  CHECK(placed_on(second) == std::set<std::string>{"reference"});
  check_outputs(first.run(in), second.run(in));
  // A hint counts as first: attention hinted to the reference backend stays fused there.
  g.nodes[1].backend = "reference";
  o.backends = {"onednn", "reference"};
  Session hinted = engine.compile(g, o);
  CHECK(count_op(hinted.graph(), "attention") == 1);
  check_outputs(first.run(in), hinted.run(in));
}

#endif  // LOOM_TEST_ONEDNN
