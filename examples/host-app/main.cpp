// A host application that embeds Loom through its installed CMake package: it loads a graph,
// runs it on the .npy inputs that sit beside it and prints every output.
//
//   loom-host-app GRAPH [--backend a,b] [--plugin FILE]... [--threads N] [--check] [--atol X]
//
// For each graph input NAME it reads NAME.npy from the graph's folder. With --check, each output
// NAME is compared with expected_NAME.npy from the same folder, and a difference beyond
// atol + rtol*|ref| makes the program exit with status 1.
#include <loom/loom.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::filesystem::path graph;
  std::vector<std::string> backends;
  std::vector<std::filesystem::path> plugins;
  int threads = 0;
  bool check = false;
  double atol = 1e-5, rtol = 1e-5;  // as `loom run --expect`
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "loom-host-app: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: loom-host-app GRAPH [--backend a,b] [--plugin FILE]... [--threads N] [--check]"
               " [--atol X] [--rtol X]\n");
  std::exit(2);
}

double parse_number(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  usage(flag + ": expected a non-negative number, got '" + text + "'");
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--backend") {
      std::stringstream list(value());
      for (std::string name; std::getline(list, name, ',');)
        if (!name.empty()) o.backends.push_back(name);
    } else if (arg == "--plugin") {
      o.plugins.emplace_back(value());
    } else if (arg == "--threads") {
      o.threads = static_cast<int>(parse_number(arg, value()));
    } else if (arg == "--check") {
      o.check = true;
    } else if (arg == "--atol") {
      o.atol = parse_number(arg, value());
    } else if (arg == "--rtol") {
      o.rtol = parse_number(arg, value());
    } else if (arg.starts_with("--")) {
      usage("unknown option " + arg);
    } else if (o.graph.empty()) {
      o.graph = arg;
    } else {
      usage("more than one graph given");
    }
  }
  if (o.graph.empty()) usage("no graph given");
  return o;
}

std::string first_values(const loom::Tensor& t, int64_t count) {
  std::ostringstream s;
  s << "[";
  for (int64_t i = 0; i < std::min(count, t.numel()); ++i) s << (i ? ", " : "") << loom::element_as_double(t, i);
  s << (t.numel() > count ? ", ...]" : "]");
  return s.str();
}

int run(const Options& o) {
  loom::EngineOptions engine_options;
  engine_options.plugin_files = o.plugins;  // then LOOM_PLUGIN_PATH and the install's plugin folder
  loom::Engine engine(engine_options);
  std::cout << "loom " << loom::Engine::version() << ", plugins from " << loom::Engine::install_plugin_dir().string()
            << "\n";
  for (const auto& p : engine.plugins())
    if (!p.loaded) std::cout << "  not loaded: " << p.path.string() << ": " << p.error << "\n";

  loom::SessionOptions session_options;
  session_options.backends = o.backends;
  session_options.threads = o.threads;
  loom::Session session = engine.load(o.graph, session_options);

  std::cout << "placement:";
  for (const auto& part : session.placement().partitions)
    std::cout << " " << part.backend << " (" << part.nodes.size() << " nodes)";
  std::cout << "\n";

  const std::filesystem::path dir = o.graph.parent_path();
  loom::TensorMap inputs;
  for (const auto& in : session.graph().inputs) {
    const auto file = dir / (in.name + ".npy");
    inputs.emplace(in.name, loom::read_npy(file));
    std::cout << "input " << in.name << ": " << file.string() << "\n";
  }

  loom::TensorMap outputs = session.run(inputs);
  int status = 0;
  for (const auto& out : session.graph().outputs) {
    const loom::Tensor& t = outputs.at(out.name);
    std::cout << "output " << out.name << ": " << loom::dtype_name(t.dtype()) << " " << loom::shape_str(t.shape())
              << " " << first_values(t, 6) << "\n";
    if (!o.check) continue;
    const auto ref_file = dir / ("expected_" + out.name + ".npy");
    if (!std::filesystem::exists(ref_file)) {
      std::cout << "  no reference " << ref_file.string() << "\n";
      continue;
    }
    const loom::Comparison c = loom::compare(t, loom::read_npy(ref_file), o.atol, o.rtol);
    const bool ok = c.ok();
    std::cout << "  " << (ok ? "matches " : "DIFFERS from ") << ref_file.filename().string()
              << (c.mismatch.empty() ? "" : ": " + c.mismatch) << " (max |out-ref| = " << c.max_abs_error << ")\n";
    if (!ok) status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_args(argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom-host-app: error: %s\n", e.what());
    return 1;
  }
}
