// Sessions on the Vulkan backend with oneDNN as fallback, over the shipped encoder
// (graphs/encoder/, PyTorch references): repeated runs replay the recorded command buffers,
// another batch size makes another plan, sessions share the device, runs come from several
// threads at once, and staging=always takes the copy path of discrete GPUs. Every output is held
// to |out - ref| <= 1e-3 + 1e-3 |ref|. GPT-2 and ImageGPT (tests/models) decode on the Vulkan
// backend alone, their KV caches in device memory, and generate what oneDNN generates. Run with
// VK_ICD_FILENAMES pinned (tests/vulkan/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <loom/loom.hpp>

#include <cstring>
#include <filesystem>
#include <set>
#include <thread>
#include <tuple>

namespace {

namespace fs = std::filesystem;
const fs::path kEncoder = fs::path(LOOM_SOURCE_DIR) / "graphs/encoder";

const fs::path kModels = fs::path(LOOM_SOURCE_DIR) / "tests/models";

loom::Engine make_engine() {
  loom::EngineOptions options;
  options.plugin_files = {fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-vulkan.so", fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so",
                          fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-gpt2.so", fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-imagegpt.so"};
  options.search_default_paths = false;
  return loom::Engine(options);
}

loom::Session encoder_session(const loom::Engine& engine, std::map<std::string, std::string> options = {}) {
  loom::SessionOptions so;
  so.backends = {"vulkan", "onednn"};
  so.options = std::move(options);
  return engine.load(kEncoder / "encoder.yaml", so);
}

// The first `rows` rows of a tensor (rows are independent in the encoder).
loom::Tensor rows_of(const loom::Tensor& t, int64_t rows) {
  loom::Shape shape = t.shape();
  const size_t row_bytes = t.nbytes() / static_cast<size_t>(shape[0]);
  shape[0] = rows;
  loom::Tensor out(t.dtype(), shape);
  std::memcpy(out.data(), t.data(), row_bytes * static_cast<size_t>(rows));
  return out;
}

loom::TensorMap inputs(int64_t rows) {
  loom::TensorMap in;
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"})
    in.emplace(name, rows_of(loom::read_npy(kEncoder / (std::string(name) + ".npy")), rows));
  return in;
}

void check_outputs(const loom::TensorMap& out, int64_t rows) {
  for (const char* name : {"last_hidden_state", "pooler_output"}) {
    const loom::Tensor ref = rows_of(loom::read_npy(kEncoder / ("expected_" + std::string(name) + ".npy")), rows);
    const loom::Comparison c = loom::compare(out.at(name), ref, 1e-3, 1e-3);
    INFO(name << ": " << c.mismatch << " max |out - ref| " << c.max_abs_error);
    CHECK(c.ok());
  }
}

}  // namespace

TEST_CASE("vulkan: the encoder with oneDNN as fallback matches PyTorch, run after run and batch after batch") {
  const loom::Engine engine = make_engine();
  loom::Session s = encoder_session(engine);
  bool on_vulkan = false;
  for (const auto& p : s.placement().partitions) on_vulkan |= p.backend == "vulkan";
  CHECK(on_vulkan);
  for (int run = 0; run < 3; ++run) check_outputs(s.run(inputs(2)), 2);
  check_outputs(s.run(inputs(1)), 1);
  check_outputs(s.run(inputs(2)), 2);
  // A second session on the same device and pipelines.
  loom::Session t = encoder_session(engine);
  check_outputs(t.run(inputs(1)), 1);
  check_outputs(s.run(inputs(2)), 2);
}

TEST_CASE("vulkan: runs from several threads at once each get their own results") {
  const loom::Engine engine = make_engine();
  loom::Session s = encoder_session(engine);
  std::vector<loom::TensorMap> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] { results[i] = s.run(inputs(i % 2 ? 1 : 2)); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < results.size(); ++i) check_outputs(results[i], i % 2 ? 1 : 2);
}

TEST_CASE("vulkan: staging=always copies through staging buffers and gives the same results") {
  const loom::Engine engine = make_engine();
  loom::Session s = encoder_session(engine, {{"vulkan.staging", "always"}});
  check_outputs(s.run(inputs(2)), 2);
  check_outputs(s.run(inputs(2)), 2);
}

TEST_CASE("vulkan: a lost device fails the run, and with fallback=on later runs go to oneDNN") {
  const loom::Engine engine = make_engine();
  loom::Session s = encoder_session(engine, {{"vulkan.lose_device_after_runs", "1"}, {"fallback", "on"}});
  check_outputs(s.run(inputs(2)), 2);
  CHECK_THROWS_WITH_AS(s.run(inputs(2)), doctest::Contains("the device was lost"), loom::DeviceLostError);
  for (int run = 0; run < 2; ++run) check_outputs(s.run(inputs(2)), 2);
  for (const auto& p : s.placement().partitions) CHECK(p.backend == "onednn");

  loom::Session strict = encoder_session(engine, {{"vulkan.lose_device_after_runs", "0"}});
  CHECK_THROWS_AS(strict.run(inputs(2)), loom::DeviceLostError);
  CHECK_THROWS_WITH_AS(strict.run(inputs(2)), doctest::Contains("lost its device in an earlier run"), loom::DeviceLostError);
}

namespace {

std::vector<int64_t> ids_of(const loom::Tensor& t) { return {t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel()}; }

// Greedy generation through `state` as far as the caches go, on the given backends.
loom::GenerationResult generate(loom::Session& s, const std::vector<int64_t>& prompt, loom::State& state) {
  loom::Generator gen(s);
  loom::GenerationOptions o;
  o.do_sample = false;
  o.max_new_tokens = 1000;
  o.stop_at_eos = false;
  return gen.generate(prompt, o, {}, &state);
}

}  // namespace

TEST_CASE("vulkan: GPT-2 and ImageGPT decode on the device alone, KV caches in device memory, as oneDNN does") {
  const loom::Engine engine = make_engine();
  struct Model {
    const char* dir;
    const char* task;
    std::vector<int64_t> prompt;  // empty: prompt_ids.npy
  };
  for (const Model& m : {Model{"gpt2", "text-generation", {}}, Model{"imagegpt", "image-generation", {8}}}) {
    const std::string name = m.dir;
    CAPTURE(name);
    const fs::path dir = kModels / m.dir;
    const loom::Graph g = engine.load_graph(dir, m.task);
    loom::Session vk = engine.compile(g, {.backends = {"vulkan"}});
    loom::Session cpu = engine.compile(g, {.backends = {"onednn"}});
    // Every node on the device, alone or with oneDNN as fallback, and only the new ids, the past
    // length and the logits cross: the caches never do.
    const loom::Session mixed = engine.compile(g, {.backends = {"vulkan", "onednn"}});
    for (const loom::Session* s : {static_cast<const loom::Session*>(&vk), &mixed}) {
      for (const auto& n : s->placement().nodes) {
        CAPTURE(n.node);
        CHECK(n.backend == "vulkan");
      }
      std::set<std::tuple<std::string, std::string, std::string>> copies;
      for (const auto& c : s->placement().copies) copies.emplace(c.value, c.from_backend, c.to_backend);
      CHECK(copies == std::set<std::tuple<std::string, std::string, std::string>>{
                          {"input_ids", "host", "vulkan"}, {"past_length", "host", "vulkan"}, {"logits", "vulkan", "host"}});
    }

    const std::vector<int64_t> prompt = m.prompt.empty() ? ids_of(loom::read_npy(dir / "prompt_ids.npy")) : m.prompt;
    loom::State vs = vk.new_state(), cs = cpu.new_state();
    const loom::GenerationResult got = generate(vk, prompt, vs), want = generate(cpu, prompt, cs);
    CHECK(got.stop_reason == "max_length");
    CHECK(got.tokens == want.tokens);
    // The path of discrete GPUs: ids, caches' zeroing and logits through staging buffers.
    loom::SessionOptions staging;
    staging.backends = {"vulkan"};
    staging.options = {{"vulkan.staging", "always"}};
    loom::Session staged = engine.compile(g, staging);
    loom::State ss = staged.new_state();
    CHECK(generate(staged, prompt, ss).tokens == want.tokens);
    // The checkpoint's PyTorch greedy tokens: a prefix (GPT-2's run stops earlier) or all of them.
    const std::vector<int64_t> expected = ids_of(loom::read_npy(dir / "expected_generated.npy"));
    REQUIRE(got.tokens.size() >= expected.size());
    CHECK(std::vector<int64_t>(got.tokens.begin(), got.tokens.begin() + static_cast<std::ptrdiff_t>(expected.size())) == expected);
    // One plan for the prompt, one for every decode step (ImageGPT's one-token prompt has a
    // decode step's shape).
    CHECK(vk.stats().plans_made == (prompt.size() > 1 ? 2u : 1u));
    // The caches, read back from the device, hold what oneDNN's hold.
    const loom::TensorMap vc = vs.snapshot(), cc = cs.snapshot();
    REQUIRE(vc.size() == 4);
    for (const auto& [cache_name, cache] : vc) {
      CAPTURE(cache_name);
      CHECK(vs.filled(cache_name) == cs.filled(cache_name));
      const loom::Comparison c = loom::compare(cache, cc.at(cache_name), 1e-4, 1e-4);
      INFO(c.mismatch << " max |vulkan - onednn| " << c.max_abs_error);
      CHECK(c.ok());
    }
  }
}
