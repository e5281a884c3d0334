// Any bytes given to the image reader either decode to an RGB image of the size its header
// gives, or give loom::Error; anything else (a crash, a hang, a read out of bounds, a longjmp
// through C++ frames, a message on stderr) is a bug. What decodes is also resized and cropped.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom::Image image;
  try {
    // A smaller limit than the library's, so that one input costs milliseconds.
    image = loom::decode_image({data, size}, "fuzz.img", {.max_pixels = 1 << 20});
  } catch (const loom::Error&) {
    return 0;
  }
  if (image.width() < 1 || image.height() < 1 || image.pixels().size() != static_cast<size_t>(image.width() * image.height() * 3))
    std::abort();
  const loom::Resample filter = static_cast<loom::Resample>(size % 6);
  const loom::Image small = loom::resize(image, loom::ImageSize{.height = image.height() / 3 + 1, .width = image.width() / 2 + 1}, filter);
  const loom::Image crop = loom::center_crop(small, loom::ImageSize{.height = 5, .width = 7});
  if (crop.width() != 7 || crop.height() != 5) std::abort();
  return 0;
}
