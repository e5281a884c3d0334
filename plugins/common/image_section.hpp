// The `processing.image` section of an expanded graph, from a checkpoint's
// preprocessor_config.json over the defaults of its Hugging Face image processor class (the
// file overrides every default: ARCHITECTURES.md 0.5).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace loom::models {

// An image processor class's defaults (ViTImageProcessor's unless set).
struct ImageDefaults {
  std::string name = "ViTImageProcessor";  // the class, as preprocessor_config.json names it
  std::string input = "pixel_values";
  bool do_resize = true;
  int64_t height = 224, width = 224, shortest_edge = 0;  // shortest_edge != 0: that form
  bool default_to_square = true;  // how an int `size` reads: square, or the shortest edge (CLIP)
  int resample = 2;               // PIL's code: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming
  bool crops = false;  // the class has a centre crop step (ViTImageProcessor has none: it ignores the keys)
  bool do_center_crop = false;
  int64_t crop_height = 224, crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> mean = {0.5, 0.5, 0.5}, std = {0.5, 0.5, 0.5};  // IMAGENET_STANDARD
  bool do_convert_rgb = false;
  // ImageGPTImageProcessor: normalisation is x / 127.5 − 1 (no mean, std or rescale keys), then
  // each pixel becomes the id of its nearest colour cluster (`clusters` of the file, which must
  // hold `clusters` of them).
  bool imagegpt = false;
  int64_t clusters = 0;
};

// The defaults of an image processor class that Loom reproduces, by the name a
// preprocessor_config.json gives it (ViTImageProcessor, DeiTImageProcessor, BeitImageProcessor,
// CLIPImageProcessor, ImageGPTImageProcessor; their FeatureExtractor and Fast names stand for
// them); nullopt for another.
std::optional<ImageDefaults> processor_defaults(const std::string& name);

// The YAML of the section (under `processing:`), or "" when the checkpoint has no
// preprocessor_config.json. `model_class` is the class transformers' AutoImageProcessor maps the
// model_type to; the file's image_processor_type (or feature_extractor_type) names another, whose
// defaults and steps then apply, as AutoImageProcessor loads the class the file names. `input`
// is the graph input; `clusters` ImageGPT's colour count. A setting Loom cannot reproduce is an
// error naming the file and key.
std::string image_section(const std::string& checkpoint_dir, const std::string& model_class, const std::string& input = "pixel_values",
                          int64_t clusters = 0);

}  // namespace loom::models
