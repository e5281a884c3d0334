// Size checks shared by the image reader, resize and crop.
#pragma once

#include <cstdint>
#include <string>

namespace loom::image {

// An Error "<what> is W x H pixels: ..." unless 1 <= width, height and width * height <= max_pixels.
void check_size(int64_t width, int64_t height, int64_t max_pixels, const std::string& what);

}  // namespace loom::image
