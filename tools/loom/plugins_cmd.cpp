#include "commands.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace loom::cli {

int cmd_plugins(const PluginOptions& p, const PluginsArgs& a) {
  // Each file is loaded in a child process first: one that crashes or hangs is listed with what
  // happened, and only the files that survived are loaded here.
  Engine engine = make_engine(p, /*strict=*/false,
                              [&](const std::filesystem::path& file) { return probe_plugin(file, a.probe_timeout); });
  const auto& records = engine.plugins();
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records) {
      nlohmann::json j{{"path", r.path.string()}, {"origin", r.origin}, {"loaded", r.loaded}};
      if (!r.error.empty()) j["error"] = r.error;
      if (!r.name.empty()) j["name"] = r.name;
      if (!r.kind.empty()) j["kind"] = r.kind;
      if (!r.version.empty()) j["version"] = r.version;
      if (!r.description.empty()) j["description"] = r.description;
      if (r.abi_major || r.abi_minor) j["abi"] = std::to_string(r.abi_major) + "." + std::to_string(r.abi_minor);
      if (r.kind == "backend") {
        j["on_request"] = r.on_request;
        j["devices"] = nlohmann::json::array();
        for (const auto& d : r.devices)
          j["devices"].push_back({{"name", d.name}, {"description", d.description}, {"memory", d.host_memory ? "host" : "device"}});
      }
      if (r.kind == "model") j["architectures"] = r.architectures;
      out.push_back(std::move(j));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (records.empty()) {
    const std::string install = Engine::install_plugin_dir().string();
    if (p.no_default_paths) std::cout << "No plugins found: --no-default-plugins loads only the --plugin files, and none was given.\n";
    else
      std::cout << "No plugins found. Searched: --plugin files, LOOM_PLUGIN_PATH, "
                << (install.empty() ? "" : "the install's plugin folder " + install + ", ") << "and the executable's folder.\n";
    return 0;
  }
  size_t ok = 0;
  for (const auto& r : records) {
    if (r.loaded) {
      ++ok;
      std::cout << "  " << r.name << "  " << r.kind << " " << r.version << " (ABI " << r.abi_major << "." << r.abi_minor
                << ")  " << r.path.string() << "  [" << r.origin << "]\n";
      if (!r.description.empty()) std::cout << "      " << r.description << "\n";
      for (const auto& d : r.devices)
        std::cout << "      device: " << d.name << (d.description.empty() ? "" : " - " + d.description)
                  << (d.host_memory ? "" : " (device memory)") << "\n";
      if (r.kind == "backend" && r.devices.empty()) std::cout << "      no devices available\n";
      if (r.on_request) std::cout << "      used only where a session names it (--backend " << r.name << ")\n";
      if (!r.architectures.empty()) {
        std::cout << "      architectures:";
        for (const auto& arch : r.architectures) std::cout << " " << arch;
        std::cout << "\n";
      }
    } else {
      std::cout << "  FAILED  " << r.path.string() << "  [" << r.origin << "]\n      " << r.error << "\n";
    }
  }
  std::cout << ok << " loaded, " << records.size() - ok << " failed\n";
  return 0;
}

}  // namespace loom::cli
