#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/io.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
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

SessionOptions session_options(const std::vector<std::string>& backends, int threads, const std::vector<std::string>& options,
                               const std::string& optimize) {
  SessionOptions o;
  o.backends = backends;
  o.threads = threads;
  o.options = parse_options(options);
  o.optimize = optimize_level(optimize);
  return o;
}

// Returns "" when `out` matches `ref` within atol + rtol*|ref|, else a description.
std::string describe_mismatch(const std::string& name, const Comparison& c, const Tensor& out, const Tensor& ref,
                              double atol, double rtol) {
  if (!c.mismatch.empty()) return name + ": " + c.mismatch;
  if (c.ok()) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld of %lld elements differ beyond %g + %g*|ref| (max |out-ref| = %g; first at flat index %lld: %g vs %g)",
                static_cast<long long>(c.differing), static_cast<long long>(out.numel()), atol, rtol, c.max_abs_error,
                static_cast<long long>(c.first), element_as_double(out, c.first), element_as_double(ref, c.first));
  return name + ": " + buf;
}

// Runs the session; a failure names the graph file and the .npy file of every input it mentions.
TensorMap run_or_explain(Session& s, const TensorMap& inputs, const std::string& graph, const std::vector<std::string>& input_args) {
  try {
    return s.run(inputs);
  } catch (const Error& e) {
    std::string msg = e.what(), files;
    for (const auto& arg : input_args) {
      auto [name, file] = split_assignment(arg, "--input");
      if (msg.find("'" + name + "'") != std::string::npos) files += (files.empty() ? "" : ", ") + name + " from " + file;
    }
    throw Error(graph + ": " + msg + (files.empty() ? "" : " (" + files + ")"));
  }
}

Tensor generated_input(const GraphInput& in, const std::map<std::string, int64_t>& dims, std::mt19937& rng) {
  Shape shape;
  for (const Dim& d : in.info.shape) {
    Dim b = d.bind(dims);
    shape.push_back(b.is_known() ? b.value() : 1);
  }
  Tensor t(in.info.dtype, shape);
  if (in.info.dtype == DType::f32) {
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = u(rng);
  } else if (in.info.dtype == DType::i64) {
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<int64_t>()[i] = 1;  // valid ids and a full attention mask
  }
  return t;
}

}  // namespace

int cmd_run(const PluginOptions& p, const RunArgs& a) {
  Engine engine = make_engine(p);
  TensorMap inputs = read_inputs(a.inputs);
  struct Reference {
    std::string name, file;
    Tensor tensor;
  };
  std::vector<Reference> expected;
  for (const auto& e : a.expect) {
    auto [name, file] = split_assignment(e, "--expect");
    expected.push_back({name, file, read_npy(file)});
  }
  Session s = engine.load(a.graph, session_options(a.backends, a.threads, a.options, a.optimize));
  for (const auto& [name, file, ref] : expected) {
    bool found = false;
    for (const auto& o : s.graph().outputs) found |= o.name == name;
    if (!found) throw UsageError("--expect " + name + ": the graph has no output of that name");
  }
  TensorMap outputs = run_or_explain(s, inputs, a.graph, a.inputs);

  if (!a.output_dir.empty()) {
    std::filesystem::create_directories(a.output_dir);
    for (const auto& [name, t] : outputs) write_npy(std::filesystem::path(a.output_dir) / (name + ".npy"), t);
  }
  nlohmann::json j;
  j["outputs"] = nlohmann::json::array();
  for (const auto& o : s.graph().outputs) {
    const Tensor& t = outputs.at(o.name);
    nlohmann::json item{{"name", o.name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}};
    if (!a.output_dir.empty()) item["file"] = (std::filesystem::path(a.output_dir) / (o.name + ".npy")).string();
    j["outputs"].push_back(item);
    if (!a.json) {
      std::cout << o.name << ": " << dtype_name(t.dtype()) << " " << shape_str(t.shape());
      if (t.dtype() == DType::f32 && t.numel() > 0) {
        std::cout << "  [";
        for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 4); ++i) std::printf("%s%.6g", i ? ", " : "", t.data_as<float>()[i]);
        std::cout << (t.numel() > 4 ? ", ...]" : "]");
      }
      std::cout << std::endl;
    }
  }
  int status = 0;
  for (const auto& [name, file, ref] : expected) {
    const Tensor& out = outputs.at(name);
    const Comparison c = compare(out, ref, a.atol, a.rtol);
    const double max_err = c.max_abs_error;
    std::string diff = describe_mismatch(name + " (reference " + file + ")", c, out, ref, a.atol, a.rtol);
    j["checks"].push_back({{"name", name}, {"ok", diff.empty()}, {"max_abs_error", max_err}});
    if (!diff.empty()) {
      std::fprintf(stderr, "loom: mismatch: %s\n", diff.c_str());
      status = 1;
    } else if (!a.json) {
      std::printf("%s matches the reference (max |out-ref| = %.3g, tolerance %g + %g*|ref|)\n", name.c_str(), max_err, a.atol, a.rtol);
    }
  }
  if (a.json) std::cout << j.dump(2) << "\n";
  return status;
}

int cmd_bench(const PluginOptions& p, const BenchArgs& a) {
  const auto dims = parse_dims(a.dims);
  Engine engine = make_engine(p);
  TensorMap inputs = read_inputs(a.inputs);
  Session s = engine.load(a.graph, session_options(a.backends, a.threads, a.options, a.optimize));
  std::mt19937 rng(42);
  for (const auto& in : s.graph().inputs)
    if (!inputs.count(in.name)) inputs.emplace(in.name, generated_input(in, dims, rng));

  using clock = std::chrono::steady_clock;
  for (int i = 0; i < a.warmup; ++i) run_or_explain(s, inputs, a.graph, a.inputs);
  std::vector<double> samples;
  for (int i = 0; i < a.iterations; ++i) {
    auto t0 = clock::now();
    for (int r = 0; r < a.repeat; ++r) run_or_explain(s, inputs, a.graph, a.inputs);
    samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / a.repeat);
  }
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) { return samples[std::min(samples.size() - 1, static_cast<size_t>(q * (samples.size() - 1) + 0.5))]; };
  const double median = pct(0.5);
  const size_t nodes = s.graph().nodes.size();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const uint64_t peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  std::string backends;
  for (const auto& part : s.placement().partitions)
    if (backends.find(part.backend) == std::string::npos) backends += (backends.empty() ? "" : ",") + part.backend;

  if (a.json) {
    nlohmann::json j{{"graph", a.graph}, {"backends", backends}, {"threads", a.threads}, {"optimize", a.optimize}, {"nodes", nodes},
                     {"iterations", a.iterations}, {"repeat", a.repeat}, {"median_us", median}, {"p10_us", pct(0.1)},
                     {"p90_us", pct(0.9)}, {"min_us", samples.front()}, {"per_node_us", nodes ? median / nodes : 0.0},
                     {"peak_rss_bytes", peak_rss}, {"process_threads", process_threads()}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s on %s, %d thread(s), --optimize %s, %zu nodes, %d x %d runs\n", a.graph.c_str(), backends.c_str(), a.threads,
                a.optimize.c_str(), nodes, a.iterations, a.repeat);
    std::printf("  median %.3f us  (p10 %.3f, p90 %.3f, min %.3f)\n", median, pct(0.1), pct(0.9), samples.front());
    if (nodes) std::printf("  per node %.4f us\n", median / nodes);
    std::printf("  peak RSS %s, %d threads in the process\n", human_bytes(peak_rss).c_str(), process_threads());
  }
  return 0;
}

}  // namespace loom::cli
