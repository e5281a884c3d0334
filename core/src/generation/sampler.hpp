// The sampling half of choosing a token (transformers' logits warpers, in its order):
// temperature, top_k, top_p, min_p, typical_p, epsilon_cutoff and eta_cutoff narrow the scores
// to the tokens that may be drawn, and one is drawn by their probability. Scratch is sized once,
// so that no decode step allocates.
#pragma once

#include <loom/generation.hpp>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace loom::generation {

class Sampler {
 public:
  // The tokens that may be drawn from `scores` (n of them), most likely first: their number.
  // Zero only where every score is -inf.
  size_t narrow(const float* scores, int64_t n, const ResolvedGeneration& r);
  // Token i of the last narrow() (i < its count) and its weight, exp(score - top score).
  int64_t token(size_t i) const { return candidates_[i].second; }
  double weight(size_t i) const { return weights_[i]; }
  // One of the last narrow()'s tokens, drawn by weight; the most likely where every score is -inf.
  int64_t draw(std::mt19937_64& rng) const;

 private:
  // min_p, typical_p, epsilon_cutoff and eta_cutoff over the first `keep` candidates.
  void filter(const ResolvedGeneration& r);

  std::vector<std::pair<float, int64_t>> candidates_;  // (score / temperature, id), by decreasing score
  std::vector<double> weights_;                        // exp(score - top) of the kept candidates
  std::vector<size_t> order_;                          // typical_p's order of the candidates
  std::vector<double> distances_;                      // ... and their distances from the entropy
  size_t keep_ = 0;
};

}  // namespace loom::generation
