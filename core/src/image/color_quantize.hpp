// ImageGPT's colour quantization (image_processing_imagegpt.py): each pixel becomes the index of
// its nearest colour cluster.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace loom::image {

using Clusters = std::vector<std::array<double, 3>>;

// The `clusters` array of a JSON file (a checkpoint's preprocessor_config.json): [r, g, b]
// numbers each. An Error naming the file and the entry at fault.
Clusters read_clusters_file(const std::filesystem::path& file);

class ColorQuantizer {
 public:
  explicit ColorQuantizer(const Clusters& clusters);
  // argmin_k |x|^2 - 2 x.c_k + |c_k|^2 in transformers' dtypes: |x|^2 summed in float32 (the
  // pixels are float32), x.c_k in float64 as numpy's matmul computes it through OpenBLAS (fused
  // multiply-adds, first channel first), |c_k|^2 in float64; ties go to the lowest k.
  int64_t nearest(const float* rgb) const;

 private:
  const Clusters& clusters_;
  std::vector<double> norms_;  // |c_k|^2
};

}  // namespace loom::image
