#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/io.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

namespace loom::cli {

namespace {

namespace fs = std::filesystem;

// Enough significant digits that two different values of the dtype never print alike
// (max_digits10: 9 for f32); integers print whole.
int significant_digits(DType t) {
  switch (t) {
    case DType::f32: return 9;
    case DType::f16: return 5;
    case DType::bf16: return 4;
    default: return 19;
  }
}

// Returns "" when `out` matches `ref` within atol + rtol*|ref|, else a description.
std::string describe_mismatch(const std::string& name, const Comparison& c, const Tensor& out, const Tensor& ref,
                              double atol, double rtol) {
  if (!c.mismatch.empty()) return name + ": " + c.mismatch;
  if (c.ok()) return "";
  const int digits = std::max(significant_digits(out.dtype()), significant_digits(ref.dtype()));
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "%lld of %lld elements differ beyond %g + %g*|ref| (max |out-ref| = %.3g; first at flat index %lld: %.*g vs %.*g)",
                static_cast<long long>(c.differing), static_cast<long long>(out.numel()), atol, rtol, c.max_abs_error,
                static_cast<long long>(c.first), digits, element_as_double(out, c.first), digits,
                element_as_double(ref, c.first));
  return name + ": " + buf;
}

// f(), its error prefixed with the graph and the files of the inputs it names.
template <class F>
auto naming_input_files(F&& f, const std::string& graph, const std::vector<std::string>& input_args) {
  try {
    return f();
  } catch (const Error& e) {
    std::string msg = e.what(), files;
    for (const auto& arg : input_args) {
      auto [name, file] = split_assignment(arg, "--input");
      if (msg.find("'" + name + "'") != std::string::npos) files += (files.empty() ? "" : ", ") + name + " from " + file;
    }
    throw Error(graph + ": " + msg + (files.empty() ? "" : " (" + files + ")"));
  }
}

}  // namespace

TensorMap run_graph(Session& s, const TensorMap& inputs, const std::string& graph, const std::vector<std::string>& input_args) {
  return naming_input_files([&] { return s.run(inputs); }, graph, input_args);
}

void run_bound(Session& s, Binding& binding, const std::string& graph, const std::vector<std::string>& input_args) {
  naming_input_files([&] { s.run(binding); }, graph, input_args);
}

namespace {

// Creates --output-dir, or says which folder could not be made and why.
void make_output_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec && !fs::is_directory(dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec) throw Error("--output-dir " + dir.string() + ": cannot create the folder: " + ec.message());
}

}  // namespace

int cmd_run(const PluginOptions& p, const RunArgs& a) {
  Engine engine = make_engine(p);
  const std::map<std::string, std::string> files = input_files(a.inputs);
  struct Reference {
    std::string name, file;
    Tensor tensor;
  };
  std::vector<Reference> expected;
  for (const auto& e : a.expect) {
    auto [name, file] = split_assignment(e, "--expect");
    for (const auto& earlier : expected)
      if (earlier.name == name) throw UsageError("--expect " + printable(name) + " is given twice");
    expected.push_back({name, file, Tensor()});
  }
  Session s = engine.load(a.graph, session_options(a.backends, a.threads, a.options, a.optimize, a.precision));
  const Graph& g = s.graph();
  // Names on the command line that the graph lacks are usage errors, --input and --expect alike.
  check_input_names(g, files, /*all_required=*/true);
  std::vector<std::string> output_names;
  for (const auto& o : g.outputs) output_names.push_back(printable(o.name));
  for (const auto& ref : expected)
    if (std::none_of(g.outputs.begin(), g.outputs.end(), [&](const GraphOutput& o) { return o.name == ref.name; }))
      throw UsageError("--expect " + printable(ref.name) + ": graph '" + g.name + "' has no output of that name (its outputs: " +
                       join(output_names) + ")");
  // The names right, the files are read (an error then names the file).
  TensorMap inputs = read_inputs(files);
  for (auto& ref : expected) ref.tensor = read_npy(ref.file);
  if (!a.output_dir.empty()) make_output_dir(a.output_dir);
  TensorMap outputs = run_graph(s, inputs, a.graph, a.inputs);

  nlohmann::json j;
  j["outputs"] = nlohmann::json::array();
  for (const auto& o : g.outputs) {
    const Tensor& t = outputs.at(o.name);
    nlohmann::json item{{"name", o.name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}};
    if (!a.output_dir.empty()) {
      // The file name comes from the graph: file_name_for keeps it inside --output-dir.
      const fs::path file = fs::path(a.output_dir) / file_name_for(o.name, ".npy");
      write_npy(file, t);
      item["file"] = file.string();
    }
    j["outputs"].push_back(item);
    if (!a.json) {
      std::cout << printable(o.name) << ": " << dtype_name(t.dtype()) << " " << shape_str(t.shape());
      if (t.dtype() == DType::f32 && t.numel() > 0) {
        std::cout << "  [";
        for (int64_t i = 0; i < std::min<int64_t>(t.numel(), 4); ++i) {
          char value[32];
          std::snprintf(value, sizeof value, "%s%.6g", i ? ", " : "", t.data_as<float>()[i]);
          std::cout << value;
        }
        std::cout << (t.numel() > 4 ? ", ...]" : "]");
      }
      if (item.contains("file")) std::cout << "  -> " << item["file"].get<std::string>();
      std::cout << "\n";
    }
  }
  if (!a.json && !a.output_dir.empty())
    std::cout << "wrote " << g.outputs.size() << " file(s) to " << a.output_dir << "\n";
  std::cout.flush();
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

}  // namespace loom::cli
