// loom::ImageProcessor: a graph's processing.image spec run in transformers' order and dtypes.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image/color_quantize.hpp"

#include <cmath>
#include <string>

namespace loom {

namespace {

const std::string kSection = "processing.image";

void check(const ImageProcessorSpec& s) {
  auto fail = [](const std::string& what) { throw Error(kSection + ": " + what); };
  if (s.input.empty()) fail("no graph input named (`input`)");
  if (s.do_resize && (!s.size || !s.resample)) fail("do_resize needs `size` and `resample`");
  if (s.do_resize && s.size->shortest_edge == 0 && (s.size->height < 1 || s.size->width < 1))
    fail("size: height and width must be at least 1");
  if (s.do_center_crop && (!s.crop_size || s.crop_size->shortest_edge != 0 || s.crop_size->height < 1 || s.crop_size->width < 1))
    fail("do_center_crop needs `crop_size` with a height and a width of at least 1");
  if (s.do_rescale && (!s.rescale_factor || !std::isfinite(*s.rescale_factor))) fail("do_rescale needs a finite `rescale_factor`");
  if (s.do_normalize) {
    if (s.image_mean.size() != 3 || s.image_std.size() != 3) fail("do_normalize needs 3 values in `image_mean` and in `image_std`");
    for (size_t c = 0; c < 3; ++c)
      if (!std::isfinite(s.image_mean[c]) || !std::isfinite(s.image_std[c]) || s.image_std[c] == 0)
        fail("image_mean and image_std must be finite, image_std not 0");
  }
  if (s.do_color_quantize && s.clusters.empty() && s.clusters_file.empty()) fail("do_color_quantize needs `clusters` or `clusters_file`");
  for (const auto& c : s.clusters)
    if (!std::isfinite(c[0]) || !std::isfinite(c[1]) || !std::isfinite(c[2])) fail("clusters must be finite numbers");
}

// The float32 value of each byte in each channel after rescale and normalize, in transformers'
// dtypes: rescale multiplies in float64 and rounds to float32; normalize works in float32 with
// mean and std rounded to float32.
std::array<std::array<float, 256>, 3> value_table(const ImageProcessorSpec& s) {
  std::array<std::array<float, 256>, 3> t{};
  for (size_t c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      float x = s.do_rescale ? static_cast<float>(static_cast<double>(v) * *s.rescale_factor) : static_cast<float>(v);
      if (s.do_normalize) x = (x - static_cast<float>(s.image_mean[c])) / static_cast<float>(s.image_std[c]);
      t[c][v] = x;
    }
  return t;
}

// Every byte's value finite: a finite rescale_factor, mean or std can still overflow float32
// (a std of 1e-45, a rescale_factor of 1e308), which transformers passes on as inf or NaN.
void check_values(const ImageProcessorSpec& s) {
  const auto table = value_table(s);
  for (size_t c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v)
      if (!std::isfinite(table[c][static_cast<size_t>(v)]))
        throw Error(kSection + ": rescale_factor, image_mean and image_std make byte " + std::to_string(v) + " of channel " +
                    std::to_string(c) + " " + std::to_string(table[c][static_cast<size_t>(v)]) +
                    " in float32, not a finite pixel value");
}

std::string size_text(const Image& im) { return std::to_string(im.width()) + "x" + std::to_string(im.height()); }

}  // namespace

ImageProcessor::ImageProcessor(const ImageProcessorSpec& spec, const std::filesystem::path& base_dir) : spec_(spec) {
  check(spec_);
  check_values(spec_);
  if (!spec_.clusters_file.empty()) {
    const std::filesystem::path p(spec_.clusters_file);
    clusters_ = image::read_clusters_file(p.is_absolute() ? p : base_dir / p);
  } else {
    clusters_ = spec_.clusters;
  }
  if (!spec_.do_color_quantize) clusters_.clear();
}

ImageProcessor ImageProcessor::from_graph(const Graph& g) {
  if (!g.processing || !g.processing->image)
    throw Error(printable(g.path.empty() ? "graph '" + g.name + "'" : g.path.string()) +
                ": the graph has no image processor (processing.image) in its processing section");
  try {
    return ImageProcessor(*g.processing->image, g.base_dir);
  } catch (const Error& e) {
    // The graph whose section is wrong (a checkpoint's: from its preprocessor_config.json).
    if (g.path.empty()) throw;
    throw Error(printable(g.path.string()) + ": " + e.what());
  }
}

Image ImageProcessor::prepare(const Image& image) const {
  if (image.empty()) throw Error("the image is empty");
  Image out = spec_.do_resize ? resize(image, *spec_.size, *spec_.resample) : image;
  if (spec_.do_center_crop) out = center_crop(out, *spec_.crop_size);
  return out;
}

TensorMap ImageProcessor::tensors(std::span<const Image> images, std::span<const std::string> names) const {
  if (images.empty()) throw Error(kSection + ": no images to process");
  auto image_name = [&](size_t i) {
    return names.size() == images.size() ? printable(names[i]) : "image " + std::to_string(i);
  };
  std::vector<Image> prepared;
  prepared.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    try {
      prepared.push_back(prepare(images[i]));
    } catch (const Error& e) {
      throw Error(image_name(i) + ": " + e.what());
    }
    if (i > 0 && (prepared[i].width() != prepared[0].width() || prepared[i].height() != prepared[0].height()))
      throw Error(image_name(i) + " is " + size_text(prepared[i]) + " after resize and crop, " +
                  (names.size() == images.size() ? image_name(0) : "the first image") + " " + size_text(prepared[0]) +
                  ": a batch needs one size (give the images one at a time, or a spec that resizes to a fixed size)");
  }
  const auto batch = static_cast<int64_t>(prepared.size());
  const int64_t h = prepared[0].height(), w = prepared[0].width();
  const auto table = value_table(spec_);
  Tensor t;
  if (spec_.do_color_quantize) {
    const image::ColorQuantizer quantizer(clusters_);
    t = Tensor(DType::i64, {batch, h * w});
    int64_t* ids = t.data_as<int64_t>();
    for (const Image& im : prepared) {
      const uint8_t* p = im.pixels().data();
      for (int64_t i = 0; i < h * w; ++i, p += 3) {
        const float rgb[3] = {table[0][p[0]], table[1][p[1]], table[2][p[2]]};
        *ids++ = quantizer.nearest(rgb);
      }
    }
  } else {
    t = Tensor(DType::f32, {batch, 3, h, w});
    float* out = t.data_as<float>();
    for (const Image& im : prepared)
      for (int c = 0; c < 3; ++c) {
        const uint8_t* p = im.pixels().data() + c;
        for (int64_t i = 0; i < h * w; ++i, p += 3) *out++ = table[c][*p];
      }
  }
  TensorMap map;
  map.emplace(spec_.input, std::move(t));
  return map;
}

}  // namespace loom
