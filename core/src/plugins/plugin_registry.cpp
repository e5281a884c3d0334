// Finding plugins: explicit files, then LOOM_PLUGIN_PATH, the install's plugin folder and the
// executable's folder. System folders are never searched, so a stray library elsewhere on the
// machine cannot change what an install runs.
#include "plugins/plugin_host.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <system_error>

#include <boost/dll/runtime_symbol_info.hpp>

namespace loom::plugins {

namespace fs = std::filesystem;

namespace {

// The same file reached twice (a symlink, a folder listed twice) is recognised by this key.
fs::path identity(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::canonical(file, ec);
  if (!ec) return canonical;
  canonical = fs::weakly_canonical(file, ec);
  return ec ? fs::absolute(file, ec).lexically_normal() : canonical;
}

bool is_plugin_file_name(const std::string& name) {
  constexpr std::string_view prefix = "loom-", suffix = ".so";
  return name.size() > prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Removes LOOM_LIB_REL_DIR's trailing components from `dir`; empty if `dir` does not end with them.
fs::path strip_suffix(const fs::path& dir, const fs::path& suffix) {
  std::vector<fs::path> parts(dir.begin(), dir.end()), tail(suffix.begin(), suffix.end());
  std::erase_if(parts, [](const fs::path& p) { return p.empty(); });
  std::erase_if(tail, [](const fs::path& p) { return p.empty() || p == "."; });
  if (tail.empty() || tail.size() >= parts.size()) return {};
  if (!std::equal(tail.begin(), tail.end(), parts.end() - static_cast<std::ptrdiff_t>(tail.size()))) return {};
  fs::path prefix;
  for (auto it = parts.begin(); it != parts.end() - static_cast<std::ptrdiff_t>(tail.size()); ++it) prefix /= *it;
  return prefix;
}

}  // namespace

fs::path library_dir() {
  std::error_code ec;
  // this_line_location is static inline, so it names the module that compiled this line: libloom.
  const fs::path location = boost::dll::this_line_location(ec);
  if (ec) return {};
  const fs::path canonical = fs::canonical(location, ec);
  return (ec ? location : canonical).parent_path();
}

fs::path executable_dir() {
  std::error_code ec;
  const fs::path location = boost::dll::program_location(ec);
  if (ec) return {};
  return location.parent_path();
}

fs::path install_plugin_dir() { return install_plugin_dir(library_dir()); }

fs::path install_plugin_dir(const fs::path& lib_dir) {
  const fs::path prefix = strip_suffix(lib_dir, LOOM_LIB_REL_DIR);
  if (prefix.empty()) return {};
  return prefix / LOOM_PLUGIN_REL_DIR;
}

std::vector<std::pair<fs::path, std::string>> default_search_folders() {
  std::vector<std::pair<fs::path, std::string>> folders;
  if (const char* env = std::getenv("LOOM_PLUGIN_PATH")) {
    std::string_view rest = env;
    while (true) {
      const size_t colon = rest.find(':');
      const std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) folders.emplace_back(fs::path(entry), "LOOM_PLUGIN_PATH");
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  if (fs::path dir = install_plugin_dir(); !dir.empty()) folders.emplace_back(dir, "install");
  if (fs::path dir = executable_dir(); !dir.empty()) folders.emplace_back(dir, "executable folder");
  return folders;
}

PluginRegistry::PluginRegistry(const EngineOptions& options) : screen_(options.screen) {
  for (const fs::path& file : options.plugin_files) load_file(file, "--plugin");
  if (!options.search_default_paths) return;
  for (const auto& [dir, origin] : default_search_folders())
    search_folder(dir, origin, /*must_exist=*/origin == "LOOM_PLUGIN_PATH");
}

const PluginRecord& PluginRegistry::load_file(const fs::path& file, const std::string& origin) {
  const fs::path id = identity(file);
  if (auto it = std::find(tried_.begin(), tried_.end(), id); it != tried_.end())
    return records_[static_cast<size_t>(it - tried_.begin())];

  PluginRecord record;
  record.origin = origin;
  if (screen_) {
    if (std::string refused = screen_(file); !refused.empty()) {
      std::error_code ec;
      const fs::path absolute = fs::absolute(file, ec).lexically_normal();
      record.path = ec ? file : absolute;
      record.error = record.path.string() + ": " + refused;
      records_.push_back(std::move(record));
      tried_.push_back(id);
      return records_.back();
    }
  }
  auto owner = [this](std::string_view name) -> std::optional<fs::path> {
    for (const auto& lib : loaded_)
      if (lib->name() == name) return lib->path();
    return std::nullopt;
  };
  // Backends found in folders start when first needed; files named by the user start now, so
  // that their errors show at once.
  const bool defer = origin != "--plugin" && origin != "api";
  if (auto lib = PluginLibrary::load(file, record, owner, defer)) {
    record_of_[lib.get()] = records_.size();
    loaded_.push_back(std::move(lib));
  }
  records_.push_back(std::move(record));
  tried_.push_back(id);
  return records_.back();
}

bool PluginRegistry::start(const std::shared_ptr<PluginLibrary>& lib) const {
  std::lock_guard<std::mutex> lock(start_mutex_);
  if (lib->start(records_[record_of_.at(lib.get())])) return true;
  // Kept loaded for the rest of the engine's life, unused, as a failed init is: the record says why.
  return false;
}

void PluginRegistry::start_all() const {
  for (const auto& lib : loaded_) start(lib);
}

void PluginRegistry::search_folder(const fs::path& dir, const std::string& origin, bool must_exist) {
  std::error_code ec;
  const bool is_dir = fs::is_directory(dir, ec);
  std::vector<fs::path> files;
  if (is_dir) {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!is_plugin_file_name(it->path().filename().string())) continue;
      std::error_code file_ec;
      if (it->is_regular_file(file_ec)) files.push_back(it->path());
    }
  }
  if (!is_dir || ec) {
    // A missing install or executable folder is normal; a folder the user named is not.
    if (!must_exist && !is_dir) return;
    PluginRecord record;
    record.path = dir;
    record.origin = origin;
    record.error = dir.string() + ": " + (is_dir ? "cannot list folder: " + ec.message() : "no such folder");
    records_.push_back(std::move(record));
    tried_.push_back(identity(dir));
    if (!is_dir) return;
  }
  // Sorted so that which of two same-named plugins wins does not depend on the file system.
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) load_file(file, origin);
}

std::vector<std::shared_ptr<PluginLibrary>> PluginRegistry::backends() const {
  std::vector<std::shared_ptr<PluginLibrary>> out;
  for (const auto& lib : loaded_)
    if (lib->descriptor().kind == LOOM_PLUGIN_BACKEND && start(lib)) out.push_back(lib);
  return out;
}

std::vector<std::string> PluginRegistry::default_candidates() const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(start_mutex_);  // start() sets the flags under it
  for (const auto& lib : loaded_)
    if (lib->descriptor().kind == LOOM_PLUGIN_BACKEND && records_[record_of_.at(lib.get())].loaded &&
        (!lib->started() || !lib->on_request()))
      out.push_back(lib->name());
  return out;
}

std::shared_ptr<PluginLibrary> PluginRegistry::backend(const std::string& name) const {
  for (const auto& lib : loaded_)
    if (lib->descriptor().kind == LOOM_PLUGIN_BACKEND && lib->name() == name) return start(lib) ? lib : nullptr;
  return nullptr;
}

std::shared_ptr<PluginLibrary> PluginRegistry::model_for(const std::string& arch) const {
  for (const auto& lib : loaded_) {
    if (lib->descriptor().kind != LOOM_PLUGIN_MODEL) continue;
    const loom_model_plugin& model = *lib->descriptor().model;
    for (size_t i = 0; i < model.num_architectures; ++i)
      if (arch == model.architectures[i]) return lib;
  }
  return nullptr;
}

std::shared_ptr<PluginLibrary> PluginRegistry::model_named(const std::string& name) const {
  for (const auto& lib : loaded_)
    if (lib->descriptor().kind == LOOM_PLUGIN_MODEL && lib->name() == name) return lib;
  return nullptr;
}

std::shared_ptr<BackendInstance> PluginRegistry::create_backend(const std::string& name, int threads,
                                                                const std::vector<std::pair<std::string, std::string>>& options) const {
  std::shared_ptr<PluginLibrary> lib = backend(name);
  if (!lib) {
    std::string known;
    for (const auto& b : backends()) known += (known.empty() ? "" : ", ") + b->name();
    throw Error("no backend plugin named '" + printable(name) + "' is loaded (loaded: " +
                (known.empty() ? std::string("none") : known) + ")");
  }
  const loom_backend_plugin& api = *lib->descriptor().backend;
  const std::string where = "backend '" + name + "' (" + printable(lib->path().string()) + ")";
  if (api.device_count(lib->state()) == 0) throw Error(where + ": no devices available");

  loom_device_info info{};
  info.struct_size = sizeof(loom_device_info);
  check_status(api.device_info(lib->state(), 0, &info), where + ": device_info(0)");
  const std::string device = info.name ? info.name : "device 0";

  std::vector<loom_option> c_options;
  for (const auto& [key, value] : options) c_options.push_back({sizeof(loom_option), key.c_str(), value.c_str()});
  const loom_backend_options c{sizeof(loom_backend_options), threads, c_options.size(), c_options.empty() ? nullptr : c_options.data()};
  loom_backend* raw = nullptr;
  check_status(api.create_backend(lib->state(), 0, &c, &raw), where + ": creating the backend on " + device);
  if (!raw) throw Error(where + ": create_backend returned no backend and no error");
  // Owned from here, so a malformed backend is still released through its plugin.
  auto instance = std::make_shared<BackendInstance>(lib, raw, device);

  const loom_backend& b = *raw;
  if (b.struct_size < offsetof(loom_backend, release) + sizeof(b.release))
    throw Error(where + ": backend struct too small (struct_size " + std::to_string(b.struct_size) + ")");
  if (!b.supports_node || !b.compile || !b.release_executable || !b.prepare || !b.release_plan || !b.run)
    throw Error(where + ": backend has a NULL function (supports_node, compile, release_executable, "
                "prepare, release_plan and run are required)");
  if (b.memory_kind == LOOM_MEMORY_DEVICE &&
      (!b.buffer_alloc || !b.buffer_free || !b.buffer_write || !b.buffer_read))
    throw Error(where + ": device-memory backend without buffer_alloc/free/write/read");
  return instance;
}

}  // namespace loom::plugins
