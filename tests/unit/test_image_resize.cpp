// resize() against Pillow 9.4's Image.resize, byte for byte, for every filter at sizes up, down,
// mixed, one axis only, the same, one pixel, from one pixel and from one row; and center_crop
// and the shortest-edge size against transformers' rules.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image_fixtures.hpp"

#include <string>
#include <vector>

using loom::Image;
using loom::ImageSize;
using loom::Resample;
using loom::test::error_message;
using loom::test::image_difference;
using loom::test::npy_image;

namespace {

// Cut out the sources make_image_fixtures.py resizes: rgb.png whole, its first pixel, its first row.
Image source(const std::string& name) {
  if (name == "large") return npy_image("decoded/large420_jpg.npy");
  const Image rgb = npy_image("decoded/rgb_png.npy");
  if (name == "rgb") return rgb;
  const int64_t w = name == "pixel" ? 1 : rgb.width();
  return Image(w, 1, std::vector<uint8_t>(rgb.row(0), rgb.row(0) + w * 3));
}

struct Case {
  const char* source;
  int64_t width, height;
};
const Case kCases[] = {{"rgb", 41, 33}, {"rgb", 13, 7},  {"rgb", 7, 30},  {"rgb", 1, 1},   {"rgb", 29, 5},  {"rgb", 50, 19},
                       {"rgb", 3, 2},   {"rgb", 29, 19}, {"rgb", 64, 47}, {"pixel", 4, 3}, {"row", 9, 4}, {"large", 23, 17}};
const std::pair<const char*, Resample> kFilters[] = {{"nearest", Resample::Nearest}, {"bilinear", Resample::Bilinear},
                                                     {"bicubic", Resample::Bicubic}, {"box", Resample::Box},
                                                     {"hamming", Resample::Hamming}, {"lanczos", Resample::Lanczos}};

}  // namespace

TEST_CASE("resize: equal to Pillow's Image.resize, byte for byte, for every filter and size") {
  int compared = 0;
  for (const auto& [name, filter] : kFilters)
    for (const Case& c : kCases) {
      const std::string file = std::string("resize/") + name + "_" + c.source + "_" + std::to_string(c.width) + "x" +
                               std::to_string(c.height) + ".npy";
      INFO(file);
      const Image got = loom::resize(source(c.source), ImageSize{.height = c.height, .width = c.width}, filter);
      CHECK(image_difference(got, npy_image(file)) == "");
      ++compared;
    }
  CHECK(compared == 72);
}

TEST_CASE("resize: the shortest edge keeps the aspect ratio, the long side truncated as int()") {
  const Image tall(19, 29), wide(29, 19), square(5, 5);
  auto size = [](const Image& im, int64_t s) {
    const ImageSize o = loom::resize_output_size(im, ImageSize{.shortest_edge = s});
    return std::to_string(o.width) + "x" + std::to_string(o.height);
  };
  CHECK(size(tall, 224) == "224x341");  // int(224 * 29 / 19) = int(341.89...)
  CHECK(size(wide, 224) == "341x224");
  CHECK(size(square, 7) == "7x7");
  CHECK(size(Image(3, 1), 2) == "6x2");
  CHECK(size(Image(10, 3), 1) == "3x1");  // int(10 / 3)
  CHECK(loom::resize(wide, ImageSize{.shortest_edge = 10}, Resample::Bilinear).width() == 15);
  // The same size is a copy.
  CHECK(loom::resize(wide, ImageSize{.height = 19, .width = 29}, Resample::Bicubic) == wide);
}

TEST_CASE("resize: sizes below 1 or past the pixel limit are errors, before any allocation") {
  const Image im(4, 4);
  CHECK(error_message([&] { loom::resize(im, ImageSize{.height = 0, .width = 3}, Resample::Bilinear); }) ==
        "resize: the output is 3 x 0 pixels: each side must be at least 1");
  CHECK(error_message([&] { loom::resize(im, ImageSize{.height = 100000, .width = 100000}, Resample::Nearest); }) ==
        "resize: the output is 100000 x 100000 pixels, more than the 89478485 an image may have");
  // A long thin image at a large shortest edge would be 2.2 billion pixels.
  CHECK(error_message([] { loom::resize(Image(10000, 1), ImageSize{.shortest_edge = 470}, Resample::Bicubic); }) ==
        "resize: the output is 4700000 x 470 pixels, more than the 89478485 an image may have");
  CHECK(error_message([&] { loom::resize(Image(), ImageSize{.height = 2, .width = 2}, Resample::Bilinear); }) == "resize: the image is empty");
}

TEST_CASE("center_crop: floor offsets, zero padding where the image is smaller") {
  // Pixel value = 10 * y + x in every channel, 5 wide and 4 high.
  std::vector<uint8_t> px;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) px.insert(px.end(), 3, static_cast<uint8_t>(10 * y + x));
  const Image im(5, 4, px);
  auto rows = [](const Image& out) {
    std::string s;
    for (int64_t y = 0; y < out.height(); ++y) {
      for (int64_t x = 0; x < out.width(); ++x) s += std::to_string(out.row(y)[x * 3]) + (x + 1 < out.width() ? " " : "");
      s += ";";
    }
    return s;
  };
  // top = (4 - 2) // 2 = 1, left = (5 - 2) // 2 = 1.
  CHECK(rows(loom::center_crop(im, ImageSize{.height = 2, .width = 2})) == "11 12;21 22;");
  CHECK(rows(loom::center_crop(im, ImageSize{.height = 3, .width = 4})) == "0 1 2 3;10 11 12 13;20 21 22 23;");
  // Taller than the image: one zero row above (ceil(1 / 2)), none below; wider: ceil(2 / 2) each side.
  CHECK(rows(loom::center_crop(im, ImageSize{.height = 5, .width = 7})) ==
        "0 0 0 0 0 0 0;0 0 1 2 3 4 0;0 10 11 12 13 14 0;0 20 21 22 23 24 0;0 30 31 32 33 34 0;");
  // Larger in height only: the width still crops with the floor offset.
  CHECK(rows(loom::center_crop(im, ImageSize{.height = 6, .width = 2})) == "0 0;1 2;11 12;21 22;31 32;0 0;");
  CHECK(rows(loom::center_crop(im, ImageSize{.height = 4, .width = 5})) == rows(im));
  CHECK(error_message([&] { loom::center_crop(im, ImageSize{.shortest_edge = 3}); }) ==
        "center_crop: the crop size is a height and a width, not a shortest edge");
  CHECK(error_message([&] { loom::center_crop(im, ImageSize{.height = -1, .width = 3}); }) ==
        "center_crop: the crop is 3 x -1 pixels: each side must be at least 1");
}
