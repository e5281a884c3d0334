#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>
#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using loom::DType;
using loom::Shape;
using loom::Tensor;

namespace {

const fs::path kFixtures = fs::path(LOOM_TEST_DATA_DIR) / "fixtures" / "npy";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

fs::path temp_dir() {
  return loom::test::scratch_dir("npy");
}

// A file with the given header text (newline added) in format `major`, unpadded.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict + "\n";
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

Tensor filled(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.data());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(i * 37 + 11);
  return t;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("npy: every dtype round-trips through serialize_npy and write_npy") {
  for (DType dt : {DType::f32, DType::f16, DType::i64, DType::i32, DType::u8}) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{3, 0, 2}, Shape{5}, Shape{2, 3}, Shape{2, 1, 4}}) {
      CAPTURE(loom::dtype_name(dt));
      CAPTURE(loom::shape_str(shape));
      Tensor t = filled(dt, shape);
      const std::string bytes = loom::serialize_npy(t);
      CHECK(bytes.rfind("\x93NUMPY\x01", 0) == 0);
      CHECK((bytes.size() - t.nbytes()) % 64 == 0);
      CHECK(same(loom::parse_npy(bytes, "mem.npy"), t));

      const fs::path p = temp_dir() / "roundtrip.npy";
      loom::write_npy(p, t);
      CHECK(slurp(p) == bytes);
      CHECK(same(loom::read_npy(p), t));
    }
  }
}

TEST_CASE("npy: files written by NumPy read back with their values") {
  Tensor a = loom::read_npy(kFixtures / "f32_2x3.npy");
  CHECK(a.dtype() == DType::f32);
  CHECK(a.shape() == Shape{2, 3});
  for (int i = 0; i < 6; ++i) CHECK(a.data_as<float>()[i] == i * 0.5f - 1);

  Tensor h = loom::read_npy(kFixtures / "f16_4.npy");
  CHECK(h.dtype() == DType::f16);
  CHECK(h.shape() == Shape{4});
  const uint16_t f16_bits[] = {0x0000, 0x3400, 0x3800, 0x3A00};  // 0, 0.25, 0.5, 0.75
  for (int i = 0; i < 4; ++i) CHECK(h.data_as<uint16_t>()[i] == f16_bits[i]);

  Tensor l = loom::read_npy(kFixtures / "i64_3x1x2.npy");
  CHECK(l.dtype() == DType::i64);
  CHECK(l.shape() == Shape{3, 1, 2});
  for (int i = 0; i < 6; ++i) CHECK(l.data_as<int64_t>()[i] == (i - 3) * 1'000'000'000'000LL);

  Tensor n = loom::read_npy(kFixtures / "i32_5.npy");
  CHECK(n.dtype() == DType::i32);
  for (int i = 0; i < 5; ++i) CHECK(n.data_as<int32_t>()[i] == -7 * i);

  Tensor u = loom::read_npy(kFixtures / "u8_2x2.npy");
  CHECK(u.dtype() == DType::u8);
  CHECK(u.data_as<uint8_t>()[2] == 254);
  CHECK(u.data_as<uint8_t>()[3] == 255);

  Tensor s = loom::read_npy(kFixtures / "f32_scalar.npy");
  CHECK(s.rank() == 0);
  CHECK(s.data_as<float>()[0] == 3.25f);

  Tensor e = loom::read_npy(kFixtures / "f32_empty_0x3.npy");
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.nbytes() == 0);
}

TEST_CASE("npy: format versions 2.0 and 3.0 read like 1.0") {
  Tensor v1 = loom::read_npy(kFixtures / "f32_2x3.npy");
  for (const char* name : {"f32_2x3_v2.npy", "f32_2x3_v3.npy"}) {
    CAPTURE(name);
    const std::string bytes = slurp(kFixtures / name);
    CHECK(static_cast<int>(bytes[6]) == (std::string(name).find("v2") != std::string::npos ? 2 : 3));
    CHECK(same(loom::read_npy(kFixtures / name), v1));
    CHECK(same(loom::parse_npy(bytes, name), v1));
  }
}

TEST_CASE("npy: serialize_npy writes what numpy.save writes, byte for byte") {
  for (const char* name : {"f32_2x3.npy", "f16_4.npy", "i64_3x1x2.npy", "i32_5.npy", "u8_2x2.npy", "f32_scalar.npy",
                           "f32_empty_0x3.npy"}) {
    CAPTURE(name);
    const std::string bytes = slurp(kFixtures / name);
    CHECK(loom::serialize_npy(loom::parse_npy(bytes, name)) == bytes);
  }
}

TEST_CASE("npy: a header past 64 KiB is written as format 2.0") {
  Shape many(30000, 1);  // "1, " per dimension puts the header near 90 KB
  Tensor t = filled(DType::i32, many);
  const std::string bytes = loom::serialize_npy(t);
  CHECK(static_cast<int>(bytes[6]) == 2);
  CHECK((bytes.size() - t.nbytes()) % 64 == 0);
  CHECK(same(loom::parse_npy(bytes, "wide.npy"), t));
}

TEST_CASE("npy: bf16 and undefined tensors cannot be written") {
  Tensor b(DType::bf16, {2});
  CHECK_THROWS_WITH_AS(loom::serialize_npy(b), doctest::Contains("NumPy has no bfloat16 dtype"), loom::Error);
  const fs::path p = temp_dir() / "bf16.npy";
  CHECK_THROWS_WITH_AS(loom::write_npy(p, b), doctest::Contains((p.string() + ": cannot store a bf16 tensor").c_str()),
                       loom::Error);
  CHECK_THROWS_WITH_AS(loom::serialize_npy(Tensor()), doctest::Contains("has no data"), loom::Error);
  CHECK_THROWS_WITH_AS(loom::write_npy(temp_dir() / "no" / "such" / "dir.npy", Tensor(DType::f32, {1})),
                       doctest::Contains("dir.npy: cannot be written: No such file or directory"), loom::Error);
}

TEST_CASE("npy: files NumPy writes that Loom cannot represent are refused with the reason") {
  struct Case {
    const char* file;
    const char* message;
  };
  for (const Case& c : {Case{"refuse_fortran_2x3.npy", "refuse_fortran_2x3.npy: Fortran-order arrays are not supported"},
                        Case{"refuse_bigendian.npy", "refuse_bigendian.npy: big-endian dtype '>f4' is not supported"},
                        Case{"refuse_f64.npy", "refuse_f64.npy: dtype '<f8' is not supported"},
                        Case{"refuse_structured.npy", "refuse_structured.npy: structured dtypes are not supported"}}) {
    CAPTURE(c.file);
    CHECK_THROWS_WITH_AS(loom::read_npy(kFixtures / c.file), doctest::Contains(c.message), loom::Error);
  }
  CHECK_THROWS_WITH_AS(loom::read_npy(temp_dir() / "missing.npy"), doctest::Contains("missing.npy: cannot open"),
                       loom::Error);
  CHECK_THROWS_WITH_AS(loom::read_npy(temp_dir()), doctest::Contains("not a regular file"), loom::Error);
}

TEST_CASE("npy: Fortran order is accepted where it is the same layout as C order") {
  const std::string data(12, '\x01');
  Tensor t = loom::parse_npy(npy_file(dict("<f4", "(1, 3)", "True"), data), "f.npy");
  CHECK(t.shape() == Shape{1, 3});
  CHECK_THROWS_WITH_AS(loom::parse_npy(npy_file(dict("<f4", "(3, 1, 2)", "True"), std::string(24, '\0')), "f.npy"),
                       doctest::Contains("Fortran-order"), loom::Error);
}

TEST_CASE("npy: malformed files are refused with the file and the problem") {
  const std::string f24(24, '\0');
  const std::string magic("\x93NUMPY", 6);
  struct Case {
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "bad.npy: truncated: file is 0 bytes, shorter than the .npy magic"},
      {magic.substr(0, 4), "truncated: file is 4 bytes"},
      {"PK\x03\x04 not npy at all", "bad.npy: not a .npy file (bad magic"},
      {magic, "truncated: file ends inside the format version"},
      {magic + "\x04", "truncated: file ends inside the format version"},
      {magic + std::string("\x04\x00", 2) + "xx", "bad.npy: unsupported .npy format version 4.0"},
      {magic + std::string("\x01\x01", 2) + "xx", "unsupported .npy format version 1.1"},
      {magic + std::string("\x01\x00", 2) + "x", "truncated: file ends inside the header length"},
      {magic + std::string("\x02\x00", 2) + "xx", "truncated: file ends inside the header length"},
      {magic + std::string("\x01\x00", 2) + std::string("\xc8\x00", 2) + "{'descr'",
       "truncated: header of 200 bytes runs past the end of the file (18 bytes)"},
      {magic + std::string("\x02\x00", 2) + std::string("\xff\xff\xff\xff", 4) + "{}",
       "truncated: header of 4294967295 bytes runs past the end"},
      {npy_file("", ""), "header: header must be a dict literal starting with '{'"},
      {npy_file("[1]", ""), "header must be a dict literal"},
      {magic + std::string("\x01\x00", 2) + std::string("\x05\x00", 2) + "{    ", "header: truncated: expected a key"},
      {npy_file(dict("<f4", "(6,)") + " x", f24), "header: unexpected text after the header dict"},
      {npy_file(dict("<f4", "(6,)"), f24).replace(10 + dict("<f4", "(6,)").size(), 1, " "),
       "header does not end with a newline"},
      {npy_file("{'descr': '<f4', 'fortran_order': False}", f24), "bad.npy: header: missing key 'shape'"},
      {npy_file("{'shape': (6,), 'fortran_order': False}", f24), "header: missing key 'descr'"},
      {npy_file("{'descr': '<f4', 'shape': (6,)}", f24), "header: missing key 'fortran_order'"},
      {npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", f24),
       "header: unexpected key 'extra'"},
      {npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", f24),
       "header: key 'descr' appears twice"},
      {npy_file("{'descr' '<f4'}", f24), "header: expected ':', found '''"},
      {npy_file("{'descr': '<f4' 'fortran_order': False}", f24), "header: expected ',' or '}'"},
      {npy_file("{1: 2}", f24), "header: dict keys must be strings"},
      {npy_file(dict(">f4", "(6,)"), f24), "bad.npy: big-endian dtype '>f4' is not supported"},
      {npy_file(dict("|O", "(3,)"), f24), "bad.npy: object arrays ('|O') are not supported"},
      {npy_file(dict("|i1", "(24,)"), f24), "bad.npy: dtype '|i1' is not supported"},
      {npy_file(dict("<f8", "(3,)"), f24), "dtype '<f8' is not supported"},
      {npy_file(dict("|b1", "(24,)"), std::string(24, '\x02')), "bool element 0 holds the byte 2, not 0 or 1"},
      {npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", f24),
       "bad.npy: structured dtypes are not supported"},
      {npy_file("{'descr': 4, 'fortran_order': False, 'shape': (6,), }", f24),
       "header: 'descr' must be a string, got an integer"},
      {npy_file("{'descr': '<f4\\x', 'fortran_order': False, 'shape': (6,), }", f24),
       "escape sequences in strings are not supported"},
      {npy_file("{'descr': '<f4, 'fortran_order': False, 'shape': (6,), }", f24), "header: expected ',' or '}'"},
      {npy_file("{'descr': '<f4", f24), "header: unterminated string"},
      {npy_file(dict("<f4", "(6,)", "'no'"), f24), "header: 'fortran_order' must be True or False, got a string"},
      {npy_file(dict("<f4", "(6,)", "true"), f24), "header: unexpected name 'true'"},
      {npy_file(dict("<f4", "6"), f24), "header: 'shape' must be a tuple, got an integer"},
      {npy_file(dict("<f4", "(6)"), f24), "header: 'shape' must be a tuple, got an integer"},
      {npy_file(dict("<f4", "[6]"), f24), "header: 'shape' must be a tuple, got a list"},
      {npy_file(dict("<f4", "('6',)"), f24), "header: 'shape' must hold integers, got a string"},
      {npy_file(dict("<f4", "(2.5,)"), f24), "header: expected ',' or ')'"},
      {npy_file(dict("<f4", "(6 3)"), f24), "header: expected ',' or ')'"},
      {npy_file(dict("<f4", "(6a,)"), f24), "header: malformed integer"},
      {npy_file(dict("<f4", "(06,)"), f24), "header: integer with a leading zero"},
      {npy_file(dict("<f4", "(-6,)"), f24), "bad.npy: shape has a negative dimension -6"},
      {npy_file(dict("<f4", "(99999999999999999999,)"), f24), "shape dimension 99999999999999999999 is too large"},
      {npy_file(dict("<f4", "(9223372036854775808,)"), f24), "shape dimension 9223372036854775808 is too large"},
      {npy_file(dict("<f4", "(4294967296, 4294967296)"), f24), "shape [4294967296, 4294967296] is too large"},
      {npy_file(dict("<f4", "(2305843009213693952,)"), f24), "shape [2305843009213693952] of '<f4' is too large"},
      {npy_file(dict("<f4", std::string(200, '(') + "6," + std::string(200, ')')), f24), "header: nesting is too deep"},
      {npy_file(dict("<f4", "(7,)"), f24), "bad.npy: truncated data: shape [7] of '<f4' needs 28 bytes, found 24"},
      {npy_file(dict("<f4", "(5,)"), f24), "bad.npy: 4 bytes of trailing data after the array"},
      {npy_file(dict("<f4", "()"), ""), "truncated data: shape [] of '<f4' needs 4 bytes, found 0"},
      {npy_file("{'descr': '<f4\xff', 'fortran_order': False, 'shape': (6,), }", f24, 3),
       "bad.npy: header is not valid UTF-8"},
      {npy_file("{'descr': '\xc3\xa9', 'fortran_order': False, 'shape': (6,), }", f24, 3), "dtype '\xc3\xa9' is not"},
      {npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\xa0", f24, 2),
       "unexpected text after the header dict"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    CHECK_THROWS_WITH_AS(loom::parse_npy(c.bytes, "bad.npy"), doctest::Contains(c.message.c_str()), loom::Error);
  }
  CHECK_THROWS_WITH_AS(loom::parse_npy("", ""), doctest::Contains("<memory>: truncated"), loom::Error);
}

TEST_CASE("npy: read_npy checks truncation before allocating") {
  // A header claiming 2^40 elements on a tiny file: refused from the file size alone.
  const fs::path p = temp_dir() / "short.npy";
  const std::string bytes = npy_file(dict("<f4", "(1099511627776,)"), std::string(16, '\0'));
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_WITH_AS(loom::read_npy(p), doctest::Contains("short.npy: truncated data"), loom::Error);
  const std::string tiny = bytes.substr(0, 11);
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(tiny.data(), static_cast<std::streamsize>(tiny.size()));
  CHECK_THROWS_WITH_AS(loom::read_npy(p), doctest::Contains("short.npy: truncated: header of"), loom::Error);
}

TEST_CASE("npy: headers are bounded, parsed in linear time, and printed safely") {
  // A header length past 1 MiB is refused before the header is parsed.
  const std::string huge = npy_file("{" + std::string((1 << 20) + 10, ' ') + "}", "", 2);
  CHECK_THROWS_WITH_AS(loom::parse_npy(huge, "big.npy"),
                       doctest::Contains("big.npy: header length 1048589 is larger than the 1048576 bytes this reader accepts"),
                       loom::Error);
  // 80000 distinct keys: the duplicate check used to compare each key with every earlier one.
  std::string keys = "{";
  for (int i = 0; i < 80000; ++i) keys += "'k" + std::to_string(i) + "': 1, ";
  keys += "'k7': 1}";
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(loom::parse_npy(npy_file(keys, "", 2), "keys.npy"), doctest::Contains("keys.npy: header: key 'k7' appears twice"),
                       loom::Error);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 2.0);
  // Control bytes of a descr are escaped in the message.
  CHECK_THROWS_WITH_AS(loom::parse_npy(npy_file(dict("<f4\x1b[2J", "(1,)"), std::string(4, '\0')), "ctl.npy"),
                       doctest::Contains("dtype '<f4\\x1b[2J' is not supported"), loom::Error);
}

TEST_CASE("npy: NumPy bools ('|b1') read as u8 0 and 1") {
  const loom::Tensor t = loom::parse_npy(npy_file(dict("|b1", "(2, 3)"), std::string("\x01\x00\x00\x01\x01\x00", 6)), "mask.npy");
  CHECK(t.dtype() == loom::DType::u8);
  CHECK(t.shape() == loom::Shape{2, 3});
  const auto* p = static_cast<const uint8_t*>(t.data());
  CHECK(std::vector<uint8_t>(p, p + 6) == std::vector<uint8_t>{1, 0, 0, 1, 1, 0});
}
