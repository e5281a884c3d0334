// PNG encoding through libpng's simplified API, which reports errors in its control structure
// rather than by longjmp, so it is safe to call from C++.
#include <loom/error.hpp>
#include <loom/image.hpp>
#include <loom/io.hpp>

#include <png.h>

#include <cstring>
#include <vector>

namespace loom {

std::vector<uint8_t> encode_png(const Image& image) {
  if (image.empty()) throw Error("encode_png: the image is empty");
  png_image info;
  std::memset(&info, 0, sizeof info);
  info.version = PNG_IMAGE_VERSION;
  info.width = static_cast<png_uint_32>(image.width());
  info.height = static_cast<png_uint_32>(image.height());
  info.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  const auto stride = static_cast<png_int_32>(image.width() * 3);
  if (!png_image_write_get_memory_size(info, size, 0, image.pixels().data(), stride, nullptr))
    throw Error(std::string("encode_png: ") + info.message);
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&info, out.data(), &size, 0, image.pixels().data(), stride, nullptr))
    throw Error(std::string("encode_png: ") + info.message);
  out.resize(size);
  return out;
}

void write_png(const std::filesystem::path& path, const Image& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  write_file(path, {std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())});
}

}  // namespace loom
