// EXIF orientation: the tag read with libexif, the image turned as Pillow's Image.transpose does.
#include "image/orientation.hpp"

#include <libexif/exif-data.h>

#include <cstring>
#include <memory>
#include <vector>

namespace loom::image {

int exif_orientation(std::span<const uint8_t> tiff) {
  // libexif takes the block with its "Exif\0\0" header, which the decoders strip.
  static constexpr uint8_t kHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
  std::vector<uint8_t> block(sizeof kHeader + tiff.size());
  std::memcpy(block.data(), kHeader, sizeof kHeader);
  if (!tiff.empty()) std::memcpy(block.data() + sizeof kHeader, tiff.data(), tiff.size());
  std::unique_ptr<ExifData, void (*)(ExifData*)> data(exif_data_new(), exif_data_unref);
  if (!data) return 1;
  // As read, without the entries libexif would add or move to follow the standard.
  exif_data_unset_option(data.get(), EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_load_data(data.get(), block.data(), static_cast<unsigned int>(block.size()));
  ExifContent* ifd0 = data->ifd[EXIF_IFD_0];
  ExifEntry* e = ifd0 ? exif_content_get_entry(ifd0, EXIF_TAG_ORIENTATION) : nullptr;
  if (!e || !e->data || e->components < 1) return 1;  // several values: Pillow reads the first
  const ExifByteOrder order = exif_data_get_byte_order(data.get());
  const size_t size = exif_format_get_size(e->format);
  if (size == 0 || e->size < size) return 1;
  switch (e->format) {
    case EXIF_FORMAT_BYTE: return e->data[0];
    case EXIF_FORMAT_SBYTE: return static_cast<int8_t>(e->data[0]);
    case EXIF_FORMAT_SHORT: return exif_get_short(e->data, order);
    case EXIF_FORMAT_SSHORT: return exif_get_sshort(e->data, order);
    case EXIF_FORMAT_LONG: {
      const ExifLong v = exif_get_long(e->data, order);
      return v > 8 ? 1 : static_cast<int>(v);
    }
    case EXIF_FORMAT_SLONG: {
      const ExifSLong v = exif_get_slong(e->data, order);
      return v < 0 || v > 8 ? 1 : static_cast<int>(v);
    }
    default: return 1;
  }
}

Image apply_orientation(Image image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int64_t w = image.width(), h = image.height();
  const bool swap = orientation >= 5;  // transpose, rotations by 90 degrees, transverse
  const int64_t ow = swap ? h : w, oh = swap ? w : h;
  std::vector<uint8_t> out(static_cast<size_t>(ow * oh * 3));
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x) {
      int64_t sx = x, sy = y;  // the source pixel of output (x, y)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                 // FLIP_LEFT_RIGHT
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;  // ROTATE_180
        case 4: sy = h - 1 - y; break;                 // FLIP_TOP_BOTTOM
        case 5: sx = y; sy = x; break;                 // TRANSPOSE
        case 6: sx = y; sy = h - 1 - x; break;         // ROTATE_270 (a quarter turn clockwise)
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;  // TRANSVERSE
        case 8: sx = w - 1 - y; sy = x; break;         // ROTATE_90 (a quarter turn anticlockwise)
      }
      std::memcpy(out.data() + (y * ow + x) * 3, image.row(sy) + sx * 3, 3);
    }
  return Image(ow, oh, std::move(out));
}

}  // namespace loom::image
