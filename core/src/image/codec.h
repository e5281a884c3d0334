/* The PNG and JPEG decoders (png_codec.c, jpeg_codec.c), written in C because libpng and libjpeg
 * report errors by longjmp: jumping over C++ frames would skip their destructors. Each decoder
 * sets its jump point in a C function whose frames hold nothing to destroy, and hands its rows
 * to the caller through a sink of plain callbacks that never throw.
 *
 * The rows are the file's samples, before any colour conversion (decode.cpp converts them as
 * Pillow does): one byte per sample for bit depths 1, 2, 4 and 8 (sub-byte samples unpacked, not
 * scaled), two big-endian bytes for 16; JPEG rows are libjpeg's output in Pillow's colour space. */
#ifndef LOOM_IMAGE_CODEC_H
#define LOOM_IMAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum loom_raw_layout {
  LOOM_RAW_GREY,        /* PNG colour type 0 (bits 1, 2, 4, 8, 16), JPEG one component */
  LOOM_RAW_RGB,         /* PNG colour type 2 (8, 16), JPEG YCbCr or RGB as RGB */
  LOOM_RAW_PALETTE,     /* PNG colour type 3 (1, 2, 4, 8): indices */
  LOOM_RAW_GREY_ALPHA,  /* PNG colour type 4 (8, 16) */
  LOOM_RAW_RGBA,        /* PNG colour type 6 (8, 16) */
  LOOM_RAW_CMYK         /* JPEG four components, as libjpeg gives them (Adobe's inverted CMYK) */
};

struct loom_raw_format {
  uint32_t width, height;
  enum loom_raw_layout layout;
  int bit_depth;              /* of one sample: 1, 2, 4, 8 or 16 */
  int palette_entries;        /* LOOM_RAW_PALETTE: 1..256 */
  const uint8_t *palette;     /* RGB triples; valid during begin() only */
};

struct loom_image_sink {
  void *user;
  /* The header is read: 0 refuses the image (too large, out of memory); the decoder then stops
   * and returns LOOM_CODEC_REFUSED without a message of its own. */
  int (*begin)(void *user, const struct loom_raw_format *format);
  /* Row y is complete; `samples` is valid during the call only. */
  void (*row)(void *user, uint32_t y, const uint8_t *samples);
  /* PNG: the eXIf chunk's bytes (a TIFF structure), after the rows; valid during the call only. */
  void (*exif)(void *user, const uint8_t *data, size_t size);
};

enum loom_codec_status { LOOM_CODEC_OK = 0, LOOM_CODEC_ERROR = 1, LOOM_CODEC_REFUSED = 2 };

/* Decode the whole file. On LOOM_CODEC_ERROR, `message` holds the library's reason. */
enum loom_codec_status loom_png_decode(const uint8_t *data, size_t size, const struct loom_image_sink *sink,
                                       char *message, size_t message_size);
/* max_scans bounds a progressive JPEG's scans (each one a pass over the whole image). */
enum loom_codec_status loom_jpeg_decode(const uint8_t *data, size_t size, int max_scans, const struct loom_image_sink *sink,
                                        char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
