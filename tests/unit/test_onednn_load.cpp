// The oneDNN backend under load, through the C ABI: it polls the host's should_stop between
// steps and stops with LOOM_STATUS_CANCELLED, and a stopped plan runs again.
#ifdef LOOM_TEST_ONEDNN
#include "onednn_harness.hpp"

#include <doctest/doctest.h>

#include <string>
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

}  // namespace

TEST_CASE("onednn: a run polls should_stop between steps and stops where it is told") {
  OnednnPlugin plugin;
  constexpr int kSteps = 8;
  GraphBuilder g;
  std::vector<int32_t> v;
  for (int i = 0; i <= kSteps; ++i) {
    const int32_t kind = i == 0 ? LOOM_VALUE_INPUT : i == kSteps ? LOOM_VALUE_OUTPUT : LOOM_VALUE_ACTIVATION;
    v.push_back(g.value("v" + std::to_string(i), kind, LOOM_DTYPE_F32, {4}));
  }
  for (int i = 0; i < kSteps; ++i) g.node("relu", {v[i]}, {v[i + 1]}, {});
  loom::test::Executable exe(plugin.backend(), g);
  auto plan = exe.prepare(std::vector<std::vector<int64_t>>(kSteps + 1, {4}));

  std::vector<Tensor> t;
  for (int i = 0; i <= kSteps; ++i) {
    t.emplace_back(DType::f32, loom::Shape{4});
    for (int k = 0; k < 4; ++k) t.back().data_as<float>()[k] = i == 0 ? static_cast<float>(k + 1) : -7.0f;
  }
  std::vector<Tensor*> ptrs;
  for (auto& x : t) ptrs.push_back(&x);
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

#endif  // LOOM_TEST_ONEDNN
