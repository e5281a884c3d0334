// Generator::beam_search (loom/generation.hpp): transformers' beam search for one prompt, as
// generate() runs it with num_beams > 1 and no sampling (_beam_search as rewritten in 4.49: a
// hypothesis keeps the eos that closed it, the search stops when the best running beam cannot
// beat the worst hypothesis, and at the last length the best num_beams candidates close). Each
// beam has its own caches: a beam that continues another takes its state, and a second beam
// continuing the same one takes the state of a beam that ends, made a copy of the filled
// positions (State::assign).
#include <loom/error.hpp>
#include <loom/generation.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace loom {

namespace {

// The finished hypotheses of one search (BeamHypotheses): at most `width`, each scored by its
// log-probability over its new length to the power length_penalty.
class Hypotheses {
 public:
  Hypotheses(size_t width, double length_penalty) : width_(width), length_penalty_(length_penalty) {}

  // `closed`: by an eos (the tokens' last), not by the length.
  void add(std::vector<int64_t> tokens, double log_probability, int64_t new_length, bool closed) {
    const double score = log_probability / std::pow(static_cast<double>(new_length), length_penalty_);
    if (list_.size() >= width_ && !(score > worst_)) return;
    list_.push_back({score, std::move(tokens), closed});
    if (list_.size() > width_) {
      // Drop the worst (the first of equal ones); the next worst becomes the bar.
      std::vector<size_t> order(list_.size());
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return list_[a].score < list_[b].score; });
      worst_ = list_[order[1]].score;
      list_.erase(list_.begin() + static_cast<std::ptrdiff_t>(order[0]));
    } else {
      worst_ = std::min(score, worst_);
    }
  }

  // Whether no open beam can do better: `best` is the log-probability of the best beam that
  // continues (_check_early_stop_heuristic: not an eos candidate's), `new_length` its new length.
  bool done(double best, int64_t new_length, int64_t longest_new, GenerationSpec::EarlyStopping stop) const {
    using E = GenerationSpec::EarlyStopping;
    if (list_.size() < width_) return false;
    if (stop == E::AtOnce) return true;
    // "never": the best an open beam could reach at the longest, where a positive penalty
    // favours length; otherwise transformers' estimate from the current length.
    const int64_t n = stop == E::Never && length_penalty_ > 0 ? longest_new : new_length;
    return worst_ >= best / std::pow(static_cast<double>(n), length_penalty_);
  }

  struct Hypothesis {
    double score;
    std::vector<int64_t> tokens;
    bool closed;
  };

  // The `count` best hypotheses, best first, as transformers pops them off its sorted list: of
  // equal scores, the last added first.
  std::vector<const Hypothesis*> best(size_t count) const {
    std::vector<const Hypothesis*> order;
    for (auto it = list_.rbegin(); it != list_.rend(); ++it) order.push_back(&*it);
    std::stable_sort(order.begin(), order.end(), [](const Hypothesis* a, const Hypothesis* b) { return a->score > b->score; });
    order.resize(std::min(count, order.size()));
    return order;
  }

 private:
  size_t width_;
  double length_penalty_;
  double worst_ = 1e9;
  std::vector<Hypothesis> list_;
};

// log_softmax of `logits` (n of them) into `out`, in f32 as transformers computes it.
void log_softmax(const float* logits, int64_t n, float* out) {
  const float top = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - top));
  const float log_sum = static_cast<float>(std::log(sum));
  for (int64_t i = 0; i < n; ++i) out[i] = (logits[i] - top) - log_sum;
}

}  // namespace

void Generator::beam_search(std::span<const int64_t> prompt, const ResolvedGeneration& r, State& first_state, const float* first_logits,
                            const std::vector<int64_t>& eos, const std::function<bool(size_t, int64_t)>& on_token, size_t count,
                            std::vector<GenerationResult>& results) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const size_t width = static_cast<size_t>(r.num_beams);
  const int64_t V = vocab_;
  const size_t P = prompt.size();
  // transformers' max_length (prompt and new tokens), within the positions.
  const int64_t longest = static_cast<int64_t>(P) + std::min(r.max_new_tokens, spec_.max_length);
  const int64_t stop_at = std::min(longest, spec_.max_length);
  const size_t candidates = std::min(std::max<size_t>(2, 1 + eos.size()) * width, width * static_cast<size_t>(V));

  // The beams' tokens, and the next step's (each sized once for the longest).
  std::vector<std::vector<int64_t>> beams(width), continued(width);
  for (size_t b = 0; b < width; ++b) {
    beams[b].reserve(static_cast<size_t>(longest) + 1);
    continued[b].reserve(static_cast<size_t>(longest) + 1);
    beams[b].assign(prompt.begin(), prompt.end());
  }
  struct Next {
    float score;
    int64_t token;
    size_t from;
    size_t rank;  // among the step's candidates
  };
  std::vector<Next> next;
  next.reserve(width);
  // Every beam starts as the prompt, all but the first out of the running (-1e9), as in
  // transformers, so that the first step's candidates come from one beam.
  std::vector<float> beam_scores(width, -1e9f);
  beam_scores[0] = 0;
  // Each beam's state: the caller's for the first, states of the session for the others, all
  // holding the prompt's caches.
  std::vector<State> own;
  own.reserve(width - 1);
  std::vector<State*> states(width, &first_state);
  for (size_t b = 1; b < width; ++b) {
    own.push_back(session_.new_state());
    own.back().assign(first_state);
    states[b] = &own.back();
  }
  std::vector<State*> taking(width);  // per continuing beam, the state it takes
  std::vector<bool> continued_from(width);
  std::vector<float> rows(width * static_cast<size_t>(V));  // processed log-probabilities + beam score
  std::vector<float> logp(static_cast<size_t>(V));
  std::vector<std::pair<float, int64_t>> ranked(width * static_cast<size_t>(V));
  Hypotheses finished(width, r.length_penalty);
  bool done = false;
  bool done_before = false;  // `done` as the last step began: its candidates still close

  auto score_row = [&](size_t b, const float* logits) {
    log_softmax(logits, V, logp.data());
    const float* processed = process(logp.data(), beams[b], P, r) ? scores_.data() : logp.data();
    if (std::any_of(processed, processed + V, [](float x) { return std::isnan(x); })) throw Error(nan_scores());
    float* row = rows.data() + b * static_cast<size_t>(V);
    for (int64_t v = 0; v < V; ++v) row[v] = processed[v] + beam_scores[b];
  };
  score_row(0, first_logits);
  for (size_t b = 1; b < width; ++b)  // the same scores, out of the running
    for (int64_t v = 0; v < V; ++v) rows[b * static_cast<size_t>(V) + static_cast<size_t>(v)] = rows[static_cast<size_t>(v)] - beam_scores[0] + beam_scores[b];

  for (;;) {
    // The best candidates of every beam's tokens, by score (the lower index first of equal ones).
    for (size_t i = 0; i < ranked.size(); ++i) ranked[i] = {rows[i], static_cast<int64_t>(i)};
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(candidates), ranked.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    const int64_t new_length = static_cast<int64_t>(beams[0].size()) + 1 - static_cast<int64_t>(P);
    next.clear();
    for (size_t rank = 0; rank < candidates && next.size() < width; ++rank) {
      const int64_t token = ranked[rank].second % V;
      const size_t from = static_cast<size_t>(ranked[rank].second / V);
      if (std::find(eos.begin(), eos.end(), token) != eos.end()) {
        // An eos among the first `width` candidates closes its beam, the eos kept.
        if (rank < width) {
          std::vector<int64_t> closed(beams[from]);
          closed.push_back(token);
          finished.add(std::move(closed), ranked[rank].first, new_length, true);
        }
        continue;
      }
      next.push_back({ranked[rank].first, token, from, rank});
    }
    if (next.size() < width)  // as transformers refuses it
      throw Error("generation: the " + std::to_string(candidates) + " best candidates of a beam search step hold fewer than num_beams " +
                  std::to_string(width) + " tokens that are not eos (a vocabulary of " + std::to_string(V) + ")");
    done_before = done;
    done = done || finished.done(next[0].score, new_length, longest - static_cast<int64_t>(P), r.early_stopping);
    // The beams that continue, each with the state of the beam it continues: the first
    // continuation of a beam takes its state, a second one the state of a beam that does not
    // continue, made a copy before any of them runs.
    std::fill(continued_from.begin(), continued_from.end(), false);
    std::fill(taking.begin(), taking.end(), nullptr);
    for (size_t i = 0; i < width; ++i) {
      const size_t from = next[i].from;
      continued[i].assign(beams[from].begin(), beams[from].end());
      continued[i].push_back(next[i].token);
      beam_scores[i] = next[i].score;
      if (!continued_from[from]) taking[i] = states[from];
      continued_from[from] = true;
    }
    size_t spare = 0;
    for (size_t i = 0; i < width; ++i) {
      if (taking[i]) continue;
      while (continued_from[spare]) ++spare;  // as many ends as second continuations
      taking[i] = states[spare++];
      taking[i]->assign(*states[next[i].from]);
    }
    states.swap(taking);
    beams.swap(continued);
    if (done || static_cast<int64_t>(beams[0].size()) >= stop_at) break;
    // One decode step per beam: its last token at its last position.
    for (size_t b = 0; b < width; ++b) {
      token_.data_as<int64_t>()[0] = beams[b].back();
      past_.data_as<int64_t>()[0] = static_cast<int64_t>(beams[b].size()) - 1;
      session_.run(step_, *states[b]);
      const Tensor& logits = step_.output(spec_.logits);
      score_row(b, logits.data_as<float>() + logits.numel() - V);
    }
  }
  // At the end of the length every candidate is done: of the first `width`, the eos ones closed
  // above and the others are hypotheses too (not the beams continued from further down).
  if (!done_before && static_cast<int64_t>(beams[0].size()) >= stop_at)
    for (size_t b = 0; b < width; ++b)
      if (next[b].rank < width)
        finished.add(beams[b], beam_scores[b], static_cast<int64_t>(beams[b].size()) - static_cast<int64_t>(P), false);
  const double decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const auto best = finished.best(count);
  for (size_t i = 0; i < best.size(); ++i) {
    GenerationResult& result = results[i];
    result.prefill_ms = results.front().prefill_ms;
    result.decode_ms = decode_ms;
    std::vector<int64_t> tokens(best[i]->tokens.begin() + static_cast<std::ptrdiff_t>(P), best[i]->tokens.end());
    result.stop_reason = best[i]->closed                                                 ? "eos"
                         : static_cast<int64_t>(best[i]->tokens.size()) >= longest ? (r.max_total_length ? "max_total_length" : "max_new_tokens")
                                                                                    : "max_length";
    result.tokens.reserve(tokens.size());
    for (int64_t t : tokens) {
      result.tokens.push_back(t);
      if (on_token && !on_token(i, t)) {
        result.stop_reason = "callback";
        break;
      }
    }
  }
}

}  // namespace loom
