// transformers' center_crop (image_transforms.py) on uint8 pixels: floor offsets, and an image
// smaller than the crop padded with zeros, ceil(diff / 2) of them before it.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image/image_size.hpp"

#include <algorithm>
#include <cstring>

namespace loom {

namespace {

int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

Image center_crop(const Image& image, const ImageSize& size) {
  if (image.empty()) throw Error("center_crop: the image is empty");
  if (size.shortest_edge != 0) throw Error("center_crop: the crop size is a height and a width, not a shortest edge");
  image::check_size(size.width, size.height, kMaxImagePixels, "center_crop: the crop");
  const int64_t crop_h = size.height, crop_w = size.width;
  // The crop's top-left corner in the image, negative where the image is smaller: there the
  // padding of ceil(diff / 2) cancels the floor of -diff / 2, so the image lands at -top.
  const int64_t top = floor_div2(image.height() - crop_h), left = floor_div2(image.width() - crop_w);
  Image out(crop_w, crop_h);
  const int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(crop_w, image.width() - left);
  for (int64_t y = 0; y < crop_h; ++y) {
    const int64_t sy = top + y;
    if (sy < 0 || sy >= image.height() || x1 <= x0) continue;
    std::memcpy(out.row(y) + x0 * 3, image.row(sy) + (left + x0) * 3, static_cast<size_t>(x1 - x0) * 3);
  }
  return out;
}

}  // namespace loom
