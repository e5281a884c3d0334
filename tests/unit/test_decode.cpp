// Generation through a KV cache (tests/decoder/decoder.yaml, made by tools/fixtures/make_decoder.py):
// a prefill then 63 decode steps, greedy. Every step's logits must equal a full recomputation of
// the whole sequence (the engine's own, from a fresh state, and PyTorch's), the decode steps
// must share one plan, and a steady-state step must not touch the heap: not in the core, the SDK
// or the oneDNN plugin, and not inside oneDNN either (its dnnl_primitive_execute allocates a map
// of arguments per call, so the plugin runs a decode step's few-row linear layers and layer
// norms on its own row kernels; allocations made by libdnnl itself are counted apart, to say
// where one came from).
#include "counting_allocator.hpp"
#include "session_graphs.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

using namespace loom;

namespace {

const std::filesystem::path kDir = std::filesystem::path(LOOM_TEST_DATA_DIR) / "decoder";
constexpr int64_t kNew = 64;

Tensor ids_tensor(const std::vector<int64_t>& ids) {
  Tensor t(DType::i64, {1, static_cast<int64_t>(ids.size())});
  std::copy(ids.begin(), ids.end(), t.data_as<int64_t>());
  return t;
}

Tensor scalar_row(int64_t v) {
  Tensor t(DType::i64, {1});
  t.data_as<int64_t>()[0] = v;
  return t;
}

// Largest |a - b| over n floats.
double max_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

int64_t argmax(const float* x, int64_t n) { return std::max_element(x, x + n) - x; }

}  // namespace

TEST_CASE("decode: 64 greedy tokens through the KV cache equal full recomputation, with one plan and no allocation per step") {
  Engine engine = test::onednn_engine();
  Session session = engine.load(kDir / "decoder.yaml", test::on_onednn());
  Session recompute = engine.load(kDir / "decoder.yaml", test::on_onednn());
  const Tensor prompt = read_npy(kDir / "prompt_ids.npy");
  const Tensor ref_prefill = read_npy(kDir / "expected_prefill_logits.npy");
  const Tensor ref_steps = read_npy(kDir / "expected_step_logits.npy");
  const Tensor ref_tokens = read_npy(kDir / "expected_tokens.npy");
  const int64_t vocab = ref_prefill.shape().back();
  const int64_t prompt_len = prompt.shape()[1];
  REQUIRE(ref_tokens.numel() == kNew);

  // Prefill: the whole prompt, nothing in the caches yet.
  State state = session.new_state();
  TensorMap out = session.run({{"input_ids", prompt}, {"past_length", scalar_row(0)}}, state);
  const Tensor& prefill = out.at("logits");
  REQUIRE(prefill.shape() == ref_prefill.shape());
  CHECK(max_diff(prefill.data_as<float>(), ref_prefill.data_as<float>(), prefill.numel()) <= 3e-5);
  CHECK(state.filled("layer.0.k_cache") == std::vector<int64_t>{prompt_len});

  std::vector<int64_t> sequence(prompt.data_as<int64_t>(), prompt.data_as<int64_t>() + prompt_len);
  sequence.push_back(argmax(prefill.data_as<float>() + (prompt_len - 1) * vocab, vocab));

  // Decode: one token per run, through a binding whose tensors are written in place.
  Binding binding = session.new_binding();
  Tensor token(DType::i64, {1, 1}), past(DType::i64, {1}), logits(DType::f32, {1, 1, vocab});
  binding.bind_input("input_ids", token);
  binding.bind_input("past_length", past);
  binding.bind_output("logits", logits);
  const uint64_t plans_after_prefill = session.stats().plans_made;
  if (test::counting()) REQUIRE(test::set_aside_library("libdnnl.so"));

  double worst_engine = 0, worst_torch = 0;
  std::vector<uint64_t> allocations, onednn_allocations;
  for (int64_t step = 1; step < kNew; ++step) {
    token.data_as<int64_t>()[0] = sequence.back();
    past.data_as<int64_t>()[0] = static_cast<int64_t>(sequence.size()) - 1;
    const uint64_t before = test::heap_allocations(), onednn_before = test::set_aside_allocations();
    test::watch_allocations(step > 1);
    session.run(binding, state);
    test::watch_allocations(false);
    allocations.push_back(test::heap_allocations() - before);
    onednn_allocations.push_back(test::set_aside_allocations() - onednn_before);

    // The same logits from the whole sequence, recomputed without a cache.
    State fresh = recompute.new_state();
    TensorMap full = recompute.run({{"input_ids", ids_tensor(sequence)}, {"past_length", scalar_row(0)}}, fresh);
    const float* last = full.at("logits").data_as<float>() + (static_cast<int64_t>(sequence.size()) - 1) * vocab;
    worst_engine = std::max(worst_engine, max_diff(logits.data_as<float>(), last, vocab));
    worst_torch = std::max(worst_torch, max_diff(logits.data_as<float>(), ref_steps.data_as<float>() + (step - 1) * vocab, vocab));
    sequence.push_back(argmax(logits.data_as<float>(), vocab));
  }
  MESSAGE("decode: largest difference to the engine's recomputation " << worst_engine << ", to PyTorch's " << worst_torch
          << "; plans made " << session.stats().plans_made << "; allocations of the first step " << allocations.front()
          << ", of the last " << allocations.back() << " (inside oneDNN's primitive execution: " << onednn_allocations.back() << ")"
          << std::string(test::counting() ? " (malloc and new counted)" : " (not counted under sanitizers)"));
  CHECK(worst_engine <= 1e-5);
  // Against PyTorch the summation orders differ (oneDNN's kernels change with the CPU): a little
  // more room than against the engine's own recomputation.
  CHECK(worst_torch <= 3e-5);
  const std::vector<int64_t> generated(sequence.begin() + prompt_len, sequence.end());
  CHECK(generated == std::vector<int64_t>(ref_tokens.data_as<int64_t>(), ref_tokens.data_as<int64_t>() + kNew));
  // One plan for the prefill's shape, one for every decode step.
  CHECK(session.stats().plans_made == plans_after_prefill + 1);
  CHECK(session.stats().runs == static_cast<uint64_t>(kNew));
  if (!test::counting()) MESSAGE("allocations are not counted under sanitizers (their runtimes own malloc)");
  for (size_t i = 1; i < allocations.size(); ++i) {
    INFO("decode step " << i + 1);
    CHECK(allocations[i] == 0);
    CHECK(onednn_allocations[i] == 0);
  }
  CHECK(state.filled("layer.1.v_cache") == std::vector<int64_t>{prompt_len + kNew - 1});
}

TEST_CASE("decode: a copied state branches the conversation without touching the original") {
  Engine engine = test::onednn_engine();
  Session session = engine.load(kDir / "decoder.yaml", test::on_onednn());
  State a = session.new_state();
  session.run({{"input_ids", ids_tensor({3, 17, 41})}, {"past_length", scalar_row(0)}}, a);
  State b = a.copy();
  CHECK(b.filled("layer.0.k_cache") == std::vector<int64_t>{3});
  const TensorMap before = a.snapshot();
  // Branch b goes on with token 5, branch a with token 6; each must equal a recomputation.
  TensorMap lb = session.run({{"input_ids", ids_tensor({5})}, {"past_length", scalar_row(3)}}, b);
  const TensorMap a_after_b = a.snapshot();
  for (const auto& entry : before) CHECK(compare(a_after_b.at(entry.first), entry.second, 0, 0).ok());
  TensorMap la = session.run({{"input_ids", ids_tensor({6})}, {"past_length", scalar_row(3)}}, a);
  State fresh = session.new_state();
  TensorMap fa = session.run({{"input_ids", ids_tensor({3, 17, 41, 6})}, {"past_length", scalar_row(0)}}, fresh);
  fresh.reset();
  CHECK(fresh.filled("layer.0.k_cache") == std::vector<int64_t>{0});
  TensorMap fb = session.run({{"input_ids", ids_tensor({3, 17, 41, 5})}, {"past_length", scalar_row(0)}}, fresh);
  const int64_t vocab = la.at("logits").shape().back();
  CHECK(max_diff(la.at("logits").data_as<float>(), fa.at("logits").data_as<float>() + 3 * vocab, vocab) <= 1e-5);
  CHECK(max_diff(lb.at("logits").data_as<float>(), fb.at("logits").data_as<float>() + 3 * vocab, vocab) <= 1e-5);
  CHECK_THROWS_WITH_AS(a.filled("nope"), doctest::Contains("no state named 'nope'"), Error);
}

TEST_CASE("decode: assign makes a state equal to another of the session, in its own buffers, zeros past the filled positions") {
  Engine engine = test::onednn_engine();
  Session session = engine.load(kDir / "decoder.yaml", test::on_onednn());
  State a = session.new_state(), b = session.new_state();
  session.run({{"input_ids", ids_tensor({3, 17, 41})}, {"past_length", scalar_row(0)}}, a);
  session.run({{"input_ids", ids_tensor({9, 8, 7, 6, 5})}, {"past_length", scalar_row(0)}}, b);  // longer: its tail goes
  const TensorMap a_before = a.snapshot();
  b.assign(a);
  CHECK(b.filled("layer.0.k_cache") == std::vector<int64_t>{3});
  const TensorMap b_now = b.snapshot();
  for (const auto& entry : a_before) {
    INFO(entry.first);
    CHECK(compare(b_now.at(entry.first), entry.second, 0, 0).ok());
  }
  // Both go on as the same conversation; a is left alone by b's runs.
  const TensorMap lb = session.run({{"input_ids", ids_tensor({5})}, {"past_length", scalar_row(3)}}, b);
  for (const auto& entry : a.snapshot()) CHECK(compare(entry.second, a_before.at(entry.first), 0, 0).ok());
  const TensorMap la = session.run({{"input_ids", ids_tensor({5})}, {"past_length", scalar_row(3)}}, a);
  CHECK(compare(la.at("logits"), lb.at("logits"), 0, 0).ok());
  a.assign(a);  // a no-op
  CHECK(a.filled("layer.0.k_cache") == std::vector<int64_t>{4});
  Session other = engine.load(kDir / "decoder.yaml", test::on_onednn());
  State c = other.new_state();
  CHECK_THROWS_WITH_AS(c.assign(a), doctest::Contains("not of the same session"), Error);
}

TEST_CASE("decode: a cache write past the cache's end is a run-time error naming the node, and the session stays usable") {
  Engine engine = test::onednn_engine();
  Session session = engine.load(kDir / "decoder.yaml", test::on_onednn());
  State state = session.new_state();
  // Position 80 is past the position table before it is past the cache.
  CHECK_THROWS_WITH_AS(session.run({{"input_ids", ids_tensor({1, 2})}, {"past_length", scalar_row(79)}}, state),
                       doctest::Contains("index 80"), Error);
  CHECK_THROWS_WITH_AS(session.run({{"input_ids", ids_tensor({1})}, {"past_length", scalar_row(-1)}}, state),
                       doctest::Contains("offset[0] = -1"), Error);
  TensorMap out = session.run({{"input_ids", ids_tensor({1})}, {"past_length", scalar_row(79)}}, state);
  CHECK(out.at("logits").shape() == Shape{1, 1, 48});
}

TEST_CASE("decode: a binding refuses an output tensor of the wrong shape and unknown names") {
  Engine engine = test::onednn_engine();
  Session session = engine.load(kDir / "decoder.yaml", test::on_onednn());
  Binding binding = session.new_binding();
  CHECK_THROWS_WITH_AS(binding.bind_input("ids", Tensor(DType::i64, {1, 1})), doctest::Contains("input_ids, past_length"), Error);
  binding.bind_input("input_ids", ids_tensor({4}));
  binding.bind_input("past_length", scalar_row(0));
  binding.bind_output("logits", Tensor(DType::f32, {1, 2, 48}));
  CHECK_THROWS_WITH_AS(session.run(binding), doctest::Contains("the output is f32 [1, 1, 48]"), Error);
  Binding own = session.new_binding();
  own.bind_input("input_ids", ids_tensor({4}));
  own.bind_input("past_length", scalar_row(0));
  session.run(own);  // unbound outputs get tensors of their own
  CHECK(own.output("logits").shape() == Shape{1, 1, 48});
}
