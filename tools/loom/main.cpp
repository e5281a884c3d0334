// The `loom` command-line tool. Exit status: 0 ok, 1 failure, 2 usage.
#include "commands.hpp"

#include <loom/error.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

// CLI11's own range checks print their bounds as enormous doubles; these say what is wanted.
CLI::Validator whole_number_at_least(int min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        long long v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || v < min || v > INT_MAX)
          return "expected a whole number >= " + std::to_string(min) + ", got '" + text + "'";
        return "";
      },
      min == 0 ? "NONNEGATIVE" : "POSITIVE");
}

CLI::Validator non_negative_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < 0)
          return "expected a number >= 0, got '" + text + "'";
        return "";
      },
      "NONNEGATIVE");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace loom::cli;
  CLI::App app{"loom: run transformer graphs and models on pluggable backends"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");

  const char* optimize_help = "Graph passes before placement: none, basic (dead nodes, constants, transposes into matmul) "
                              "or all (basic and fusions); default all";
  auto add_optimize_option = [&](CLI::App* cmd, std::string& level) {
    cmd->add_option("--optimize", level, optimize_help)->type_name("LEVEL")->check(CLI::IsMember({"none", "basic", "all"}));
  };

  PluginOptions plugin_opts;
  auto add_plugin_options = [&](CLI::App* cmd) {
    cmd->add_option("--plugin", plugin_opts.files, "Load this plugin file first (repeatable)")->type_name("FILE");
    cmd->add_flag("--no-default-plugins", plugin_opts.no_default_paths,
                  "Do not search LOOM_PLUGIN_PATH, the install's plugin folder or the executable's folder");
  };

  // plugins
  PluginsArgs plugins_args;
  CLI::App* plugins = app.add_subcommand("plugins", "List every plugin found, loaded or not, and why not");
  plugins->add_flag("--json", plugins_args.json, "Machine-readable output");
  add_plugin_options(plugins);

  // inspect
  InspectArgs inspect_args;
  CLI::App* inspect = app.add_subcommand("inspect", "Describe a graph: inputs, outputs, ops, placement and planned memory");
  inspect->add_option("graph", inspect_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  inspect->add_flag("--placement", inspect_args.placement, "Explain where each node runs and why");
  inspect->add_flag("--json", inspect_args.json, "Machine-readable output");
  inspect->add_option("--backend", inspect_args.backends, "Backends in priority order (comma-separated)")->delimiter(',')->type_name("LIST");
  inspect->add_option("--option", inspect_args.options, "Session or backend option KEY=VALUE (repeatable): precision=f32|bf16, NAME.KEY=VALUE for one backend, fallback=on|off")->type_name("KEY=VALUE");
  inspect->add_option("--dim", inspect_args.dims, "Symbol value for memory planning, e.g. seq=128 (others count as 1)")->type_name("NAME=N");
  add_optimize_option(inspect, inspect_args.optimize);
  add_plugin_options(inspect);

  // validate
  ValidateArgs validate_args;
  CLI::App* validate = app.add_subcommand("validate", "Check a graph and every file it references");
  validate->add_option("graph", validate_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  validate->add_flag("--json", validate_args.json, "Machine-readable output");
  add_plugin_options(validate);

  // run
  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run a graph on .npy inputs and write its outputs as .npy");
  run->add_option("graph", run_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  run->add_option("--input", run_args.inputs, "Graph input from a .npy file (repeatable)")->type_name("NAME=FILE.npy");
  run->add_option("--output-dir", run_args.output_dir, "Write every output as DIR/NAME.npy")->type_name("DIR");
  run->add_option("--backend", run_args.backends, "Backends in priority order (comma-separated)")->delimiter(',')->type_name("LIST");
  run->add_option("--option", run_args.options, "Session or backend option KEY=VALUE (repeatable): precision=f32|bf16, NAME.KEY=VALUE for one backend, fallback=on|off")->type_name("KEY=VALUE");
  run->add_option("--threads", run_args.threads, "Threads for the session (0: backend default)")->check(whole_number_at_least(0));
  run->add_flag("--json", run_args.json, "Print outputs' names, shapes and dtypes as JSON");
  run->add_option("--expect", run_args.expect, "Compare output NAME with a reference .npy; fail if it differs (repeatable)")->type_name("NAME=FILE.npy");
  run->add_option("--atol", run_args.atol, "Absolute tolerance for --expect")->check(non_negative_number());
  run->add_option("--rtol", run_args.rtol, "Relative tolerance for --expect: |out-ref| <= atol + rtol*|ref|")->check(non_negative_number());
  add_optimize_option(run, run_args.optimize);
  add_plugin_options(run);

  // bench
  BenchArgs bench_args;
  CLI::App* bench = app.add_subcommand("bench", "Time repeated runs of a graph: median latency, per-node cost, peak memory");
  bench->add_option("graph", bench_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  bench->add_option("--input", bench_args.inputs, "Graph input from a .npy file (repeatable); others are generated")->type_name("NAME=FILE.npy");
  bench->add_option("--dim", bench_args.dims, "Symbol value for generated inputs, e.g. seq=128")->type_name("NAME=N");
  bench->add_option("--backend", bench_args.backends, "Backends in priority order (comma-separated)")->delimiter(',')->type_name("LIST");
  bench->add_option("--option", bench_args.options, "Session or backend option KEY=VALUE (repeatable): precision=f32|bf16, NAME.KEY=VALUE for one backend, fallback=on|off")->type_name("KEY=VALUE");
  bench->add_option("--threads", bench_args.threads, "Threads for the session (0: backend default)")->check(whole_number_at_least(0));
  bench->add_option("--warmup", bench_args.warmup, "Untimed runs first")->check(whole_number_at_least(0));
  bench->add_option("--iterations", bench_args.iterations, "Timed runs")->check(whole_number_at_least(1));
  bench->add_option("--repeat", bench_args.repeat, "Runs per timed sample (for very fast graphs)")->check(whole_number_at_least(1));
  bench->add_flag("--json", bench_args.json, "Machine-readable output");
  add_optimize_option(bench, bench_args.optimize);
  add_plugin_options(bench);

  // export
  ExportArgs export_args;
  CLI::App* export_cmd = app.add_subcommand("export", "Write a graph, manifest or checkpoint as one flat YAML graph");
  export_cmd->add_option("graph", export_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  export_cmd->add_option("-o,--output", export_args.output, "The graph file to write")->required()->type_name("FILE");
  add_optimize_option(export_cmd, export_args.optimize);
  add_plugin_options(export_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (104-109 ...) are not ours: help is 0, every usage error is 2.
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return 0;
    }
    std::fprintf(stderr, "loom: %s\n", e.what());
    std::fprintf(stderr, "Run with --help for usage.\n");
    return 2;
  }

  try {
    if (version) {
      std::printf("loom %s (plugin ABI %u.%u)\n", loom::Engine::version(), LOOM_ABI_VERSION_MAJOR, LOOM_ABI_VERSION_MINOR);
      return 0;
    }
    if (plugins->parsed()) return cmd_plugins(plugin_opts, plugins_args);
    if (inspect->parsed()) return cmd_inspect(plugin_opts, inspect_args);
    if (validate->parsed()) return cmd_validate(plugin_opts, validate_args);
    if (run->parsed()) return cmd_run(plugin_opts, run_args);
    if (bench->parsed()) return cmd_bench(plugin_opts, bench_args);
    if (export_cmd->parsed()) return cmd_export(plugin_opts, export_args);
    std::fprintf(stderr, "loom: a subcommand is required\n%s", app.help().c_str());
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "loom: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom: error: %s\n", e.what());
    return 1;
  }
}
