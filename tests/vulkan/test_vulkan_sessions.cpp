// Sessions on the Vulkan backend with oneDNN as fallback, over the shipped encoder
// (graphs/encoder/, PyTorch references): repeated runs replay the recorded command buffers,
// another batch size makes another plan, sessions share the device, runs come from several
// threads at once, and staging=always takes the copy path of discrete GPUs. Every output is held
// to |out - ref| <= 1e-3 + 1e-3 |ref|. GPT-2 and ImageGPT (tests/models) decode on the Vulkan
// backend alone, their KV caches in device memory, and generate what oneDNN generates. Run with
// VK_ICD_FILENAMES pinned (tests/vulkan/CMakeLists.txt). Sessions of one engine share the
// constants they upload: the plugin's test hook counts uploads.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <loom/loom.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
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
                          fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-gpt2.so", fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-imagegpt.so",
                          fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-bert.so"};
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

// Copies larger than the staging buffer (32 MiB) go through it in pieces: a 42 MB input and
// output, each element where it belongs.
TEST_CASE("vulkan: staging=always copies tensors past the staging buffer in pieces") {
  const loom::Engine engine = make_engine();
  const fs::path yaml = fs::temp_directory_path() / ("loom-vulkan-pieces-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(yaml) << "loom: 1\nname: pieces\ninputs:\n  - {name: x, dtype: f32, shape: [n]}\noutputs: [y]\n"
                         "nodes:\n  - {op: add, inputs: [x, x], outputs: [y]}\n";
  loom::SessionOptions so;
  so.backends = {"vulkan"};
  so.options = {{"vulkan.staging", "always"}};
  loom::Session s = engine.load(yaml, so);
  fs::remove(yaml);
  const int64_t n = 10'500'000;
  loom::Tensor x(loom::DType::f32, {n});
  for (int64_t i = 0; i < n; ++i) x.data_as<float>()[i] = static_cast<float>(i % 1000003) * 0.5f;
  const loom::TensorMap out = s.run({{"x", x}});
  const loom::Tensor& y = out.at("y");
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += y.data_as<float>()[i] != static_cast<float>(i % 1000003);
  CHECK(wrong == 0);
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
    // The device holds no bf16: KV caches kept in bf16 (kv_cache=bf16) are refused by name there,
    // where they would have moved the caches to the host.
    for (const std::vector<std::string>& backends : {std::vector<std::string>{"vulkan"}, {"vulkan", "onednn"}}) {
      loom::SessionOptions narrow{.backends = backends};
      narrow.options = {{"kv_cache", "bf16"}};
      CHECK_THROWS_WITH_AS(engine.compile(g, narrow), doctest::Contains("option kv_cache=bf16: backend 'vulkan' does not run node"),
                           loom::Error);
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

namespace {

struct Uploads {
  uint64_t constants = 0, bytes = 0, live_bytes = 0;
};

// The plugin's count of constant uploads (its test hook), from the copy the engine loaded.
Uploads uploads() {
  const fs::path file = fs::absolute(fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-vulkan.so").lexically_normal();
  void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE_MESSAGE(lib, "loom-vulkan.so is not loaded");
  using Hook = void (*)(uint64_t*, uint64_t*, uint64_t*);
  void* symbol = dlsym(lib, "loom_vulkan_constant_uploads");
  REQUIRE(symbol != nullptr);
  auto hook = reinterpret_cast<Hook>(symbol);
  Uploads u;
  hook(&u.constants, &u.bytes, &u.live_bytes);
  dlclose(lib);  // only the reference taken here
  return u;
}

}  // namespace

TEST_CASE("vulkan: the sessions of one engine upload each constant once and share it while any of them lives") {
  const loom::Engine engine = make_engine();
  const fs::path dir = kModels / "bert-base";
  const loom::Graph g = engine.load_graph(dir);
  loom::TensorMap in;
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"})
    in.emplace(name, loom::read_npy(dir / (std::string(name) + ".npy")));
  const loom::SessionOptions options{.backends = {"vulkan", "onednn"}};
  const Uploads before = uploads();

  std::optional<loom::Session> a(engine.compile(g, options));
  const loom::TensorMap first = a->run(in);
  const Uploads one = uploads();
  // The weights went up once: every weight of the checkpoint at most once, the big ones surely.
  const uint64_t weight_bytes = a->plan_memory({{"batch", 2}, {"seq", 8}}).weight_bytes;
  MESSAGE("one session: " << one.constants - before.constants << " constants, " << one.bytes - before.bytes << " bytes uploaded; "
                          << weight_bytes << " bytes of weights");
  CHECK(one.constants > before.constants);
  CHECK(one.bytes - before.bytes > weight_bytes / 2);
  CHECK(one.bytes - before.bytes < weight_bytes + 65536);
  CHECK(one.live_bytes - before.live_bytes >= one.bytes - before.bytes);
  for (const char* name : {"last_hidden_state", "pooler_output"}) {
    const loom::Comparison c = loom::compare(first.at(name), loom::read_npy(dir / ("expected_" + std::string(name) + ".npy")), 1e-3, 1e-3);
    INFO(name << ": " << c.mismatch);
    CHECK(c.ok());
  }

  // A second session finds every upload of the first: no weight goes up again, and it computes
  // the same bytes. Only the graph's literals (`one`, `mask_min`: 4 bytes each) are uploaded per
  // session, as each session holds its own copy of them at an address of its own, which the
  // host's cache keys by.
  constexpr uint64_t kLiterals = 64;
  loom::Session b = engine.compile(g, options);
  auto same = [&](const loom::TensorMap& out) {
    for (const auto& [name, t] : first) CHECK(loom::compare(out.at(name), t, 0, 0).ok());
  };
  same(b.run(in));
  const Uploads two = uploads();
  MESSAGE("second session: " << two.constants - one.constants << " constants, " << two.bytes - one.bytes << " bytes uploaded");
  CHECK(two.bytes - one.bytes <= kLiterals);
  CHECK(two.live_bytes - one.live_bytes <= 4 * kLiterals);

  // The first session goes while the second runs: its uploads stay as long as the second lives.
  std::vector<loom::TensorMap> results(4);
  std::thread runner([&] {
    for (auto& r : results) r = b.run(in);
  });
  a.reset();
  runner.join();
  for (const auto& r : results) same(r);
  same(b.run(in));
  CHECK(uploads().live_bytes == two.live_bytes);

  // A session compiled after the first went still finds the uploads, through the second's.
  {
    loom::Session c = engine.compile(g, options);
    same(c.run(in));
    CHECK(uploads().bytes - two.bytes <= kLiterals);
  }
  // Another engine has a cache of its own, so it uploads copies of its own.
  {
    const Uploads start = uploads();
    const loom::Engine other = make_engine();
    loom::Session d = other.compile(other.load_graph(dir), options);
    same(d.run(in));
    CHECK(uploads().bytes - start.bytes == one.bytes - before.bytes);
  }
  CHECK(uploads().live_bytes == two.live_bytes);
  { const loom::Session last = std::move(b); }  // the last user of the uploads goes, and they with it
  CHECK(uploads().live_bytes == before.live_bytes);
}
