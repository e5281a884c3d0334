// Images and Hugging Face's image processors (processing.image of a graph): PNG or JPEG in, the
// graph's pixel values (or ImageGPT's cluster ids) out, equal to what transformers computes with
// Pillow 9.4 (docs/images.md says how exactly).
//
//   loom::Graph g = engine.load_graph("vit/");
//   loom::ImageProcessor proc = loom::ImageProcessor::from_graph(g);
//   loom::Image cat = loom::read_image("cat.jpg");                 // RGB, as Pillow decodes it
//   loom::TensorMap inputs = proc.tensors({cat});                  // pixel_values f32 [1, 3, 224, 224]
//
// Everything here is a value or immutable: an ImageProcessor may be used from any number of
// threads at once.
#pragma once

#include <loom/graph.hpp>
#include <loom/processing.hpp>
#include <loom/tensor.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

// The most pixels an image may have, decoded or made: Pillow's MAX_IMAGE_PIXELS (a 1 GiB RGBA
// image, 89,478,485 pixels). Larger files are refused from their header, before any pixel
// memory is taken.
inline constexpr int64_t kMaxImagePixels = 89'478'485;
// The most bytes of an image file that are read.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t(1) << 30;

// 8-bit RGB pixels, row by row, each pixel red, green, blue (height x width x 3, "HWC").
class Image {
 public:
  Image() = default;  // empty: 0 x 0
  // Zero-filled (black); an Error unless 1 <= width, height and width * height <= max_pixels.
  Image(int64_t width, int64_t height, int64_t max_pixels = kMaxImagePixels);
  // Takes `rgb` (width * height * 3 bytes, an Error otherwise).
  Image(int64_t width, int64_t height, std::vector<uint8_t> rgb);

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  bool empty() const { return pixels_.empty(); }
  std::span<const uint8_t> pixels() const { return pixels_; }
  std::span<uint8_t> pixels() { return pixels_; }
  const uint8_t* row(int64_t y) const { return pixels_.data() + y * width_ * 3; }
  uint8_t* row(int64_t y) { return pixels_.data() + y * width_ * 3; }
  bool operator==(const Image&) const = default;

 private:
  int64_t width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;
};

struct ImageReadOptions {
  int64_t max_pixels = kMaxImagePixels;  // larger images are refused from their header
  // Turn the image as its EXIF orientation says (JPEG APP1, PNG eXIf), as transformers'
  // load_image does (exif_transpose) for its pipelines; false: the pixels as stored, as
  // Image.open(path).convert("RGB") gives them.
  bool apply_orientation = true;
};

// A PNG or JPEG file (told apart by its first bytes, not its name) as RGB, with the pixels
// Pillow 9.4 gives for Image.open(path).convert("RGB"): grey, grey + alpha, palette, RGBA (alpha
// dropped, not composited), 16-bit (colour: the high byte; grey: clipped to 255, as Pillow's
// mode "I"), JPEG grey, YCbCr and CMYK through libjpeg-turbo with Pillow's settings, then turned
// as its EXIF orientation says (ImageReadOptions::apply_orientation). Throws loom::Error naming the
// file and what is wrong: not a regular file, empty, not PNG or JPEG, truncated, corrupt (a bad
// CRC, a bad Huffman table), a size of 0 or above options.max_pixels.
Image read_image(const std::filesystem::path& path, const ImageReadOptions& options = {});
// The same from bytes in memory; `name` names them in messages.
Image decode_image(std::span<const uint8_t> bytes, std::string_view name, const ImageReadOptions& options = {});

// The image as a PNG file (8-bit RGB), in memory or written to `path` (an Error naming the file
// when it cannot be written).
std::vector<uint8_t> encode_png(const Image& image);
void write_png(const std::filesystem::path& path, const Image& image);

// Pillow 9.4's Image.resize((size.width, size.height), filter) on an RGB image, byte for byte
// (the same fixed-point arithmetic). With size.shortest_edge set, the shorter side becomes it and
// the other int(shortest_edge * long / short), as transformers' get_resize_output_image_size.
// The same size returns a copy. An Error for an empty image or a size below 1 or above
// kMaxImagePixels.
Image resize(const Image& image, const ImageSize& size, Resample filter);
// The {height, width} that resize() gives `image` for `size` (either form).
ImageSize resize_output_size(const Image& image, const ImageSize& size);
// transformers' center_crop to size.height x size.width: offsets (H - h) // 2 and (W - w) // 2,
// and where the image is smaller, zero (black) padding around it, ceil(diff / 2) before.
Image center_crop(const Image& image, const ImageSize& size);

using TensorMap = std::map<std::string, Tensor>;

// Runs a graph's processing.image spec: convert to RGB (always: images are RGB once read),
// resize, centre crop, rescale (x * factor in float64, then float32), normalize ((x - mean) / std
// in float32, mean and std rounded to float32), channels first; or with do_color_quantize the id
// of each pixel's nearest cluster, as ImageGPT computes it.
class ImageProcessor {
 public:
  // Checks the spec and reads its clusters_file (relative to `base_dir`, like Graph::base_dir).
  // An Error naming the file and entry at fault.
  ImageProcessor(const ImageProcessorSpec& spec, const std::filesystem::path& base_dir);
  // The processor of a graph's processing section; an Error when the graph has none.
  static ImageProcessor from_graph(const Graph& g);

  const ImageProcessorSpec& spec() const { return spec_; }
  // The clusters in use (inline or from clusters_file); empty without colour quantization.
  const std::vector<std::array<double, 3>>& clusters() const { return clusters_; }

  // One image after the uint8 steps: resize and centre crop.
  Image prepare(const Image& image) const;
  // The graph input for a batch, under spec().input: f32 [batch, 3, H, W], or i64 [batch, H * W]
  // with do_color_quantize (raster order). Images that end at different sizes are an Error
  // ("image 1 is 20x16 after resize and crop, the first image 24x24"), as is an empty batch.
  // `names` (the images' files, one per image, or none) name the images in errors.
  TensorMap tensors(std::span<const Image> images, std::span<const std::string> names = {}) const;
  TensorMap tensors(std::initializer_list<Image> images) const {
    return tensors(std::span<const Image>(images.begin(), images.size()));
  }

 private:
  ImageProcessorSpec spec_;
  std::vector<std::array<double, 3>> clusters_;
};

}  // namespace loom
