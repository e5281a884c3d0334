// A backend object created by a plugin, released through the plugin before its library may go.
#include "plugins/plugin_host.hpp"

#include <utility>

namespace loom::plugins {

BackendInstance::BackendInstance(std::shared_ptr<PluginLibrary> lib, loom_backend* backend, std::string device)
    : lib_(std::move(lib)), backend_(backend), device_(std::move(device)) {}

BackendInstance::~BackendInstance() {
  // Released through the plugin that created it; lib_ (and so the code) is dropped afterwards.
  if (backend_) lib_->descriptor().backend->release_backend(lib_->state(), backend_);
}

}  // namespace loom::plugins
