// A decoder's rows (codec.h) to RGB, as Pillow 9.4 unpacks them into its modes and then
// convert("RGB") maps those modes (src/libImaging/Unpack.c, Convert.c).
#pragma once

#include "image/codec.h"

#include <array>
#include <cstdint>

namespace loom::image {

// Pillow's palette of a P image: the file's entries, then a grey ramp (i, i, i) up to 256, so
// an index past the file's palette reads as grey.
std::array<uint8_t, 256 * 3> pillow_palette(const loom_raw_format& format);

// One row of `width` pixels; `palette` is pillow_palette(format) for palette images.
void samples_to_rgb(const loom_raw_format& format, const std::array<uint8_t, 256 * 3>& palette, const uint8_t* samples, uint8_t* rgb) noexcept;

}  // namespace loom::image
