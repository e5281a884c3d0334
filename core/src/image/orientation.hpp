// A photo's EXIF orientation, applied as transformers' load_image applies it
// (PIL.ImageOps.exif_transpose before convert("RGB")).
#pragma once

#include <loom/image.hpp>

#include <cstdint>
#include <span>

namespace loom::image {

// The Orientation tag (0x0112) of IFD0 of an EXIF block (its TIFF structure, after the "Exif\0\0"
// header), as Pillow 9.4's getexif() reads it: the last entry of the tag that IFD0 holds, its
// first value, where that is a number equal to a whole orientation; 1 (as stored) otherwise.
// Never reads outside `tiff`.
int exif_orientation(std::span<const uint8_t> tiff);

// The image turned as Pillow's exif_transpose turns it for orientation 2 to 8 (flips, rotations,
// transpose, transverse); any other value leaves it as it is.
Image apply_orientation(Image image, int orientation);

}  // namespace loom::image
