// loom::Image: the pixel buffer and its size checks.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image/image_size.hpp"

namespace loom {

namespace image {

void check_size(int64_t width, int64_t height, int64_t max_pixels, const std::string& what) {
  if (width < 1 || height < 1)
    throw Error(what + " is " + std::to_string(width) + " x " + std::to_string(height) + " pixels: each side must be at least 1");
  // width * height without overflow: the quotient test first.
  if (width > max_pixels / height)
    throw Error(what + " is " + std::to_string(width) + " x " + std::to_string(height) + " pixels, more than the " +
                std::to_string(max_pixels) + " an image may have");
}

}  // namespace image

Image::Image(int64_t width, int64_t height, int64_t max_pixels) : width_(width), height_(height) {
  image::check_size(width, height, max_pixels, "the image");
  pixels_.assign(static_cast<size_t>(width * height * 3), 0);
}

Image::Image(int64_t width, int64_t height, std::vector<uint8_t> rgb) : width_(width), height_(height), pixels_(std::move(rgb)) {
  image::check_size(width, height, kMaxImagePixels, "the image");
  if (pixels_.size() != static_cast<size_t>(width * height * 3))
    throw Error("the image is " + std::to_string(width) + " x " + std::to_string(height) + " pixels, which is " +
                std::to_string(width * height * 3) + " RGB bytes, but " + std::to_string(pixels_.size()) + " were given");
}

}  // namespace loom
