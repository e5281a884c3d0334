// The image tests' fixtures (tests/fixtures/images/, made by tools/fixtures/make_image_fixtures.py
// with Pillow 9.4): paths, Pillow's arrays as loom::Image, and a byte comparison that says where.
#pragma once

#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/image.hpp>
#include <loom/io.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace loom::test {

inline std::filesystem::path image_fixture(const std::string& rel) {
  return std::filesystem::path(LOOM_TEST_DATA_DIR) / "fixtures" / "images" / rel;
}

// A uint8 [H, W, 3] .npy as an Image.
inline Image npy_image(const std::string& rel) {
  const Tensor t = read_npy(image_fixture(rel));
  REQUIRE(t.dtype() == DType::u8);
  REQUIRE(t.rank() == 3);
  REQUIRE(t.shape()[2] == 3);
  const auto* p = t.data_as<uint8_t>();
  return Image(t.shape()[1], t.shape()[0], std::vector<uint8_t>(p, p + t.nbytes()));
}

inline std::vector<uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// "" when equal, else the size or the first differing pixel and channel.
inline std::string image_difference(const Image& got, const Image& want) {
  if (got.width() != want.width() || got.height() != want.height())
    return "size " + std::to_string(got.width()) + "x" + std::to_string(got.height()) + ", expected " +
           std::to_string(want.width()) + "x" + std::to_string(want.height());
  for (size_t i = 0; i < got.pixels().size(); ++i)
    if (got.pixels()[i] != want.pixels()[i]) {
      const size_t px = i / 3;
      return "pixel (x " + std::to_string(px % got.width()) + ", y " + std::to_string(px / got.width()) + ") channel " +
             std::to_string(i % 3) + ": " + std::to_string(got.pixels()[i]) + ", expected " + std::to_string(want.pixels()[i]);
    }
  return "";
}

// The message of the loom::Error `f` throws, or "(no error)".
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace loom::test
