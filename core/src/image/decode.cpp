// read_image / decode_image: the format from the first bytes, the decoder (codec.h), and the
// conversion of its rows to RGB as Pillow makes it.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image/codec.h"
#include "image/convert.hpp"
#include "image/image_size.hpp"
#include "image/orientation.hpp"
#include "io/regular_file.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace loom {

namespace {

constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint8_t kJpegMagic[3] = {0xff, 0xd8, 0xff};  // SOI and the next marker's 0xff, as Pillow checks
// TurboJPEG's limit for its "limit scans" flag: far above any real progressive file (about 10).
constexpr int kMaxJpegScans = 500;

bool starts_with(std::span<const uint8_t> bytes, const uint8_t* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

// Names a few formats that are not read here, so that the message says what the file is.
std::string other_format(std::span<const uint8_t> b) {
  auto is = [&](std::string_view magic, size_t at = 0) {
    return b.size() >= at + magic.size() && std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
  };
  if (is("GIF87a") || is("GIF89a")) return "a GIF image";
  if (is("RIFF") && is("WEBP", 8)) return "a WebP image";
  if (is("BM")) return "a BMP image";
  if (is("II*\0") || is("MM\0*")) return "a TIFF image";
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i) head += static_cast<char>(b[i]);
  return "not a PNG or JPEG image (it starts with \"" + printable(head) + "\")";
}

// What the decoder's callbacks fill in. They run inside C frames: nothing may escape them.
struct Decoding {
  int64_t max_pixels = 0;
  loom_raw_format format{};
  std::array<uint8_t, 256 * 3> palette{};
  Image image;
  std::string refusal;
  std::vector<uint8_t> exif;  // the EXIF block's TIFF structure, where the file has one
};

int begin(void* user, const loom_raw_format* format) noexcept {
  auto* d = static_cast<Decoding*>(user);
  try {
    image::check_size(format->width, format->height, d->max_pixels, "the image");
    d->format = *format;
    if (format->layout == LOOM_RAW_PALETTE) d->palette = image::pillow_palette(*format);
    d->format.palette = nullptr;  // valid during this call only
    d->image = Image(format->width, format->height, d->max_pixels);
    return 1;
  } catch (const std::exception& e) {
    d->refusal = e.what();
  } catch (...) {
    d->refusal = "cannot take the pixels' memory";
  }
  return 0;
}

void row(void* user, uint32_t y, const uint8_t* samples) noexcept {
  auto* d = static_cast<Decoding*>(user);
  image::samples_to_rgb(d->format, d->palette, samples, d->image.row(y));
}

void exif(void* user, const uint8_t* data, size_t size) noexcept {
  auto* d = static_cast<Decoding*>(user);
  try {
    d->exif.assign(data, data + size);
  } catch (...) {
    d->exif.clear();  // no memory for it: read as without
  }
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, std::string_view name_view, const ImageReadOptions& options) {
  const std::string name = printable(name_view);
  if (bytes.empty()) throw Error(name + ": the image file is empty");
  const bool png = starts_with(bytes, kPngMagic, sizeof kPngMagic);
  if (!png && !starts_with(bytes, kJpegMagic, sizeof kJpegMagic)) throw Error(name + ": " + other_format(bytes));
  Decoding d;
  d.max_pixels = options.max_pixels;
  const loom_image_sink sink{&d, begin, row, exif};
  char message[256];
  const loom_codec_status status = png ? loom_png_decode(bytes.data(), bytes.size(), &sink, message, sizeof message)
                                       : loom_jpeg_decode(bytes.data(), bytes.size(), kMaxJpegScans, &sink, message, sizeof message);
  const std::string kind = png ? "PNG" : "JPEG";
  if (status == LOOM_CODEC_REFUSED) throw Error(name + ": " + kind + ": " + d.refusal);
  if (status != LOOM_CODEC_OK) throw Error(name + ": cannot decode the " + kind + " image: " + printable(message));
  if (options.apply_orientation && !d.exif.empty()) return image::apply_orientation(std::move(d.image), image::exif_orientation(d.exif));
  return std::move(d.image);
}

Image read_image(const std::filesystem::path& path, const ImageReadOptions& options) {
  const io::RegularFile file(path, "the image");
  if (file.size() == 0) throw Error(file.name() + ": the image file is empty");
  const std::string bytes = file.read_all(kMaxImageFileBytes);
  return decode_image(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), file.name(), options);
}

}  // namespace loom
