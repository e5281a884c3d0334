/* PNG through libpng: the file's samples, unconverted (see codec.h). */
#include "image/codec.h"

#include <png.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct png_source {
  const uint8_t *data;
  size_t size, pos;
  char *message;
  size_t message_size;
  uint8_t *rows;             /* one row, or the whole image when interlaced; freed by the caller */
  uint8_t palette[256 * 3];
  char warning[160];         /* the last warning, which often says why an error follows */
  uint8_t *exif;             /* the last eXIf chunk's bytes (Pillow keeps the last); freed by the caller */
  size_t exif_size;
};

static void read_bytes(png_structp png, png_bytep out, size_t n) {
  struct png_source *s = (struct png_source *)png_get_io_ptr(png);
  if (n > s->size - s->pos) png_error(png, "the file ends early (truncated)");
  memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

/* Jumps to png_jmpbuf() itself: were it to return, libpng would print the message on stderr. */
static void on_error(png_structp png, png_const_charp text) {
  struct png_source *s = (struct png_source *)png_get_error_ptr(png);
  if (s->warning[0])
    snprintf(s->message, s->message_size, "%s (%s)", text, s->warning);
  else
    snprintf(s->message, s->message_size, "%s", text);
  png_longjmp(png, 1);
}

/* Warnings (a palette index past the palette, extra data after the image) are what Pillow lets
 * pass too; the last one is kept for the message of an error that follows it. */
static void on_warning(png_structp png, png_const_charp text) {
  struct png_source *s = (struct png_source *)png_get_error_ptr(png);
  snprintf(s->warning, sizeof s->warning, "%s", text);
}

/* eXIf, handled as an unknown chunk so that each one comes here (libpng would keep the first and
 * drop the others): the last one is kept, as Pillow keeps it. Without memory for a copy, none. */
static int on_chunk(png_structp png, png_unknown_chunkp chunk) {
  struct png_source *s = (struct png_source *)png_get_user_chunk_ptr(png);
  if (memcmp(chunk->name, "eXIf", 4) != 0) return 0;
  free(s->exif);
  s->exif = chunk->size ? (uint8_t *)malloc(chunk->size) : NULL;
  s->exif_size = s->exif ? chunk->size : 0;
  if (s->exif) memcpy(s->exif, chunk->data, chunk->size);
  return 1;
}

static enum loom_raw_layout layout_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return LOOM_RAW_GREY;
    case PNG_COLOR_TYPE_RGB: return LOOM_RAW_RGB;
    case PNG_COLOR_TYPE_PALETTE: return LOOM_RAW_PALETTE;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return LOOM_RAW_GREY_ALPHA;
    default: return LOOM_RAW_RGBA;
  }
}

/* Every jump lands here and returns at once: nothing read after the jump lives in a register. */
static enum loom_codec_status decode(png_structp png, png_infop info, struct png_source *s, const struct loom_image_sink *sink) {
  /* Ancillary chunks say nothing about the pixels Pillow gives: skip them (their CRCs are still
   * checked). eXIf is read: its orientation turns the image, as transformers' load_image does. */
  static const png_byte skipped[] =
      "bKGD\0cHRM\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0tRNS\0zTXt";
  struct loom_raw_format format;
  png_uint_32 width, height, y;
  int bit_depth, color_type, interlace, passes, pass;
  size_t row_bytes;
  png_colorp palette;
  int entries, i;

  if (setjmp(png_jmpbuf(png))) return LOOM_CODEC_ERROR;
  png_set_read_fn(png, s, read_bytes);
  /* The size is checked against the caller's pixel limit, not libpng's 1,000,000 per side. */
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  /* A bad CRC in any chunk is an error, as Pillow has it, not only in critical ones. */
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped, (int)(sizeof skipped / 5));
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, (png_const_bytep) "eXIf", 1);
  png_set_read_user_chunk_fn(png, s, on_chunk);
  png_read_info(png, info);
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);

  memset(&format, 0, sizeof format);
  format.width = width;
  format.height = height;
  format.layout = layout_of(color_type);
  format.bit_depth = bit_depth;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    if (!png_get_PLTE(png, info, &palette, &entries) || entries < 1 || entries > 256) png_error(png, "missing or empty PLTE");
    for (i = 0; i < entries; ++i) {
      s->palette[i * 3 + 0] = palette[i].red;
      s->palette[i * 3 + 1] = palette[i].green;
      s->palette[i * 3 + 2] = palette[i].blue;
    }
    format.palette = s->palette;
    format.palette_entries = entries;
  }
  /* Before libpng takes its row buffers: a refused size costs nothing. */
  if (!sink->begin(sink->user, &format)) return LOOM_CODEC_REFUSED;
  if (bit_depth < 8) png_set_packing(png); /* one byte per sample, values kept */
  passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row_bytes = png_get_rowbytes(png, info);

  if (passes == 1) {
    s->rows = (uint8_t *)malloc(row_bytes);
    if (!s->rows) png_error(png, "out of memory");
    for (y = 0; y < height; ++y) {
      png_read_row(png, s->rows, NULL);
      sink->row(sink->user, y, s->rows);
    }
  } else {
    /* Adam7: each pass fills some pixels of every row, so all rows are held until the last. */
    if (row_bytes != 0 && height > SIZE_MAX / row_bytes) png_error(png, "image too large");
    s->rows = (uint8_t *)calloc(height, row_bytes);
    if (!s->rows) png_error(png, "out of memory");
    for (pass = 0; pass < passes; ++pass)
      for (y = 0; y < height; ++y) png_read_row(png, s->rows + (size_t)y * row_bytes, NULL);
    for (y = 0; y < height; ++y) sink->row(sink->user, y, s->rows + (size_t)y * row_bytes);
  }
  png_read_end(png, info); /* the last data chunk's CRC, the file's end, an eXIf after the pixels (with info only) */
  if (s->exif) sink->exif(sink->user, s->exif, s->exif_size);
  return LOOM_CODEC_OK;
}

enum loom_codec_status loom_png_decode(const uint8_t *data, size_t size, const struct loom_image_sink *sink, char *message,
                                       size_t message_size) {
  struct png_source s;
  png_structp png;
  png_infop info;
  enum loom_codec_status status;

  memset(&s, 0, sizeof s);
  s.data = data;
  s.size = size;
  s.message = message;
  s.message_size = message_size;
  message[0] = 0;
  png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
  info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    snprintf(message, message_size, "out of memory");
    return LOOM_CODEC_ERROR;
  }
  status = decode(png, info, &s, sink);
  png_destroy_read_struct(&png, &info, NULL);
  free(s.rows);
  free(s.exif);
  return status;
}
