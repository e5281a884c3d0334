#include "commands.hpp"

#include <loom/error.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <cstdio>
#include <iostream>
#include <new>
#include <random>

namespace loom::cli {

namespace {

// The threads of this process now (Linux: /proc/self/status); 0 when unknown. After the runs it
// counts the thread pools the backends started, which --threads bounds.
int process_threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return 0;
}

Tensor generated_input(const GraphInput& in, const std::map<std::string, int64_t>& dims, std::mt19937& rng) {
  Shape shape;
  for (const Dim& d : in.info.shape) {
    Dim b = d.bind(dims);
    shape.push_back(b.is_known() ? b.value() : 1);
  }
  Tensor t;
  try {
    t = Tensor(in.info.dtype, shape);
  } catch (const std::bad_alloc&) {
    throw Error("input '" + printable(in.name) + "' generated from --dim as " + std::string(dtype_name(in.info.dtype)) + " " +
                shape_str(shape) + ": cannot allocate " + std::to_string(shape_numel(shape) * dtype_size(in.info.dtype)) + " bytes");
  } catch (const Error& e) {
    throw Error("input '" + printable(in.name) + "' generated from --dim: " + e.what());
  }
  if (in.info.dtype == DType::f32) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = u(rng);
  } else if (in.info.dtype == DType::i64) {
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<int64_t>()[i] = 1;  // valid ids and a full attention mask
  }
  return t;
}

// The symbol values the inputs actually bind (given or generated), for the report.
std::map<std::string, int64_t> bound_symbols(const Graph& g, const TensorMap& inputs) {
  std::map<std::string, int64_t> out;
  for (const auto& in : g.inputs) {
    const Shape& shape = inputs.at(in.name).shape();
    for (size_t i = 0; i < in.info.shape.size() && i < shape.size(); ++i) {
      const Dim& d = in.info.shape[i];
      if (d.is_symbolic() && d.symbols().size() == 1 && d.factor() == 1) out.emplace(d.symbols()[0], shape[i]);
    }
  }
  return out;
}

}  // namespace

int cmd_bench(const PluginOptions& p, const BenchArgs& a) {
  const auto dims = parse_dims(a.dims);
  Engine engine = make_engine(p);
  TensorMap inputs = read_inputs(a.inputs);
  Session s = engine.load(a.graph, session_options(a.backends, a.threads, a.options, a.optimize));
  const Graph& g = s.graph();
  check_input_names(g, inputs, /*all_required=*/false);
  check_dims(s, dims);
  std::mt19937 rng(42);
  std::vector<std::string> generated;
  for (const auto& in : g.inputs)
    if (!inputs.count(in.name)) {
      inputs.emplace(in.name, generated_input(in, dims, rng));
      generated.push_back(printable(in.name));
    }

  using clock = std::chrono::steady_clock;
  for (int i = 0; i < a.warmup; ++i) run_graph(s, inputs, a.graph, a.inputs);
  std::vector<double> samples;
  for (int i = 0; i < a.iterations; ++i) {
    auto t0 = clock::now();
    for (int r = 0; r < a.repeat; ++r) run_graph(s, inputs, a.graph, a.inputs);
    samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / a.repeat);
  }
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<size_t>(q * (samples.size() - 1) + 0.5))]; };
  const double median = pct(0.5);
  const size_t nodes = g.nodes.size();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const uint64_t peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;

  // The backends that ran partitions, with the device each one created: with --threads 0 the
  // device description is where the backend's default thread count shows.
  std::vector<std::string> backends;
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& part : s.placement().partitions) {
    if (std::find(backends.begin(), backends.end(), part.backend) != backends.end()) continue;
    backends.push_back(part.backend);
    for (const auto& r : engine.plugins())
      if (r.loaded && r.name == part.backend && !r.devices.empty())
        devices.push_back({{"backend", part.backend}, {"device", r.devices[0].name}, {"description", r.devices[0].description}});
  }
  const auto bound = bound_symbols(g, inputs);
  const double per_node = nodes ? median / static_cast<double>(nodes) : 0.0;

  if (a.json) {
    nlohmann::json j{{"graph", a.graph}, {"backends", join(backends, ",")}, {"devices", devices},
                     {"dims", bound}, {"generated_inputs", generated}, {"nodes", nodes}, {"optimize", a.optimize},
                     {"warmup", a.warmup}, {"iterations", a.iterations}, {"repeat", a.repeat},
                     {"median_us", median}, {"p10_us", pct(0.1)}, {"p90_us", pct(0.9)}, {"min_us", samples.front()},
                     {"median_over_nodes_us", per_node}, {"peak_rss_bytes", peak_rss},
                     {"process_threads", process_threads()}};
    if (a.threads > 0) j["threads"] = a.threads;
    else j["threads"] = "default";
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::string dims_text;
  for (const auto& [sym, v] : bound) dims_text += (dims_text.empty() ? "" : " ") + sym + "=" + std::to_string(v);
  std::printf("%s: graph '%s', %zu nodes (--optimize %s)\n", a.graph.c_str(), printable(g.name).c_str(), nodes,
              a.optimize.c_str());
  std::printf("  shapes: %s; inputs generated: %s\n", dims_text.empty() ? "all fixed" : dims_text.c_str(),
              generated.empty() ? "none" : join(generated).c_str());
  if (a.threads > 0) std::printf("  threads: %d (--threads)\n", a.threads);
  else std::printf("  threads: each backend's default (see its device below)\n");
  for (const auto& d : devices)
    std::printf("  backend %s on %s: %s\n", d["backend"].get<std::string>().c_str(), d["device"].get<std::string>().c_str(),
                d["description"].get<std::string>().c_str());
  std::printf("  %d timed samples of %d run(s) each, after %d untimed warm-up run(s)\n", a.iterations, a.repeat, a.warmup);
  std::printf("  latency per run: median %.3f us (p10 %.3f, p90 %.3f, min %.3f)\n", median, pct(0.1), pct(0.9), samples.front());
  if (nodes)
    std::printf("  median / %zu nodes: %.4f us (the median spread evenly over the nodes, not a per-node measurement)\n",
                nodes, per_node);
  std::printf("  peak resident memory of the process: %s; %d threads in the process\n", human_bytes(peak_rss).c_str(),
              process_threads());
  return 0;
}

}  // namespace loom::cli
