// The image reader: every fixture decodes to the pixels Pillow 9.4 gives for
// ImageOps.exif_transpose(Image.open(f)).convert("RGB") (transformers' load_image), and every
// hostile file is an Error naming the file and the fault.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image_fixtures.hpp"
#include "scratch_dir.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using loom::Image;
using loom::test::error_message;
using loom::test::file_bytes;
using loom::test::image_fixture;
using loom::test::image_difference;
using loom::test::npy_image;

namespace {

namespace fs = std::filesystem;

const char* const kSources[] = {
    "rgb.png",        "grey.png",           "grey_alpha.png", "rgba.png",       "rgb_trns.png",     "palette.png",
    "palette_trns.png", "one_pixel.png",    "grey16.png",     "grey_alpha16.png", "rgb16.png",      "rgba16.png",
    "grey1.png",      "grey2.png",          "grey4.png",      "palette4_short.png", "palette2.png", "interlaced.png",
    "interlaced_grey16.png", "color420.jpg", "color422.jpg",  "color444.jpg",   "grey.jpg",         "cmyk.jpg",
    "progressive.jpg", "large420.jpg",
    // EXIF orientation, applied as transformers' load_image applies it (exif_transpose).
    "orient1.jpg", "orient2.jpg", "orient3.jpg", "orient4.jpg", "orient5.jpg", "orient6.jpg", "orient7.jpg", "orient8.jpg",
    "orient3.png", "orient6.png", "orient_pair.jpg", "orient_long.jpg",
    // The tag as Pillow reads it: the last entry, a BYTE entry as bytes, a rational and a float
    // equal to 6; the last of two eXIf chunks, one after the pixels, one of over 64 KiB.
    "orient_dup.jpg", "orient_byte.jpg", "orient_rational.jpg", "orient_float.jpg", "orient_dup.png", "orient_after.png",
    "orient_big.png"};

std::string decoded_name(const std::string& src) {
  const size_t dot = src.rfind('.');
  return "decoded/" + src.substr(0, dot) + "_" + src.substr(dot + 1) + ".npy";
}

fs::path write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  const fs::path p = loom::test::scratch_dir("images") / name;
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return p;
}

std::string read_error(const fs::path& p, loom::ImageReadOptions options = {}) {
  return error_message([&] { loom::read_image(p, options); });
}

}  // namespace

TEST_CASE("image: every fixture decodes to Pillow's RGB pixels, byte for byte") {
  for (const char* src : kSources) {
    INFO(std::string(src));
    const Image got = loom::read_image(image_fixture(std::string("src/") + src));
    CHECK(image_difference(got, npy_image(decoded_name(src))) == "");
  }
}

TEST_CASE("image: decode_image reads memory, told apart by magic bytes and not by name") {
  const std::vector<uint8_t> png = file_bytes(image_fixture("src/rgb.png"));
  const std::vector<uint8_t> jpg = file_bytes(image_fixture("src/color444.jpg"));
  CHECK(image_difference(loom::decode_image(png, "photo.jpg"), npy_image("decoded/rgb_png.npy")) == "");
  CHECK(image_difference(loom::decode_image(jpg, "image.png"), npy_image("decoded/color444_jpg.npy")) == "");
  // A file with the wrong extension reads as what it is.
  CHECK(image_difference(loom::read_image(write_file("really_a_jpeg.png", jpg)), npy_image("decoded/color444_jpg.npy")) == "");
}

TEST_CASE("image: EXIF orientation is applied unless told not to, and a broken EXIF block reads as none") {
  const std::vector<uint8_t> turned = file_bytes(image_fixture("src/orient6.jpg"));
  loom::ImageReadOptions as_stored;
  as_stored.apply_orientation = false;
  CHECK(image_difference(loom::decode_image(turned, "orient6.jpg"), npy_image("decoded/orient6_jpg.npy")) == "");
  CHECK(image_difference(loom::decode_image(turned, "orient6.jpg", as_stored), npy_image("decoded/orient1_jpg.npy")) == "");
  // An APP1 "Exif\0\0" segment of garbage, of a TIFF header only, of an IFD past the block,
  // and of an orientation entry whose value lies past the block: the pixels as stored.
  const std::vector<uint8_t> jpg = file_bytes(image_fixture("src/color444.jpg"));
  const std::vector<std::vector<uint8_t>> blocks = {
      {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01},
      {'I', 'I', 42, 0},
      {'I', 'I', 42, 0, 0xff, 0xff, 0xff, 0x7f},
      {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 9, 0x7f, 0xff, 0xff, 0xf0, 0, 0, 0, 0},
      {'I', 'I', 42, 0, 8, 0, 0, 0, 0xff, 0xff}};
  for (const auto& block : blocks) {
    std::vector<uint8_t> bytes(jpg.begin(), jpg.begin() + 2);  // SOI
    const size_t length = 2 + 6 + block.size();
    for (uint8_t b : {uint8_t(0xff), uint8_t(0xe1), uint8_t(length >> 8), uint8_t(length & 0xff), uint8_t('E'), uint8_t('x'),
                      uint8_t('i'), uint8_t('f'), uint8_t(0), uint8_t(0)})
      bytes.push_back(b);
    bytes.insert(bytes.end(), block.begin(), block.end());
    bytes.insert(bytes.end(), jpg.begin() + 2, jpg.end());
    CHECK(image_difference(loom::decode_image(bytes, "broken_exif.jpg"), npy_image("decoded/color444_jpg.npy")) == "");
  }
}

TEST_CASE("image: the Image type checks its size") {
  CHECK(Image(2, 3).pixels().size() == 18);
  CHECK(error_message([] { Image(0, 3); }) == "the image is 0 x 3 pixels: each side must be at least 1");
  CHECK(error_message([] { Image(4, 4, 15); }) == "the image is 4 x 4 pixels, more than the 15 an image may have");
  CHECK(error_message([] { Image(int64_t(1) << 40, int64_t(1) << 40); }).find("more than the 89478485") != std::string::npos);
  CHECK(error_message([] { Image(2, 2, std::vector<uint8_t>(11)); }) ==
        "the image is 2 x 2 pixels, which is 12 RGB bytes, but 11 were given");
}

TEST_CASE("image: hostile files are errors that name the file and what is wrong") {
  const std::vector<uint8_t> png = file_bytes(image_fixture("src/rgb.png"));
  const std::vector<uint8_t> jpg = file_bytes(image_fixture("src/color420.jpg"));
  const std::vector<uint8_t> progressive = file_bytes(image_fixture("src/progressive.jpg"));
  const std::string dir = loom::test::scratch_dir("images").string();

  SUBCASE("truncated PNG, at every length") {
    for (size_t n : {size_t(1), size_t(8), size_t(20), size_t(40), png.size() / 2, png.size() - 13, png.size() - 1}) {
      INFO(n);
      const fs::path p = write_file("cut.png", std::vector<uint8_t>(png.begin(), png.begin() + static_cast<long>(n)));
      const std::string e = read_error(p);
      CHECK(e.rfind(p.string() + ": ", 0) == 0);
      CHECK((n < 8 ? e.find("not a PNG or JPEG image") : e.find("cannot decode the PNG image")) != std::string::npos);
    }
    CHECK(read_error(write_file("cut.png", std::vector<uint8_t>(png.begin(), png.begin() + 200))) ==
          dir + "/cut.png: cannot decode the PNG image: the file ends early (truncated)");
  }
  SUBCASE("truncated JPEG, baseline and progressive") {
    for (const auto* bytes : {&jpg, &progressive})
      for (size_t n : {size_t(3), size_t(100), bytes->size() / 2, bytes->size() - 10}) {
        INFO(n);
        const fs::path p = write_file("cut.jpg", std::vector<uint8_t>(bytes->begin(), bytes->begin() + static_cast<long>(n)));
        const std::string e = read_error(p);
        CHECK(e.rfind(p.string() + ": cannot decode the JPEG image: ", 0) == 0);
      }
    CHECK(read_error(write_file("cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + static_cast<long>(jpg.size() / 2)))) ==
          dir + "/cut.jpg: cannot decode the JPEG image: the file ends early (truncated)");
    // Only the end marker missing: libjpeg reads ahead for the last rows and finds the end of the
    // data, where Pillow stops too ("image file is truncated").
    CHECK(read_error(write_file("no_eoi.jpg", std::vector<uint8_t>(jpg.begin(), jpg.end() - 2))) ==
          dir + "/no_eoi.jpg: cannot decode the JPEG image: the file ends early (truncated)");
  }
  SUBCASE("bad CRCs: a critical chunk, an ancillary chunk, corrupt data") {
    CHECK(read_error(image_fixture("hostile/bad_crc.png")) ==
          image_fixture("hostile/bad_crc.png").string() + ": cannot decode the PNG image: IHDR: CRC error");
    CHECK(read_error(image_fixture("hostile/bad_text_crc.png")) ==
          image_fixture("hostile/bad_text_crc.png").string() + ": cannot decode the PNG image: tEXt: CRC error");
    CHECK(read_error(image_fixture("hostile/bad_idat.png")).find(": cannot decode the PNG image: ") != std::string::npos);
  }
  SUBCASE("wrong magic, other formats, an empty file") {
    CHECK(read_error(image_fixture("hostile/not_an_image.txt")) ==
          image_fixture("hostile/not_an_image.txt").string() + ": not a PNG or JPEG image (it starts with \"just som\")");
    CHECK(read_error(image_fixture("hostile/gif.gif")) == image_fixture("hostile/gif.gif").string() + ": a GIF image");
    CHECK(read_error(write_file("empty.png", {})) == dir + "/empty.png: the image file is empty");
    CHECK(error_message([] { loom::decode_image({}, "mem\x1b"); }) == "mem\\x1b: the image file is empty");
  }
  SUBCASE("zero and huge sizes, refused from the header") {
    CHECK(read_error(image_fixture("hostile/zero_width.png")) ==
          image_fixture("hostile/zero_width.png").string() + ": cannot decode the PNG image: Invalid IHDR data (Image width is zero in IHDR)");
    CHECK(read_error(image_fixture("hostile/huge.png")) ==
          image_fixture("hostile/huge.png").string() + ": PNG: the image is 100000 x 100000 pixels, more than the 89478485 an image may have");
    CHECK(read_error(image_fixture("src/rgb.png"), {.max_pixels = 29 * 19 - 1}) ==
          image_fixture("src/rgb.png").string() + ": PNG: the image is 29 x 19 pixels, more than the 550 an image may have");
    // JPEG: the frame header (SOF0) holds height then width, big-endian, after the precision byte.
    std::vector<uint8_t> big = jpg;
    for (size_t i = 2; i + 9 < big.size(); ++i)
      if (big[i] == 0xff && big[i + 1] == 0xc0) {
        big[i + 5] = big[i + 7] = 0xfd, big[i + 6] = big[i + 8] = 0;  // 64768 x 64768
        break;
      }
    CHECK(read_error(write_file("huge.jpg", big)) ==
          dir + "/huge.jpg: JPEG: the image is 64768 x 64768 pixels, more than the 89478485 an image may have");
    std::vector<uint8_t> zero = jpg;
    for (size_t i = 2; i + 9 < zero.size(); ++i)
      if (zero[i] == 0xff && zero[i + 1] == 0xc0) {
        zero[i + 5] = zero[i + 6] = 0;
        break;
      }
    CHECK(read_error(write_file("zero.jpg", zero)).rfind(dir + "/zero.jpg: cannot decode the JPEG image: ", 0) == 0);
  }
  SUBCASE("a folder, a FIFO, a missing file") {
    CHECK(read_error(dir) == dir + ": the image is a folder, not a regular file");
    const fs::path fifo = fs::path(dir) / "fifo.png";
    fs::remove(fifo);
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(read_error(fifo) == fifo.string() + ": the image is a FIFO (named pipe), not a regular file");
    CHECK(read_error(fs::path(dir) / "missing.png") == dir + "/missing.png: cannot open the image: No such file or directory");
  }
}
