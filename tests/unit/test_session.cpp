// Sessions through the public API on the built oneDNN plugin: state across runs, concurrent
// runs, symbolic input shapes, input errors that leave the session usable, memory planning.
#ifdef LOOM_TEST_ONEDNN

#include "session_graphs.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace loom;
using namespace loom::test;

namespace {

// acc_next = add(acc, x) (or add(x, acc)); acc <- acc_next after each run; output acc_next.
Graph running_sum(bool state_first) {
  Graph g;
  g.name = "running_sum";
  g.inputs = {input("x", DType::f32, {"1", "4"})};
  g.states = {StateDecl{"acc", DType::f32, {1, 4}, "acc_next", {}}};
  g.nodes = {node("sum", "add", state_first ? std::vector<std::string>{"acc", "x"} : std::vector<std::string>{"x", "acc"},
                  {"acc_next"})};
  g.outputs = {{"acc_next", {}}};
  return g;
}

// y = relu(x @ w^T + b) * x: a oneDNN primitive (with scratchpad) and a binary op per run.
Graph linear_graph() {
  Graph g;
  g.name = "linear_relu_mul";
  g.inputs = {input("x", DType::f32, {"batch", "8"})};
  std::vector<double> w(64), b(8);
  for (int i = 0; i < 64; ++i) w[i] = std::sin(0.3 * i);
  for (int i = 0; i < 8; ++i) b[i] = 0.1 * i - 0.3;
  g.initializers = {inline_f32("w", {8, 8}, w), inline_f32("b", {8}, b)};
  g.nodes = {node("fc", "linear", {"x", "w", "b"}, {"h"}, {{"activation", std::string("relu")}}),
             node("gate", "mul", {"h", "x"}, {"y"})};
  g.outputs = {{"y", {}}};
  return g;
}

std::vector<float> linear_reference(const std::vector<float>& x, int64_t batch) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < batch; ++r)
    for (int o = 0; o < 8; ++o) {
      double acc = 0.1 * o - 0.3;
      for (int i = 0; i < 8; ++i) acc += x[r * 8 + i] * std::sin(0.3 * (o * 8 + i));
      y[r * 8 + o] = static_cast<float>(std::max(acc, 0.0) * x[r * 8 + o]);
    }
  return y;
}

std::vector<float> thread_input(int thread, int run, int64_t batch) {
  std::vector<float> x(batch * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.7f * (thread + 1) + 0.05f * run + 0.11f * i);
  return x;
}

bool close(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > 1e-4f + 1e-4f * std::abs(b[i])) return false;
  return true;
}

// out = add(a, m) with a [batch, seq, 4] and m [batch, 1, 4].
Graph symbolic_graph() {
  Graph g;
  g.name = "symbolic";
  g.inputs = {input("a", DType::f32, {"batch", "seq", "4"}), input("m", DType::f32, {"batch", "1", "4"})};
  g.nodes = {node("bias", "add", {"a", "m"}, {"out"})};
  g.outputs = {{"out", {}}};
  return g;
}

Tensor ramp(Shape shape, float start) {
  Tensor t(DType::f32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = start + static_cast<float>(i);
  return t;
}

void check_symbolic_run(Session& s, int64_t batch, int64_t seq) {
  Tensor a = ramp({batch, seq, 4}, 0), m = ramp({batch, 1, 4}, 1000);
  TensorMap out = s.run({{"a", a}, {"m", m}});
  const Tensor& o = out.at("out");
  REQUIRE(o.shape() == Shape{batch, seq, 4});
  bool ok = true;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t q = 0; q < seq; ++q)
      for (int64_t c = 0; c < 4; ++c) {
        const int64_t i = (b * seq + q) * 4 + c;
        ok &= o.data_as<float>()[i] == a.data_as<float>()[i] + m.data_as<float>()[b * 4 + c];
      }
  CHECK_MESSAGE(ok, "batch=" << batch << " seq=" << seq);
}

}  // namespace

TEST_CASE("session: a running sum kept in session state") {
  for (bool state_first : {true, false}) {
    CAPTURE(state_first);  // add(acc, x) updates in place; add(x, acc) copies after the run
    Engine engine = onednn_engine();
    Session s = engine.compile(running_sum(state_first), on_onednn());
    const Tensor x1 = f32({1, 4}, {1, 2, 3, 4}), x2 = f32({1, 4}, {10, 20, 30, 40}), x3 = f32({1, 4}, {100, 200, 300, 400});

    CHECK(values_of(s.run({{"x", x1}}).at("acc_next")) == std::vector<float>{1, 2, 3, 4});
    CHECK(values_of(s.run({{"x", x2}}).at("acc_next")) == std::vector<float>{11, 22, 33, 44});
    CHECK(values_of(s.run({{"x", x3}}).at("acc_next")) == std::vector<float>{111, 222, 333, 444});

    // A snapshot is a copy: changing it leaves the state alone.
    TensorMap snap = s.default_state().snapshot();
    REQUIRE(snap.count("acc") == 1);
    CHECK(values_of(snap.at("acc")) == std::vector<float>{111, 222, 333, 444});
    snap.at("acc").data_as<float>()[0] = -1;
    CHECK(values_of(s.default_state().snapshot().at("acc"))[0] == 111);

    // A second state is a separate conversation.
    State other = s.new_state();
    CHECK(values_of(other.snapshot().at("acc")) == std::vector<float>{0, 0, 0, 0});
    CHECK(values_of(s.run({{"x", x2}}, other).at("acc_next")) == std::vector<float>{10, 20, 30, 40});
    CHECK(values_of(s.run({{"x", x2}}, other).at("acc_next")) == std::vector<float>{20, 40, 60, 80});
    CHECK(values_of(s.default_state().snapshot().at("acc")) == std::vector<float>{111, 222, 333, 444});
    CHECK(values_of(s.run({{"x", x1}}).at("acc_next")) == std::vector<float>{112, 224, 336, 448});

    s.default_state().reset();
    CHECK(values_of(s.default_state().snapshot().at("acc")) == std::vector<float>{0, 0, 0, 0});
    CHECK(values_of(s.run({{"x", x1}}).at("acc_next")) == std::vector<float>{1, 2, 3, 4});
    CHECK(values_of(other.snapshot().at("acc")) == std::vector<float>{20, 40, 60, 80});

    // A state from another session is refused.
    Session s2 = engine.compile(running_sum(state_first), on_onednn());
    CHECK(error_of([&] { s2.run({{"x", x1}}, other); }).find("another session") != std::string::npos);
  }
}

TEST_CASE("session: independent states run in parallel") {
  Engine engine = onednn_engine();
  Session s = engine.compile(running_sum(true), on_onednn());
  constexpr int kThreads = 4, kRuns = 200;
  std::vector<State> states;
  for (int t = 0; t < kThreads; ++t) states.push_back(s.new_state());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const Tensor x = f32({1, 4}, {float(t), 1, 2, 3});
      for (int r = 0; r < kRuns; ++r) {
        auto out = values_of(s.run({{"x", x}}, states[t]).at("acc_next"));
        if (out != std::vector<float>{float(t) * (r + 1), float(r + 1), 2.f * (r + 1), 3.f * (r + 1)}) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
}

TEST_CASE("session: eight threads run one session at once") {
  Engine engine = onednn_engine();
  Session s = engine.compile(linear_graph(), on_onednn());
  constexpr int kThreads = 8, kRuns = 300;

  SUBCASE("same input shape") {
    std::atomic<int> wrong{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRuns; ++r) {
          try {
            const auto x = thread_input(t, r, 2);
            if (!close(values_of(s.run({{"x", f32({2, 8}, x)}}).at("y")), linear_reference(x, 2))) ++wrong;
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    for (auto& th : threads) th.join();
    CHECK(wrong == 0);
    CHECK(errors == 0);
  }

  SUBCASE("different input shapes at once (one plan per shape, made concurrently)") {
    std::atomic<int> wrong{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRuns; ++r) {
          const int64_t batch = 1 + (t + r) % 5;
          try {
            const auto x = thread_input(t, r, batch);
            TensorMap out = s.run({{"x", f32({batch, 8}, x)}});
            if (out.at("y").shape() != Shape{batch, 8} || !close(values_of(out.at("y")), linear_reference(x, batch))) ++wrong;
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    for (auto& th : threads) th.join();
    CHECK(wrong == 0);
    CHECK(errors == 0);
  }
}

TEST_CASE("session: symbolic dims bind per run") {
  Engine engine = onednn_engine();
  Session s = engine.compile(symbolic_graph(), on_onednn());
  check_symbolic_run(s, 2, 3);
  check_symbolic_run(s, 2, 7);
  check_symbolic_run(s, 2, 3);
  check_symbolic_run(s, 1, 1);
  check_symbolic_run(s, 3, 5);
  check_symbolic_run(s, 2, 0);  // an empty sequence is a valid shape
  check_symbolic_run(s, 2, 7);
}

TEST_CASE("session: runs through the default state are serialised") {
  Engine engine = onednn_engine();
  Session s = engine.compile(running_sum(true), on_onednn());
  constexpr int kThreads = 8, kRuns = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      const Tensor x = f32({1, 4}, {1, 2, 3, 4});
      for (int r = 0; r < kRuns; ++r) s.run({{"x", x}});
    });
  for (auto& th : threads) th.join();
  const float n = kThreads * kRuns;
  CHECK(values_of(s.default_state().snapshot().at("acc")) == std::vector<float>{n, 2 * n, 3 * n, 4 * n});
}

TEST_CASE("session: a session outlives its engine") {
  std::optional<Session> s;
  {
    Engine engine = onednn_engine();
    s.emplace(engine.compile(linear_graph(), on_onednn()));
  }
  const auto x = thread_input(0, 0, 3);
  CHECK(close(values_of(s->run({{"x", f32({3, 8}, x)}}).at("y")), linear_reference(x, 3)));
}

TEST_CASE("session: inputs, constants and states may be graph outputs") {
  Graph g = running_sum(true);
  g.initializers = {inline_f32("c", {2}, {5, 6})};
  g.outputs = {{"acc_next", {}}, {"x", {}}, {"c", {}}};
  Engine engine = onednn_engine();
  Session s = engine.compile(g, on_onednn());
  TensorMap out = s.run({{"x", f32({1, 4}, {1, 2, 3, 4})}});
  CHECK(values_of(out.at("x")) == std::vector<float>{1, 2, 3, 4});
  CHECK(values_of(out.at("c")) == std::vector<float>{5, 6});
  CHECK(values_of(out.at("acc_next")) == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("session: input errors name the input and leave the session usable") {
  Engine engine = onednn_engine();
  Session s = engine.compile(symbolic_graph(), on_onednn());
  check_symbolic_run(s, 2, 3);
  const Tensor a = ramp({2, 3, 4}, 0), m = ramp({2, 1, 4}, 0);

  SUBCASE("a symbol with two values") {
    std::string e = error_of([&] { s.run({{"a", a}, {"m", ramp({3, 1, 4}, 0)}}); });
    CHECK(e.find("batch") != std::string::npos);
    CHECK(e.find("'a'") != std::string::npos);
    CHECK(e.find("'m'") != std::string::npos);
  }
  SUBCASE("wrong dtype") {
    std::string e = error_of([&] { s.run({{"a", Tensor(DType::i64, {2, 3, 4})}, {"m", m}}); });
    CHECK(e.find("'a'") != std::string::npos);
    CHECK(e.find("i64") != std::string::npos);
    CHECK(e.find("f32") != std::string::npos);
  }
  SUBCASE("wrong rank") {
    std::string e = error_of([&] { s.run({{"a", ramp({2, 12}, 0)}, {"m", m}}); });
    CHECK(e.find("'a'") != std::string::npos);
    CHECK(e.find("rank 3") != std::string::npos);
  }
  SUBCASE("a fixed dim that differs") {
    std::string e = error_of([&] { s.run({{"a", ramp({2, 3, 5}, 0)}, {"m", m}}); });
    CHECK(e.find("'a'") != std::string::npos);
    CHECK(e.find("[2, 3, 5]") != std::string::npos);
  }
  SUBCASE("missing input") {
    std::string e = error_of([&] { s.run({{"a", a}}); });
    CHECK(e.find("'m'") != std::string::npos);
    CHECK(e.find("missing") != std::string::npos);
  }
  SUBCASE("every missing input in one error") {
    std::string e = error_of([&] { s.run({}); });
    CHECK(e.find("inputs 'a', 'm' are missing") != std::string::npos);
  }
  SUBCASE("unknown input name") {
    std::string e = error_of([&] { s.run({{"a", a}, {"m", m}, {"mask", m}}); });
    CHECK(e.find("'mask'") != std::string::npos);
    CHECK(e.find("not an input") != std::string::npos);
  }
  SUBCASE("a tensor without data") {
    std::string e = error_of([&] { s.run({{"a", Tensor::view(DType::f32, {2, 3, 4}, nullptr, nullptr)}, {"m", m}}); });
    CHECK(e.find("'a'") != std::string::npos);
  }
  check_symbolic_run(s, 2, 3);
  check_symbolic_run(s, 4, 2);
}

TEST_CASE("session: a failing run names the node and leaves the session usable") {
  Graph g;
  g.name = "lookup";
  g.inputs = {input("ids", DType::i64, {"seq"})};
  g.initializers = {inline_f32("table", {5, 2}, {0, 1, 10, 11, 20, 21, 30, 31, 40, 41})};
  g.nodes = {node("embed", "gather", {"table", "ids"}, {"rows"})};
  g.outputs = {{"rows", {}}};
  Engine engine = onednn_engine();
  Session s = engine.compile(g, on_onednn());
  Tensor ids(DType::i64, {3});
  auto set_ids = [&](int64_t a, int64_t b, int64_t c) {
    ids.data_as<int64_t>()[0] = a;
    ids.data_as<int64_t>()[1] = b;
    ids.data_as<int64_t>()[2] = c;
  };
  set_ids(4, 0, -1);
  CHECK(values_of(s.run({{"ids", ids}}).at("rows")) == std::vector<float>{40, 41, 0, 1, 40, 41});
  set_ids(1, 7, 2);
  std::string e = error_of([&] { s.run({{"ids", ids}}); });
  CHECK(e.find("embed") != std::string::npos);
  set_ids(2, 3, 1);
  CHECK(values_of(s.run({{"ids", ids}}).at("rows")) == std::vector<float>{20, 21, 30, 31, 10, 11});
}

// ids -> positions (0..seq-1) -> gather from a table of 6 rows: the graph takes seq <= 6.
Graph position_table_graph(bool with_offset) {
  Graph g;
  g.name = "positions";
  g.inputs = {input("ids", DType::i64, {"batch", "seq"})};
  if (with_offset) g.inputs.push_back(input("past", DType::i64, {"1"}));
  std::vector<double> table(12);
  for (int i = 0; i < 12; ++i) table[i] = i;
  g.initializers = {inline_f32("table", {6, 2}, table)};
  g.nodes = {node("pos", "positions", with_offset ? std::vector<std::string>{"ids", "past"} : std::vector<std::string>{"ids"},
                  {"pos_ids"}),
             node("lookup", "gather", {"table", "pos_ids"}, {"rows"})};
  g.outputs = {{"rows", {}}};
  return g;
}

TEST_CASE("session: a position table limits its symbol before any run") {
  Engine engine = onednn_engine();
  Session s = engine.compile(position_table_graph(false), on_onednn());
  REQUIRE(s.symbol_limits().size() == 1);
  const SymbolLimit& limit = s.symbol_limits()[0];
  CHECK(limit.symbol == "seq");
  CHECK(limit.max == 6);
  CHECK(limit.node == "lookup");
  CHECK(limit.str().find("'table' [6, 2]") != std::string::npos);

  CHECK(s.run({{"ids", Tensor(DType::i64, {2, 6})}}).at("rows").shape() == Shape{6, 2});
  std::string e = error_of([&] { s.run({{"ids", Tensor(DType::i64, {2, 7})}}); });
  CHECK(e.find("seq = 7") != std::string::npos);
  CHECK(e.find("seq <= 6") != std::string::npos);
  CHECK(e.find("'lookup'") != std::string::npos);
  e = error_of([&] { s.plan_memory({{"seq", 100}}); });
  CHECK(e.find("seq = 100") != std::string::npos);
  CHECK(s.plan_memory({{"seq", 6}}).bindings.at("seq") == 6);

  // With an offset the bound depends on a value known only at run time: no static limit.
  Session offset = engine.compile(position_table_graph(true), on_onednn());
  CHECK(offset.symbol_limits().empty());
}

TEST_CASE("session: threads are bounded") {
  Engine engine = onednn_engine();
  SessionOptions o = on_onednn();
  o.threads = SessionOptions::max_threads + 1;
  std::string e = error_of([&] { engine.compile(position_table_graph(false), o); });
  CHECK(e.find("threads must be from 0") != std::string::npos);
  CHECK(e.find("1025") != std::string::npos);
  o.threads = -1;
  CHECK(error_of([&] { engine.compile(position_table_graph(false), o); }).find("got -1") != std::string::npos);
}

TEST_CASE("session: planned memory reuses the arena along a chain") {
  Graph g;
  g.name = "chain";
  g.inputs = {input("x", DType::f32, {"n", "256"})};
  g.nodes = {node("t1", "tanh", {"x"}, {"a1"}), node("t2", "tanh", {"a1"}, {"a2"}), node("t3", "tanh", {"a2"}, {"a3"}),
             node("t4", "tanh", {"a3"}, {"a4"}), node("t5", "tanh", {"a4"}, {"a5"})};
  g.outputs = {{"a5", {}}};
  Engine engine = onednn_engine();
  Session s = engine.compile(g, on_onednn());
  MemoryReport r = s.plan_memory({{"n", 16}});
  CHECK(r.bindings.at("n") == 16);
  REQUIRE(r.arena_bytes.count("onednn") == 1);
  const uint64_t activation = 16 * 256 * 4;
  CHECK(r.unplanned_bytes.at("onednn") == 5 * activation);
  CHECK(r.activation_bytes.at("onednn") < r.unplanned_bytes.at("onednn"));
  // The arena is the activations then the scratch; only the activations compare with "without reuse".
  CHECK(r.arena_bytes.at("onednn") == r.activation_bytes.at("onednn") + r.scratch_bytes.at("onednn"));
  CHECK(r.weight_bytes == 0);
  CHECK(r.state_bytes == 0);
  // Unbound symbols count as 1.
  CHECK(s.plan_memory({}).unplanned_bytes.at("onednn") == 5 * 256 * 4);

  // The planned run still computes the chain.
  Tensor x = ramp({2, 256}, -256);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] /= 256.f;
  auto y = values_of(s.run({{"x", x}}).at("a5"));
  bool ok = true;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = x.data_as<float>()[i];
    for (int k = 0; k < 5; ++k) v = std::tanh(v);
    ok &= std::abs(y[i] - v) < 1e-5;
  }
  CHECK(ok);

  Session sum = engine.compile(running_sum(true), on_onednn());
  CHECK(sum.plan_memory({}).state_bytes == 16);
}

TEST_CASE("session: a graph output read by later nodes keeps its value") {
  // h1 is an output and is read again after several same-sized activations were written.
  Graph g;
  g.name = "reused_output";
  g.inputs = {input("x", DType::f32, {"n"})};
  g.nodes = {node("double", "add", {"x", "x"}, {"h1"}), node("square", "mul", {"h1", "h1"}, {"h2"}),
             node("twice", "add", {"h2", "h2"}, {"h3"}), node("neg", "sub", {"x", "h3"}, {"h4"}),
             node("last", "add", {"h4", "h1"}, {"h5"})};
  g.outputs = {{"h1", {}}, {"h5", {}}};
  Engine engine = onednn_engine();
  Session s = engine.compile(g, on_onednn());
  const int64_t n = 1000;
  Tensor x = ramp({n}, 0);
  for (int run = 0; run < 2; ++run) {
    TensorMap out = s.run({{"x", x}});
    auto h1 = values_of(out.at("h1")), h5 = values_of(out.at("h5"));
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) {
      const float v = static_cast<float>(i);
      ok &= h1[i] == 2 * v;
      ok &= h5[i] == (v - 8 * v * v) + 2 * v;
    }
    CHECK(ok);
  }
}

#endif  // LOOM_TEST_ONEDNN

TEST_CASE("session: a reshape is a view: no bytes of its own, its input kept alive while it is read") {
  Graph g;
  g.name = "views";
  g.inputs = {input("x", DType::f32, {"4", "64"})};
  // a -> (view) b -> (view) c, and a is overwritten by nothing while c is read at the end.
  g.nodes = {node("t1", "tanh", {"x"}, {"a"}), node("r1", "reshape", {"a"}, {"b"}, {{"shape", std::vector<int64_t>{16, 16}}}),
             node("r2", "reshape", {"b"}, {"c"}, {{"shape", std::vector<int64_t>{4, 64}}}), node("t2", "tanh", {"x"}, {"d"}),
             node("t3", "tanh", {"d"}, {"e"}), node("add", "add", {"c", "e"}, {"y"}, {})};
  g.outputs = {{"y", {}}, {"b", {}}};
  Engine engine = onednn_engine();
  Session s = engine.compile(g, on_onednn());
  MemoryReport r = s.plan_memory({});
  const uint64_t activation = 256 * 4;
  // a, d, e, y own bytes; b and c are a's.
  CHECK(r.unplanned_bytes.at("onednn") == 4 * activation);
  Tensor x(DType::f32, {4, 64});
  for (int i = 0; i < 256; ++i) x.data_as<float>()[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  TensorMap out = s.run({{"x", x}});
  for (int i = 0; i < 256; ++i) {
    const float t = std::tanh(x.data_as<float>()[i]);
    CHECK(out.at("y").data_as<float>()[i] == doctest::Approx(t + std::tanh(t)).epsilon(1e-6));
    CHECK(out.at("b").data_as<float>()[i] == doctest::Approx(t).epsilon(1e-6));
  }
  CHECK(out.at("b").shape() == Shape{16, 16});
}
