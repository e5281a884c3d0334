// The `loom` command-line tool. Exit status: 0 ok, 1 failure, 2 usage.
#include "commands.hpp"

#include <loom/error.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <sstream>
#include <string_view>

namespace {

constexpr const char* kTaskHelp =
    "The model's graph for a task, e.g. text-generation for GPT-2's decoder with its KV caches, feature-extraction or "
    "image-feature-extraction for CLIP's text or vision tower (default: its default graph)";

// CLI11's own range checks print their bounds as enormous doubles; these say what is wanted.
CLI::Validator whole_number_in(long long min, long long max, const std::string& note = "") {
  const std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max) + note;
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        long long v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
          return "expected " + range + ", got '" + text + "'";
        return "";
      },
      std::to_string(min) + ".." + std::to_string(max));
}

// A seed: a whole number from 0 to 2^64 - 1, digits only (strtoull would take "-1" as 2^64 - 1).
CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        unsigned long long v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size())
          return "expected a whole number from 0 to 18446744073709551615, got '" + text + "'";
        return "";
      },
      "0..2^64-1");
}

// A finite number >= 0, or > 0 where `positive`.
// A finite number: > 0 (`positive`), >= 0, or of any sign (`signed_too`).
CLI::Validator finite_number(bool positive, bool signed_too = false) {
  const std::string bound = positive ? " > 0" : signed_too ? "" : " >= 0";
  return CLI::Validator(
      [positive, signed_too, bound](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || (v < 0 && !signed_too) || (positive && v == 0))
          return "expected a finite number" + bound + ", got '" + text + "'";
        return "";
      },
      bound.empty() ? "finite" : bound.substr(1));
}

// A number in a range whose ends are each open or closed: "expected a number in (0, 1], got '0'".
CLI::Validator number_in(double lo, bool lo_open, double hi, bool hi_open) {
  auto end_text = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  const std::string range = std::string(lo_open ? "(" : "[") + end_text(lo) + ", " + end_text(hi) + (hi_open ? ")" : "]");
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        const bool inside = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);  // false for NaN
        if (text.empty() || end != text.c_str() + text.size() || !inside) return "expected a number in " + range + ", got '" + text + "'";
        return "";
      },
      range);
}

// A folder to write into: an empty one would be taken for none given.
CLI::Validator folder_name() {
  return CLI::Validator([](std::string& text) -> std::string { return text.empty() ? "expected a folder, got an empty name" : ""; },
                        "");
}

// The first argument that is not an option names the subcommand (no top-level option takes a
// value). An unknown one is named, with the nearest subcommand when it is a likely typo;
// CLI11 alone would only say that an argument "was not expected".
std::string unknown_subcommand(int argc, char** argv, const CLI::App& app) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      if (!sub->get_group().empty()) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), arg) != names.end() || arg == "probe-plugin") return "";
    std::string nearest;
    size_t best = 3;  // suggest only within two edits
    for (const auto& n : names)
      if (size_t d = loom::cli::edit_distance(arg, n); d < best || (n.rfind(arg, 0) == 0 && d == best)) {
        best = d;
        nearest = n;
      }
    return "unknown subcommand '" + std::string(arg) + "'" + (nearest.empty() ? "" : "; did you mean '" + nearest + "'?") +
           " (subcommands: " + loom::cli::join(names) + ")";
  }
  return "";
}

// CLI11 names the arguments it could not place ("The following arguments were not expected:
// x=y --inptu"), last first. The first that reads as an option is named instead, with the
// nearest option of the subcommand when it is a likely typo.
std::string unknown_option(const CLI::App& app, const std::vector<std::string>& extras) {
  const CLI::App* cmd = &app;
  for (const CLI::App* sub : app.get_subcommands()) cmd = sub;  // the parsed one
  for (const std::string& arg : extras) {
    if (arg.size() < 2 || arg[0] != '-' || std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.') continue;
    const std::string name = arg.substr(0, arg.find('='));
    std::vector<std::string> names;
    for (const CLI::Option* o : cmd->get_options())
      for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
    // An option of the subcommand given before it (loom --json plugins).
    if (cmd != &app && std::find(names.begin(), names.end(), name) != names.end())
      return "option '" + name + "' goes after the subcommand: loom " + cmd->get_name() + " " + name + " ...";
    std::string nearest;
    size_t best = 3;  // suggest only within two edits
    for (const auto& n : names)
      if (size_t d = loom::cli::edit_distance(name, n); d < best) {
        best = d;
        nearest = n;
      }
    const std::string where = cmd == &app ? "" : " for '" + cmd->get_name() + "'";
    return "unknown option '" + name + "'" + where + (nearest.empty() ? "" : "; did you mean '" + nearest + "'?");
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace loom::cli;
  CLI::App app{"loom: run transformer graphs and models on pluggable backends"};
  app.require_subcommand(0, 1);
  // --help shows each option's default.
  app.option_defaults()->always_capture_default();
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");

  PluginOptions plugin_opts;
  auto add_plugin_options = [&](CLI::App* cmd) {
    cmd->add_option("--plugin", plugin_opts.files, "Load this plugin file first (repeat the option for each file)")
        ->type_name("FILE")->allow_extra_args(false)->default_str("");
    cmd->add_flag("--no-default-plugins", plugin_opts.no_default_paths,
                  "Do not search LOOM_PLUGIN_PATH, the install's plugin folder or the executable's folder");
  };
  // One comma-separated value, given once: --backend onednn,vulkan.
  auto add_backend_option = [](CLI::App* cmd, std::string& backends) {
    cmd->add_option("--backend", backends,
                    "Backends in priority order, comma-separated (default: every loaded backend in load order, but for those "
                    "used only on request, such as reference)")
        ->type_name("NAME[,NAME...]")
        ->check(CLI::Validator([](std::string& text) { return text.empty() ? "expected NAME[,NAME...], got an empty list" : ""; }, ""));
  };
  auto add_optimize_option = [](CLI::App* cmd, std::string& level) {
    cmd->add_option("--optimize", level,
                    "Graph passes before placement: none, basic (dead nodes, constants, transposes into matmul) or all "
                    "(basic and fusions)")
        ->type_name("LEVEL")->check(CLI::IsMember({"none", "basic", "all"}))->capture_default_str();
  };
  // Repeatable KEY=VALUE session and backend options.
  auto add_session_options = [](CLI::App* cmd, std::vector<std::string>& options) {
    cmd->add_option("--option", options,
                    "Session or backend option KEY=VALUE (repeat the option for each): precision=f32|bf16|f16, "
                    "NAME.KEY=VALUE for backend NAME only, fallback=on|off, kv_cache=f32|bf16 (KV caches in bf16: the default with precision=bf16)")
        ->type_name("KEY=VALUE")->allow_extra_args(false)->default_str("");
  };
  // --precision P: the session option precision=P (docs/plugins.md); a backend that cannot
  // compute in P refuses the session. A new precision is one more entry here.
  auto add_precision_option = [](CLI::App* cmd, std::string& precision) {
    cmd->add_option("--precision", precision, "Compute precision: f32, bf16 or f16 (the session option precision=P)")
        ->check(CLI::IsMember({"f32", "bf16", "f16"}))->type_name("P");
  };
  const std::string threads_help = "Threads for the session's backends, 0 = each backend's default (at most " +
                                   std::to_string(loom::SessionOptions::max_threads) + ")";
  const CLI::Validator threads_range = whole_number_in(0, loom::SessionOptions::max_threads, " (0: the backend's default)");

  // plugins
  PluginsArgs plugins_args;
  CLI::App* plugins = app.add_subcommand("plugins", "List every plugin found, loaded or not, and why not");
  plugins->add_flag("--json", plugins_args.json, "Machine-readable output");
  plugins->add_option("--probe-timeout", plugins_args.probe_timeout,
                      "Seconds a plugin may take to load in its probe process before it counts as hung")
      ->check(whole_number_in(1, kMaxProbeSeconds))->type_name("SECONDS");
  add_plugin_options(plugins);

  // inspect
  InspectArgs inspect_args;
  CLI::App* inspect = app.add_subcommand("inspect", "Describe a graph: inputs, outputs, ops, placement and planned memory");
  inspect->add_option("graph", inspect_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  inspect->add_flag("--placement", inspect_args.placement, "Explain where each node runs and why");
  inspect->add_option("--task", inspect_args.task, kTaskHelp)->type_name("T");
  inspect->add_flag("--json", inspect_args.json, "Machine-readable output");
  add_backend_option(inspect, inspect_args.backends);
  add_session_options(inspect, inspect_args.options);
  add_precision_option(inspect, inspect_args.precision);
  add_optimize_option(inspect, inspect_args.optimize);
  inspect->add_option("--dim", inspect_args.dims, "Symbol value for memory planning, e.g. seq=32 (repeat the option for each symbol; others count as 1)")
      ->type_name("NAME=N")->allow_extra_args(false)->default_str("");
  add_plugin_options(inspect);

  // validate
  ValidateArgs validate_args;
  CLI::App* validate = app.add_subcommand("validate", "Check a graph and every file it references");
  validate->add_option("graph", validate_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  validate->add_flag("--json", validate_args.json, "Machine-readable output");
  validate->add_option("--task", validate_args.task, kTaskHelp)->type_name("T");
  add_plugin_options(validate);

  // run
  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run a graph on .npy inputs and write its outputs as .npy");
  run->add_option("graph", run_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  run->add_option("--input", run_args.inputs, "Graph input from a .npy file (repeat the option for each input)")
      ->type_name("NAME=FILE.npy")->allow_extra_args(false)->default_str("");
  run->add_option("--output-dir", run_args.output_dir, "Write every output into DIR as NAME.npy (names encoded to stay inside DIR)")
      ->type_name("DIR")->check(folder_name());
  add_backend_option(run, run_args.backends);
  run->add_option("--threads", run_args.threads, threads_help)->check(threads_range)->type_name("N");
  run->add_flag("--json", run_args.json, "Print outputs' names, shapes and dtypes as JSON");
  run->add_option("--expect", run_args.expect, "Compare output NAME with a reference .npy; fail if it differs (repeat the option for each output)")
      ->type_name("NAME=FILE.npy")->allow_extra_args(false)->default_str("");
  run->add_option("--atol", run_args.atol, "Absolute tolerance for --expect")->check(finite_number(false))->type_name("X");
  run->add_option("--rtol", run_args.rtol, "Relative tolerance for --expect: |out-ref| <= atol + rtol*|ref|")->check(finite_number(false))->type_name("X");
  add_session_options(run, run_args.options);
  add_precision_option(run, run_args.precision);
  add_optimize_option(run, run_args.optimize);
  add_plugin_options(run);

  // bench
  BenchArgs bench_args;
  CLI::App* bench = app.add_subcommand("bench", "Time repeated runs of a graph, manifest or checkpoint (or its decode steps): latency, throughput, load time, peak memory");
  bench->add_option("graph", bench_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("MODEL");
  bench->add_option("--input", bench_args.inputs, "Graph input from a .npy file (repeat the option for each input); others are generated")
      ->type_name("NAME=FILE.npy")->allow_extra_args(false)->default_str("");
  bench->add_option("--dim", bench_args.dims, "Symbol value for generated inputs, e.g. seq=32 (repeat the option for each symbol; others count as 1)")
      ->type_name("NAME=N")->allow_extra_args(false)->default_str("");
  add_backend_option(bench, bench_args.backends);
  bench->add_option("--threads", bench_args.threads, threads_help)->check(threads_range)->type_name("N");
  bench->add_option("--warmup", bench_args.warmup, "Untimed runs first")->check(whole_number_in(0, kMaxRuns))->type_name("N");
  bench->add_option("--iterations", bench_args.iterations, "Timed samples")->check(whole_number_in(1, kMaxRuns))->type_name("N");
  bench->add_option("--repeat", bench_args.repeat, "Runs per timed sample (for very fast graphs)")->check(whole_number_in(1, kMaxRuns))->type_name("N");
  bench->add_option("--seq", bench_args.seq, "Tokens per row of a text model's generated ids (its seq symbol)")
      ->check(whole_number_in(1, kMaxTokens))->type_name("N")->default_str("");
  bench->add_option("--batch", bench_args.batch, "Rows of a model's generated ids and images (their batch symbols)")
      ->check(whole_number_in(1, kMaxTokens))->type_name("B");
  bench->add_option("--task", bench_args.task, kTaskHelp)->type_name("T");
  bench->add_option("--decode", bench_args.decode, "Time decode steps through the model's text-generation graph: N steps after --past tokens")
      ->check(whole_number_in(1, kMaxTokens))->type_name("N");
  bench->add_option("--past", bench_args.past, "With --decode: the prompt's length in tokens")
      ->check(whole_number_in(1, kMaxTokens))->type_name("P");
  add_precision_option(bench, bench_args.precision);
  bench->add_option("--profile", bench_args.profile, "Write a Chrome trace (chrome://tracing, Perfetto) of one run, one event per node")
      ->type_name("FILE");
  bench->add_flag("--json", bench_args.json, "Machine-readable output (one line)");
  add_session_options(bench, bench_args.options);
  add_optimize_option(bench, bench_args.optimize);
  add_plugin_options(bench);

  // export
  ExportArgs export_args;
  CLI::App* export_cmd = app.add_subcommand("export", "Write a graph, manifest or checkpoint as one flat YAML graph");
  export_cmd->add_option("graph", export_args.graph, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("GRAPH");
  export_cmd->add_option("-o,--output", export_args.output, "The graph file to write")->required()->type_name("FILE");
  export_cmd->add_option("--task", export_args.task, kTaskHelp)->type_name("T");
  add_optimize_option(export_cmd, export_args.optimize);
  add_plugin_options(export_cmd);

  // preprocess
  PreprocessArgs preprocess_args;
  CLI::App* preprocess = app.add_subcommand(
      "preprocess", "Encode texts with the graph's tokenizer and images with its image processor into its inputs as .npy files");
  preprocess->add_option("model", preprocess_args.model, "Graph YAML file, model manifest or checkpoint folder")->required()->type_name("MODEL");
  preprocess->add_option("--text", preprocess_args.texts, "A text to encode, one row each (repeat the option for each text)")
      ->type_name("TEXT")->allow_extra_args(false)->default_str("");
  preprocess->add_option("--text-pair", preprocess_args.pairs,
                         "The second text of a pair, one per --text in the same order (repeat the option)")
      ->type_name("TEXT")->allow_extra_args(false)->default_str("");
  preprocess->add_option("--image", preprocess_args.images,
                         "A PNG or JPEG file to process, one row each (repeat the option for each image)")
      ->type_name("FILE")->allow_extra_args(false)->default_str("");
  preprocess->add_option("--output-dir", preprocess_args.output_dir, "Write each input made into DIR as NAME.npy (the graph's input names)")
      ->required()->type_name("DIR")->check(folder_name());
  preprocess->add_flag("--json", preprocess_args.json, "Also print the arrays as one JSON object, by input name");
  add_plugin_options(preprocess);

  // The text tasks: a checkpoint (or graph, or manifest) and text in, the pipeline's answer out.
  TaskArgs fill_args, nsp_args, classify_args, embed_args, zero_shot_args, search_args, fill_image_args;
  GenerateArgs generate_args;
  auto add_task_options = [&](CLI::App* cmd, TaskArgs& a) {
    add_backend_option(cmd, a.backends);
    cmd->add_option("--threads", a.threads, threads_help)->check(threads_range)->type_name("N");
    add_session_options(cmd, a.options);
    add_precision_option(cmd, a.precision);
    cmd->add_flag("--json", a.json, "Print the result as JSON, with the keys of Hugging Face's pipelines");
    add_plugin_options(cmd);
  };
  auto add_model = [](CLI::App* cmd, TaskArgs& a) {
    cmd->add_option("model", a.model, "Checkpoint folder (config.json, weights, tokenizer files), manifest or graph")
        ->required()->type_name("MODEL");
  };
  auto add_texts = [](CLI::App* cmd, TaskArgs& a, const char* what) {
    cmd->add_option("--text", a.texts, what)->type_name("TEXT")->allow_extra_args(false)->default_str("");
  };
  auto add_images = [](CLI::App* cmd, TaskArgs& a, const char* what) {
    cmd->add_option("--image", a.images, what)->type_name("FILE")->allow_extra_args(false)->default_str("");
  };
  const CLI::Validator top_k_range = whole_number_in(1, 1 << 20, "");
  auto add_top_k = [&](CLI::App* cmd, TaskArgs& a, const char* what) {
    cmd->add_option("--top-k", a.top_k, what)->check(top_k_range)->type_name("K")->default_str("");
  };

  CLI::App* fill = app.add_subcommand("fill-mask", "Predict the tokens at the mask token of a text (BERT's masked LM)");
  add_model(fill, fill_args);
  // The first text takes the positional and the others come through remaining(), as typed: CLI11
  // reads a value of a list option that is in brackets ("[MASK]", "[a, b]") as a list.
  fill->add_option("text", fill_args.texts,
                   "The text, with the tokenizer's mask token ([MASK]) where a word is missing (give several to fill each)")
      ->required()->type_name("TEXT")->default_str("")->allow_extra_args(false);
  fill->allow_extras();
  fill->add_option("--top-k", fill_args.top_k, "How many predictions per mask (default 5)")->check(top_k_range)->type_name("K")->default_str("");
  add_task_options(fill, fill_args);

  CLI::App* nsp = app.add_subcommand("next-sentence", "The probability that --text-pair follows --text (BERT's next-sentence head)");
  add_model(nsp, nsp_args);
  add_texts(nsp, nsp_args, "The first sentence A (repeat with --text-pair for several pairs)");
  nsp->add_option("--text-pair", nsp_args.pairs, "The sentence B that may follow A, one per --text")
      ->type_name("TEXT")->allow_extra_args(false)->default_str("");
  add_task_options(nsp, nsp_args);

  CLI::App* classify = app.add_subcommand("classify", "Labels and scores of texts or images (a classification checkpoint's id2label)");
  add_model(classify, classify_args);
  add_texts(classify, classify_args, "A text to classify (repeat the option for each text)");
  add_images(classify, classify_args, "A PNG or JPEG image to classify (repeat the option for each image; top 5 labels by default)");
  classify->add_option("--text-pair", classify_args.pairs, "A second text per --text, for pair classification")
      ->type_name("TEXT")->allow_extra_args(false)->default_str("");
  add_top_k(classify, classify_args, "Show the K best labels (default: all for texts, 5 for images)");
  add_task_options(classify, classify_args);

  CLI::App* embed = app.add_subcommand("embed", "Feature vectors of texts or images: the model's own (CLIP) or its last_hidden_state pooled");
  add_model(embed, embed_args);
  add_texts(embed, embed_args, "A text to embed (repeat the option for each text)");
  add_images(embed, embed_args, "A PNG or JPEG image to embed (repeat the option for each image)");
  embed->add_option("--pooling", embed_args.pooling, "mean (over the attention mask, or every patch) or cls (the first token)")
      ->check(CLI::IsMember({"mean", "cls"}))->capture_default_str()->type_name("MODE");
  embed->add_flag("--normalize", embed_args.normalize, "Scale each vector to unit length");
  add_task_options(embed, embed_args);

  CLI::App* generate = app.add_subcommand("generate", "Continue a prompt token by token through the KV cache (GPT-2), or generate images (ImageGPT)");
  add_model(generate, generate_args);
  generate->add_option("--prompt", generate_args.prompt, "The text to continue (\"\": from the model's bos token)")->type_name("TEXT");
  generate->add_option("--image-count", generate_args.image_count, "ImageGPT: generate N images, pixel by pixel, as PNG files")
      ->check(whole_number_in(1, 1 << 16, ""))->type_name("N");
  generate->add_option("-o,--output-dir", generate_args.output_dir, "ImageGPT: the folder the images are written to (image-I.png)")
      ->type_name("DIR")->check(folder_name());
  generate->add_option("--prime", generate_args.prime, "ImageGPT: complete the lower half of this image (PNG or JPEG)")->type_name("FILE");
  generate->add_option("--max-new-tokens", generate_args.max_new_tokens,
                       "Stop after N new tokens (default: generation_config.json's, else 20)")
      ->check(whole_number_in(1, 1 << 20, ""))->type_name("N")->default_str("");
  generate->add_option("--temperature", generate_args.temperature, "Sample with this temperature (> 0)")
      ->check(finite_number(true))->type_name("T")->default_str("");
  generate->add_option("--top-k", generate_args.sample_top_k, "Sample from the K most likely tokens (0: all)")
      ->check(whole_number_in(0, 1 << 24, ""))->type_name("K")->default_str("");
  generate->add_option("--top-p", generate_args.top_p, "Sample from the most likely tokens whose probability reaches P")
      ->check(number_in(0, false, 1, false))->type_name("P");
  generate->add_option("--min-p", generate_args.min_p, "Sample only from tokens at least P times as likely as the most likely")
      ->check(number_in(0, false, 1, false))->type_name("P");
  generate->add_option("--typical-p", generate_args.typical_p,
                       "Sample from the tokens closest to the expected information until their probability reaches P")
      ->check(number_in(0, true, 1, false))->type_name("P");
  generate->add_option("--epsilon-cutoff", generate_args.epsilon_cutoff, "Sample only from tokens at least E likely (0: all; below 1)")
      ->check(number_in(0, false, 1, true))->type_name("E");
  generate->add_option("--eta-cutoff", generate_args.eta_cutoff,
                       "Sample only from tokens at least min(E, sqrt(E) * exp(-entropy)) likely (0: all; below 1)")
      ->check(number_in(0, false, 1, true))->type_name("E");
  generate->add_option("--seed", generate_args.seed, "The sampler's seed")->check(seed_number())->type_name("N");
  generate->add_flag("--greedy", generate_args.greedy, "Take the most likely token, whatever generation_config.json says");
  generate->add_option("--repetition-penalty", generate_args.repetition_penalty,
                       "Divide the scores of tokens already in the text by R (multiply negative ones; 1: none)")
      ->check(finite_number(true))->type_name("R");
  generate->add_option("--no-repeat-ngram-size", generate_args.no_repeat_ngram_size, "Never repeat an N-gram of the text (0: allowed)")
      ->check(whole_number_in(0, 1 << 20, ""))->type_name("N");
  generate->add_option("--min-new-tokens", generate_args.min_new_tokens, "Make at least N new tokens before an end-of-text token")
      ->check(whole_number_in(0, 1 << 20, ""))->type_name("N");
  generate->add_option("--num-beams", generate_args.num_beams, "Search N beams (transformers' beam search; 1: greedy), without sampling")
      ->check(whole_number_in(1, 1024, ""))->type_name("N");
  generate->add_option("--num-return-sequences", generate_args.num_return_sequences,
                       "Return N sequences: N samples (seeds S, S + 1, ...) or the N best beams (at most --num-beams)")
      ->check(whole_number_in(1, 1024, ""))->type_name("N");
  generate->add_option("--length-penalty", generate_args.length_penalty,
                       "Beam search: a finished beam scores its log-probability / new length^L (default 1)")
      ->check(finite_number(false, true))->type_name("L")->default_str("");
  add_task_options(generate, generate_args);

  CLI::App* zero_shot = app.add_subcommand("zero-shot", "Score candidate labels for images by text-image similarity (CLIP)");
  add_model(zero_shot, zero_shot_args);
  add_images(zero_shot, zero_shot_args, "A PNG or JPEG image (repeat the option for each image)");
  zero_shot->add_option("--labels", zero_shot_args.labels, "The candidate labels, comma-separated: \"a cat,a dog\"")
      ->required()->type_name("LABELS");
  zero_shot->add_option("--template", zero_shot_args.hypothesis, "The text made of each label, {} standing for it")
      ->capture_default_str()->type_name("TEXT");
  add_top_k(zero_shot, zero_shot_args, "Show the K best labels (default: all)");
  add_task_options(zero_shot, zero_shot_args);

  CLI::App* search = app.add_subcommand("search", "Rank the images of a folder by their similarity to a text (CLIP)");
  add_model(search, search_args);
  search->add_option("folder", search_args.folder, "The folder of PNG and JPEG images")->required()->type_name("DIR");
  add_texts(search, search_args, "The query");
  add_top_k(search, search_args, "Show the K best images (default: all)");
  add_task_options(search, search_args);

  CLI::App* fill_image = app.add_subcommand("fill-image", "Mask random patches of an image and predict their visual tokens (BEiT)");
  add_model(fill_image, fill_image_args);
  add_images(fill_image, fill_image_args, "The PNG or JPEG image");
  fill_image->add_option("--mask-ratio", fill_image_args.mask_ratio, "The share of patches to mask, in (0, 1]")
      ->check(number_in(0, true, 1, false))->capture_default_str()->type_name("R");
  fill_image->add_option("--seed", fill_image_args.seed, "The seed that picks the masked patches")->check(seed_number())->type_name("N");
  add_task_options(fill_image, fill_image_args);

  // Options whose stored default only means "not given" (the model's or the task's own value
  // applies, as their help says): --help shows no default for them.
  auto unset_by_default = [](CLI::App* cmd, std::initializer_list<const char*> names) {
    for (const char* name : names) cmd->get_option(name)->default_str("");
  };
  unset_by_default(bench, {"--seq", "--batch", "--decode", "--past"});
  unset_by_default(generate, {"--image-count", "--top-p", "--min-p", "--typical-p", "--epsilon-cutoff", "--eta-cutoff",
                              "--repetition-penalty", "--no-repeat-ngram-size", "--min-new-tokens", "--num-beams",
                              "--num-return-sequences"});

  // conformance
  ConformanceArgs conformance_args;
  CLI::App* conformance = app.add_subcommand("conformance", "Run the generated op cases on every backend against the reference backend");
  conformance->add_option("--backend", conformance_args.backends,
                          "Only these backends, comma-separated (default: every loaded backend)")->type_name("NAME[,NAME...]");
  conformance->add_option("--op", conformance_args.op, "Only this op of the registry")->type_name("OP");
  conformance->add_flag("--json", conformance_args.json, "Machine-readable output: one JSON document");
  add_plugin_options(conformance);

  // probe-plugin: the child process of `loom plugins`; not for people, so not in --help.
  std::string probe_file;
  CLI::App* probe = app.add_subcommand("probe-plugin", "Load one plugin file and unload it (used by `loom plugins`)");
  probe->group("");
  probe->add_option("file", probe_file)->required();

  if (std::string unknown = unknown_subcommand(argc, argv, app); !unknown.empty()) {
    std::fprintf(stderr, "loom: %s\nRun with --help for usage.\n", unknown.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (104-109 ...) are not ours: help is 0, every usage error is 2.
    if (e.get_exit_code() == 0) {  // --help
      app.exit(e);
      std::fflush(stdout);
      return std::ferror(stdout) ? 1 : 0;
    }
    std::string what = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
      std::vector<std::string> extras = app.remaining();
      for (const CLI::App* sub : app.get_subcommands())
        for (const std::string& a : sub->remaining()) extras.push_back(a);
      if (std::string named = unknown_option(app, extras); !named.empty()) what = named;
    } else if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && what.find("At Most 1 required") != std::string::npos) {
      what = what.substr(0, what.find(':')) + " is given twice (it takes one value)";
    }
    std::fprintf(stderr, "loom: %s\n", what.c_str());
    std::fprintf(stderr, "Run with --help for usage.\n");
    return 2;
  }

  auto dispatch = [&]() -> int {
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
    if (preprocess->parsed()) return cmd_preprocess(plugin_opts, preprocess_args);
    if (fill->parsed()) {
      bool options_end = false;  // after "--", texts only
      for (const std::string& text : fill->remaining()) {
        if (text == "--" && !options_end) {
          options_end = true;
          continue;
        }
        // What reads as an option ("-k", "--topk", "--x=1"), not a text such as "-5 is [MASK]".
        const bool option_like = text.size() > 1 && text[0] == '-' &&
                                 std::isalpha(static_cast<unsigned char>(text[text[1] == '-' ? 2 : 1])) &&
                                 text.find(' ') == std::string::npos;
        if (!options_end && option_like) throw UsageError(unknown_option(app, {printable(text)}));
        fill_args.texts.push_back(text);
      }
      return cmd_fill_mask(plugin_opts, fill_args);
    }
    if (nsp->parsed()) return cmd_next_sentence(plugin_opts, nsp_args);
    if (classify->parsed()) return cmd_classify(plugin_opts, classify_args);
    if (embed->parsed()) {
      embed_args.pooling_given = embed->count("--pooling") > 0;
      return cmd_embed(plugin_opts, embed_args);
    }
    if (generate->parsed()) {
      generate_args.prompt_given = generate->count("--prompt") > 0;
      return cmd_generate(plugin_opts, generate_args);
    }
    if (zero_shot->parsed()) return cmd_zero_shot(plugin_opts, zero_shot_args);
    if (search->parsed()) return cmd_search(plugin_opts, search_args);
    if (fill_image->parsed()) return cmd_fill_image(plugin_opts, fill_image_args);
    if (conformance->parsed()) return cmd_conformance(plugin_opts, conformance_args);
    if (probe->parsed()) return cmd_probe_plugin(probe_file);
    std::fprintf(stderr, "loom: a subcommand is required\n%s", app.help().c_str());
    return 2;
  };
  // Output that could not be written (a full disk, a closed pipe) fails the command: a script's
  // `loom ... --json > out.json` must not take a cut file for a result.
  auto flushed = [](int rc) {
    std::cout.flush();
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "loom: error: writing to standard output failed: %s\n", std::strerror(errno));
      return rc == 0 ? 1 : rc;
    }
    return rc;
  };
  try {
    return flushed(dispatch());
  } catch (const UsageError& e) {
    std::fprintf(stderr, "loom: %s\n", e.what());
    return flushed(2);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom: error: %s\n", e.what());
    return flushed(1);
  }
}
