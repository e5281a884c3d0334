// The sampling filters (generation/sampler.hpp) against a PyTorch rendering of transformers'
// logits warpers (tools/fixtures/make_sampling_filters.py).
#include "generation/sampler.hpp"

#include <loom/error.hpp>
#include <loom/generation.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>

namespace {

using loom::ResolvedGeneration;
using loom::generation::Sampler;

const std::filesystem::path kFixtures = std::filesystem::path(LOOM_TEST_DATA_DIR) / "fixtures" / "sampling";

std::vector<int64_t> kept_tokens(Sampler& sampler, const std::vector<float>& scores, const ResolvedGeneration& r) {
  const size_t n = sampler.narrow(scores.data(), static_cast<int64_t>(scores.size()), r);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(sampler.token(i));
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

TEST_CASE("sampler: top_k, top_p, min_p, typical_p, epsilon_cutoff and eta_cutoff keep what transformers' warpers keep") {
  const nlohmann::json ref = nlohmann::json::parse(std::ifstream(kFixtures / "expected_filters.json"));
  std::map<std::string, std::vector<float>> vectors;
  for (const auto& [name, values] : ref["scores"].items())
    for (const auto& v : values) vectors[name].push_back(v.is_null() ? -std::numeric_limits<float>::infinity() : v.get<float>());
  REQUIRE(ref["cases"].size() == 48);
  Sampler sampler;
  for (const nlohmann::json& c : ref["cases"]) {
    INFO(c.dump());
    ResolvedGeneration r;
    r.do_sample = true;
    r.top_k = c.value("top_k", int64_t{0});
    r.temperature = c.value("temperature", 1.0);
    r.top_p = c.value("top_p", 1.0);
    r.min_p = c.value("min_p", 0.0);
    r.typical_p = c.value("typical_p", 1.0);
    r.epsilon_cutoff = c.value("epsilon_cutoff", 0.0);
    r.eta_cutoff = c.value("eta_cutoff", 0.0);
    CHECK(kept_tokens(sampler, vectors.at(c["name"].get<std::string>()), r) == c["expected"].get<std::vector<int64_t>>());
  }
}

TEST_CASE("sampler: draws only kept tokens, by weight, one sequence per seed") {
  std::vector<float> scores = {0.0f, 2.0f, -std::numeric_limits<float>::infinity(), 1.9f, -3.0f};
  ResolvedGeneration r;
  r.do_sample = true;
  r.top_k = 0;
  r.min_p = 0.5;  // exp(1.9 - 2) = 0.90 stays, exp(0 - 2) = 0.14 goes
  Sampler sampler;
  REQUIRE(sampler.narrow(scores.data(), 5, r) == 2);
  CHECK(sampler.token(0) == 1);
  CHECK(sampler.token(1) == 3);
  CHECK(sampler.weight(0) == 1.0);
  std::mt19937_64 rng(7);
  std::map<int64_t, int> drawn;
  for (int i = 0; i < 4000; ++i) ++drawn[sampler.draw(rng)];
  CHECK(drawn.size() == 2);
  // p(1) = 1 / (1 + e^-0.1) = 0.525
  CHECK(drawn[1] > 1950);
  CHECK(drawn[1] < 2250);
  // top_k keeps every token tied with the k-th score, as transformers' TopKLogitsWarper does.
  std::vector<float> tied = {1.0f, 3.0f, 2.0f, 2.0f, 0.5f, 2.0f};
  ResolvedGeneration k2;
  k2.do_sample = true;
  k2.top_k = 2;
  CHECK(kept_tokens(sampler, tied, k2) == std::vector<int64_t>{1, 2, 3, 5});
  k2.top_k = 1;
  CHECK(kept_tokens(sampler, tied, k2) == std::vector<int64_t>{1});
  // Every token banned: nothing to draw from, and the first token is returned.
  std::vector<float> banned(4, -std::numeric_limits<float>::infinity());
  CHECK(sampler.narrow(banned.data(), 4, r) == 0);
  CHECK(sampler.draw(rng) == 0);
}

TEST_CASE("sampler: a score that is NaN or +inf, or that the temperature sends to +inf, is refused by token rather than ranked") {
  ResolvedGeneration r;
  r.do_sample = true;
  r.top_k = 0;
  Sampler sampler;
  const std::vector<float> nan = {0.5f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
  CHECK_THROWS_WITH_AS(sampler.narrow(nan.data(), 3, r), doctest::Contains("token 1's score is nan"), loom::Error);
  const std::vector<float> inf = {0.5f, 1.0f, std::numeric_limits<float>::infinity()};
  CHECK_THROWS_WITH_AS(sampler.narrow(inf.data(), 3, r), doctest::Contains("token 2's score is inf, which sampling cannot rank"),
                       loom::Error);
  r.temperature = 1e-50;  // 0 as a float
  CHECK_THROWS_WITH_AS(sampler.narrow(inf.data(), 3, r), doctest::Contains("the temperature 1e-50 is 0 in float32"), loom::Error);
  // 1e-45 is a subnormal float: 1.8 / 1e-45 overflows, -0.5 / 1e-45 is -inf (a banned token).
  r.temperature = 1e-45;
  const std::vector<float> scores = {-0.5f, 1.8f, 0.0f};
  CHECK_THROWS_WITH_AS(sampler.narrow(scores.data(), 3, r), doctest::Contains("token 1's score 1.8 divided by the temperature 1e-45 is +inf"),
                       loom::Error);
  r.temperature = 1e-37;  // 1.8e37: finite, and the others weigh nothing beside it
  REQUIRE(sampler.narrow(scores.data(), 3, r) == 3);
  CHECK(sampler.token(0) == 1);
  CHECK(sampler.weight(0) == 1.0);
  CHECK(sampler.weight(1) == 0.0);
  CHECK(sampler.weight(2) == 0.0);
}
