// Sessions of one engine over the same weights share them: one mapping of each weights file
// (io/weight_files.hpp), and one copy of each constant a backend keeps in a layout of its own,
// held by the engine's packed-constant cache (loom_compile_options.find_packed / store_packed).
// The device backend of tests/external-backend uploads each constant once per engine through it.
#include "io/weight_files.hpp"

#include <loom/engine.hpp>
#include <loom/plugin_sdk.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>
#include "scratch_dir.hpp"

namespace {

using namespace loom;
namespace fs = std::filesystem;

const fs::path kWeights = fs::path(LOOM_TEST_DATA_DIR) / "external-backend" / "graph.safetensors";

fs::path temp_dir() {
  return loom::test::scratch_dir("shared_weights");
}

// y = x * scale on the device backend; scale (16 floats, 64 bytes) comes from the weights file.
Graph scale_graph(const fs::path& weights) {
  return parse_graph_yaml(R"(loom: 1
name: scaled
weights: )" + weights.string() + R"(
inputs:
  - {name: x, dtype: f32, shape: [n, 16]}
outputs: [y]
initializers:
  - {name: scale, dtype: f32, shape: [16]}
nodes:
  - {op: mul, inputs: [x, scale], outputs: [y]}
)",
                          "scaled.yaml");
}

Engine device_engine() {
  EngineOptions o;
  o.plugin_files = {fs::path(LOOM_TEST_DEVICE_PLUGIN)};
  o.search_default_paths = false;
  Engine e(o);
  REQUIRE_MESSAGE(e.plugins().front().loaded, e.plugins().front().error);
  return e;
}

void check_scaled(Session& s, const Tensor& scale) {
  Tensor x(DType::f32, {2, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = static_cast<float>(i) - 7.5f;
  const Tensor y = s.run({{"x", x}}).at("y");
  for (int64_t i = 0; i < x.numel(); ++i)
    REQUIRE(y.data_as<float>()[i] == x.data_as<float>()[i] * scale.data_as<float>()[i % 16]);
}

}  // namespace

TEST_CASE("shared weights: a file is mapped once while any holder lives, by any path to it") {
  const fs::path dir = temp_dir();
  const fs::path file = dir / "w.safetensors", link = dir / "w-link.safetensors";
  fs::copy_file(kWeights, file, fs::copy_options::overwrite_existing);
  fs::remove(link);
  fs::create_symlink(file, link);

  WeightFiles files;
  auto a = files.open(file);
  CHECK(files.open(file) == a);
  CHECK(files.open(dir / "." / "w.safetensors") == a);
  CHECK(files.open(link) == a);
  CHECK(files.mapped() == 1);

  // Rewritten on disk (a new modification time): mapped anew; the old mapping stays with its holders.
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  auto b = files.open(file);
  CHECK(b != a);
  CHECK(files.mapped() == 2);
  a.reset();
  CHECK(files.mapped() == 1);
  b.reset();
  CHECK(files.mapped() == 0);
}

TEST_CASE("shared weights: a small tensor's owned copy is made once per mapping and holds the file's bytes") {
  WeightFiles files;
  auto f = files.open(kWeights);
  const Tensor mapped = f->tensor("scale");
  const Tensor a = files.owned(f, "scale");
  const Tensor b = files.owned(f, "scale");
  CHECK(a.data() == b.data());
  CHECK(a.data() != mapped.data());  // not read in the mapping at every run
  CHECK(a.dtype() == mapped.dtype());
  CHECK(a.shape() == mapped.shape());
  CHECK(std::memcmp(a.data(), mapped.data(), mapped.nbytes()) == 0);
  CHECK(files.widened_bytes() == 0);  // counted apart from the widened copies
}

TEST_CASE("shared weights: two sessions over one graph hold one packed copy of each constant") {
  Engine engine = device_engine();
  const Graph g = scale_graph(kWeights);
  const Tensor scale = SafetensorsFile::open(kWeights)->tensor("scale");
  CHECK(engine.packed_bytes() == 0);
  std::optional<Session> first = engine.compile(g, {.backends = {"external"}});
  CHECK(first->plan_memory({{"n", 2}}).packed_bytes == 64);
  CHECK(engine.packed_bytes() == 64);
  Session second = engine.compile(g, {.backends = {"external"}});
  CHECK(second.plan_memory({{"n", 2}}).packed_bytes == 64);
  CHECK(engine.packed_bytes() == 64);  // one upload for both sessions
  check_scaled(*first, scale);
  check_scaled(second, scale);

  // The same graph from another copy of the file has other bytes: another upload.
  const fs::path copy = temp_dir() / "copy.safetensors";
  fs::copy_file(kWeights, copy, fs::copy_options::overwrite_existing);
  std::optional<Session> other = engine.compile(scale_graph(copy), {.backends = {"external"}});
  CHECK(engine.packed_bytes() == 128);
  check_scaled(*other, scale);
  other.reset();
  CHECK(engine.packed_bytes() == 64);

  first.reset();  // the copy lives on with the session that still uses it
  CHECK(engine.packed_bytes() == 64);
  check_scaled(second, scale);
}

TEST_CASE("shared weights: an engine's copies go with its last session") {
  Engine engine = device_engine();
  {
    Session s = engine.compile(scale_graph(kWeights), {.backends = {"external"}});
    CHECK(engine.packed_bytes() == 64);
  }
  CHECK(engine.packed_bytes() == 0);
}

TEST_CASE("shared weights: an SDK backend compiled by a 2.0 host sees no cache and reads nothing past the options") {
  // A backend that records whether the host offered the cache.
  struct Probe : loom::sdk::Backend {
    bool* offered;
    explicit Probe(bool* o) : offered(o) {}
    std::optional<std::string> unsupported_reason(const loom::sdk::GraphView&, size_t) override { return std::nullopt; }
    std::unique_ptr<loom::sdk::Executable> compile(const loom::sdk::GraphView&, const loom_compile_options& o) override {
      *offered = loom::sdk::ConstantCache(o).available();
      return nullptr;
    }
  };
  bool offered = true;
  loom_backend* b = loom::sdk::detail::wrap_backend(std::make_unique<Probe>(&offered));
  loom_graph_view view{sizeof(loom_graph_view), 0, nullptr, 0, nullptr};
  // A 2.0 host's options end before packed_context: held in exactly that many bytes, so that a
  // read past them is a heap overflow the sanitizer build reports.
  loom_compile_options old{};
  old.struct_size = offsetof(loom_compile_options, packed_context);
  std::vector<std::byte> bytes(old.struct_size);
  old.graph_name = "old";
  std::memcpy(bytes.data(), &old, old.struct_size);
  void* exe = nullptr;
  loom_status* st = b->compile(b->self, &view, reinterpret_cast<const loom_compile_options*>(bytes.data()), &exe);
  CHECK(st == nullptr);
  CHECK_FALSE(offered);
  b->release(b->self);
}
