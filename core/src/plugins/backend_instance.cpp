// A backend object created by a plugin, released through the plugin before its library may go.
#include "plugins/plugin_host.hpp"

#include <cstddef>
#include <utility>

namespace loom::plugins {

BackendInstance::BackendInstance(std::shared_ptr<PluginLibrary> lib, loom_backend* backend, std::string device)
    : lib_(std::move(lib)), backend_(backend), device_(std::move(device)) {
  // An older backend's table ends before get_extension.
  if (backend_->struct_size >= offsetof(loom_backend, get_extension) + sizeof(backend_->get_extension) && backend_->get_extension) {
    const auto* t = static_cast<const loom_device_time_v1*>(backend_->get_extension(backend_->self, LOOM_EXTENSION_DEVICE_TIME));
    if (t && t->struct_size >= offsetof(loom_device_time_v1, run_timed) + sizeof(t->run_timed) && t->run_timed) device_time_ = t;
  }
}

BackendInstance::~BackendInstance() {
  // Released through the plugin that created it; lib_ (and so the code) is dropped afterwards.
  if (backend_) lib_->descriptor().backend->release_backend(lib_->state(), backend_);
}

}  // namespace loom::plugins
