// Generator (loom/generation.hpp): a prefill run, then decode steps through a Binding.
#include <loom/error.hpp>
#include <loom/generation.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace loom {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ResolvedGeneration resolve_generation(const GenerationSpec& spec, const GenerationOptions& o) {
  ResolvedGeneration r;
  r.do_sample = o.do_sample.value_or(spec.do_sample.value_or(false));
  r.temperature = o.temperature.value_or(spec.temperature.value_or(1.0));
  r.top_k = o.top_k.value_or(spec.top_k.value_or(50));
  r.top_p = o.top_p.value_or(spec.top_p.value_or(1.0));
  r.max_new_tokens = o.max_new_tokens.value_or(spec.max_new_tokens.value_or(20));
  if (!(r.temperature > 0) || !std::isfinite(r.temperature))
    throw Error("generation: temperature must be a finite number > 0, got " + std::to_string(r.temperature));
  if (r.top_k < 0) throw Error("generation: top_k must be >= 0 (0: no limit), got " + std::to_string(r.top_k));
  if (!(r.top_p > 0 && r.top_p <= 1)) throw Error("generation: top_p must be in (0, 1], got " + std::to_string(r.top_p));
  if (r.max_new_tokens < 1) throw Error("generation: max_new_tokens must be >= 1, got " + std::to_string(r.max_new_tokens));
  return r;
}

Generator::Generator(Session& session) : session_(session), step_(session.new_binding()) {
  const Graph& g = session.graph();
  if (!g.processing || !g.processing->generation)
    throw Error("generation: graph '" + g.name + "' has no processing.generation section (a checkpoint expands one for the "
                "text-generation task)");
  spec_ = *g.processing->generation;
  if (g.processing->tokenizer) vocab_ = g.processing->tokenizer->vocab_size;
  token_ = Tensor(DType::i64, {1, 1});
  past_ = Tensor(DType::i64, {1});
  step_.bind_input(spec_.input_ids, token_);
  step_.bind_input(spec_.past_length, past_);
}

int64_t Generator::choose(const float* logits, const ResolvedGeneration& r, std::mt19937_64& rng) {
  const int64_t n = vocab_;
  if (!r.do_sample) return std::max_element(logits, logits + n) - logits;
  // Temperature, then top-k, then top-p (transformers' order of logits warpers).
  candidates_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) candidates_[static_cast<size_t>(i)] = {logits[i] / static_cast<float>(r.temperature), i};
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (r.top_k > 0 && static_cast<size_t>(r.top_k) < keep) {
    keep = static_cast<size_t>(r.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  // Each kept candidate's unnormalised probability, computed once.
  const float top = candidates_[0].first;
  weights_.reserve(static_cast<size_t>(n));  // once: no step allocates
  weights_.resize(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += weights_[i] = std::exp(static_cast<double>(candidates_[i].first - top));
  if (r.top_p < 1) {
    // Keep the most likely tokens until their probability reaches top_p (at least one): what
    // transformers keeps when it drops the least likely tokens whose total is <= 1 - top_p.
    const double reach = r.top_p * total;
    double mass = 0;
    size_t k = 0;
    while (k < keep) {
      mass += weights_[k++];
      if (mass >= reach) break;
    }
    keep = k;
    total = mass;
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (size_t i = 0; i < keep; ++i) {
    u -= weights_[i];
    if (u <= 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

GenerationResult Generator::generate(std::span<const int64_t> prompt, const GenerationOptions& options,
                                     const std::function<bool(int64_t)>& on_token, State* state_in) {
  const ResolvedGeneration r = resolve_generation(spec_, options);
  if (prompt.empty()) throw Error("generation: the prompt is empty (it needs at least one token)");
  const int64_t length = static_cast<int64_t>(prompt.size());
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
  result.tokens.reserve(static_cast<size_t>(r.max_new_tokens));
  int64_t next = choose(first.data_as<float>() + first.numel() - vocab, r, rng);
  result.prefill_ms = ms_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  int64_t filled = length;
  for (;;) {
    result.tokens.push_back(next);
    if (on_token && !on_token(next)) {
      result.stop_reason = "callback";
      break;
    }
    if (options.stop_at_eos && std::find(spec_.eos_token_ids.begin(), spec_.eos_token_ids.end(), next) != spec_.eos_token_ids.end()) {
      result.stop_reason = "eos";
      break;
    }
    if (static_cast<int64_t>(result.tokens.size()) >= r.max_new_tokens) {
      result.stop_reason = "max_new_tokens";
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
    next = choose(logits.data_as<float>() + logits.numel() - vocab_, r, rng);
  }
  result.decode_ms = ms_since(t1);
  return result;
}

}  // namespace loom
