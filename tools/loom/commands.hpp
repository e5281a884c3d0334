// The subcommands of `loom`; each returns the process exit status.
#pragma once

#include <loom/engine.hpp>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace loom::cli {

// A mistake in how the tool was called (exit status 2), found after parsing.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PluginOptions {
  std::vector<std::string> files;
  bool no_default_paths = false;
};

struct PluginsArgs { bool json = false; };
struct InspectArgs {
  std::string graph, optimize = "all";
  bool placement = false, json = false;
  std::vector<std::string> backends, dims, options;
};
struct ValidateArgs { std::string graph; bool json = false; };
struct RunArgs {
  std::string graph, output_dir, optimize = "all";
  std::vector<std::string> inputs, backends, expect, options;
  int threads = 0;
  bool json = false;
  double atol = 1e-5, rtol = 1e-5;
};
struct ExportArgs {
  std::string graph, output, optimize = "all";
};
struct BenchArgs {
  std::string graph, optimize = "all";
  std::vector<std::string> inputs, dims, backends, options;
  int threads = 0, warmup = 5, iterations = 50, repeat = 1;
  bool json = false;
};

int cmd_plugins(const PluginOptions& p, const PluginsArgs& a);
int cmd_inspect(const PluginOptions& p, const InspectArgs& a);
int cmd_validate(const PluginOptions& p, const ValidateArgs& a);
int cmd_run(const PluginOptions& p, const RunArgs& a);
int cmd_bench(const PluginOptions& p, const BenchArgs& a);
int cmd_export(const PluginOptions& p, const ExportArgs& a);

// Shared helpers (util.cpp).
// strict: a --plugin file that fails to load is an error (all commands but `plugins`).
Engine make_engine(const PluginOptions& p, bool strict = true);
// "NAME=VALUE" -> {NAME, VALUE}; throws UsageError naming the option.
std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option);
std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& dims);
// --option KEY=VALUE (repeatable) -> SessionOptions::options; a key given twice is a usage error.
std::map<std::string, std::string> parse_options(const std::vector<std::string>& options);
TensorMap read_inputs(const std::vector<std::string>& inputs);
std::string human_bytes(uint64_t bytes);
// A graph's processing section: a summary (inspect) and every field (inspect --json).
void print_processing(std::ostream& os, const Processing& p);
nlohmann::json processing_json(const Processing& p);
// --optimize LEVEL (validated by the parser).
OptimizeLevel optimize_level(const std::string& level);

}  // namespace loom::cli
