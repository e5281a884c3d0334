#include "bench.hpp"
#include "commands.hpp"

#include <loom/error.hpp>
#include <loom/io.hpp>
#include <loom/processing.hpp>

#include <nlohmann/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <set>
#include <sstream>

namespace loom::cli {

namespace {

using clock = std::chrono::steady_clock;

// The threads of this process now (Linux: /proc/self/status); 0 when unknown. After the runs it
// counts the thread pools the backends started, which --threads bounds.
int process_threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return 0;
}

// The symbol values the inputs actually bind (given or generated), for the report.
std::map<std::string, int64_t> bound_symbols(const Graph& g, const TensorMap& inputs) {
  std::map<std::string, int64_t> out;
  for (const auto& in : g.inputs) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) continue;
    const Shape& shape = it->second.shape();
    for (size_t i = 0; i < in.info.shape.size() && i < shape.size(); ++i) {
      const Dim& d = in.info.shape[i];
      if (d.is_symbolic() && d.symbols().size() == 1 && d.factor() == 1) out.emplace(d.symbols()[0], shape[i]);
    }
  }
  return out;
}

// "[#####.....] 12/50" on stderr, redrawn at most ten times a second, only on a terminal.
class Progress {
 public:
  explicit Progress(int total) : total_(total), on_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { done(); }
  void step(int done_count) {
    if (!on_) return;
    const auto now = clock::now();
    if (done_count < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30, filled = total_ ? static_cast<int>(static_cast<int64_t>(width) * done_count / total_) : width;
    std::fprintf(stderr, "\rbench [%s%s] %d/%d", std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 done_count, total_);
    std::fflush(stderr);
    drawn_ = true;
  }
  void done() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  int total_;
  bool on_;
  bool drawn_ = false;
  clock::time_point last_{};
};

double ms(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Where --seq and --batch go: the symbols of the token input's dims [batch, seq] and of the image
// input's batch dim [batch, channels, height, width] (an image's size is the model's own).
void bind_generated_dims(const Graph& g, const BenchArgs& a, std::map<std::string, int64_t>& dims) {
  if (!a.seq && !a.batch) return;
  const GraphInput* ids = bench::token_input(g);
  if (ids && ids->info.shape.size() != 2) ids = nullptr;
  const GraphInput* image = bench::image_input(g);
  if (a.seq && !ids)
    throw UsageError("--seq: graph '" + printable(g.name) + "' has no token-id input [batch, seq] (use --dim NAME=N for its symbols)");
  if (a.batch && !ids && !image)
    throw UsageError("--batch: graph '" + printable(g.name) +
                     "' has no token-id input [batch, seq] or image input [batch, channels, height, width] (use --dim NAME=N for its symbols)");
  auto bind = [&](const GraphInput* in, size_t axis, int64_t value, const char* option) {
    if (!in || !value) return;
    const Dim& d = in->info.shape[axis];
    if (d.is_known()) {
      if (d.value() != value)
        throw UsageError(std::string(option) + " " + std::to_string(value) + ": input '" + printable(in->name) +
                         "' has a fixed size of " + std::to_string(d.value()) + " there");
      return;
    }
    if (!(d.is_symbolic() && d.symbols().size() == 1 && d.factor() == 1))
      throw UsageError(std::string(option) + ": input '" + printable(in->name) + "' has no plain symbol there");
    const std::string& sym = d.symbols()[0];
    for (const SymbolBound& b : g.symbols)  // named by the option given (check_dims would say --dim)
      if (b.name == sym && value > b.max)
        throw UsageError(std::string(option) + " " + std::to_string(value) + ": graph '" + printable(g.name) + "' takes " + sym +
                         " <= " + std::to_string(b.max) + " (its declared bound)");
    auto [it, fresh] = dims.emplace(sym, value);
    if (!fresh && it->second != value)
      throw UsageError(std::string(option) + " " + std::to_string(value) + " and --dim " + sym + "=" +
                       std::to_string(it->second) + " disagree");
  };
  bind(ids, 0, a.batch, "--batch");
  bind(ids, 1, a.seq, "--seq");
  bind(image, 0, a.batch, "--batch");
}

// The checkpoint's text-generation graph; a model without one is a usage error (exit 2), a
// model that cannot be read at all stays a plain error.
Graph generation_graph(const Engine& engine, const std::string& model) {
  std::string why;
  try {
    Graph g = engine.load_graph(model, "text-generation");
    if (g.processing && g.processing->generation) return g;
    why = "its graph has no processing.generation section";
  } catch (const Error& e) {
    why = e.what();
  }
  (void)engine.load_graph(model);  // unreadable: that error, exit 1
  throw UsageError("--decode: " + printable(model) + " has no text-generation graph with KV caches (" + why + ")");
}

struct Timing {
  std::vector<double> samples;  // microseconds, sorted
  double pct(double q) const {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5))];
  }
};

// A prompt of `past` tokens through a fresh state, then decode steps through `step` at
// positions past, past+1, ...: what `--decode` times and `--profile` traces.
struct Decoder {
  Session& s;
  const GenerationSpec& spec;
  int64_t batch, past, vocab;
  State state;
  Binding step;
  Tensor token, position;
  std::mt19937 rng{42};

  Decoder(Session& session, const GenerationSpec& g, int64_t b, int64_t p, int64_t v)
      : s(session), spec(g), batch(b), past(p), vocab(v), state(session.new_state()), step(session.new_binding()),
        token(DType::i64, {b, 1}), position(DType::i64, {b}) {
    step.bind_input(spec.input_ids, token);
    step.bind_input(spec.past_length, position);
  }
  double prefill() {
    Tensor ids(DType::i64, {batch, past}), zero(DType::i64, {batch});
    bench::fill_ids(ids, rng, vocab);
    for (int64_t b = 0; b < batch; ++b) zero.data_as<int64_t>()[b] = 0;
    const auto t0 = clock::now();
    s.run({{spec.input_ids, ids}, {spec.past_length, zero}}, state);
    return ms(clock::now() - t0);
  }
  // Step `k` (0-based) after the prompt; untimed set-up of its token and position.
  void prepare(int64_t k) {
    bench::fill_ids(token, rng, vocab);
    for (int64_t b = 0; b < batch; ++b) position.data_as<int64_t>()[b] = past + k;
  }
  void run(const RunOptions& o = {}) { s.run(step, state, o); }
};

}  // namespace

int cmd_bench(const PluginOptions& p, const BenchArgs& a) {
  auto dims = parse_dims(a.dims);
  const bool decode = a.decode > 0;
  if (a.past && !decode) throw UsageError("--past " + std::to_string(a.past) + " needs --decode N (decode steps after the prompt)");
  if (decode && !a.past) throw UsageError("--decode needs --past P (the prompt's length, at least 1)");
  if (decode && a.seq) throw UsageError("--seq is for a whole run; with --decode, --past sets the prompt's length");
  if (decode && (!a.inputs.empty() || !a.dims.empty())) throw UsageError("--decode generates its inputs: --input and --dim do not apply");
  if (decode && !a.task.empty() && a.task != "text-generation")
    throw UsageError("--decode runs the text-generation graph: --task " + a.task + " does not apply");
  SessionOptions options = session_options(a.backends, a.threads, a.options, a.optimize, a.precision);
  // Checked first: a trace that cannot be written fails before minutes of timing. It is written
  // at the end by loom::write_file (beside the target, then renamed).
  if (!a.profile.empty()) {
    const std::filesystem::path file(a.profile), dir = file.parent_path().empty() ? "." : file.parent_path();
    std::error_code ec;
    if (file.filename().empty() || std::filesystem::is_directory(file, ec))
      throw UsageError("--profile " + printable(a.profile) + ": expected the path of a file to write, not a folder");
    // A new file needs a folder that takes one; a file already there (or /dev/stdout) may be written in place.
    if (!std::filesystem::exists(file, ec) && (!std::filesystem::is_directory(dir, ec) || ::access(dir.c_str(), W_OK | X_OK) != 0))
      throw Error("--profile " + printable(a.profile) + ": cannot write into the folder " + printable(dir.string()));
  }

  Engine engine = make_engine(p);
  TensorMap inputs = read_inputs(a.inputs);
  const auto load_start = clock::now();
  Graph graph = decode ? generation_graph(engine, a.graph) : task_graph(engine, a.graph, a.task);
  Session s = engine.compile(graph, options);
  const double load_ms = ms(clock::now() - load_start);
  const Graph& g = s.graph();
  const int64_t batch = a.batch ? a.batch : 1;

  std::mt19937 rng(42);
  std::vector<std::string> generated;
  std::optional<GenerationSpec> spec;
  int64_t vocab = 0;
  if (decode) {
    spec = *g.processing->generation;
    const GraphInput* ids = bench::token_input(g);
    vocab = ids ? bench::vocabulary(g, ids->name) : 0;
    if (g.processing->tokenizer && g.processing->tokenizer->vocab_size > 0) vocab = g.processing->tokenizer->vocab_size;
    if (spec->max_length > 0 && a.past + a.decode > spec->max_length)
      throw UsageError("--past " + std::to_string(a.past) + " + --decode " + std::to_string(a.decode) + " = " +
                       std::to_string(a.past + a.decode) + " positions: " + printable(a.graph) + " holds at most " +
                       std::to_string(spec->max_length));
    std::map<std::string, int64_t> prompt_dims;
    for (const auto& in : g.inputs)
      if (in.name == spec->input_ids && in.info.shape.size() == 2) {
        if (in.info.shape[0].is_known() && in.info.shape[0].value() != batch)
          throw UsageError("--batch " + std::to_string(batch) + ": the text-generation graph of " + printable(a.graph) +
                           " takes " + std::to_string(in.info.shape[0].value()) + " row(s) per step");
        for (size_t axis = 0; axis < 2; ++axis)
          if (in.info.shape[axis].is_symbolic() && in.info.shape[axis].symbols().size() == 1)
            prompt_dims[in.info.shape[axis].symbols()[0]] = axis == 0 ? batch : a.past;
      }
    check_dims(s, prompt_dims);  // the prompt within the position table
    generated = {printable(spec->input_ids), printable(spec->past_length)};
  } else {
    bind_generated_dims(g, a, dims);
    check_input_names(g, inputs, /*all_required=*/false);
    check_dims(s, dims);
    const GraphInput* ids = bench::token_input(g);
    for (const auto& in : g.inputs)
      if (!inputs.count(in.name)) {
        const int64_t v = ids && ids->name == in.name ? bench::vocabulary(g, in.name) : 0;
        inputs.emplace(in.name, bench::generated_input(in, dims, rng, v));
        generated.push_back(printable(in.name));
      }
  }

  // Timing: a sample is --repeat runs (or decode steps at one position), its mean per run.
  Timing timing;
  double prefill_ms = 0;
  Progress progress(a.iterations);
  std::optional<Decoder> decoder;
  if (decode) {
    decoder.emplace(s, *spec, batch, a.past, vocab);
    prefill_ms = decoder->prefill();
    // Each round runs the N steps after the prompt; the caches' rows past the prompt are
    // rewritten each round, as each step reads only the positions before its own.
    for (int i = 0; i < a.warmup; ++i)
      for (int64_t k = 0; k < a.decode; ++k) {
        decoder->prepare(k);
        decoder->run();
      }
    for (int i = 0; i < a.iterations; ++i) {
      for (int64_t k = 0; k < a.decode; ++k) {
        decoder->prepare(k);
        const auto t0 = clock::now();
        for (int r = 0; r < a.repeat; ++r) decoder->run();
        timing.samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / a.repeat);
      }
      progress.step(i + 1);
    }
  } else {
    // Through a binding, as a serving loop runs: the first run allocates the outputs and later
    // ones reuse them, so that the peak RSS is the engine's and not the C library's keeping of
    // each run's freed outputs (a GPT-2 prompt's 25.7 MB of logits: 610 MiB against 551).
    Binding binding = s.new_binding();
    for (const auto& [name, t] : inputs) binding.bind_input(name, t);
    for (int i = 0; i < a.warmup; ++i) run_bound(s, binding, a.graph, a.inputs);
    for (int i = 0; i < a.iterations; ++i) {
      const auto t0 = clock::now();
      for (int r = 0; r < a.repeat; ++r) run_bound(s, binding, a.graph, a.inputs);
      timing.samples.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count() / a.repeat);
      progress.step(i + 1);
    }
  }
  progress.done();
  std::sort(timing.samples.begin(), timing.samples.end());
  const double median = timing.pct(0.5);
  const size_t nodes = g.nodes.size();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const uint64_t peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  const int threads_now = process_threads();

  // --profile: one more run on a session whose every node is a partition of its own, timed per
  // partition by the core (RunOptions::timings), after one untimed run that makes its plan.
  if (!a.profile.empty()) {
    SessionOptions profiled = options;
    profiled.options["profile"] = "on";
    Session ps = engine.compile(graph, profiled);
    std::vector<PartitionTiming> timings;
    timings.reserve(ps.placement().partitions.size());
    RunOptions record;
    record.timings = &timings;
    // The untimed run is profiled too (its timings dropped): a backend that times its device
    // records its commands with timestamps on the first profiled run, outside the traced one.
    std::vector<PartitionTiming> warm_timings;
    warm_timings.reserve(timings.capacity());
    RunOptions warm;
    warm.timings = &warm_timings;
    std::string what;
    if (decode) {
      Decoder d(ps, *spec, batch, a.past, vocab);
      d.prefill();
      d.prepare(0);
      d.run(warm);
      d.run(record);
      what = "decode step after " + std::to_string(a.past) + " tokens";
    } else {
      (void)ps.run(inputs, warm);
      (void)ps.run(inputs, record);
      what = "one run";
    }
    std::ostringstream trace;
    bench::write_trace(trace, ps, timings, a.graph, what);
    write_file(a.profile, {trace.str()});
    // A device backend that measured no device time (its queue writes no timestamps): its
    // events hold host times only.
    std::set<std::string> untimed;
    for (const auto& t : timings)
      if (t.device_ns < 0 && t.partition < ps.placement().partitions.size()) untimed.insert(ps.placement().partitions[t.partition].backend);
    for (const auto& name : untimed)
      for (const auto& r : engine.plugins_as_loaded())  // the backends that ran are started
        if (r.loaded && r.name == name && !r.devices.empty() && !r.devices[0].host_memory)
          std::fprintf(stderr, "note: --profile: %s timed no work on its device (no timestamps there); its events hold host times\n",
                       name.c_str());
  }

  // The backends that ran partitions, with the device each one created: with --threads 0 the
  // device description is where the backend's default thread count shows.
  std::vector<std::string> backends;
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& part : s.placement().partitions) {
    if (std::find(backends.begin(), backends.end(), part.backend) != backends.end()) continue;
    backends.push_back(part.backend);
    for (const auto& r : engine.plugins_as_loaded())  // the backends that ran are started
      if (r.loaded && r.name == part.backend && !r.devices.empty())
        devices.push_back({{"backend", part.backend}, {"device", r.devices[0].name}, {"description", r.devices[0].description}});
  }
  std::map<std::string, int64_t> bound = decode ? std::map<std::string, int64_t>{} : bound_symbols(g, inputs);
  const double per_node = nodes ? median / static_cast<double>(nodes) : 0.0;
  // Tokens per second: a text run handles batch x seq tokens, a decode step one per row.
  int64_t tokens = 0;
  if (decode) {
    tokens = batch;
  } else if (const GraphInput* ids = bench::token_input(g)) {
    auto it = inputs.find(ids->name);
    if (it != inputs.end()) tokens = it->second.numel();
  }
  // Images per second: a run handles the image input's batch.
  int64_t images = 0;
  if (const GraphInput* image = decode ? nullptr : bench::image_input(g)) {
    auto it = inputs.find(image->name);
    if (it != inputs.end() && it->second.rank() == 4) images = it->second.shape()[0];
  }
  const double runs_per_s = median > 0 ? 1e6 / median : 0.0;
  const double tokens_per_s = runs_per_s * static_cast<double>(tokens);
  const double images_per_s = runs_per_s * static_cast<double>(images);
  const std::string precision = options.options.count("precision") ? options.options.at("precision") : "f32";
  // The KV caches as the session keeps them (kv_cache): bf16 where its pass narrowed any.
  std::string kv_cache = "f32";
  for (const PassReport& r : s.optimization().passes)
    if (r.pass == "kv-cache-bf16" && r.rewrites > 0) kv_cache = "bf16";

  if (a.json) {
    nlohmann::json j{{"graph", a.graph}, {"backends", join(backends, ",")}, {"devices", devices},
                     {"dims", bound}, {"generated_inputs", generated}, {"nodes", nodes}, {"optimize", a.optimize},
                     {"warmup", a.warmup}, {"iterations", a.iterations}, {"repeat", a.repeat},
                     {"median_us", median}, {"p10_us", timing.pct(0.1)}, {"p90_us", timing.pct(0.9)},
                     {"min_us", timing.samples.front()}, {"median_over_nodes_us", per_node}, {"peak_rss_bytes", peak_rss},
                     {"process_threads", threads_now},
                     {"mode", decode ? "decode" : "run"}, {"precision", precision}, {"kv_cache", kv_cache}, {"samples", timing.samples.size()},
                     {"median_ms", median / 1e3}, {"p90_ms", timing.pct(0.9) / 1e3}, {"min_ms", timing.samples.front() / 1e3},
                     {"load_ms", load_ms}, {"peak_rss_mb", static_cast<double>(peak_rss) / (1024.0 * 1024.0)},
                     {"runs_per_s", runs_per_s}};
    if (tokens) {
      j["tokens"] = tokens;
      j["tokens_per_s"] = tokens_per_s;
    }
    if (images) {
      j["images"] = images;
      j["images_per_s"] = images_per_s;
    }
    if (!a.task.empty()) j["task"] = a.task;
    if (decode) {
      j["batch"] = batch;
      j["decode"] = a.decode;
      j["past"] = a.past;
      j["prefill_ms"] = prefill_ms;
    }
    if (!a.profile.empty()) j["profile"] = a.profile;
    if (a.threads > 0) j["threads"] = a.threads;
    else j["threads"] = "default";
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::string dims_text;
  for (const auto& [sym, v] : bound) dims_text += (dims_text.empty() ? "" : " ") + sym + "=" + std::to_string(v);
  const std::string for_task = a.task.empty() ? "" : " for " + printable(a.task);
  std::printf("%s: graph '%s'%s, %zu nodes (--optimize %s, precision %s%s), loaded in %.1f ms\n", a.graph.c_str(),
              printable(g.name).c_str(), for_task.c_str(), nodes, a.optimize.c_str(), precision.c_str(),
              kv_cache == "bf16" ? ", KV caches bf16" : "", load_ms);
  if (decode)
    std::printf("  decode: %lld step(s) after a prompt of %lld token(s), batch %lld (prompt run: %.3f ms); inputs generated: %s\n",
                static_cast<long long>(a.decode), static_cast<long long>(a.past), static_cast<long long>(batch), prefill_ms,
                join(generated).c_str());
  else
    std::printf("  shapes: %s; inputs generated: %s\n", dims_text.empty() ? "all fixed" : dims_text.c_str(),
                generated.empty() ? "none" : join(generated).c_str());
  if (a.threads > 0) std::printf("  threads: %d (--threads)\n", a.threads);
  else std::printf("  threads: each backend's default (see its device below)\n");
  for (const auto& d : devices)
    std::printf("  backend %s on %s: %s%s\n", d["backend"].get<std::string>().c_str(), d["device"].get<std::string>().c_str(),
                d["description"].get<std::string>().c_str(),
                a.threads > 0 ? (" (its default; this session: " + std::to_string(a.threads) + ")").c_str() : "");
  const char* unit = decode ? "decode step" : "run";
  std::printf("  %zu timed samples of %d %s(s) each, after %d untimed warm-up %s\n", timing.samples.size(), a.repeat, unit,
              a.warmup, decode ? "round(s)" : "run(s)");
  std::printf("  latency per %s: median %.3f ms (p90 %.3f, min %.3f)\n", unit, median / 1e3, timing.pct(0.9) / 1e3,
              timing.samples.front() / 1e3);
  std::printf("  latency per run: median %.3f us (p10 %.3f, p90 %.3f, min %.3f)\n", median, timing.pct(0.1), timing.pct(0.9),
              timing.samples.front());
  std::printf("  throughput: %.2f %s/s", runs_per_s, decode ? "steps" : "runs");
  if (tokens) std::printf(", %.1f tokens/s", tokens_per_s);
  if (images) std::printf(", %.2f images/s", images_per_s);
  std::printf("\n");
  if (nodes)
    std::printf("  median / %zu nodes: %.4f us (the median spread evenly over the nodes, not a per-node measurement)\n",
                nodes, per_node);
  std::printf("  peak resident memory of the process: %s; %d threads in the process\n", human_bytes(peak_rss).c_str(),
              threads_now);
  if (!a.profile.empty()) std::printf("  per-node trace of one %s: %s\n", unit, a.profile.c_str());
  return 0;
}

}  // namespace loom::cli
