// Sessions on the Vulkan backend with oneDNN as fallback, over the shipped encoder
// (graphs/encoder/, PyTorch references): repeated runs replay the recorded command buffers,
// another batch size makes another plan, sessions share the device, runs come from several
// threads at once, and staging=always takes the copy path of discrete GPUs. Every output is held
// to |out - ref| <= 1e-3 + 1e-3 |ref|. Run with VK_ICD_FILENAMES pinned (tests/vulkan/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <loom/loom.hpp>

#include <cstring>
#include <filesystem>
#include <thread>

namespace {

namespace fs = std::filesystem;
const fs::path kEncoder = fs::path(LOOM_SOURCE_DIR) / "graphs/encoder";

loom::Engine make_engine() {
  loom::EngineOptions options;
  options.plugin_files = {fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-vulkan.so", fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so"};
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
