#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include "io/mapped_files.hpp"
#include "scratch_dir.hpp"

namespace fs = std::filesystem;
using loom::DType;
using loom::SafetensorsFile;

namespace {

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::string st_file(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

fs::path temp_dir() {
  return loom::test::scratch_dir("safetensors");
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  fs::path p = temp_dir() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

// Three tensors, header padded with spaces to 8 bytes as writers do, plus metadata.
std::string sample_file() {
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("ids":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},)"
      R"("mask":{"dtype":"U8","shape":[3],"data_offsets":[40,43]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data = bytes_of(std::vector<float>{1, 2, 3, 4, 5, 6}) + bytes_of(std::vector<int64_t>{-7, 1LL << 40}) +
                     std::string("\x00\x01\xff", 3);
  return st_file(header, data);
}

}  // namespace

TEST_CASE("safetensors: open maps the file and returns zero-copy views") {
  const fs::path p = write_file("sample.safetensors", sample_file());
  auto f = SafetensorsFile::open(p);
  CHECK(f->path() == p.string());
  REQUIRE(f->entries().size() == 3);
  CHECK(f->entries()[0].name == "ids");  // entries are sorted by name
  CHECK(f->metadata().at("format") == "pt");
  CHECK(f->header_json().front() == '{');

  const loom::SafetensorsEntry* w = f->find("w");
  REQUIRE(w);
  CHECK(w->dtype == DType::f32);
  CHECK(w->shape == loom::Shape{2, 3});
  CHECK(w->begin == 0);
  CHECK(w->end == 24);
  CHECK_FALSE(f->find("absent"));

  loom::Tensor tw = f->tensor("w");
  CHECK(tw.shape() == loom::Shape{2, 3});
  CHECK(tw.data_as<float>()[5] == 6.0f);
  CHECK(f->tensor("w").data() == tw.data());  // a view, not a copy
  loom::Tensor ids = f->tensor("ids");
  CHECK(ids.dtype() == DType::i64);
  CHECK(ids.data_as<int64_t>()[0] == -7);
  CHECK(ids.data_as<int64_t>()[1] == (1LL << 40));
  loom::Tensor mask = f->tensor("mask");
  CHECK(mask.data_as<uint8_t>()[2] == 255);
  CHECK_THROWS_WITH_AS(f->tensor("nope"), doctest::Contains("nope: no such tensor"), loom::Error);
}

TEST_CASE("safetensors: a tensor view keeps the mapping alive after the file handle is dropped") {
  const fs::path p = write_file("keepalive.safetensors", sample_file());
  auto f = SafetensorsFile::open(p);
  std::weak_ptr<SafetensorsFile> weak = f;
  loom::Tensor t = f->tensor("w");
  f.reset();
  CHECK_FALSE(weak.expired());
  float sum = 0;
  for (int i = 0; i < 6; ++i) sum += t.data_as<float>()[i];
  CHECK(sum == 21.0f);
  loom::Tensor copy = t;  // copies share the keepalive too
  t = loom::Tensor();
  CHECK_FALSE(weak.expired());
  CHECK(copy.data_as<float>()[0] == 1.0f);
  copy = loom::Tensor();
  CHECK(weak.expired());
}

TEST_CASE("safetensors: every supported dtype, 0-d and empty tensors") {
  std::string header =
      R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},)"
      R"("c":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},)"
      R"("d":{"dtype":"I32","shape":[1],"data_offsets":[12,16]},)"
      R"("e":{"dtype":"I64","shape":[0,5],"data_offsets":[16,16]},)"
      R"("f":{"dtype":"U8","shape":[0],"data_offsets":[16,16]},)"
      R"("g":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data = bytes_of(std::vector<float>{2.5f}) + bytes_of(std::vector<uint16_t>{0x3C00, 0x4000}) +
                     bytes_of(std::vector<uint16_t>{0x3F80, 0xC000}) + bytes_of(std::vector<int32_t>{-3}) +
                     bytes_of(std::vector<int64_t>{9});
  auto f = SafetensorsFile::from_bytes(st_file(header, data), "all.safetensors");
  CHECK(f->tensor("a").rank() == 0);
  CHECK(f->tensor("a").data_as<float>()[0] == 2.5f);
  CHECK(f->tensor("b").dtype() == DType::f16);
  CHECK(f->tensor("b").data_as<uint16_t>()[1] == 0x4000);
  CHECK(f->tensor("c").dtype() == DType::bf16);
  CHECK(f->tensor("c").data_as<uint16_t>()[0] == 0x3F80);
  CHECK(f->tensor("d").data_as<int32_t>()[0] == -3);
  CHECK(f->tensor("e").numel() == 0);
  CHECK(f->tensor("e").shape() == loom::Shape{0, 5});
  CHECK(f->tensor("f").nbytes() == 0);
  CHECK(f->tensor("g").data_as<int64_t>()[0] == 9);
}

TEST_CASE("safetensors: a file with no tensors is valid") {
  auto f = SafetensorsFile::from_bytes(st_file("{}", ""), "empty.safetensors");
  CHECK(f->entries().empty());
  auto g = SafetensorsFile::from_bytes(st_file(R"({"__metadata__":{}})", ""), "meta.safetensors");
  CHECK(g->entries().empty());
}

TEST_CASE("safetensors: data at an odd offset is copied to aligned storage") {
  // An odd header length puts the F32 data at an odd file offset.
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  if (header.size() % 2 == 0) header += ' ';
  auto f = SafetensorsFile::from_bytes(st_file(header, bytes_of(std::vector<float>{1.5f, -2.0f})), "odd");
  loom::Tensor t = f->tensor("x");
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % alignof(float) == 0);
  CHECK(t.data_as<float>()[0] == 1.5f);
  CHECK(t.data_as<float>()[1] == -2.0f);
}

TEST_CASE("safetensors: errors name the buffer, or <memory> when it has no name") {
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes("abc", "model.safetensors"),
                       doctest::Contains("model.safetensors: file is 3 bytes, shorter than the 8-byte header"),
                       loom::Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes("abc", ""), doctest::Contains("<memory>: file is 3 bytes"),
                       loom::Error);
}

TEST_CASE("safetensors: malformed headers are refused with the tensor and the problem") {
  const std::string f12 = bytes_of(std::vector<float>{1, 2, 3});
  struct Case {
    std::string bytes;
    std::string message;
  };
  auto entry = [](const std::string& body) { return R"({"t":)" + body + "}"; };
  const std::vector<Case> cases = {
      {"", "bad: file is 0 bytes, shorter than the 8-byte header length"},
      {std::string(7, '\0'), "file is 7 bytes"},
      {u64_le(1000) + "{}", "bad: header length 1000 runs past the end of the file (10 bytes)"},
      {u64_le(UINT64_MAX) + "{}", "header length 18446744073709551615 runs past the end"},
      {st_file("not json", ""), "bad: header is not valid JSON: "},
      {st_file("{\"t\":", ""), "header is not valid JSON"},
      {st_file("{\"\xff\":1}", ""), "header is not valid JSON"},
      {st_file("{} {}", ""), "header is not valid JSON"},
      {st_file("[]", ""), "bad: header must be a JSON object, got array"},
      {st_file(entry("3"), ""), "bad: t: entry must be an object, got number"},
      {st_file(entry(R"({"dtype":"F32","shape":[3]})"), f12), "bad: t: missing key 'data_offsets'"},
      {st_file(entry(R"({"shape":[3],"data_offsets":[0,12]})"), f12), "t: missing key 'dtype'"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,12],"x":1})"), f12), "t: unexpected key 'x'"},
      {st_file(entry(R"({"dtype":"F64","shape":[1],"data_offsets":[0,8]})"), std::string(8, '\0')),
       "bad: t: dtype F64 is not supported"},
      {st_file(entry(R"({"dtype":"BOOL","shape":[1],"data_offsets":[0,1]})"), "x"), "t: dtype BOOL is not supported"},
      {st_file(entry(R"({"dtype":"F33","shape":[3],"data_offsets":[0,12]})"), f12), "t: unknown dtype 'F33'"},
      {st_file(entry(R"({"dtype":4,"shape":[3],"data_offsets":[0,12]})"), f12), "t: dtype must be a string, got number"},
      {st_file(entry(R"({"dtype":"F32","shape":"3","data_offsets":[0,12]})"), f12), "t: shape must be a list of integers"},
      {st_file(entry(R"({"dtype":"F32","shape":[-3],"data_offsets":[0,12]})"), f12), "t: shape has a negative dimension -3"},
      {st_file(entry(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,12]})"), f12),
       "t: shape must be a list of non-negative integers, found 1.5"},
      {st_file(entry(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,12]})"), f12),
       "t: shape dimension 9223372036854775808 is too large"},
      {st_file(entry(R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,12]})"), f12),
       "t: shape must be a list of non-negative integers"},
      {st_file(entry(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,12]})"), f12),
       "t: shape [4294967296, 4294967296] is too large"},
      {st_file(entry(R"({"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,12]})"), f12),
       "t: shape [2305843009213693952] of F32 is too large"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[12,0]})"), f12), "t: data_offsets [12, 0] are not ordered"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0]})"), f12),
       "t: data_offsets must be a list of two non-negative integers"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[-4,12]})"), f12), "t: data_offsets must be a list"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,12.0]})"), f12), "t: data_offsets must be a list"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,400]})"), f12),
       "t: data_offsets [0, 400] run past the end of the data section (12 bytes)"},
      {st_file(entry(R"({"dtype":"F32","shape":[3],"data_offsets":[0,18446744073709551615]})"), f12),
       "run past the end of the data section"},
      {st_file(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,12]})"), f12),
       "t: data_offsets span 12 bytes but shape [2] of F32 needs 8"},
      {st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f12.substr(0, 8)),
       "bad: b: data_offsets [4, 8] overlap tensor 'a'"},
      {st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f12.substr(0, 8)),
       "a: bytes 0..4 of the data section before this tensor belong to no tensor"},
      {st_file(entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), f12), "bad: 4 bytes after the last tensor"},
      {st_file("{}", "junk"), "bad: 4 bytes after the last tensor"},
      {st_file(R"({"__metadata__":[]})", ""), "bad: __metadata__ must be an object of strings, got array"},
      {st_file(R"({"__metadata__":{"k":1}})", ""), "bad: __metadata__: k: value must be a string, got number"},
      {st_file(R"({"t":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"t":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})", ""),
       "bad: t: key appears more than once in the header"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(c.bytes, "bad"), doctest::Contains(c.message.c_str()), loom::Error);
  }
}

TEST_CASE("safetensors: open reports missing files, folders and absurd header lengths") {
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(temp_dir() / "missing.safetensors"),
                       doctest::Contains("missing.safetensors: cannot open"), loom::Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(temp_dir()), doctest::Contains("not a regular file"), loom::Error);
  const fs::path empty = write_file("empty.safetensors", "");
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(empty), doctest::Contains("empty.safetensors: file is 0 bytes"), loom::Error);
  const fs::path bad = write_file("bad.safetensors", st_file("{\"a\":1}", ""));
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(bad), doctest::Contains("bad.safetensors: a: entry must be an object"),
                       loom::Error);

  // A sparse file, so the length fits inside it without writing 100 MB.
  const uint64_t huge = 100'000'001;
  const fs::path sparse = write_file("sparse.safetensors", u64_le(huge) + "{");
  fs::resize_file(sparse, 8 + huge);
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(sparse), doctest::Contains("header length 100000001 is absurd"),
                       loom::Error);
  fs::remove(sparse);
}

TEST_CASE("safetensors: only spaces may follow the JSON object inside the header") {
  const std::string body = R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  CHECK(SafetensorsFile::from_bytes(st_file(body + "   ", "x"), "ok")->entries().size() == 1);
  struct Case {
    std::string header, message;
  };
  const Case cases[] = {
      {body + std::string("\0junk", 5), "bad: header holds a NUL byte at offset 53"},
      {body + std::string(" \0\0\0", 4), "header holds a NUL byte at offset 54"},
      {body + "\n", "bad: header: only spaces may follow the JSON object, found byte 0x0a at offset 53"},
      {body + " \t ", "found byte 0x09 at offset 54"},
      {" " + body, "header must start with '{'"},
      {std::string("\0", 1) + body, "NUL byte at offset 0"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(c.header, "x"), "bad"), doctest::Contains(c.message.c_str()), loom::Error);
  }
}

TEST_CASE("safetensors: duplicates, nesting and odd values are refused at the first event") {
  const std::string dup_in_entry = R"({"t":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(dup_in_entry, "x"), "bad"),
                       doctest::Contains("bad: t: key 'dtype' appears more than once"), loom::Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(R"({"__metadata__":{"k":"a","k":"b"}})", ""), "bad"),
                       doctest::Contains("bad: __metadata__: k: key appears more than once"), loom::Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(R"({"__metadata__":{},"__metadata__":{}})", ""), "bad"),
                       doctest::Contains("bad: __metadata__: key appears more than once"), loom::Error);
  // A deeply nested value is refused where it starts, never walked (nor printed) recursively.
  const std::string deep = R"({"t":{"dtype":"U8","shape":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(deep, ""), "bad"),
                       doctest::Contains("bad: t: shape must be a list of non-negative integers, found a list"), loom::Error);
  // A control byte in a tensor name is escaped in the message.
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(R"({"a\u001b[2Jb":3})", ""), "bad"),
                       doctest::Contains("bad: a\\x1b[2Jb: entry must be an object, got number"), loom::Error);
}

TEST_CASE("safetensors: a header of 200000 tensors parses in linear time") {
  // The duplicate-name check used to cost a pass over all names per tensor: 40000 tensors took
  // 18 s. Each tensor here holds one byte; names sort in another order than the data.
  const int count = 200000;
  std::string header = "{";
  for (int i = 0; i < count; ++i) {
    if (i) header += ",";
    header += "\"layer." + std::to_string(count - 1 - i) + ".w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[" +
              std::to_string(i) + "," + std::to_string(i + 1) + "]}";
  }
  header += "}";
  const std::string bytes = st_file(header, std::string(count, 'x'));
  const auto start = std::chrono::steady_clock::now();
  const auto f = SafetensorsFile::from_bytes(bytes, "many");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(f->entries().size() == count);
  CHECK(f->find("layer.123.w"));
  MESSAGE("200000 tensors parsed in " << seconds << " s");
  CHECK(seconds < 5.0);
  // The same header with one name repeated at the end is refused.
  std::string dup = header;
  dup.back() = ',';
  dup += R"("layer.7.w":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}})";
  CHECK_THROWS_WITH_AS(SafetensorsFile::from_bytes(st_file(dup, std::string(count, 'x')), "many"),
                       doctest::Contains("many: layer.7.w: key appears more than once in the header"), loom::Error);
}

// Once a backend keeps a packed copy of a constant, the engine gives back the pages of its
// mapping (runtime/packed_constants.cpp): the values read afterwards are the file's, and memory
// that is not a registered mapping is never touched.
TEST_CASE("safetensors: pages given back from a mapping read the same values again") {
  const int64_t n = 5 * 4096 / 4 + 3;  // several whole pages, wherever the data starts
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<float>(i) * 0.5f - 7.0f;
  std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::to_string(n) + R"(],"data_offsets":[0,)" +
                       std::to_string(n * 4) + "]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const fs::path p = write_file("pages.safetensors", st_file(header, bytes_of(values)));
  auto f = SafetensorsFile::open(p);
  loom::Tensor w = f->tensor("w");
  CHECK(std::memcmp(w.data(), values.data(), values.size() * 4) == 0);
  const size_t given = loom::io::release_mapped_pages(w.data(), w.nbytes());
  CHECK(given >= 4 * 4096);
  CHECK(given % 4096 == 0);
  CHECK(std::memcmp(w.data(), values.data(), values.size() * 4) == 0);

  std::vector<float> heap = values;  // not a mapping: left alone
  CHECK(loom::io::release_mapped_pages(heap.data(), heap.size() * 4) == 0);
  CHECK(heap == values);
  // A range that runs past the mapping's end is refused whole.
  CHECK(loom::io::release_mapped_pages(w.data(), w.nbytes() + (size_t{1} << 20)) == 0);
  const void* data = w.data();
  w = loom::Tensor();
  f.reset();  // unmapped and unregistered
  CHECK(loom::io::release_mapped_pages(data, 4096 * 4) == 0);
}
