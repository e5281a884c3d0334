// The subcommands of `loom`; each returns the process exit status.
#pragma once

#include <loom/engine.hpp>
#include <loom/generation.hpp>

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <map>
#include <ostream>
#include <stdexcept>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom::cli {

// A mistake in how the tool was called (exit status 2), found after parsing.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Ranges of the numeric options, shown in --help and in their errors.
inline constexpr int kMaxRuns = 1'000'000;        // --warmup, --iterations, --repeat
inline constexpr int kMaxProbeSeconds = 600;      // plugins --probe-timeout

struct PluginOptions {
  std::vector<std::string> files;
  bool no_default_paths = false;
};

struct PluginsArgs {
  bool json = false;
  int probe_timeout = 10;  // seconds
};
struct InspectArgs {
  std::string graph, backends, optimize = "all";
  std::string task;  // "": the model's default graph
  bool placement = false, json = false;
  std::vector<std::string> dims, options;
  std::string precision;  // --precision; "": the session's default (f32)
};
struct ValidateArgs { std::string graph, task; bool json = false; };
struct RunArgs {
  std::string graph, output_dir, backends, optimize = "all";
  std::vector<std::string> inputs, expect, options;
  int threads = 0;
  bool json = false;
  double atol = 1e-5, rtol = 1e-5;
  std::string precision;  // --precision; "": the session's default (f32)
};
struct ExportArgs {
  std::string graph, output, optimize = "all";
  std::string task;  // "": the model's default graph
};
struct PreprocessArgs {
  std::string model, output_dir;
  std::vector<std::string> texts, pairs, images;
  bool json = false;
};
inline constexpr int64_t kMaxTokens = 1'000'000;  // bench --seq, --batch, --decode, --past
struct BenchArgs {
  std::string graph, backends, optimize = "all";
  std::string task;                // "": the model's default graph
  std::vector<std::string> inputs, dims, options;
  int threads = 0, warmup = 5, iterations = 50, repeat = 1;
  int64_t seq = 0, batch = 0;      // 0: not given (--dim or 1)
  int64_t decode = 0, past = 0;    // decode steps after a prompt of `past` tokens; 0: a whole run
  std::string precision;           // "": the session's default (f32)
  std::string profile;             // Chrome trace file
  bool json = false;
};

// The text task commands (task_cmds.cpp).
struct TaskArgs {
  std::string model, backends;
  std::vector<std::string> texts, pairs, options;
  std::string precision;  // --precision; "": the session's default (f32)
  int threads = 0;
  int64_t top_k = 0;  // 0: the task's default
  bool json = false;
  std::string pooling = "mean";  // embed
  bool pooling_given = false;     // --pooling on the command line (refused where the model pools itself)
  bool normalize = false;        // embed
  std::vector<std::string> images;  // classify, embed, zero-shot, fill-image
  std::string labels;               // zero-shot: "a cat,a dog"
  std::string hypothesis = "This is a photo of {}.";  // zero-shot --template
  std::string folder;               // search
  double mask_ratio = 0.4;          // fill-image
  uint64_t seed = 0;                // fill-image's mask, generate's sampler
};
struct GenerateArgs : TaskArgs {
  std::string prompt;
  bool prompt_given = false;    // --prompt "" (generation from the model's bos) is given too
  int64_t max_new_tokens = 0;   // 0: the model's default
  double temperature = -1;      // < 0: unset (also top_p)
  double top_p = -1;
  double min_p = -1, typical_p = -1, epsilon_cutoff = -1, eta_cutoff = -1;  // < 0: unset
  int64_t sample_top_k = -1;    // < 0: unset
  bool greedy = false;
  double repetition_penalty = -1;   // < 0: unset (also the two below)
  int64_t no_repeat_ngram_size = -1;
  int64_t min_new_tokens = -1;
  int64_t num_beams = 0;           // 0: unset
  int64_t num_return_sequences = 0;  // 0: unset
  double length_penalty = std::numeric_limits<double>::quiet_NaN();  // NaN: unset
  int64_t image_count = 0;      // ImageGPT: images to generate
  std::string output_dir;       // ... written there as PNG files
  std::string prime;            // ... completing the lower half of this image
};

int cmd_plugins(const PluginOptions& p, const PluginsArgs& a);
int cmd_inspect(const PluginOptions& p, const InspectArgs& a);
int cmd_validate(const PluginOptions& p, const ValidateArgs& a);
int cmd_run(const PluginOptions& p, const RunArgs& a);
int cmd_bench(const PluginOptions& p, const BenchArgs& a);
int cmd_export(const PluginOptions& p, const ExportArgs& a);
int cmd_fill_mask(const PluginOptions& p, const TaskArgs& a);
int cmd_next_sentence(const PluginOptions& p, const TaskArgs& a);
int cmd_classify(const PluginOptions& p, const TaskArgs& a);
int cmd_embed(const PluginOptions& p, const TaskArgs& a);
int cmd_generate(const PluginOptions& p, const GenerateArgs& a);
int cmd_preprocess(const PluginOptions& p, const PreprocessArgs& a);
// The image tasks (image_task_cmds.cpp); classify, embed and generate hand their image forms to
// the first three.
int classify_images(const PluginOptions& p, const TaskArgs& a);
int embed_images(const PluginOptions& p, const TaskArgs& a);
int generate_images(const PluginOptions& p, const GenerateArgs& a);
// The sampling options given (--temperature, --top-k, --top-p, --min-p, --typical-p,
// --epsilon-cutoff, --eta-cutoff), each asking for sampling, then --greedy over them; then the
// logits processors that --repetition-penalty, --no-repeat-ngram-size and --min-new-tokens set,
// over the model's defaults. A decoding chosen (--greedy, a sampling option) means one beam.
void set_decoding(const GenerateArgs& a, GenerationOptions& o);
int cmd_zero_shot(const PluginOptions& p, const TaskArgs& a);
int cmd_search(const PluginOptions& p, const TaskArgs& a);
int cmd_fill_image(const PluginOptions& p, const TaskArgs& a);

// `loom conformance` (conformance_cmd.cpp): the generated op cases on every backend against the
// reference backend.
struct ConformanceArgs {
  std::string backends, op;
  bool json = false;
};
int cmd_conformance(const PluginOptions& p, const ConformanceArgs& a);

// `loom probe-plugin FILE` (hidden): the child process of `loom plugins` that loads one plugin
// file, says so on stdout, unloads it and exits 0, unless the plugin takes it down first.
int cmd_probe_plugin(const std::string& file);
// Runs `loom probe-plugin FILE` and waits at most `timeout_s` seconds: "" when the child loaded
// and unloaded the file and exited normally, else what happened (signal, exit status, time out).
std::string probe_plugin(const std::filesystem::path& file, int timeout_s);

// Shared helpers (util.cpp).
// strict: a --plugin file that fails to load is an error (all commands but `plugins`).
// screen: see EngineOptions::screen.
Engine make_engine(const PluginOptions& p, bool strict = true, decltype(EngineOptions::screen) screen = {});
// The model's graph for --task T ("": its default graph); a model without that task is a usage
// error (exit 2), a model that cannot be read at all stays a plain error (exit 1).
Graph task_graph(const Engine& engine, const std::string& model, const std::string& task);
// "NAME=VALUE" -> {NAME, VALUE}; throws UsageError naming the option.
std::pair<std::string, std::string> split_assignment(const std::string& text, const char* option);
// "--dim NAME=N" values, each N >= 1.
std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& dims);
// Refuses a --dim the graph has no symbol for, or beyond a limit the graph sets (UsageError).
void check_dims(const Session& s, const std::map<std::string, int64_t>& dims);
// The --input NAME=FILE.npy arguments by name; a name given twice is a UsageError.
std::map<std::string, std::string> input_files(const std::vector<std::string>& inputs);
// Those files read (a file's error names it).
TensorMap read_inputs(const std::map<std::string, std::string>& files);
TensorMap read_inputs(const std::vector<std::string>& inputs);
// Refuses --input names that are not graph inputs and, when `all_required`, graph inputs not
// given, listing every one at once (UsageError).
void check_input_names(const Graph& g, const std::map<std::string, std::string>& inputs, bool all_required);
void check_input_names(const Graph& g, const TensorMap& inputs, bool all_required);
// The session options of --backend, --threads, --option KEY=VALUE (a key given twice is a
// UsageError), --optimize LEVEL and --precision P (the session option precision=P, which every
// backend reads; giving it both ways is a UsageError).
SessionOptions session_options(const std::string& backends, int threads, const std::vector<std::string>& options = {},
                               const std::string& optimize = "all", const std::string& precision = "");
// --optimize LEVEL (validated by the parser).
OptimizeLevel optimize_level(const std::string& level);
// A graph's processing section: a summary (inspect) and every field (inspect --json).
void print_processing(std::ostream& os, const Processing& p);
nlohmann::json processing_json(const Processing& p);
// Runs the session; a failure names the graph file and the .npy file of each input it mentions.
TensorMap run_graph(Session& s, const TensorMap& inputs, const std::string& graph, const std::vector<std::string>& input_args);
// The same through a binding (its outputs reused from run to run).
void run_bound(Session& s, Binding& binding, const std::string& graph, const std::vector<std::string>& input_args);
std::string human_bytes(uint64_t bytes);
// A name from a graph as printed: control bytes and backslashes escaped (\n, \x1b, \\).
std::string printable(const std::string& name);
// 'name', printable
std::string quoted(const std::string& name);
// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The library names texts and images by their index ("text 1: ...", "image 0: ..."); the command
// line by the option, counted from 1 ("--text #2: ..."; `text_option` for texts given otherwise).
std::string option_names(std::string message, const std::string& text_option = "--text");
// "a, b, c"
std::string join(const std::vector<std::string>& items, const char* separator = ", ");

}  // namespace loom::cli
