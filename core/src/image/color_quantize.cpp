#include "image/color_quantize.hpp"

#include <loom/error.hpp>

#include "io/regular_file.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

namespace loom::image {

Clusters read_clusters_file(const std::filesystem::path& file) {
  const std::string name = printable(file.string());
  const std::string text = io::read_text_file(file, "the clusters file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(name + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("clusters") || !j["clusters"].is_array())
    throw Error(name + ": expected a JSON object with a \"clusters\" array of [r, g, b] colours");
  const nlohmann::json& list = j["clusters"];
  if (list.empty()) throw Error(name + ": \"clusters\" is empty");
  Clusters out;
  out.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& c = list[i];
    const std::string where = name + ": clusters[" + std::to_string(i) + "]";
    if (!c.is_array() || c.size() != 3) throw Error(where + ": expected 3 numbers (red, green, blue)");
    std::array<double, 3> rgb{};
    for (size_t k = 0; k < 3; ++k) {
      if (!c[k].is_number()) throw Error(where + ": expected 3 numbers (red, green, blue)");
      rgb[k] = c[k].get<double>();
      if (!std::isfinite(rgb[k])) throw Error(where + ": not a finite number");
    }
    out.push_back(rgb);
  }
  return out;
}

ColorQuantizer::ColorQuantizer(const Clusters& clusters) : clusters_(clusters) {
  norms_.reserve(clusters.size());
  for (const auto& c : clusters) norms_.push_back(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
}

int64_t ColorQuantizer::nearest(const float* x) const {
  const float x2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2];  // float32, left to right
  const double x0 = x[0], x1 = x[1], xb = x[2];
  int64_t best = 0;
  double best_d = 0;
  for (size_t k = 0; k < clusters_.size(); ++k) {
    const auto& c = clusters_[k];
    const double dot = std::fma(xb, c[2], std::fma(x1, c[1], x0 * c[0]));
    const double d = (static_cast<double>(x2) - 2 * dot) + norms_[k];
    if (k == 0 || d < best_d) best = static_cast<int64_t>(k), best_d = d;
  }
  return best;
}

}  // namespace loom::image
