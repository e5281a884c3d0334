// Host side of the plugin ABI: finding, loading and keeping plugin libraries, and owning the
// objects they create. A library stays loaded while any object created by it lives: every
// handle below holds a shared_ptr to its PluginLibrary, and releases its object first.
#pragma once

#include <loom/abi.h>
#include <loom/engine.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom::plugins {

// One loaded library with a valid descriptor. Its init() runs in load(), or for a backend loaded
// with `defer_backend`, in the first start(): a backend plugin is started when the engine first
// needs it (a session that uses it or default placement, which asks every backend whether it
// runs on request, or a listing of the plugins), so that a process that names its backends does
// not start the others' drivers (lavapipe's LLVM alone is 55 MiB of memory and 0.2 s).
// Destroying it calls the plugin's shutdown() if its init() ran, then unloads the library.
class PluginLibrary {
 public:
  ~PluginLibrary();
  const loom_plugin& descriptor() const { return *desc_; }
  void* state() const { return state_; }
  const std::filesystem::path& path() const { return path_; }
  std::string name() const { return desc_->name ? desc_->name : ""; }
  // A backend that runs only where a session names it (LOOM_EXTENSION_ON_REQUEST); known once started.
  bool on_request() const { return on_request_; }
  bool started() const { return started_; }
  // Runs init() and reads the devices into `record` (this library's record); false, with
  // record.error set and record.loaded false, when either fails. Does nothing once started.
  bool start(PluginRecord& record);

  // Where a plugin name is already held: the file that holds it, or nullopt if it is free.
  using NameOwner = std::function<std::optional<std::filesystem::path>(std::string_view name)>;

  // Tries to load `file` and fills `record` from its descriptor and devices or architectures
  // (a deferred backend's devices once started). On failure returns nullptr and sets
  // record.error to a message that names the file and says what is wrong. A plugin whose name
  // `owner` reports as taken is unloaded before its init() runs. Never throws.
  static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& file, PluginRecord& record,
                                             const NameOwner& owner = {}, bool defer_backend = false);

 private:
  PluginLibrary() = default;
  struct Lib;
  std::unique_ptr<Lib> lib_;  // the boost::dll::shared_library
  const loom_plugin* desc_ = nullptr;
  void* state_ = nullptr;
  std::filesystem::path path_;
  bool on_request_ = false;
  bool started_ = false;
};

// Turns a status returned by a plugin into a message and releases it ("" for NULL).
std::string take_status(loom_status* status);
// Throws loom::Error("<context>: <message>") for a non-NULL status, releasing it.
void check_status(loom_status* status, const std::string& context);

// A backend instance (loom_backend) with its library kept alive.
class BackendInstance {
 public:
  BackendInstance(std::shared_ptr<PluginLibrary> lib, loom_backend* backend, std::string device);
  ~BackendInstance();
  BackendInstance(const BackendInstance&) = delete;
  BackendInstance& operator=(const BackendInstance&) = delete;

  const loom_backend& api() const { return *backend_; }
  std::string name() const { return lib_->name(); }
  const std::string& device() const { return device_; }
  bool host_memory() const { return backend_->memory_kind != LOOM_MEMORY_DEVICE; }
  uint32_t opset_version() const { return backend_->opset_version; }
  uint32_t flags() const { return backend_->flags; }
  // The backend's device timing (LOOM_EXTENSION_DEVICE_TIME), or null.
  const loom_device_time_v1* device_time() const { return device_time_; }
  // Set once the backend reported LOOM_STATUS_DEVICE_LOST: nothing runs on it again.
  bool lost() const { return lost_.load(); }
  void mark_lost() { lost_.store(true); }
  const std::shared_ptr<PluginLibrary>& library() const { return lib_; }

 private:
  std::shared_ptr<PluginLibrary> lib_;
  loom_backend* backend_;
  std::string device_;
  const loom_device_time_v1* device_time_ = nullptr;
  std::atomic<bool> lost_{false};
};

// Every plugin the engine tried, and the ones that loaded.
class PluginRegistry {
 public:
  // Loads explicit files, then (if search_default_paths) LOOM_PLUGIN_PATH folders, the install's
  // plugin folder and the executable's folder. In folders only files named loom-*.so are tried,
  // and a plugin name already loaded is skipped (recorded as a duplicate), so the first wins.
  explicit PluginRegistry(const EngineOptions& options);
  // Loads one more file (origin "api" for Engine::load_plugin). A file already tried, under any
  // path that resolves to it, is not tried again: its earlier record is returned. The reference
  // stays valid until the next load.
  const PluginRecord& load_file(const std::filesystem::path& file, const std::string& origin);

  // Every record, backends started first (so that each shows its devices or why it failed).
  const std::vector<PluginRecord>& records() const {
    start_all();
    return records_;
  }
  // The records as they are: backends not needed yet show no devices.
  const std::vector<PluginRecord>& records_as_loaded() const { return records_; }
  // Started backend plugins in load order (every backend is started).
  std::vector<std::shared_ptr<PluginLibrary>> backends() const;
  // The names of the backend plugins a session that names none may use, in load order, without
  // starting any: those not started yet (whose on_request is not known yet) and the started
  // ones that are not used on request.
  std::vector<std::string> default_candidates() const;
  // The started backend named `name` (started now if need be), or null.
  std::shared_ptr<PluginLibrary> backend(const std::string& name) const;
  // The model plugin that accepts HF model_type `arch`, or that is named `name`.
  std::shared_ptr<PluginLibrary> model_for(const std::string& arch) const;
  std::shared_ptr<PluginLibrary> model_named(const std::string& name) const;

  // Creates a backend instance on the plugin's first device, with the options meant for it
  // (keys without the backend's prefix).
  std::shared_ptr<BackendInstance> create_backend(const std::string& name, int threads,
                                                  const std::vector<std::pair<std::string, std::string>>& options = {}) const;

 private:
  void search_folder(const std::filesystem::path& dir, const std::string& origin, bool must_exist);
  // Starts a deferred backend (its record updated); false if its init or devices failed.
  bool start(const std::shared_ptr<PluginLibrary>& lib) const;
  void start_all() const;
  mutable std::vector<PluginRecord> records_;  // a deferred backend's record is completed by start()
  std::map<const PluginLibrary*, size_t> record_of_;
  mutable std::mutex start_mutex_;
  std::vector<std::filesystem::path> tried_;  // canonical paths, parallel to records_
  std::vector<std::shared_ptr<PluginLibrary>> loaded_;
  std::function<std::string(const std::filesystem::path&)> screen_;
};

// The folder of libloom.so itself (via dladdr), used to find the install's plugin folder.
std::filesystem::path library_dir();
std::filesystem::path executable_dir();
// <prefix>/LOOM_PLUGIN_REL_DIR where libloom sits in <prefix>/LOOM_LIB_REL_DIR; empty when
// libloom is not in an install layout (a build tree), so nothing is searched there.
std::filesystem::path install_plugin_dir();
// The same for libloom found in `lib_dir`.
std::filesystem::path install_plugin_dir(const std::filesystem::path& lib_dir);
// The folders searched after explicit files, in order, with their origins. LOOM_PLUGIN_PATH is
// read when this is called.
std::vector<std::pair<std::filesystem::path, std::string>> default_search_folders();

}  // namespace loom::plugins
