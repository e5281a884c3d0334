// EXIF orientation: the tag read as Pillow 9.4 reads it (TiffImagePlugin's
// ImageFileDirectory_v2.load and Exif.load), the image turned as Image.transpose turns it.
//
// Pillow, not the TIFF standard, is the reference: IFD0's entries are read in order until the
// block ends (those read before a cut are kept), an entry of an unknown type or with no data is
// passed over, a later entry of a tag replaces an earlier one, and only a number that equals a
// whole orientation (6, 6.0, 12/2; not the bytes of a BYTE or UNDEFINED entry, nor text) counts.
// A general EXIF library differs on each of these points, so the few rules are written here.
#include "image/orientation.hpp"

#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

namespace loom::image {

namespace {

class TiffReader {
 public:
  TiffReader(std::span<const uint8_t> data, bool little) : data_(data), little_(little) {}
  bool has(uint64_t at, uint64_t n) const { return at <= data_.size() && n <= data_.size() - at; }
  uint64_t uint(uint64_t at, int bytes) const {  // callers check has(at, bytes)
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{data_[at + i]} << (8 * (little_ ? i : bytes - 1 - i));
    return v;
  }

 private:
  std::span<const uint8_t> data_;
  bool little_;
};

// Bytes per value of the types Pillow loads (TiffImagePlugin's _load_dispatch), 0 for others.
int unit_size(uint64_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;   // BYTE, ASCII, SBYTE, UNDEFINED
    case 3: case 8: return 2;                   // SHORT, SSHORT
    case 4: case 9: case 11: case 13: return 4; // LONG, SLONG, FLOAT, IFD
    case 5: case 10: case 12: case 16: return 8;  // RATIONAL, SRATIONAL, DOUBLE, LONG8
    default: return 0;
  }
}

// The first value of an entry as a number, where Pillow gives a number (not bytes or text).
std::optional<double> first_value(const TiffReader& r, uint64_t type, uint64_t at) {
  auto sign = [](uint64_t v, int bits) { return static_cast<double>(static_cast<int64_t>(v << (64 - bits)) >> (64 - bits)); };
  switch (type) {
    case 6: return sign(r.uint(at, 1), 8);
    case 3: case 4: case 13: case 16: return static_cast<double>(r.uint(at, unit_size(type)));
    case 8: return sign(r.uint(at, 2), 16);
    case 9: return sign(r.uint(at, 4), 32);
    case 5: case 10: {  // a rational, compared as Pillow's IFDRational compares (num / den)
      const double num = type == 5 ? static_cast<double>(r.uint(at, 4)) : sign(r.uint(at, 4), 32);
      const double den = type == 5 ? static_cast<double>(r.uint(at + 4, 4)) : sign(r.uint(at + 4, 4), 32);
      return den == 0 ? std::nullopt : std::optional<double>(num / den);
    }
    case 11: {
      const auto bits = static_cast<uint32_t>(r.uint(at, 4));
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case 12: {
      const uint64_t bits = r.uint(at, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
    default: return std::nullopt;  // BYTE and UNDEFINED are bytes, ASCII text
  }
}

}  // namespace

int exif_orientation(std::span<const uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  const TiffReader r(tiff, little);
  if (r.uint(2, 2) != 42) return 1;
  const uint64_t ifd = r.uint(4, 4);
  if (!r.has(ifd, 2)) return 1;
  const uint64_t count = r.uint(ifd, 2);
  std::optional<double> orientation;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t entry = ifd + 2 + 12 * i;
    if (!r.has(entry, 12)) break;  // the block ends: the entries read so far stand
    if (r.uint(entry, 2) != 0x0112) continue;
    const uint64_t type = r.uint(entry + 2, 2), n = r.uint(entry + 4, 4);
    const int unit = unit_size(type);
    if (unit == 0 || n == 0) continue;  // an unknown type, or no data: passed over
    const uint64_t size = n * static_cast<uint64_t>(unit);
    const uint64_t at = size > 4 ? r.uint(entry + 8, 4) : entry + 8;
    if (!r.has(at, size)) continue;  // its data past the block: passed over
    orientation = first_value(r, type, at);  // a later entry replaces an earlier one
  }
  if (!orientation || *orientation != std::floor(*orientation) || *orientation < 1 || *orientation > 8) return 1;
  return static_cast<int>(*orientation);
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
