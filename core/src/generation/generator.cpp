// Generator (loom/generation.hpp): a prefill run, then decode steps through a Binding.
#include <loom/error.hpp>
#include <loom/generation.hpp>

#include "generation/sampler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace loom {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string nan_scores() {
  return "generation: a score is NaN after the logits processors (exponential_decay_length_penalty raising an eos that "
         "min_length or min_new_tokens banned: -inf + inf), which sampling and beam search cannot rank, as in transformers";
}

ResolvedGeneration resolve_generation(const GenerationSpec& spec, const GenerationOptions& o) {
  ResolvedGeneration r;
  r.do_sample = o.do_sample.value_or(spec.do_sample.value_or(false));
  r.temperature = o.temperature.value_or(spec.temperature.value_or(1.0));
  r.top_k = o.top_k.value_or(spec.top_k.value_or(50));
  r.top_p = o.top_p.value_or(spec.top_p.value_or(1.0));
  // max_new_tokens wins over max_total_length (transformers' max_length), which depends on the
  // prompt and is applied by generate().
  if (o.max_new_tokens || spec.max_new_tokens) r.max_new_tokens = o.max_new_tokens ? *o.max_new_tokens : *spec.max_new_tokens;
  else if (spec.max_total_length) r.max_total_length = *spec.max_total_length;
  r.repetition_penalty = o.repetition_penalty.value_or(spec.repetition_penalty.value_or(1.0));
  r.no_repeat_ngram_size = o.no_repeat_ngram_size.value_or(spec.no_repeat_ngram_size.value_or(0));
  r.min_length = o.min_length.value_or(spec.min_length.value_or(0));
  r.min_new_tokens = o.min_new_tokens.value_or(spec.min_new_tokens.value_or(0));
  // transformers sets min_length to the prompt's length plus min_new_tokens wherever the latter
  // is given, so min_length is not read then.
  if (o.min_new_tokens || spec.min_new_tokens) r.min_length = 0;
  const int64_t beams = o.num_beams.value_or(spec.num_beams.value_or(1));
  // Each beam holds a row of scores and a state, and each sequence is a generation: a file's
  // value is bounded before anything is sized by it.
  constexpr int64_t kMostBeams = 1024, kMostSequences = 1024;
  if (beams < 1 || beams > kMostBeams)
    throw Error("generation: num_beams must be from 1 to " + std::to_string(kMostBeams) + ", got " + std::to_string(beams));
  if (beams > 1 && r.do_sample)
    throw Error("generation: num_beams " + std::to_string(beams) +
                (o.num_beams ? "" : " (processing.generation.num_beams, from the model's generation_config.json or config.json)") +
                " with sampling asks for beam sampling, which is not done here; search the beams without sampling, or sample "
                "with num_beams 1 (loom generate: --greedy --num-beams N, or a sampling option alone)");
  r.num_beams = beams;
  r.num_return_sequences = o.num_return_sequences.value_or(spec.num_return_sequences.value_or(1));
  const std::string from_graph =
      o.num_return_sequences ? "" : " (processing.generation.num_return_sequences, from the model's generation_config.json or config.json)";
  if (r.num_return_sequences < 1 || r.num_return_sequences > kMostSequences)
    throw Error("generation: num_return_sequences must be from 1 to " + std::to_string(kMostSequences) + ", got " +
                std::to_string(r.num_return_sequences) + from_graph);
  if (r.num_return_sequences > 1 && beams == 1 && !r.do_sample)
    throw Error("generation: num_return_sequences " + std::to_string(r.num_return_sequences) + from_graph +
                " with greedy decoding, which has one sequence, as transformers refuses it; sample, search at least as many beams, "
                "or ask for one sequence (loom generate: --num-return-sequences 1)");
  if (r.num_return_sequences > beams && beams > 1)
    throw Error("generation: num_return_sequences " + std::to_string(r.num_return_sequences) + from_graph +
                " is more than num_beams " + std::to_string(beams) + ", as transformers refuses it");
  r.length_penalty = o.length_penalty.value_or(spec.length_penalty.value_or(1.0));
  if (!std::isfinite(r.length_penalty))
    throw Error("generation: length_penalty must be a finite number, got " + std::to_string(r.length_penalty));
  // A length penalty weighs finished beams only: asked for without beams, it would change nothing.
  // (The model's own length_penalty beside num_beams 1 is common in generation_config.json, and
  // stays as quiet as in transformers.)
  if (o.length_penalty && beams == 1)
    throw Error("generation: length_penalty " + std::to_string(*o.length_penalty) + " weighs finished beams, and " +
                (r.do_sample ? std::string("sampling searches none")
                             : std::string("num_beams is 1") + (o.num_beams ? "" : " (the model's)")) +
                ": search beams without sampling (loom generate: --greedy --num-beams N), or leave the length penalty out");
  r.early_stopping = o.early_stopping.value_or(spec.early_stopping.value_or(GenerationSpec::EarlyStopping::Heuristic));
  if (!(static_cast<float>(r.temperature) > 0) || !std::isfinite(r.temperature))
    throw Error("generation: temperature must be a finite number > 0, got " + std::to_string(r.temperature));
  if (r.top_k < 0) throw Error("generation: top_k must be >= 0 (0: no limit), got " + std::to_string(r.top_k));
  if (!(r.top_p >= 0 && r.top_p <= 1)) throw Error("generation: top_p must be in [0, 1], got " + std::to_string(r.top_p));
  if (r.max_new_tokens < 1) throw Error("generation: max_new_tokens must be >= 1, got " + std::to_string(r.max_new_tokens));
  if (spec.max_total_length && *spec.max_total_length < 1)
    throw Error("generation: max_total_length must be >= 1, got " + std::to_string(*spec.max_total_length));
  if (!(r.repetition_penalty > 0) || !std::isfinite(r.repetition_penalty))
    throw Error("generation: repetition_penalty must be a finite number > 0 (1: none), got " + std::to_string(r.repetition_penalty));
  if (r.no_repeat_ngram_size < 0)
    throw Error("generation: no_repeat_ngram_size must be >= 0 (0: none), got " + std::to_string(r.no_repeat_ngram_size));
  if (r.min_length < 0) throw Error("generation: min_length must be >= 0, got " + std::to_string(r.min_length));
  if (r.min_new_tokens < 0) throw Error("generation: min_new_tokens must be >= 0, got " + std::to_string(r.min_new_tokens));
  r.min_p = o.min_p.value_or(spec.min_p.value_or(0.0));
  r.typical_p = o.typical_p.value_or(spec.typical_p.value_or(1.0));
  r.epsilon_cutoff = o.epsilon_cutoff.value_or(spec.epsilon_cutoff.value_or(0.0));
  r.eta_cutoff = o.eta_cutoff.value_or(spec.eta_cutoff.value_or(0.0));
  if (!(r.min_p >= 0 && r.min_p <= 1)) throw Error("generation: min_p must be in [0, 1] (0: none), got " + std::to_string(r.min_p));
  if (!(r.typical_p > 0 && r.typical_p <= 1))
    throw Error("generation: typical_p must be in (0, 1] (1: none), got " + std::to_string(r.typical_p));
  if (!(r.epsilon_cutoff >= 0 && r.epsilon_cutoff < 1))
    throw Error("generation: epsilon_cutoff must be in [0, 1) (0: none), got " + std::to_string(r.epsilon_cutoff));
  if (!(r.eta_cutoff >= 0 && r.eta_cutoff < 1))
    throw Error("generation: eta_cutoff must be in [0, 1) (0: none), got " + std::to_string(r.eta_cutoff));
  return r;
}

Generator::~Generator() = default;
Generator::Generator(Generator&&) noexcept = default;

Generator::Generator(Session& session)
    : session_(session), step_(session.new_binding()), sampler_(std::make_unique<generation::Sampler>()) {
  const Graph& g = session.graph();
  if (!g.processing || !g.processing->generation)
    throw Error("generation: graph '" + g.name + "' has no processing.generation section (a checkpoint expands one for the "
                "text-generation task)");
  spec_ = *g.processing->generation;
  if (g.processing->tokenizer) vocab_ = g.processing->tokenizer->vocab_size;
  for (const auto& ids : spec_.bad_words_ids) bad_words_.push_back({ids, -std::numeric_limits<double>::infinity()});
  biased_.reserve(spec_.sequence_bias.size() + bad_words_.size());  // once: no step allocates
  token_ = Tensor(DType::i64, {1, 1});
  past_ = Tensor(DType::i64, {1});
  step_.bind_input(spec_.input_ids, token_);
  step_.bind_input(spec_.past_length, past_);
}

void Generator::add_biases(std::span<const int64_t> seq, const std::vector<GenerationSpec::SequenceBias>& biases) {
  // As transformers' SequenceBiasLogitsProcessor: the biases of one step summed per token first.
  for (const auto& b : biases) {
    const size_t m = b.ids.size();
    if (m > seq.size()) continue;
    if (m > 1 && !std::equal(b.ids.begin(), b.ids.end() - 1, seq.end() - static_cast<std::ptrdiff_t>(m - 1))) continue;
    const int64_t last = b.ids.back();
    if (last < 0 || last >= vocab_) continue;
    bias_[last] += static_cast<float>(b.bias);
    biased_.push_back(last);
  }
  for (int64_t id : biased_) {
    scores_[id] += bias_[id];
    bias_[id] = 0;  // a token listed twice adds nothing the second time
  }
  biased_.clear();
}

bool Generator::process(const float* logits, std::span<const int64_t> seq, size_t prompt_length, const ResolvedGeneration& r) {
  const int64_t n = vocab_;
  const size_t len = seq.size();
  const bool bias = !spec_.sequence_bias.empty();
  const bool penalty = r.repetition_penalty != 1.0;
  const bool ngrams = r.no_repeat_ngram_size > 0 && len + 1 >= static_cast<size_t>(r.no_repeat_ngram_size);
  const bool bad = !bad_words_.empty();
  const bool no_eos = static_cast<int64_t>(len) < r.min_length || static_cast<int64_t>(len - prompt_length) < r.min_new_tokens;
  // transformers counts the prompt in the length: a forced bos follows a one-token prompt only.
  const bool force_bos = spec_.forced_bos_token_id && len == 1;
  const bool force_eos = !spec_.forced_eos_token_ids.empty() && static_cast<int64_t>(len) == forced_eos_at_;
  const auto& decay = spec_.exponential_decay_length_penalty;
  const int64_t new_tokens = static_cast<int64_t>(len - prompt_length);
  const bool decaying = decay && new_tokens > decay->start && !spec_.eos_token_ids.empty();
  const bool suppress = !spec_.suppress_tokens.empty();
  const size_t begin = prompt_length > 1 || !spec_.forced_bos_token_id ? prompt_length : prompt_length + 1;
  const bool suppress_begin = !spec_.begin_suppress_tokens.empty() && len == begin;
  if (!bias && !penalty && !ngrams && !bad && !no_eos && !force_bos && !force_eos && !decaying && !suppress && !suppress_begin)
    return false;
  std::copy(logits, logits + n, scores_.begin());
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  // Ids past the scores (ImageGPT's SOS token in its prompt) have no score to change.
  auto scored = [n](int64_t id) { return id >= 0 && id < n; };
  auto ban = [&](const std::vector<int64_t>& ids) {
    for (int64_t id : ids)
      if (scored(id)) scores_[id] = kBanned;
  };
  auto only = [&](const std::vector<int64_t>& ids) {
    std::fill(scores_.begin(), scores_.end(), kBanned);
    for (int64_t id : ids)
      if (scored(id)) scores_[id] = 0;
  };
  if (bias) add_biases(seq, spec_.sequence_bias);
  if (penalty) {
    // Every score read before any is written, so that a token seen twice is penalised once.
    const float p = static_cast<float>(r.repetition_penalty);
    gathered_.clear();
    for (int64_t id : seq) gathered_.push_back(scored(id) ? scores_[id] : 0.0f);
    for (size_t i = 0; i < len; ++i)
      if (scored(seq[i])) scores_[seq[i]] = gathered_[i] < 0 ? gathered_[i] * p : gathered_[i] / p;
  }
  if (ngrams) {
    // Ban the last token of every n-gram whose first n - 1 tokens are the sequence's last n - 1.
    const size_t m = static_cast<size_t>(r.no_repeat_ngram_size) - 1;
    const int64_t* tail = seq.data() + (len - m);
    for (size_t i = 0; i + m < len; ++i)
      if (std::equal(tail, tail + m, seq.data() + i) && scored(seq[i + m])) scores_[seq[i + m]] = kBanned;
  }
  if (bad) add_biases(seq, bad_words_);
  if (no_eos) ban(spec_.eos_token_ids);
  if (force_bos) only({*spec_.forced_bos_token_id});
  if (force_eos) only(spec_.forced_eos_token_ids);
  if (decaying) {
    // The eos scores grow by |score| * (factor^k - 1), k counting from 1 past the start.
    const float grow = static_cast<float>(std::pow(decay->factor, static_cast<double>(new_tokens - decay->start)) - 1.0);
    const auto& eos = spec_.eos_token_ids;
    for (size_t i = 0; i < eos.size(); ++i)  // once per token, an id listed twice included
      if (scored(eos[i]) && std::find(eos.begin(), eos.begin() + static_cast<std::ptrdiff_t>(i), eos[i]) == eos.begin() + static_cast<std::ptrdiff_t>(i))
        scores_[eos[i]] += std::fabs(scores_[eos[i]]) * grow;
  }
  if (suppress) ban(spec_.suppress_tokens);
  if (suppress_begin) ban(spec_.begin_suppress_tokens);
  return true;
}

int64_t Generator::choose(const float* logits, std::span<const int64_t> sequence, size_t prompt_length, const ResolvedGeneration& r,
                          std::mt19937_64& rng) {
  const int64_t n = vocab_;
  if (process(logits, sequence, prompt_length, r)) {
    logits = scores_.data();
    // An eos banned by min_length and then raised by exponential_decay_length_penalty is
    // -inf + inf = NaN, as in transformers, whose argmax takes the (first) NaN and whose sampling
    // refuses it.
    const float* nan = std::find_if(logits, logits + n, [](float x) { return std::isnan(x); });
    if (nan != logits + n) {
      if (!r.do_sample) return nan - logits;
      throw Error(nan_scores());
    }
  }
  if (!r.do_sample) return std::max_element(logits, logits + n) - logits;
  sampler_->narrow(logits, n, r);
  return sampler_->draw(rng);
}

GenerationResult Generator::generate(std::span<const int64_t> prompt, const GenerationOptions& options,
                                     const std::function<bool(int64_t)>& on_token, State* state) {
  std::function<bool(size_t, int64_t)> each;
  if (on_token) each = [&](size_t, int64_t token) { return on_token(token); };
  GenerationOptions one = options;
  one.num_return_sequences = 1;  // one sequence, whatever the graph asks of generate_sequences()
  return std::move(run(prompt, resolve_generation(spec_, one), options, each, state, 1).front());
}

std::vector<GenerationResult> Generator::generate_sequences(std::span<const int64_t> prompt, const GenerationOptions& options,
                                                            const std::function<bool(size_t, int64_t)>& on_token) {
  const ResolvedGeneration r = resolve_generation(spec_, options);
  const size_t count = static_cast<size_t>(r.num_return_sequences);
  if (r.num_beams > 1) return run(prompt, r, options, on_token, nullptr, count);
  std::vector<GenerationResult> out;
  GenerationOptions one = options;
  for (size_t i = 0; i < count; ++i) {
    one.seed = options.seed + i;
    std::function<bool(size_t, int64_t)> each;
    if (on_token) each = [&](size_t, int64_t token) { return on_token(i, token); };
    out.push_back(std::move(run(prompt, r, one, each, nullptr, 1).front()));
  }
  return out;
}

std::vector<GenerationResult> Generator::run(std::span<const int64_t> prompt, ResolvedGeneration r, const GenerationOptions& options,
                                             const std::function<bool(size_t, int64_t)>& on_token, State* state_in, size_t count) {
  if (prompt.empty()) throw Error("generation: the prompt is empty (it needs at least one token)");
  const int64_t length = static_cast<int64_t>(prompt.size());
  if (r.max_total_length) {
    // As transformers' generate(), which refuses a prompt that leaves no room under max_length.
    if (length >= r.max_total_length)
      throw Error("generation: the prompt has " + std::to_string(length) + " tokens, but processing.generation.max_total_length "
                  "(the model's max_length, prompt and new tokens together) is " + std::to_string(r.max_total_length) +
                  "; give max_new_tokens instead");
    r.max_new_tokens = r.max_total_length - length;
  }
  if (length >= spec_.max_length)
    throw Error("generation: the prompt has " + std::to_string(length) + " tokens, but the model holds at most " +
                std::to_string(spec_.max_length) + " positions, prompt and new tokens together");
  // Prompt ids are bounded by the ids input's values where the graph states them (ImageGPT's SOS
  // token is an input id past its last output class), else by the vocabulary.
  int64_t limit = vocab_;
  for (const auto& in : session_.graph().inputs)
    if (in.name == spec_.input_ids && in.values) limit = in.values->max + 1;
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || (limit > 0 && prompt[i] >= limit))
      throw Error("generation: prompt token " + std::to_string(i) + " is id " + std::to_string(prompt[i]) +
                  ", outside the vocabulary (0.." + std::to_string(limit - 1) + ")");
  State fresh = state_in ? State() : session_.new_state();
  State& state = state_in ? *state_in : fresh;
  std::mt19937_64 rng(options.seed);
  GenerationResult result;

  // Prefill: the whole prompt at once.
  const auto t0 = std::chrono::steady_clock::now();
  Tensor ids(DType::i64, {1, length});
  std::copy(prompt.begin(), prompt.end(), ids.data_as<int64_t>());
  Tensor zero(DType::i64, {1});
  zero.data_as<int64_t>()[0] = 0;
  TensorMap out = session_.run({{spec_.input_ids, ids}, {spec_.past_length, zero}}, state);
  const Tensor& first = out.at(spec_.logits);
  const int64_t vocab = first.shape().empty() ? 0 : first.shape().back();
  if (vocab <= 0 || first.dtype() != DType::f32)
    throw Error("generation: output '" + spec_.logits + "' is not f32 [batch, seq, vocab]");
  if (vocab_ == 0) vocab_ = vocab;
  if (vocab != vocab_)
    throw Error("generation: output '" + spec_.logits + "' scores " + std::to_string(vocab) + " tokens, the tokenizer has " +
                std::to_string(vocab_));
  result.tokens.reserve(static_cast<size_t>(std::min(r.max_new_tokens, spec_.max_length)));
  scores_.resize(static_cast<size_t>(vocab_));  // once: no step allocates
  bias_.assign(static_cast<size_t>(vocab_), 0.0f);
  const size_t most = prompt.size() + static_cast<size_t>(std::min(r.max_new_tokens, spec_.max_length));
  sequence_.reserve(most);
  gathered_.reserve(most);
  // transformers forces eos one token before its max_length: prompt and max_new_tokens, within
  // the positions.
  forced_eos_at_ = length + std::min(r.max_new_tokens, spec_.max_length - length) - 1;
  sequence_.assign(prompt.begin(), prompt.end());
  if (r.num_beams > 1) {
    std::vector<GenerationResult> results(count);
    results.front().prefill_ms = ms_since(t0);
    beam_search(prompt, r, state, first.data_as<float>() + first.numel() - vocab,
                options.stop_at_eos ? spec_.eos_token_ids : std::vector<int64_t>{}, on_token, count, results);
    return results;
  }
  int64_t next = choose(first.data_as<float>() + first.numel() - vocab, sequence_, prompt.size(), r, rng);
  result.prefill_ms = ms_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  int64_t filled = length;
  for (;;) {
    result.tokens.push_back(next);
    sequence_.push_back(next);
    if (on_token && !on_token(0, next)) {
      result.stop_reason = "callback";
      break;
    }
    if (options.stop_at_eos && std::find(spec_.eos_token_ids.begin(), spec_.eos_token_ids.end(), next) != spec_.eos_token_ids.end()) {
      result.stop_reason = "eos";
      break;
    }
    if (static_cast<int64_t>(result.tokens.size()) >= r.max_new_tokens) {
      result.stop_reason = r.max_total_length ? "max_total_length" : "max_new_tokens";
      break;
    }
    if (length + static_cast<int64_t>(result.tokens.size()) >= spec_.max_length) {  // as transformers' max_length
      result.stop_reason = "max_length";
      break;
    }
    // One decode step: the token just chosen at position `filled`.
    token_.data_as<int64_t>()[0] = next;
    past_.data_as<int64_t>()[0] = filled;
    session_.run(step_, state);
    ++filled;
    const Tensor& logits = step_.output(spec_.logits);
    next = choose(logits.data_as<float>() + logits.numel() - vocab_, sequence_, prompt.size(), r, rng);
  }
  result.decode_ms = ms_since(t1);
  std::vector<GenerationResult> results;
  results.push_back(std::move(result));
  return results;
}

}  // namespace loom
