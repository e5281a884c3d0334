// The oneDNN backend under load, through the C ABI: it polls the host's should_stop between
// steps and stops with LOOM_STATUS_CANCELLED, a stopped plan runs again, and concurrent runs of
// one backend instance (one session) take turns with its threads.
#ifdef LOOM_TEST_ONEDNN
#include "onednn_harness.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using loom::DType;
using loom::Tensor;
using loom::test::GraphBuilder;
using loom::test::OnednnPlugin;
using loom::test::PluginError;

// Answers "stop" at its `stop_at`-th call.
struct StopAfter {
  int calls = 0;
  int stop_at = 0;
  static int32_t poll(void* self) noexcept {
    auto* s = static_cast<StopAfter*>(self);
    return ++s->calls >= s->stop_at ? 1 : 0;
  }
};

// A chain of `steps` relu nodes over [4] tensors, v0 -> v1 -> ... -> v<steps>.
GraphBuilder relu_chain(int steps) {
  GraphBuilder g;
  std::vector<int32_t> v;
  for (int i = 0; i <= steps; ++i) {
    const int32_t kind = i == 0 ? LOOM_VALUE_INPUT : i == steps ? LOOM_VALUE_OUTPUT : LOOM_VALUE_ACTIVATION;
    v.push_back(g.value("v" + std::to_string(i), kind, LOOM_DTYPE_F32, {4}));
  }
  for (int i = 0; i < steps; ++i) g.node("relu", {v[i]}, {v[i + 1]}, {});
  return g;
}

// Tensors for the chain: v0 = [1, 2, 3, 4], every other value -7.
struct ChainTensors {
  explicit ChainTensors(int steps) {
    for (int i = 0; i <= steps; ++i) {
      t.emplace_back(DType::f32, loom::Shape{4});
      for (int k = 0; k < 4; ++k) t.back().data_as<float>()[k] = i == 0 ? static_cast<float>(k + 1) : -7.0f;
    }
    for (auto& x : t) ptrs.push_back(&x);
  }
  std::vector<Tensor> t;
  std::vector<Tensor*> ptrs;
};

}  // namespace

TEST_CASE("onednn: a run polls should_stop between steps and stops where it is told") {
  OnednnPlugin plugin;
  constexpr int kSteps = 8;
  GraphBuilder g = relu_chain(kSteps);
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare(std::vector<std::vector<int64_t>>(kSteps + 1, {4}));
  ChainTensors tensors(kSteps);
  auto& t = tensors.t;
  auto& ptrs = tensors.ptrs;
  std::vector<std::byte> scratch(plan.scratch_bytes() + 1);

  StopAfter stop{0, 3};
  try {
    plan.run(ptrs, scratch.data(), plan.scratch_bytes(), &StopAfter::poll, &stop);
    FAIL("the run did not stop");
  } catch (const PluginError& e) {
    CHECK(e.code == LOOM_STATUS_CANCELLED);
    CHECK(std::string(e.what()) == "run: run stopped after 3 of 8 steps");
  }
  CHECK(stop.calls == 3);  // polled before steps 1, 2 and 3; step 3 never ran
  for (int i = 1; i <= kSteps; ++i) CHECK(t[i].data_as<float>()[0] == (i <= 3 ? 1.0f : -7.0f));

  StopAfter never{0, 1000};
  plan.run(ptrs, scratch.data(), plan.scratch_bytes(), &StopAfter::poll, &never);
  CHECK(never.calls == kSteps - 1);
  CHECK(t[kSteps].data_as<float>()[3] == 4.0f);
}

TEST_CASE("onednn: concurrent runs of one session take turns with its threads") {
  OnednnPlugin plugin(1);
  constexpr int kSteps = 8;
  GraphBuilder g = relu_chain(kSteps);
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare(std::vector<std::vector<int64_t>>(kSteps + 1, {4}));
  ChainTensors a(kSteps), b(kSteps);
  std::vector<std::byte> scratch_a(plan.scratch_bytes() + 1), scratch_b(plan.scratch_bytes() + 1);

  // Run A stops inside its run, between two steps, until it is let go.
  struct Hold {
    std::mutex m;
    std::condition_variable cv;
    bool inside = false, go = false;
    static int32_t poll(void* self) noexcept {
      auto* h = static_cast<Hold*>(self);
      std::unique_lock<std::mutex> lock(h->m);
      h->inside = true;
      h->cv.notify_all();
      h->cv.wait(lock, [&] { return h->go; });
      return 0;
    }
  } hold;
  // Run B counts its polls: a run waiting for its turn polls too.
  struct Count {
    std::atomic<int> calls{0};
    static int32_t poll(void* self) noexcept {
      ++static_cast<Count*>(self)->calls;
      return 0;
    }
  } count;

  auto run_a = std::async(std::launch::async, [&] {
    plan.run(a.ptrs, scratch_a.data(), plan.scratch_bytes(), &Hold::poll, &hold);
  });
  {
    std::unique_lock<std::mutex> lock(hold.m);
    REQUIRE(hold.cv.wait_for(lock, std::chrono::seconds(30), [&] { return hold.inside; }));
  }
  auto run_b = std::async(std::launch::async, [&] {
    plan.run(b.ptrs, scratch_b.data(), plan.scratch_bytes(), &Count::poll, &count);
  });
  // Without turns B would run its 8 steps, polling 7 times, and finish; with them it waits,
  // polling on, for as long as A is held.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (count.calls < kSteps + 2 && run_b.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  CHECK(run_b.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  CHECK(b.t[1].data_as<float>()[0] == -7.0f);  // B has run no step
  {
    std::lock_guard<std::mutex> lock(hold.m);
    hold.go = true;
  }
  hold.cv.notify_all();
  run_a.get();
  run_b.get();
  CHECK(a.t[kSteps].data_as<float>()[3] == 4.0f);
  CHECK(b.t[kSteps].data_as<float>()[3] == 4.0f);
}

#endif  // LOOM_TEST_ONEDNN
