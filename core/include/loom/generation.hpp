// Token-by-token generation over a decoder graph's processing.generation section: one prefill
// run for the prompt, then one decode step per new token through the session's KV caches, on
// one plan and without heap allocation per step (a Binding holds the step's tensors).
//
//   loom::Graph g = engine.load_graph("gpt2/", "text-generation");
//   loom::Session s = engine.compile(g);
//   loom::Generator gen(s);
//   auto r = gen.generate(prompt_ids, {.max_new_tokens = 32}, [&](int64_t id) { ...; return true; });
//
// Choosing follows transformers' generate(): first its logits processors, in its order (a
// sequence bias, a repetition penalty, no repeated n-grams, no bad words, no eos before
// min_length or min_new_tokens, a forced bos or eos, the eos decay, suppressed tokens), then the
// most likely token, unless sampling is asked for: then the scores are divided by the
// temperature, only the top_k most likely tokens are kept, then the smallest set whose
// probability reaches top_p, then those min_p, typical_p, epsilon_cutoff and eta_cutoff keep,
// and one token is drawn from the rest. With num_beams > 1 (and no sampling) it is transformers'
// beam search, the processors over each beam's log-probabilities.
#pragma once

#include <loom/engine.hpp>
#include <loom/processing.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace loom {

namespace generation {
class Sampler;
}

// Unset fields take the graph's generation defaults (generation_config.json), then
// transformers' GenerationConfig defaults (greedy; temperature 1, top_k 50, top_p 1; no
// penalty, n-gram ban or minimum), but for the length: 20 new tokens where neither
// max_new_tokens nor the graph's max_total_length says otherwise.
struct GenerationOptions {
  std::optional<bool> do_sample;
  std::optional<double> temperature;  // > 0
  std::optional<int64_t> top_k;       // >= 0 (0: no limit)
  std::optional<double> top_p;        // [0, 1] (0: the most likely token and its ties)
  std::optional<int64_t> max_new_tokens;  // >= 1
  std::optional<double> repetition_penalty;     // > 0 (1: none)
  std::optional<int64_t> no_repeat_ngram_size;  // >= 0 (0: none)
  std::optional<int64_t> min_length;            // >= 0: eos banned while prompt + new tokens are fewer
  std::optional<int64_t> min_new_tokens;        // >= 0: eos banned while the new tokens are fewer
  std::optional<int64_t> num_beams;             // 1: greedy or sampling; more: beam search (not with sampling)
  std::optional<double> length_penalty;         // finite: a finished beam's score is its log-probability / new length^this
  std::optional<GenerationSpec::EarlyStopping> early_stopping;
  std::optional<int64_t> num_return_sequences;  // >= 1: generate_sequences()' count (greedy: 1; beams: at most num_beams)
  std::optional<double> min_p;                  // [0, 1] (0: none); sampling only
  std::optional<double> typical_p;              // (0, 1] (1: none); sampling only
  std::optional<double> epsilon_cutoff;         // [0, 1) (0: none); sampling only
  std::optional<double> eta_cutoff;             // [0, 1) (0: none); sampling only
  uint64_t seed = 0;                  // the sampler's seed: one seed, one sequence
  bool stop_at_eos = true;            // stop after an eos token (it is kept in the output)
};

struct GenerationResult {
  std::vector<int64_t> tokens;   // the new tokens
  // "eos", "max_new_tokens", "max_total_length" (the model's max_length, prompt and new tokens
  // together, where no max_new_tokens was given), "max_length" (the caches are full), "callback".
  std::string stop_reason;
  double prefill_ms = 0;         // the prompt's run
  double decode_ms = 0;          // every decode step together
};

// The settings a run uses: options over the graph's defaults over transformers' defaults.
struct ResolvedGeneration {
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  int64_t max_new_tokens = 20;
  int64_t max_total_length = 0;  // non-zero: max_new_tokens follows from it and the prompt
  double repetition_penalty = 1.0;
  int64_t no_repeat_ngram_size = 0;
  int64_t min_length = 0, min_new_tokens = 0;
  double min_p = 0, typical_p = 1, epsilon_cutoff = 0, eta_cutoff = 0;
  int64_t num_beams = 1;
  int64_t num_return_sequences = 1;
  double length_penalty = 1.0;
  GenerationSpec::EarlyStopping early_stopping = GenerationSpec::EarlyStopping::Heuristic;
};
// Checks the values (a clear Error naming the option at fault).
ResolvedGeneration resolve_generation(const GenerationSpec& spec, const GenerationOptions& options);
// The message of the error for NaN scores, which sampling and beam search cannot rank.
std::string nan_scores();

class Generator {
 public:
  // `session` is compiled from a graph with a processing.generation section; the generator
  // keeps a reference to it and must not outlive it.
  explicit Generator(Session& session);
  ~Generator();
  Generator(Generator&&) noexcept;

  // Generates after `prompt` in `state` (its caches; a fresh state of the session when null),
  // calling `on_token` with each new token as soon as it is chosen; a false return stops.
  // Errors: an empty prompt, ids outside the vocabulary, a prompt that fills the caches. One
  // sequence, whatever num_return_sequences says (generate_sequences() returns them all).
  GenerationResult generate(std::span<const int64_t> prompt, const GenerationOptions& options = {},
                            const std::function<bool(int64_t)>& on_token = {}, State* state = nullptr);
  // num_return_sequences sequences after `prompt` (the options', else the graph's, else 1), as
  // transformers' generate() returns them: sampled ones, sequence i drawn from seed options.seed
  // + i, each in a fresh state (the first is generate()'s); or a beam search's best hypotheses,
  // best first (the first is generate()'s). Greedy decoding has one sequence: asking it for more
  // is an error, as is asking a beam search for more than num_beams. `on_token(i, token)` gets
  // each token of sequence i as it is chosen (a beam search's once the search ends); a false
  // return stops that sequence.
  std::vector<GenerationResult> generate_sequences(std::span<const int64_t> prompt, const GenerationOptions& options = {},
                                                   const std::function<bool(size_t, int64_t)>& on_token = {});

  const GenerationSpec& spec() const { return spec_; }
  int64_t vocab_size() const { return vocab_; }

 private:
  // The next token after `sequence` (prompt and new tokens) from the model's scores.
  int64_t choose(const float* logits, std::span<const int64_t> sequence, size_t prompt_length, const ResolvedGeneration& r,
                 std::mt19937_64& rng);
  // transformers' logits processors over the scores, in scores_; false where none applies.
  bool process(const float* logits, std::span<const int64_t> sequence, size_t prompt_length, const ResolvedGeneration& r);
  // Adds `bias` to the score of each sequence's last token where its other tokens end `sequence`.
  void add_biases(std::span<const int64_t> sequence, const std::vector<GenerationSpec::SequenceBias>& biases);
  // generate() for `count` sequences (1 unless a beam search's best hypotheses).
  std::vector<GenerationResult> run(std::span<const int64_t> prompt, ResolvedGeneration r, const GenerationOptions& options,
                                    const std::function<bool(size_t, int64_t)>& on_token, State* state, size_t count);
  // transformers' beam search after the prompt's run (its state and last logits): the `count`
  // best hypotheses into `results` (each with the prompt's time); `eos` closes hypotheses (none
  // where the caller does not stop at eos) (beam_search.cpp).
  void beam_search(std::span<const int64_t> prompt, const ResolvedGeneration& r, State& state, const float* logits,
                   const std::vector<int64_t>& eos, const std::function<bool(size_t, int64_t)>& on_token, size_t count,
                   std::vector<GenerationResult>& results);

  Session& session_;
  GenerationSpec spec_;
  int64_t vocab_ = 0;
  Binding step_;
  Tensor token_, past_, logits_;
  std::unique_ptr<generation::Sampler> sampler_;        // sampling's scratch, sized once
  std::vector<float> scores_;                           // processed scores, sized once
  std::vector<float> bias_;                             // add_biases' sums, zero between calls
  std::vector<int64_t> biased_;                         // the tokens add_biases touched
  std::vector<GenerationSpec::SequenceBias> bad_words_; // the spec's bad words, each at -inf
  std::vector<float> gathered_;                         // the repetition penalty's scores before it
  std::vector<int64_t> sequence_;                       // prompt and new tokens, reserved once per call
  int64_t forced_eos_at_ = 0;                           // the text's length at the last step allowed
};

}  // namespace loom
