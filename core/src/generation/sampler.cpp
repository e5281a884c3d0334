// Sampler (generation/sampler.hpp): transformers' logits warpers over one step's scores.
#include "generation/sampler.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

namespace loom::generation {

size_t Sampler::narrow(const float* scores, int64_t n, const ResolvedGeneration& r) {
  // Temperature, then top-k, then top-p, then the other filters (transformers' order of logits
  // warpers).
  candidates_.resize(static_cast<size_t>(n));
  weights_.reserve(static_cast<size_t>(n));  // once: no step allocates
  order_.reserve(static_cast<size_t>(n));
  distances_.reserve(static_cast<size_t>(n));
  const auto t = static_cast<float>(r.temperature);
  if (!(t > 0)) {
    std::ostringstream m;
    m << "sampling: the temperature " << r.temperature << " is 0 in float32, where the scores are divided by it: use a larger one";
    throw Error(m.str());
  }
  for (int64_t i = 0; i < n; ++i) {
    const float score = scores[i] / t;
    // Sampling cannot rank a NaN (the model's), and a score that the temperature sends to
    // +inf (1e-38 on a score above 3.4) would leave every other token at probability 0 and NaN
    // after the softmax, which transformers' sampling refuses.
    if (std::isnan(score) || score == std::numeric_limits<float>::infinity()) {
      std::ostringstream m;
      m << "sampling: token " << i << "'s score ";
      if (std::isnan(scores[i]) || std::isinf(scores[i])) m << "is " << scores[i] << ", which sampling cannot rank";
      else m << scores[i] << " divided by the temperature " << r.temperature << " is +inf: use a larger temperature";
      throw Error(m.str());
    }
    candidates_[static_cast<size_t>(i)] = {score, i};
  }
  auto by_score = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  keep_ = candidates_.size();
  if (r.top_k > 0 && static_cast<size_t>(r.top_k) < keep_) {
    keep_ = static_cast<size_t>(r.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep_), candidates_.end(), by_score);
    // transformers keeps every token whose score equals the k-th (it drops those below it).
    const float kth = candidates_[keep_ - 1].first;
    const auto tied = std::partition(candidates_.begin() + static_cast<std::ptrdiff_t>(keep_), candidates_.end(),
                                     [kth](const auto& c) { return c.first == kth; });
    std::sort(candidates_.begin() + static_cast<std::ptrdiff_t>(keep_), tied, by_score);
    keep_ = static_cast<size_t>(tied - candidates_.begin());
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_score);
  }
  const float top = keep_ ? candidates_[0].first : 0.0f;
  if (!std::isfinite(top)) {  // every token banned
    keep_ = 0;
    weights_.clear();
    return 0;
  }
  // Each kept candidate's unnormalised probability, computed once.
  weights_.resize(keep_);
  for (size_t i = 0; i < keep_; ++i) weights_[i] = std::exp(static_cast<double>(candidates_[i].first - top));
  if (r.top_p < 1) {
    // Keep the most likely tokens until their probability reaches top_p (at least one): what
    // transformers keeps when it drops the least likely tokens whose total is <= 1 - top_p.
    const double reach = r.top_p * std::accumulate(weights_.begin(), weights_.end(), 0.0);
    double mass = 0;
    size_t k = 0;
    while (k < keep_) {
      mass += weights_[k++];
      if (mass >= reach) break;
    }
    keep_ = k;
  }
  filter(r);
  weights_.resize(keep_);
  return keep_;
}

void Sampler::filter(const ResolvedGeneration& r) {
  // weights_[i] is exp(score_i - top) by decreasing score, so the most likely token weighs 1;
  // each filter's probabilities are those of the tokens still kept.
  auto total = [&] { return std::accumulate(weights_.begin(), weights_.begin() + static_cast<std::ptrdiff_t>(keep_), 0.0); };
  auto entropy = [&](double sum) {
    double h = 0;
    for (size_t i = 0; i < keep_; ++i)
      if (weights_[i] > 0) h -= weights_[i] / sum * std::log(weights_[i] / sum);
    return h;
  };
  // Drop what weighs less than `floor`, but never the most likely token or its ties.
  auto keep_above = [&](double floor) {
    size_t k = 1;
    while (k < keep_ && (weights_[k] >= floor || candidates_[k].first == candidates_[0].first)) ++k;
    keep_ = k;
  };
  if (r.min_p > 0) keep_above(r.min_p);  // less likely than min_p times the most likely
  if (r.typical_p < 1 && keep_ > 1) {
    // Each token's distance from the entropy, |-log p - H|; the closest are kept, in that order,
    // until their probability reaches typical_p (the one that reaches it too, and its ties).
    const double sum = total();
    const double h = entropy(sum);
    distances_.resize(keep_);
    for (size_t i = 0; i < keep_; ++i)
      distances_[i] = weights_[i] > 0 ? std::fabs(-std::log(weights_[i] / sum) - h) : std::numeric_limits<double>::infinity();
    order_.resize(keep_);
    std::iota(order_.begin(), order_.end(), size_t{0});
    // By distance, then by score (std::sort: stable_sort would allocate at every step).
    std::sort(order_.begin(), order_.end(),
              [&](size_t a, size_t b) { return distances_[a] < distances_[b] || (distances_[a] == distances_[b] && a < b); });
    double mass = 0;
    size_t last = 0;
    while (last + 1 < keep_ && (mass += weights_[order_[last]] / sum) < r.typical_p) ++last;
    const double bound = distances_[order_[last]];
    size_t k = 0;
    for (size_t i = 0; i < keep_; ++i)
      if (distances_[i] <= bound || i == order_[0]) {
        candidates_[k] = candidates_[i];
        weights_[k++] = weights_[i];
      }
    keep_ = k;
    // The most likely token left weighs 1 again.
    const double top = weights_[0];
    for (size_t i = 0; i < keep_; ++i) weights_[i] /= top;
  }
  if (r.epsilon_cutoff > 0) keep_above(r.epsilon_cutoff * total());
  if (r.eta_cutoff > 0) {
    const double sum = total();
    keep_above(std::min(r.eta_cutoff, std::sqrt(r.eta_cutoff) * std::exp(-entropy(sum))) * sum);
  }
}

int64_t Sampler::draw(std::mt19937_64& rng) const {
  if (keep_ == 0) return candidates_.empty() ? 0 : candidates_[0].second;
  const double total = std::accumulate(weights_.begin(), weights_.begin() + static_cast<std::ptrdiff_t>(keep_), 0.0);
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  size_t last = 0;  // the last candidate that can be drawn (a banned one weighs 0)
  for (size_t i = 0; i < keep_; ++i) {
    if (weights_[i] > 0) last = i;
    u -= weights_[i];
    if (u <= 0 && weights_[i] > 0) return candidates_[i].second;
  }
  return candidates_[last].second;
}

}  // namespace loom::generation
