#include "image/convert.hpp"

namespace loom::image {

namespace {

// Pillow's modes per PNG layout: 1-bit grey is "1" (0 or 255), 2- and 4-bit grey "L" scaled by
// 0x55 and 0x11; 16-bit grey is "I" (the whole value, which convert("RGB") clips to 255);
// 16-bit colour keeps the high byte of each sample ("RGB;16B", "RGBA;16B", "LA;16B").
uint8_t grey_value(const uint8_t* s, int bit_depth) {
  switch (bit_depth) {
    case 1: return *s ? 255 : 0;
    case 2: return static_cast<uint8_t>(*s * 0x55);
    case 4: return static_cast<uint8_t>(*s * 0x11);
    case 16: {
      const int v = (s[0] << 8) | s[1];
      return static_cast<uint8_t>(v >= 255 ? 255 : v);
    }
    default: return *s;
  }
}

// cmyk2rgb after the "CMYK;I" unpacker (every byte inverted): Pillow's integer arithmetic.
uint8_t cmyk_channel(int ink, int black) {
  const int nk = 255 - black;
  const int tmp = ink * nk + 128;
  const int v = nk - (((tmp >> 8) + tmp) >> 8);
  return static_cast<uint8_t>(v <= 0 ? 0 : v < 256 ? v : 255);
}

}  // namespace

std::array<uint8_t, 256 * 3> pillow_palette(const loom_raw_format& format) {
  std::array<uint8_t, 256 * 3> p{};
  for (int i = 0; i < 256; ++i) p[i * 3] = p[i * 3 + 1] = p[i * 3 + 2] = static_cast<uint8_t>(i);
  for (int i = 0; i < format.palette_entries && i < 256; ++i)
    for (int c = 0; c < 3; ++c) p[i * 3 + c] = format.palette[i * 3 + c];
  return p;
}

void samples_to_rgb(const loom_raw_format& f, const std::array<uint8_t, 256 * 3>& palette, const uint8_t* s, uint8_t* rgb) noexcept {
  const bool wide = f.bit_depth == 16;
  const int step = wide ? 2 : 1;  // bytes per sample; colour keeps the first (high) byte
  for (uint32_t x = 0; x < f.width; ++x, rgb += 3) {
    switch (f.layout) {
      case LOOM_RAW_GREY: rgb[0] = rgb[1] = rgb[2] = grey_value(s, f.bit_depth), s += step; break;
      case LOOM_RAW_GREY_ALPHA: rgb[0] = rgb[1] = rgb[2] = s[0], s += 2 * step; break;
      case LOOM_RAW_PALETTE:
        for (int c = 0; c < 3; ++c) rgb[c] = palette[*s * 3 + c];
        s += 1;
        break;
      case LOOM_RAW_RGB:
      case LOOM_RAW_RGBA:
        for (int c = 0; c < 3; ++c) rgb[c] = s[c * step];
        s += (f.layout == LOOM_RAW_RGB ? 3 : 4) * step;
        break;
      case LOOM_RAW_CMYK: {
        const int k = 255 - s[3];
        for (int c = 0; c < 3; ++c) rgb[c] = cmyk_channel(255 - s[c], k);
        s += 4;
        break;
      }
    }
  }
}

}  // namespace loom::image
