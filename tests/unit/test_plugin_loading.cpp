// Loading real plugin libraries, good and broken ones, built by tests/plugins/ into
// LOOM_TEST_PLUGIN_DIR: every failure is recorded with what is wrong, the search order decides
// which of two same-named plugins wins, and a library stays mapped while its objects live.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/loom.hpp>

#include "plugins/plugin_host.hpp"

#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using loom::PluginRecord;
using loom::plugins::PluginRegistry;

namespace {

fs::path plugin(const std::string& name) { return fs::path(LOOM_TEST_PLUGIN_DIR) / ("loom-test-" + name + ".so"); }

loom::EngineOptions explicit_only(std::vector<fs::path> files) {
  loom::EngineOptions options;
  options.plugin_files = std::move(files);
  options.search_default_paths = false;
  return options;
}

// Loads one file on its own and returns its record.
PluginRecord load_alone(const fs::path& file) {
  PluginRegistry registry(explicit_only({file}));
  REQUIRE(registry.records().size() == 1);
  return registry.records()[0];
}

// A fresh folder under the system temp folder, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("loom-plugin-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Sets LOOM_PLUGIN_PATH for one test and puts back what was there.
struct PluginPathEnv {
  std::optional<std::string> saved;
  explicit PluginPathEnv(const std::string& value) {
    if (const char* old = std::getenv("LOOM_PLUGIN_PATH")) saved = old;
    ::setenv("LOOM_PLUGIN_PATH", value.c_str(), 1);
  }
  ~PluginPathEnv() {
    if (saved) ::setenv("LOOM_PLUGIN_PATH", saved->c_str(), 1);
    else ::unsetenv("LOOM_PLUGIN_PATH");
  }
};

bool mapped_in_maps(const fs::path& file) {
  const std::string wanted = fs::canonical(file).string();
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.size() >= wanted.size() && line.compare(line.size() - wanted.size(), wanted.size(), wanted) == 0)
      return true;
  return false;
}

bool in_link_map(const fs::path& file) {
  struct Search {
    std::string filename;
    bool found = false;
  } search{file.filename().string()};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        if (info->dlpi_name && fs::path(info->dlpi_name).filename() == s->filename) s->found = true;
        return 0;
      },
      &search);
  return search.found;
}

std::string ends_of(const PluginRecord& r) { return r.path.string() + " -> " + r.error; }

}  // namespace

TEST_CASE("plugins: a good backend loads with its descriptor and devices") {
  PluginRegistry registry(explicit_only({plugin("good")}));
  REQUIRE(registry.records().size() == 1);
  const PluginRecord& r = registry.records()[0];
  INFO(ends_of(r));
  CHECK(r.loaded);
  CHECK(r.error.empty());
  CHECK(r.origin == "--plugin");
  CHECK(r.path == plugin("good"));
  CHECK(r.name == "test-good");
  CHECK(r.kind == "backend");
  CHECK(r.version == "1.2.3");
  CHECK(r.description == "add on f32, for the plugin tests");
  CHECK(r.abi_major == LOOM_ABI_VERSION_MAJOR);
  CHECK(r.abi_minor == LOOM_ABI_VERSION_MINOR);
  REQUIRE(r.devices.size() == 1);
  CHECK(r.devices[0].name == "TestCPU");
  CHECK(r.devices[0].description == "plain loops, add only");
  CHECK(r.devices[0].host_memory);
  CHECK(r.architectures.empty());

  REQUIRE(registry.backends().size() == 1);
  REQUIRE(registry.backend("test-good"));
  CHECK(registry.backend("test-good")->path() == plugin("good"));
  CHECK_FALSE(registry.backend("test-model"));
  auto instance = registry.create_backend("test-good", 2);
  CHECK(instance->name() == "test-good");
  CHECK(instance->device() == "TestCPU");
  CHECK(instance->host_memory());
}

TEST_CASE("plugins: a text file named .so is not a shared library and dlerror says why") {
  const PluginRecord r = load_alone(fs::path(LOOM_TEST_PLUGIN_DIR) / "not-a-library.so");
  INFO(r.error);
  CHECK_FALSE(r.loaded);
  CHECK(r.error.find((fs::path(LOOM_TEST_PLUGIN_DIR) / "not-a-library.so").string()) == 0);
  CHECK(r.error.find("not a shared library") != std::string::npos);
  CHECK(r.error.find("ELF") != std::string::npos);  // dlerror's "invalid ELF header"
  CHECK(r.name.empty());
}

TEST_CASE("plugins: a file that does not exist or a folder is recorded") {
  PluginRecord r = load_alone(fs::path(LOOM_TEST_PLUGIN_DIR) / "loom-test-absent.so");
  CHECK_FALSE(r.loaded);
  CHECK(r.error.find("loom-test-absent.so: no such file") != std::string::npos);
  r = load_alone(fs::path(LOOM_TEST_PLUGIN_DIR) / "gone");
  CHECK_FALSE(r.loaded);
  CHECK(r.error.find("gone: not a regular file") != std::string::npos);
}

TEST_CASE("plugins: a library without the entry point is not a Loom plugin") {
  const PluginRecord r = load_alone(plugin("no-entry"));
  CHECK_FALSE(r.loaded);
  CHECK(r.error == plugin("no-entry").string() + ": no entry point loom_plugin_entry: not a Loom plugin");
}

TEST_CASE("plugins: an entry point returning NULL is recorded") {
  const PluginRecord r = load_alone(plugin("null-entry"));
  CHECK_FALSE(r.loaded);
  CHECK(r.error == plugin("null-entry").string() + ": loom_plugin_entry() returned NULL");
}

TEST_CASE("plugins: another ABI major is refused naming both versions and the file and what to do") {
  const PluginRecord r = load_alone(plugin("abi-major"));
  INFO(r.error);
  CHECK_FALSE(r.loaded);
  CHECK(r.abi_major == LOOM_ABI_VERSION_MAJOR + 1);
  const std::string theirs = std::to_string(LOOM_ABI_VERSION_MAJOR + 1) + ".0";
  const std::string ours = std::to_string(LOOM_ABI_VERSION_MAJOR) + "." + std::to_string(LOOM_ABI_VERSION_MINOR);
  CHECK(r.error == plugin("abi-major").string() + ": built for plugin ABI " + theirs + ", this Loom speaks " +
                       ours + ": rebuild the plugin against this Loom's SDK");
  // Nothing past the versions is trusted from a descriptor of another major.
  CHECK(r.name.empty());
}

TEST_CASE("plugins: a plugin built for ABI 1 is refused with a message that says to rebuild it") {
  const PluginRecord r = load_alone(plugin("abi-one"));
  CHECK_FALSE(r.loaded);
  CHECK(r.abi_major == 1);
  CHECK(r.error == plugin("abi-one").string() + ": built for plugin ABI 1.0, this Loom speaks " +
                       std::to_string(LOOM_ABI_VERSION_MAJOR) + "." + std::to_string(LOOM_ABI_VERSION_MINOR) +
                       ": rebuild the plugin against this Loom's SDK");
}

TEST_CASE("plugins: a newer ABI minor loads") {
  const PluginRecord r = load_alone(plugin("abi-minor"));
  INFO(r.error);
  CHECK(r.loaded);
  CHECK(r.abi_major == LOOM_ABI_VERSION_MAJOR);
  CHECK(r.abi_minor == LOOM_ABI_VERSION_MINOR + 1);
  CHECK(r.name == "test-abi-minor");
  REQUIRE(r.devices.size() == 1);
  CHECK(r.devices[0].name == "MinorCPU");
}

TEST_CASE("plugins: a missing dependency is recorded with dlerror's text naming it") {
  // The dependency exists, but where the loader does not look.
  REQUIRE(fs::exists(fs::path(LOOM_TEST_PLUGIN_DIR) / "gone" / "libloom-test-gone.so"));
  const PluginRecord r = load_alone(plugin("missing-dep"));
  INFO(r.error);
  CHECK_FALSE(r.loaded);
  CHECK(r.error.find(plugin("missing-dep").string() + ": missing dependency: ") == 0);
  CHECK(r.error.find("libloom-test-gone.so: cannot open shared object file") != std::string::npos);
}

TEST_CASE("plugins: init() refusing is recorded with the plugin's own message") {
  const PluginRecord r = load_alone(plugin("init-fails"));
  CHECK_FALSE(r.loaded);
  CHECK(r.name == "test-init-fails");
  CHECK(r.kind == "backend");
  CHECK(r.error == plugin("init-fails").string() + ": init() failed: no test accelerator found on this machine");
}

TEST_CASE("plugins: malformed descriptors are recorded") {
  PluginRecord r = load_alone(plugin("no-name"));
  CHECK_FALSE(r.loaded);
  CHECK(r.error == plugin("no-name").string() + ": the descriptor has no name");

  r = load_alone(plugin("unknown-kind"));
  CHECK_FALSE(r.loaded);
  CHECK(r.name == "test-unknown-kind");
  CHECK(r.kind.empty());
  CHECK(r.error.find(": unknown plugin kind 7") != std::string::npos);

  r = load_alone(plugin("no-backend-table"));
  CHECK_FALSE(r.loaded);
  CHECK(r.error.find(": backend plugin without a backend table") != std::string::npos);
}

TEST_CASE("plugins: counts and strings from a plugin are checked before they are used") {
  // 2^62 devices would have been read one by one into a list.
  const PluginRecord huge = load_alone(plugin("huge-device-count"));
  CHECK_FALSE(huge.loaded);
  CHECK(huge.error.find("loom-test-huge-device-count.so: device_count() returned 4611686018427387904, more than 4096 devices") !=
        std::string::npos);
  CHECK(huge.devices.empty());
  // A name is what users type after --backend: it may not hold control bytes.
  const PluginRecord named = load_alone(plugin("control-name"));
  CHECK_FALSE(named.loaded);
  CHECK(named.error.find("the plugin name 'test-\\x1b[31mred' holds control characters") != std::string::npos);
  CHECK(named.error.find('\x1b') == std::string::npos);
  // Device names and descriptions are only shown: kept, escaped.
  const PluginRecord odd = load_alone(plugin("odd-device"));
  CHECK(odd.loaded);
  REQUIRE(odd.devices.size() == 1);
  CHECK(odd.devices[0].name == "dev\\x1b[2J");
  CHECK(odd.devices[0].description == "desc \\u202e reversed");
}

TEST_CASE("plugins: a backend that finds no device loads and lists none and cannot be created") {
  PluginRegistry registry(explicit_only({plugin("no-devices")}));
  const PluginRecord& r = registry.records().at(0);
  INFO(r.error);
  CHECK(r.loaded);
  CHECK(r.devices.empty());
  CHECK_THROWS_WITH_AS(registry.create_backend("test-no-devices", 0), doctest::Contains("no devices available"),
                       loom::Error);
}

TEST_CASE("plugins: failures are not fatal and good plugins around them still load") {
  PluginRegistry registry(explicit_only({plugin("abi-major"), fs::path(LOOM_TEST_PLUGIN_DIR) / "not-a-library.so",
                                         plugin("good"), plugin("missing-dep"), plugin("model")}));
  REQUIRE(registry.records().size() == 5);
  std::vector<bool> loaded;
  for (const auto& r : registry.records()) loaded.push_back(r.loaded);
  CHECK(loaded == std::vector<bool>{false, false, true, false, true});
  CHECK(registry.backends().size() == 1);
  CHECK(registry.model_named("test-model"));
  CHECK_THROWS_WITH_AS(registry.create_backend("onednn", 0),
                       doctest::Contains("no backend plugin named 'onednn' is loaded (loaded: test-good)"), loom::Error);
}

TEST_CASE("plugins: a screen asked before each load can refuse a file, which is then not loaded") {
  std::vector<fs::path> asked;
  loom::EngineOptions options = explicit_only({plugin("good"), plugin("model")});
  options.screen = [&](const fs::path& file) -> std::string {
    asked.push_back(file);
    return file == plugin("good") ? "crashed while loading (signal SIGSEGV)" : "";
  };
  PluginRegistry registry(options);
  CHECK(asked == std::vector<fs::path>{plugin("good"), plugin("model")});
  REQUIRE(registry.records().size() == 2);
  CHECK_FALSE(registry.records()[0].loaded);
  CHECK(registry.records()[0].error == plugin("good").string() + ": crashed while loading (signal SIGSEGV)");
  CHECK(registry.records()[0].origin == "--plugin");
  CHECK(registry.backends().empty());
  CHECK(registry.records()[1].loaded);
}

TEST_CASE("plugins: a second plugin of the same name is a duplicate and the first wins") {
  PluginRegistry registry(explicit_only({plugin("good"), plugin("good-copy")}));
  REQUIRE(registry.records().size() == 2);
  const PluginRecord& second = registry.records()[1];
  CHECK(registry.records()[0].loaded);
  CHECK_FALSE(second.loaded);
  CHECK(second.name == "test-good");
  CHECK(second.error == plugin("good-copy").string() + ": duplicate plugin name 'test-good': already loaded from " +
                            plugin("good").string());
  REQUIRE(registry.backends().size() == 1);
  CHECK(registry.backend("test-good")->path() == plugin("good"));
}

TEST_CASE("plugins: the same file reached twice is tried once") {
  TempDir dir;
  fs::create_symlink(plugin("good"), dir.path / "loom-link.so");
  PluginRegistry registry(explicit_only(
      {plugin("good"), dir.path / "loom-link.so", fs::path(LOOM_TEST_PLUGIN_DIR) / "gone" / ".." / "loom-test-good.so"}));
  CHECK(registry.records().size() == 1);
  const PluginRecord& again = registry.load_file(dir.path / "loom-link.so", "api");
  CHECK(&again == &registry.records()[0]);
  CHECK(registry.records().size() == 1);
  CHECK(registry.load_file(plugin("model"), "api").origin == "api");
  CHECK(registry.records().size() == 2);
}

TEST_CASE("plugins: a folder on LOOM_PLUGIN_PATH tries only loom-NAME.so files sorted by name") {
  PluginPathEnv env("::" + std::string(LOOM_TEST_PLUGIN_DIR) + ":");
  PluginRegistry registry(loom::EngineOptions{});

  std::vector<std::string> expected;
  for (const auto& entry : fs::directory_iterator(LOOM_TEST_PLUGIN_DIR)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.starts_with("loom-") && name.ends_with(".so")) expected.push_back(name);
  }
  std::sort(expected.begin(), expected.end());
  REQUIRE(expected.size() >= 13);

  // The test binary's folder holds no plugin and the build tree is no install, so only the
  // LOOM_PLUGIN_PATH folder contributes; not-a-library.so and gone/ are never tried.
  std::vector<std::string> tried;
  for (const auto& r : registry.records()) {
    CHECK(r.origin == "LOOM_PLUGIN_PATH");
    tried.push_back(r.path.filename().string());
  }
  CHECK(tried == expected);

  // "loom-test-good-copy.so" sorts before "loom-test-good.so", so the copy wins.
  REQUIRE(registry.backend("test-good"));
  CHECK(registry.backend("test-good")->path().filename() == "loom-test-good-copy.so");
  for (const auto& r : registry.records()) {
    INFO(ends_of(r));
    const bool should_load = r.name == "test-abi-minor" || r.name == "test-model" || r.name == "toymlp" ||
                             r.name == "test-no-devices" || r.name == "test-odd-device" ||
                             (r.name == "test-good" && r.path.filename() == "loom-test-good-copy.so");
    CHECK(r.loaded == should_load);
  }
  CHECK(registry.model_for("test-arch-a"));
}

// A backend found in a folder is started (init, devices) only when something needs it, so that a
// process naming its backends never starts the others' drivers; one that fails to start is then
// recorded as failing and is not a backend. Files named explicitly start as they load.
TEST_CASE("plugins: a backend found in a folder starts when first needed") {
  TempDir dir;
  fs::copy_file(plugin("good"), dir.path / "loom-test-good.so");
  fs::copy_file(plugin("init-fails"), dir.path / "loom-test-init-fails.so");
  PluginPathEnv env(dir.path.string());
  PluginRegistry registry(loom::EngineOptions{});
  auto record = [&](const std::string& name) {
    for (const auto& r : registry.records_as_loaded())
      if (r.name == name) return r;
    FAIL("no record of " << name);
    return PluginRecord{};
  };
  // Loaded, not started: no devices yet, and the failing init has not run.
  CHECK(record("test-good").loaded);
  CHECK(record("test-good").devices.empty());
  CHECK(record("test-init-fails").loaded);
  CHECK(record("test-init-fails").error.empty());

  REQUIRE(registry.backend("test-good"));
  CHECK(record("test-good").devices.size() == 1);
  CHECK(record("test-init-fails").error.empty());  // still not needed

  CHECK_FALSE(registry.backend("test-init-fails"));
  CHECK_FALSE(record("test-init-fails").loaded);
  CHECK(record("test-init-fails").error.find("init() failed: no test accelerator found on this machine") != std::string::npos);
  REQUIRE(registry.backends().size() == 1);
  CHECK(registry.backends()[0]->name() == "test-good");

  // Explicit files start as they load.
  PluginRegistry named(explicit_only({plugin("good")}));
  REQUIRE(named.records_as_loaded().size() == 1);
  CHECK(named.records_as_loaded()[0].devices.size() == 1);
}

// A session that names no backends takes every backend in load order, but creates (and starts)
// a later one only where the ones before it leave it a node, or an option names it: a CPU
// session does not start a GPU driver it would never use.
TEST_CASE("plugins: a default session starts a later backend only where the ones before leave it a node") {
  TempDir dir;
  fs::copy_file(plugin("good"), dir.path / "loom-test-good.so");  // runs add only
  fs::copy_file(plugin("init-fails"), dir.path / "loom-test-init-fails.so");
  PluginPathEnv env(dir.path.string());
  auto init_error = [](const loom::Engine& engine) {
    for (const auto& r : engine.plugins_as_loaded())
      if (r.name == "test-init-fails") return r.error;
    FAIL("no record of test-init-fails");
    return std::string();
  };
  const std::string head = "loom: 1\ninputs:\n  - {name: x, dtype: f32, shape: [4]}\noutputs: [y]\nnodes:\n";
  const loom::Graph add = loom::parse_graph_yaml(head + "  - {op: add, inputs: [x, x], outputs: [y]}\n", "add.yaml");
  {
    loom::Engine engine{loom::EngineOptions{}};
    loom::Session s = engine.compile(add);
    CHECK(s.placement().partitions.size() == 1);
    CHECK(init_error(engine).empty());  // never started
  }
  {
    // An option for it: started to check it, and refused as a backend that failed to start.
    loom::Engine engine{loom::EngineOptions{}};
    CHECK_THROWS_WITH_AS(engine.compile(add, {.options = {{"test-init-fails.colour", "red"}}}),
                         doctest::Contains("option 'test-init-fails.colour' is for backend 'test-init-fails', which this session does not use"),
                         loom::Error);
    CHECK(init_error(engine).find("init() failed") != std::string::npos);
  }
  {
    // relu is left to the later backend, which is started for it, fails to start, and so is not
    // among the session's backends: no backend runs relu.
    loom::Engine engine{loom::EngineOptions{}};
    CHECK_THROWS_WITH_AS(engine.compile(loom::parse_graph_yaml(head + "  - {op: add, inputs: [x, x], outputs: [s]}\n"
                                                               "  - {op: relu, inputs: [s], outputs: [y]}\n", "add-relu.yaml")),
                         doctest::Contains("no backend can run this node"), loom::Error);
    CHECK(init_error(engine).find("init() failed") != std::string::npos);
  }
}

#ifdef LOOM_TEST_ONEDNN
TEST_CASE("plugins: a later backend a default session needs runs the nodes the first one declines") {
  TempDir dir;
  fs::copy_file(plugin("good"), dir.path / "loom-test-good.so");  // runs add only
  fs::copy_file(fs::path(LOOM_BUILD_PLUGIN_DIR) / "loom-onednn.so", dir.path / "loom-zz-onednn.so");
  PluginPathEnv env(dir.path.string());
  loom::Engine engine{loom::EngineOptions{}};
  loom::Session s = engine.compile(loom::parse_graph_yaml(
      "loom: 1\ninputs:\n  - {name: x, dtype: f32, shape: [4]}\noutputs: [y]\nnodes:\n"
      "  - {op: add, inputs: [x, x], outputs: [s]}\n  - {op: relu, inputs: [s], outputs: [y]}\n",
      "add-relu.yaml"));
  REQUIRE(s.placement().partitions.size() == 2);
  CHECK(s.placement().partitions[0].backend == "test-good");
  CHECK(s.placement().partitions[1].backend == "onednn");
  loom::Tensor x(loom::DType::f32, {4});
  for (int i = 0; i < 4; ++i) x.data_as<float>()[i] = static_cast<float>(i) - 1.5f;
  const loom::Tensor y = s.run({{"x", x}}).at("y");
  for (int i = 0; i < 4; ++i) CHECK(y.data_as<float>()[i] == std::max(0.0f, 2 * x.data_as<float>()[i]));
}
#endif

TEST_CASE("plugins: search order is explicit files then LOOM_PLUGIN_PATH then install then executable folder") {
  TempDir first, second;
  fs::copy_file(plugin("model"), first.path / "loom-model-first.so");
  fs::copy_file(plugin("model"), second.path / "loom-model-second.so");
  fs::create_symlink(plugin("good"), second.path / "loom-good-link.so");
  fs::create_directory(second.path / "loom-folder.so");  // a folder with a plugin's name is no plugin
  const std::string missing = (first.path / "absent").string();
  PluginPathEnv env(first.path.string() + ":" + second.path.string() + ":" + first.path.string() + ":" + missing);

  const auto folders = loom::plugins::default_search_folders();
  REQUIRE(folders.size() >= 5);
  CHECK(folders[0] == std::pair{first.path, std::string("LOOM_PLUGIN_PATH")});
  CHECK(folders[1] == std::pair{second.path, std::string("LOOM_PLUGIN_PATH")});
  CHECK(folders[3] == std::pair{fs::path(missing), std::string("LOOM_PLUGIN_PATH")});
  CHECK(folders.back().second == "executable folder");
  CHECK(folders.back().first == loom::plugins::executable_dir());
  // libloom sits in the build tree (core/), not in <prefix>/lib: there is no install folder.
  CHECK(loom::plugins::install_plugin_dir().empty());

  loom::EngineOptions options;
  options.plugin_files = {plugin("good")};
  PluginRegistry registry(options);
  const auto& records = registry.records();
  REQUIRE(records.size() == 4);
  CHECK(records[0].path == plugin("good"));
  CHECK(records[0].origin == "--plugin");
  CHECK(records[0].loaded);
  CHECK(records[1].path == first.path / "loom-model-first.so");
  CHECK(records[1].origin == "LOOM_PLUGIN_PATH");
  CHECK(records[1].loaded);
  CHECK(records[2].path == second.path / "loom-model-second.so");
  CHECK_FALSE(records[2].loaded);
  CHECK(records[2].error.find("duplicate plugin name 'test-model': already loaded from " +
                              (first.path / "loom-model-first.so").string()) != std::string::npos);
  // The symlink leads to a file already tried and the first folder is listed twice: neither is
  // tried again. A folder the user named that does not exist is recorded.
  CHECK(records[3].path == fs::path(missing));
  CHECK(records[3].error == missing + ": no such folder");
  CHECK(registry.model_for("test-arch-b")->path() == first.path / "loom-model-first.so");
}

TEST_CASE("plugins: the install's plugin folder is found from libloom's own folder") {
  namespace lp = loom::plugins;
  const fs::path plugins_rel = LOOM_TEST_PLUGIN_REL_DIR;
  const fs::path lib_rel = LOOM_TEST_LIB_REL_DIR;
  CHECK(lp::install_plugin_dir("/opt/loom" / lib_rel) == "/opt/loom" / plugins_rel);
  CHECK(lp::install_plugin_dir("/opt/loom" / lib_rel / "") == "/opt/loom" / plugins_rel);
  CHECK(lp::install_plugin_dir("/opt/loom/build/core").empty());
  CHECK(lp::library_dir() == fs::canonical(LOOM_BUILD_DIR "/core"));
}

TEST_CASE("plugins: a model plugin lists its architectures and expands through the ABI") {
  PluginRegistry registry(explicit_only({plugin("model")}));
  const PluginRecord& r = registry.records().at(0);
  INFO(r.error);
  REQUIRE(r.loaded);
  CHECK(r.kind == "model");
  CHECK(r.version == "0.2");
  CHECK(r.architectures == std::vector<std::string>{"test-arch-a", "test-arch-b"});
  CHECK(r.devices.empty());
  auto lib = registry.model_for("test-arch-b");
  REQUIRE(lib);
  CHECK(lib == registry.model_named("test-model"));
  CHECK_FALSE(registry.model_for("bert"));
  CHECK_FALSE(registry.model_named("test-good"));
  CHECK(registry.backends().empty());

  const loom_model_plugin& model = *lib->descriptor().model;
  loom_model_request request{sizeof(loom_model_request), "test-arch-b", "{}", "/ckpt", "model.safetensors",
                             "fill-mask", "{}"};
  loom_model_result* result = nullptr;
  loom::plugins::check_status(model.expand(lib->state(), &request, &result), "expand");
  REQUIRE(result);
  CHECK(std::string(result->graph_yaml) == "format: 1\nname: test-arch-b-fill-mask\n");
  model.release_result(lib->state(), result);

  request.task = "unknown-task";
  result = nullptr;
  CHECK_THROWS_WITH_AS(loom::plugins::check_status(model.expand(lib->state(), &request, &result), "test-model: expand"),
                       "test-model: expand: task 'unknown-task' is not supported", loom::Error);
  CHECK(result == nullptr);
}

TEST_CASE("plugins: statuses become messages and are released") {
  CHECK(loom::plugins::take_status(nullptr).empty());
  CHECK_NOTHROW(loom::plugins::check_status(nullptr, "anything"));
  static int released = 0;
  released = 0;
  loom_status st{sizeof(loom_status), LOOM_STATUS_ERROR, "it broke", [](loom_status*) { ++released; }};
  CHECK(loom::plugins::take_status(&st) == "it broke");
  CHECK(released == 1);
  loom_status silent{sizeof(loom_status), LOOM_STATUS_ERROR, nullptr, [](loom_status*) { ++released; }};
  CHECK_THROWS_WITH_AS(loom::plugins::check_status(&silent, "ctx"), "ctx: (no message)", loom::Error);
  CHECK(released == 2);
}

namespace {

// Runs c = a + b through the backend's C interface, as a session would.
std::vector<float> run_add(const loom::plugins::BackendInstance& instance, std::vector<float> a, std::vector<float> b) {
  const loom_backend& api = instance.api();
  const int64_t dims[1] = {static_cast<int64_t>(a.size())};
  const loom_value values[3] = {
      {sizeof(loom_value), "a", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, 1, dims, nullptr, nullptr, 0},
      {sizeof(loom_value), "b", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, 1, dims, nullptr, nullptr, 0},
      {sizeof(loom_value), "c", LOOM_VALUE_OUTPUT, LOOM_DTYPE_F32, 1, dims, nullptr, nullptr, 0}};
  const int32_t inputs[2] = {0, 1}, outputs[1] = {2};
  const loom_node node{sizeof(loom_node), "sum", "add", 2, inputs, 1, outputs, 0, nullptr};
  const loom_graph_view graph{sizeof(loom_graph_view), 3, values, 1, &node};

  loom_status* reason = nullptr;
  REQUIRE(api.supports_node(api.self, &graph, 0, &reason) == 1);
  void* executable = nullptr;
  const loom_compile_options options{sizeof(loom_compile_options), "add-test"};
  loom::plugins::check_status(api.compile(api.self, &graph, &options, &executable), "compile");
  const int32_t ranks[3] = {1, 1, 1};
  const int64_t* shape_dims[3] = {dims, dims, dims};
  const loom_shape_set shapes{sizeof(loom_shape_set), 3, ranks, shape_dims};
  void* plan = nullptr;
  uint64_t scratch = 0;
  loom::plugins::check_status(api.prepare(api.self, executable, &shapes, &plan, &scratch), "prepare");
  std::vector<float> c(a.size());
  const loom_tensor tensors[3] = {{sizeof(loom_tensor), LOOM_DTYPE_F32, 1, dims, nullptr, a.data(), nullptr, 0},
                                  {sizeof(loom_tensor), LOOM_DTYPE_F32, 1, dims, nullptr, b.data(), nullptr, 0},
                                  {sizeof(loom_tensor), LOOM_DTYPE_F32, 1, dims, nullptr, c.data(), nullptr, 0}};
  const loom_run_args args{sizeof(loom_run_args), 3, tensors, nullptr, nullptr, 0, 0, nullptr, nullptr};
  loom::plugins::check_status(api.run(api.self, plan, &args), "run");
  api.release_plan(api.self, plan);
  api.release_executable(api.self, executable);
  return c;
}

}  // namespace

TEST_CASE("plugins: a library stays loaded while a backend instance from it lives") {
  // A private copy, so that no other test's use of the same file keeps it mapped.
  TempDir dir;
  const fs::path file = dir.path / "loom-lifetime.so";
  fs::copy_file(plugin("good"), file);
  CHECK_FALSE(mapped_in_maps(file));

  std::shared_ptr<loom::plugins::BackendInstance> instance;
  {
    PluginRegistry registry(explicit_only({file}));
    REQUIRE(registry.records().at(0).loaded);
    instance = registry.create_backend("test-good", 1);
    CHECK(mapped_in_maps(file));
    CHECK(in_link_map(file));
    // A node the backend cannot run is declined with its reason.
    const int64_t dims[1] = {2};
    const loom_value v{sizeof(loom_value), "x", LOOM_VALUE_INPUT, LOOM_DTYPE_F32, 1, dims, nullptr, nullptr, 0};
    const int32_t io[1] = {0};
    const loom_node node{sizeof(loom_node), "m", "matmul", 1, io, 1, io, 0, nullptr};
    const loom_graph_view graph{sizeof(loom_graph_view), 1, &v, 1, &node};
    loom_status* reason = nullptr;
    CHECK(instance->api().supports_node(instance->api().self, &graph, 0, &reason) == 0);
    CHECK(loom::plugins::take_status(reason) == "only add is implemented");
  }
  // The registry is gone; the instance still holds the library, and it still works.
  CHECK(mapped_in_maps(file));
  CHECK(in_link_map(file));
  CHECK(run_add(*instance, {1, 2, 3}, {10, 20, 30.5f}) == std::vector<float>{11, 22, 33.5f});

  instance.reset();
  CHECK_FALSE(mapped_in_maps(file));
  CHECK_FALSE(in_link_map(file));
}

TEST_CASE("plugins: a failed load leaves nothing mapped") {
  TempDir dir;
  const fs::path file = dir.path / "loom-init-fails.so";
  fs::copy_file(plugin("init-fails"), file);
  const PluginRecord r = load_alone(file);
  CHECK_FALSE(r.loaded);
  CHECK_FALSE(mapped_in_maps(file));
}
