/* JPEG through libjpeg-turbo, set up as Pillow's JpegDecode.c sets it up (the library's defaults:
 * the accurate integer IDCT, fancy upsampling, block smoothing; output in the colour space
 * Pillow asks for: grey, RGB or CMYK), so that the pixels are Pillow's to the bit. */
#include "image/codec.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

struct jpeg_context {
  struct jpeg_error_mgr err; /* first: libjpeg hands the callbacks a pointer to it */
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  char *message;
  size_t message_size;
  int max_scans;
  int rows_done; /* every scanline is out: a missing end marker no longer matters */
  const struct loom_image_sink *sink;
  int exif_seen; /* an APP1 that starts "Exif\0" was met: Pillow reads only the first */
};

static void fail(struct jpeg_context *c, const char *text) {
  snprintf(c->message, c->message_size, "%s", text);
  longjmp(c->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) {
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  fail((struct jpeg_context *)cinfo->err, text);
}

/* Warnings (corrupt data that libjpeg decodes around) pass, as they do in Pillow, but for the
 * data ending early: Pillow stops there with "image file is truncated", unless every row is
 * already out. */
static void on_message(j_common_ptr cinfo, int level) {
  struct jpeg_context *c = (struct jpeg_context *)cinfo->err;
  if (level < 0) {
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !c->rows_done) fail(c, "the file ends early (truncated)");
  }
}

static void on_output(j_common_ptr cinfo) { (void)cinfo; }

static int next_byte(j_decompress_ptr cinfo, unsigned *out) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (src->bytes_in_buffer == 0 && !(*src->fill_input_buffer)(cinfo)) return 0;
  *out = *src->next_input_byte++;
  src->bytes_in_buffer--;
  return 1;
}

/* APP1 segments, read as libjpeg skips the markers it does not save (a length, then that many
 * bytes), none kept: Pillow's info["exif"] is the first that starts "Exif\0", read as EXIF where
 * "Exif\0\0" heads it (Image.Exif.load); the TIFF structure after that header goes to the sink.
 * The memory source holds the whole file, so the segment is read where it lies. */
static boolean on_app1(j_decompress_ptr cinfo) {
  struct jpeg_context *c = (struct jpeg_context *)cinfo->err;
  struct jpeg_source_mgr *src = cinfo->src;
  unsigned hi, lo;
  long length;
  if (!next_byte(cinfo, &hi) || !next_byte(cinfo, &lo)) return FALSE;
  length = (long)(hi << 8 | lo) - 2;
  if (!c->exif_seen && length >= 5 && src->bytes_in_buffer >= (size_t)length && memcmp(src->next_input_byte, "Exif", 5) == 0) {
    c->exif_seen = 1;
    if (length > 6 && src->next_input_byte[5] == 0) c->sink->exif(c->sink->user, src->next_input_byte + 6, (size_t)length - 6);
  }
  if (length > 0) (*src->skip_input_data)(cinfo, length);
  return TRUE;
}

/* Each scan of a progressive file is a pass over the whole image: bound them, as djpeg's
 * -maxscan does, so that a small file cannot cost minutes. */
static void on_progress(j_common_ptr cinfo) {
  struct jpeg_context *c = (struct jpeg_context *)cinfo->err;
  char text[96];
  if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > c->max_scans) {
    snprintf(text, sizeof text, "more than %d scans", c->max_scans);
    fail(c, text);
  }
}

static enum loom_codec_status decode(j_decompress_ptr cinfo, struct jpeg_context *c, const uint8_t *data, size_t size,
                                     const struct loom_image_sink *sink) {
  struct loom_raw_format format;
  JSAMPARRAY row;
  JDIMENSION y;

  if (setjmp(c->jump)) return LOOM_CODEC_ERROR;
  jpeg_create_decompress(cinfo);
  cinfo->progress = &c->progress;
  jpeg_mem_src(cinfo, data, (unsigned long)size);
  jpeg_set_marker_processor(cinfo, JPEG_APP0 + 1, on_app1);
  jpeg_read_header(cinfo, TRUE);

  memset(&format, 0, sizeof format);
  format.width = cinfo->image_width;
  format.height = cinfo->image_height;
  format.bit_depth = 8;
  /* Pillow's modes by component count: L, RGB, CMYK (read as Adobe's inverted CMYK). */
  switch (cinfo->num_components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; format.layout = LOOM_RAW_GREY; break;
    case 3: cinfo->out_color_space = JCS_RGB; format.layout = LOOM_RAW_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; format.layout = LOOM_RAW_CMYK; break;
    default: {
      char text[64];
      snprintf(text, sizeof text, "cannot handle %d-component images", cinfo->num_components);
      fail(c, text);
    }
  }
  if (!sink->begin(sink->user, &format)) return LOOM_CODEC_REFUSED;

  jpeg_start_decompress(cinfo);
  if (cinfo->output_width != format.width || cinfo->output_height != format.height ||
      (cinfo->output_components != 1 && cinfo->output_components != 3 && cinfo->output_components != 4))
    fail(c, "unexpected output geometry");
  row = (*cinfo->mem->alloc_sarray)((j_common_ptr)cinfo, JPOOL_IMAGE, cinfo->output_width * (JDIMENSION)cinfo->output_components, 1);
  while (cinfo->output_scanline < cinfo->output_height) {
    y = cinfo->output_scanline;
    if (jpeg_read_scanlines(cinfo, row, 1) != 1) fail(c, "no scanline");
    sink->row(sink->user, y, row[0]);
  }
  c->rows_done = 1;
  jpeg_finish_decompress(cinfo);
  return LOOM_CODEC_OK;
}

enum loom_codec_status loom_jpeg_decode(const uint8_t *data, size_t size, int max_scans, const struct loom_image_sink *sink,
                                        char *message, size_t message_size) {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_context c;
  enum loom_codec_status status;

  memset(&cinfo, 0, sizeof cinfo);
  memset(&c, 0, sizeof c);
  c.message = message;
  c.message_size = message_size;
  c.max_scans = max_scans;
  c.sink = sink;
  message[0] = 0;
  cinfo.err = jpeg_std_error(&c.err);
  c.err.error_exit = on_error_exit;
  c.err.emit_message = on_message;
  c.err.output_message = on_output;
  c.progress.progress_monitor = on_progress;
  status = decode(&cinfo, &c, data, size, sink);
  jpeg_destroy_decompress(&cinfo); /* safe after a jump at any point: it frees libjpeg's pools */
  return status;
}
