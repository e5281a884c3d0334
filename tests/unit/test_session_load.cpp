// Sessions under load: the bounded plan cache, plans made without blocking other runs, and runs
// stopped through RunOptions. Threads meet at the gates of the test-gate backend
// (tests/plugins/good_backend.cpp built with TEST_GATE), never through sleeps.
#if LOOM_TEST_ONEDNN
#include "session_graphs.hpp"

#include <loom/engine.hpp>

#include <dlfcn.h>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>

namespace {

using namespace loom;
using loom::test::error_of;
using loom::test::values_of;
namespace fs = std::filesystem;
constexpr auto kHang = std::chrono::seconds(30);  // far longer than any step here takes

Engine gate_engine() {
  EngineOptions o;
  o.plugin_files = {fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so", fs::path(LOOM_TEST_GATE_PLUGIN)};
  o.search_default_paths = false;
  Engine e(o);
  for (const auto& r : e.plugins()) REQUIRE_MESSAGE(r.loaded, r.path.string() << ": " << r.error);
  return e;
}

// The gates of the loaded test-gate plugin: 0 holds prepare(), 1 holds run(). Both are open
// again when this goes.
class Gates {
 public:
  Gates() {
    lib_ = dlopen(LOOM_TEST_GATE_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
    REQUIRE_MESSAGE(lib_, "the test-gate plugin is not loaded");
    set_ = reinterpret_cast<void (*)(int, int)>(dlsym(lib_, "loom_test_gate_set"));
    wait_for_ = reinterpret_cast<int (*)(int, int)>(dlsym(lib_, "loom_test_gate_wait_for"));
    REQUIRE((set_ && wait_for_));
  }
  ~Gates() {
    set_(0, 0);
    set_(1, 0);
    dlclose(lib_);
  }
  void close(int gate) { set_(gate, 1); }
  void open(int gate) { set_(gate, 0); }
  // Whether `count` calls are waiting at the gate (within 30 s).
  bool waiting(int gate, int count) { return wait_for_(gate, count) != 0; }

 private:
  void* lib_ = nullptr;
  void (*set_)(int, int) = nullptr;
  int (*wait_for_)(int, int) = nullptr;
};
constexpr int kPrepare = 0, kRun = 1;

Tensor rows(int64_t n, float scale) {
  Tensor t(DType::f32, {n, 4});
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = scale * static_cast<float>(i + 1);
  return t;
}

// y = 2x, on oneDNN or on the gate.
constexpr const char* kDouble = R"(loom: 1
name: double
inputs:
  - {name: x, dtype: f32, shape: [n, 4]}
outputs: [y]
nodes:
  - {op: add, inputs: [x, x], outputs: [y]}
)";

// oneDNN, then the gate, then oneDNN; the state is updated in place by the first partition.
constexpr const char* kMidway = R"(loom: 1
name: cancel-midway
inputs:
  - {name: x, dtype: f32, shape: [1, 4]}
outputs: [y]
state:
  - {name: total, dtype: f32, shape: [1, 4], update: sum}
nodes:
  - {op: add, inputs: [total, x], outputs: [sum]}
  - {op: add, inputs: [sum, x], outputs: [g], backend: test-gate}
  - {op: mul, inputs: [g, x], outputs: [y]}
)";

SessionOptions on(std::vector<std::string> backends, size_t max_plans = 16) {
  SessionOptions o;
  o.backends = std::move(backends);
  o.threads = 1;
  o.max_plans = max_plans;
  return o;
}

}  // namespace

TEST_CASE("session load: max_plans bounds the plan cache, least recently used first") {
  Engine engine = loom::test::onednn_engine();
  Session s = engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"onednn"}, 2));
  auto run = [&](int64_t n) { CHECK(values_of(s.run({{"x", rows(n, 1.0f)}}).at("y")) == values_of(rows(n, 2.0f))); };
  run(1);
  run(2);
  run(1);  // 2 is now the least recently used
  run(3);  // evicts 2
  SessionStats st = s.stats();
  CHECK(st.plans_made == 3);
  CHECK(st.plans_cached == 2);
  CHECK(st.plans_evicted == 1);
  run(1);  // still cached
  CHECK(s.stats().plans_made == 3);
  run(2);  // made again, evicts 3
  st = s.stats();
  CHECK(st.plans_made == 4);
  CHECK(st.plans_evicted == 2);
  CHECK(st.plans_cached == 2);
  CHECK(st.runs == 6);

  CHECK(error_of([&] { engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"onednn"}, 0)); }) ==
        "session option max_plans is 0: a session keeps at least one shape plan");
}

TEST_CASE("session load: a new shape is planned without blocking runs of planned shapes") {
  Engine engine = gate_engine();
  Gates gates;
  Session s = engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"test-gate"}));
  CHECK(values_of(s.run({{"x", rows(1, 1.0f)}}).at("y")) == values_of(rows(1, 2.0f)));

  gates.close(kPrepare);
  auto planning = std::async(std::launch::async, [&] { return s.run({{"x", rows(2, 1.0f)}}); });
  REQUIRE(gates.waiting(kPrepare, 1));  // the plan for n=2 is being made, and stays so
  auto planned = std::async(std::launch::async, [&] { return s.run({{"x", rows(1, 3.0f)}}); });
  const bool finished = planned.wait_for(kHang) == std::future_status::ready;
  gates.open(kPrepare);
  REQUIRE(finished);
  CHECK(values_of(planned.get().at("y")) == values_of(rows(1, 6.0f)));
  CHECK(values_of(planning.get().at("y")) == values_of(rows(2, 2.0f)));
  CHECK(s.stats().plans_made == 2);
}

TEST_CASE("session load: a plan evicted while a run uses it lives until the run ends") {
  Engine engine = gate_engine();
  Gates gates;
  Session s = engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"test-gate"}, 1));
  s.run({{"x", rows(3, 1.0f)}});

  gates.close(kRun);
  auto running = std::async(std::launch::async, [&] { return s.run({{"x", rows(3, 5.0f)}}); });
  REQUIRE(gates.waiting(kRun, 1));
  s.plan_memory({{"n", 2}});  // a plan for n=2 pushes out the one the run is using
  CHECK(s.stats().plans_evicted == 1);
  gates.open(kRun);
  CHECK(values_of(running.get().at("y")) == values_of(rows(3, 10.0f)));
}

TEST_CASE("session load: a run cancelled before it starts does nothing") {
  Engine engine = loom::test::onednn_engine();
  Session s = engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"onednn"}));
  std::atomic<bool> cancel{true};
  RunOptions options;
  options.cancel = &cancel;
  CHECK_THROWS_WITH_AS(s.run({{"x", rows(2, 1.0f)}}, options), "run cancelled", CancelledError);
  CHECK(s.stats().runs == 0);
  CHECK(s.stats().plans_made == 0);
  cancel = false;
  CHECK(values_of(s.run({{"x", rows(2, 1.0f)}}, options).at("y")) == values_of(rows(2, 2.0f)));

  Binding b = s.new_binding();
  b.bind_input("x", rows(2, 2.0f));
  cancel = true;
  CHECK_THROWS_AS(s.run(b, options), CancelledError);
  s.run(b);
  CHECK(values_of(b.output("y")) == values_of(rows(2, 4.0f)));
}

TEST_CASE("session load: a deadline in the past stops the run, one ahead does not") {
  Engine engine = loom::test::onednn_engine();
  Session s = engine.compile(parse_graph_yaml(kDouble, "double.yaml"), on({"onednn"}));
  RunOptions past;
  past.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(50);
  const std::string message = error_of([&] { s.run({{"x", rows(1, 1.0f)}}, past); });
  CHECK(message.rfind("run passed its deadline before it started (the deadline was ", 0) == 0);
  CHECK_THROWS_AS(s.run({{"x", rows(1, 1.0f)}}, past), CancelledError);
  RunOptions ahead;
  ahead.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  CHECK(values_of(s.run({{"x", rows(1, 1.0f)}}, ahead).at("y")) == values_of(rows(1, 2.0f)));
}

TEST_CASE("session load: a run cancelled from another thread midway stops, and the session runs on") {
  Engine engine = gate_engine();
  Gates gates;
  Session s = engine.compile(parse_graph_yaml(kMidway, "midway.yaml"), on({"onednn", "test-gate"}));
  REQUIRE(s.placement().partitions.size() == 3);
  CHECK(s.placement().partitions[1].backend == "test-gate");

  std::atomic<bool> cancel{false};
  RunOptions options;
  options.cancel = &cancel;
  gates.close(kRun);
  auto running = std::async(std::launch::async, [&] { return s.run({{"x", rows(1, 1.0f)}}, options); });
  REQUIRE(gates.waiting(kRun, 1));  // partition 0 has run; partition 1 waits at the gate
  cancel = true;                    // the backend sees it through should_stop
  CHECK_THROWS_WITH_AS(running.get(), "run cancelled", CancelledError);
  gates.open(kRun);

  // Partition 0 updated the state in place before the run stopped (RunOptions says so).
  CHECK(values_of(s.default_state().snapshot().at("total")) == values_of(rows(1, 1.0f)));
  CHECK(s.stats().runs == 0);

  cancel = false;
  const Tensor x = rows(1, 1.0f);
  const auto y = values_of(s.run({{"x", x}}, options).at("y"));
  for (int i = 0; i < 4; ++i) CHECK(y[i] == (2.0f * x.data_as<float>()[i] + x.data_as<float>()[i]) * x.data_as<float>()[i]);
  CHECK(s.stats().runs == 1);
}

#endif  // LOOM_TEST_ONEDNN
