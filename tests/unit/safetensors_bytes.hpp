// Safetensors files written by the tests themselves, of any dtype the format names, from raw
// little-endian element bytes: the fixtures of the weight-loading tests (conversion on load,
// sharded checkpoints) are made where they are checked.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace loom::test {

struct StTensor {
  std::string name;
  std::string dtype;            // "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;
  std::string bytes;            // the elements, little-endian, row-major
};

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// The file's bytes: header (with `metadata` as __metadata__ unless empty) padded with spaces to
// 8 bytes, then the tensors' data in the order given.
inline std::string safetensors_bytes(const std::vector<StTensor>& tensors, const nlohmann::json& metadata = {}) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
  return out + text + data;
}

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_safetensors(const std::filesystem::path& file, const std::vector<StTensor>& tensors,
                              const nlohmann::json& metadata = {}) {
  write_bytes(file, safetensors_bytes(tensors, metadata));
}

// The tensors of a safetensors file the tests trust (a fixture), in the header's order.
inline std::vector<StTensor> read_safetensors(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  std::vector<StTensor> tensors;
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__") continue;
    const size_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
    tensors.push_back({name, t["dtype"], t["shape"].get<std::vector<int64_t>>(), bytes.substr(8 + n + begin, end - begin)});
  }
  return tensors;
}

// f32 values as an F32 tensor's bytes.
inline StTensor f32_tensor(std::string name, std::vector<int64_t> shape, const std::vector<float>& values) {
  return {std::move(name), "F32", std::move(shape), raw_bytes(values)};
}

}  // namespace loom::test
