// Loading one plugin library: open it, find its entry point, check the descriptor, run init()
// and read what it offers. Every failure becomes a message in the PluginRecord that names the
// file; nothing here throws out of load().
#include "plugins/plugin_host.hpp"

#include "io/regular_file.hpp"

#include <loom/error.hpp>

#include <cstddef>
#include <exception>
#include <system_error>
#include <vector>  // before library_info.hpp, which uses std::vector without including it

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

namespace loom::plugins {

namespace fs = std::filesystem;

struct PluginLibrary::Lib {
  boost::dll::shared_library library;
};

namespace {

// Whether a struct that starts with `struct_size` is large enough to hold `member`: structs are
// append-only, so a plugin built against an older header hands out a shorter struct.
#define LOOM_HAS_MEMBER(object, type, member) \
  ((object).struct_size >= offsetof(type, member) + sizeof(type::member))

const loom_host& host_info() {
  static const loom_host host{sizeof(loom_host), LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR,
                              LOOM_VERSION};
  return host;
}

// Boost.DLL reports a failed load as "... failed (dlerror system message: TEXT): <errc text>";
// only TEXT says what went wrong.
std::string dlerror_text(const std::system_error& e) {
  std::string what = e.what();
  const std::string suffix = ": " + e.code().message();
  if (what.size() > suffix.size() && what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
    what.resize(what.size() - suffix.size());
  const std::string marker = "(dlerror system message: ";
  const size_t at = what.find(marker);
  if (at == std::string::npos) return what;
  std::string text = what.substr(at + marker.size());
  if (!text.empty() && text.back() == ')') text.pop_back();
  return text;
}

// A file that Boost.DLL cannot read as ELF (or PE, Mach-O) is not a library at all; anything
// else that fails to open is a library with a problem of its own or of its dependencies.
bool is_binary_module(const fs::path& file) {
  try {
    boost::dll::library_info info(file, /*throw_if_not_native=*/false);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string describe_load_failure(const fs::path& file, std::string text) {
  // dlerror repeats the path it was given; the message already starts with it.
  const std::string own = file.string() + ": ";
  const bool about_the_file = text.compare(0, own.size(), own) == 0;
  if (about_the_file) text.erase(0, own.size());
  if (!is_binary_module(file)) return "not a shared library (" + text + ")";
  if (!about_the_file && text.find("cannot open shared object file") != std::string::npos)
    return "missing dependency: " + text;
  if (text.find("undefined symbol") != std::string::npos)
    return "unresolved symbol (built against another version of a library it uses?): " + text;
  return "cannot be loaded: " + text;
}

// Most devices or architectures one plugin may list: counts come from the plugin's own code and
// are checked before a list is sized by them.
constexpr size_t kMaxListed = 4096;

std::string version_string(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Checks the parts of the descriptor that the host relies on; returns what is wrong, or "".
std::string descriptor_problem(const loom_plugin& d) {
  if (!d.name || !*d.name) return "the descriptor has no name";
  if (printable(d.name) != d.name) return "the plugin name '" + printable(d.name) + "' holds control characters";
  if (d.kind == LOOM_PLUGIN_BACKEND) {
    if (!d.backend) return "backend plugin without a backend table (descriptor.backend is NULL)";
    const loom_backend_plugin& t = *d.backend;
    if (!LOOM_HAS_MEMBER(t, loom_backend_plugin, release_backend))
      return "backend table too small (struct_size " + std::to_string(t.struct_size) + ")";
    if (!t.device_count || !t.device_info || !t.create_backend || !t.release_backend)
      return "backend table has a NULL function (device_count, device_info, create_backend and "
             "release_backend are required)";
    return "";
  }
  if (d.kind == LOOM_PLUGIN_MODEL) {
    if (!d.model) return "model plugin without a model table (descriptor.model is NULL)";
    const loom_model_plugin& t = *d.model;
    if (!LOOM_HAS_MEMBER(t, loom_model_plugin, release_result))
      return "model table too small (struct_size " + std::to_string(t.struct_size) + ")";
    if (!t.expand || !t.release_result)
      return "model table has a NULL function (expand and release_result are required)";
    if (t.num_architectures > 0 && !t.architectures) return "model table lists architectures but the array is NULL";
    if (t.num_architectures > kMaxListed)
      return "model table lists " + std::to_string(t.num_architectures) + " architectures, more than " +
             std::to_string(kMaxListed) + " (a corrupt count?)";
    for (size_t i = 0; i < t.num_architectures; ++i) {
      if (!t.architectures[i] || !*t.architectures[i])
        return "model table: architecture " + std::to_string(i) + " is NULL or empty";
      if (printable(t.architectures[i]) != t.architectures[i])
        return "model table: architecture '" + printable(t.architectures[i]) + "' holds control characters";
    }
    return "";
  }
  return "unknown plugin kind " + std::to_string(d.kind) + " (expected 1 = backend or 2 = model)";
}

// Reads what the plugin offers into the record; returns what went wrong, or "".
std::string describe_offer(const loom_plugin& d, void* state, PluginRecord& record) {
  if (d.kind == LOOM_PLUGIN_MODEL) {
    for (size_t i = 0; i < d.model->num_architectures; ++i)
      record.architectures.emplace_back(d.model->architectures[i]);
    return "";
  }
  // The count comes from the plugin: checked before anything is sized by it.
  const size_t count = d.backend->device_count(state);
  if (count > kMaxListed)
    return "device_count() returned " + std::to_string(count) + ", more than " + std::to_string(kMaxListed) +
           " devices (a corrupt count?)";
  for (size_t i = 0; i < count; ++i) {
    loom_device_info info{};
    info.struct_size = sizeof(loom_device_info);
    if (loom_status* st = d.backend->device_info(state, i, &info))
      return "device_info(" + std::to_string(i) + ") failed: " + take_status(st);
    DeviceRecord device;
    // Names and descriptions are only shown, so they are kept printable.
    device.name = info.name ? printable(info.name) : "device " + std::to_string(i);
    if (LOOM_HAS_MEMBER(info, loom_device_info, description) && info.description)
      device.description = printable(info.description);
    if (LOOM_HAS_MEMBER(info, loom_device_info, memory_kind))
      device.host_memory = info.memory_kind != LOOM_MEMORY_DEVICE;
    record.devices.push_back(std::move(device));
  }
  return "";
}

}  // namespace

std::string take_status(loom_status* status) {
  if (!status) return "";
  std::string message = status->message && *status->message ? printable(status->message) : "(no message)";
  if (status->release) status->release(status);
  return message;
}

void check_status(loom_status* status, const std::string& context) {
  if (status) throw Error(context + ": " + take_status(status));
}

PluginLibrary::~PluginLibrary() {
  // The plugin's own objects go first, while its code is still mapped.
  if (started_ && desc_->shutdown) desc_->shutdown(state_);
  lib_.reset();
}

bool PluginLibrary::start(PluginRecord& record) {
  if (!record.error.empty()) return false;  // a failed start (init, or its devices) stays failed
  if (started_) return true;
  auto fail = [&](const std::string& why) {
    record.error = printable(record.path.string() + ": " + why);
    record.loaded = false;
    return false;
  };
  try {
    void* state = nullptr;
    if (desc_->init) {
      if (loom_status* st = desc_->init(&host_info(), &state)) return fail("init() failed: " + take_status(st));
    }
    // From here on the destructor runs shutdown(state).
    state_ = state;
    started_ = true;
    if (std::string problem = describe_offer(*desc_, state, record); !problem.empty()) return fail(problem);
    if (desc_->kind == LOOM_PLUGIN_BACKEND && desc_->get_extension)
      record.on_request = desc_->get_extension(state, LOOM_EXTENSION_ON_REQUEST) != nullptr;
    on_request_ = record.on_request;
    record.loaded = true;
    return true;
  } catch (const std::exception& e) {
    return fail(std::string("cannot be loaded: ") + e.what());
  }
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(const fs::path& given, PluginRecord& record,
                                                   const NameOwner& owner, bool defer_backend) {
  std::error_code ec;
  // An absolute path keeps dlopen from searching anywhere else for the file itself.
  const fs::path file = fs::absolute(given, ec).lexically_normal();
  record.path = ec ? given : file;
  record.loaded = false;
  auto fail = [&](const std::string& why) -> std::shared_ptr<PluginLibrary> {
    record.error = printable(record.path.string() + ": " + why);
    return nullptr;
  };
  try {
    const fs::file_status status = fs::status(record.path, ec);
    if (ec || !fs::exists(status)) return fail("no such file");
    if (auto kind = io::non_regular_kind(record.path)) return fail("not a regular file (" + *kind + ")");

    std::shared_ptr<PluginLibrary> lib(new PluginLibrary);
    lib->path_ = record.path;
    lib->lib_ = std::make_unique<Lib>();
    try {
      // rtld_now: an unresolved symbol is reported here, not as a crash in the middle of a run.
      // rtld_local: one plugin's symbols never satisfy another's.
      lib->lib_->library.load(record.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::system_error& e) {
      return fail(describe_load_failure(record.path, dlerror_text(e)));
    }

    if (!lib->lib_->library.has(LOOM_PLUGIN_ENTRY_SYMBOL))
      return fail("no entry point " LOOM_PLUGIN_ENTRY_SYMBOL ": not a Loom plugin");
    auto& entry = lib->lib_->library.get<const loom_plugin*()>(LOOM_PLUGIN_ENTRY_SYMBOL);
    const loom_plugin* desc = entry();
    if (!desc) return fail(LOOM_PLUGIN_ENTRY_SYMBOL "() returned NULL");

    // Only the first four members are read before the major version is known to match.
    record.abi_major = desc->abi_major;
    record.abi_minor = desc->abi_minor;
    if (desc->abi_major != LOOM_ABI_VERSION_MAJOR)
      return fail("built for plugin ABI " + version_string(desc->abi_major, desc->abi_minor) +
                  ", this Loom speaks " + version_string(LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR) +
                  ": rebuild the plugin against this Loom's SDK");
    if (desc->kind == LOOM_PLUGIN_BACKEND) record.kind = "backend";
    if (desc->kind == LOOM_PLUGIN_MODEL) record.kind = "model";
    if (desc->name) record.name = printable(desc->name);
    if (desc->version) record.version = printable(desc->version);
    if (desc->description) record.description = printable(desc->description);
    if (std::string problem = descriptor_problem(*desc); !problem.empty()) return fail(problem);

    if (owner) {
      if (std::optional<fs::path> holder = owner(record.name))
        return fail("duplicate plugin name '" + record.name + "': already loaded from " + holder->string());
    }

    lib->desc_ = desc;
    record.error.clear();
    if (defer_backend && desc->kind == LOOM_PLUGIN_BACKEND) {
      record.loaded = true;  // until start() says otherwise
      return lib;
    }
    if (!lib->start(record)) return nullptr;
    return lib;
  } catch (const std::exception& e) {
    return fail(std::string("cannot be loaded: ") + e.what());
  }
}

}  // namespace loom::plugins
