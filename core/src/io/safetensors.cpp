// safetensors reader: an 8-byte little-endian header length, a JSON header, then the data
// section. The file is mapped read-only and tensors are views into the mapping.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace loom {
namespace {

using json = nlohmann::json;

// Same bound as the reference implementation: larger headers are a sign of a corrupt length.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw Error(path + ": " + problem);
}

[[noreturn]] void fail(const std::string& path, const std::string& tensor, const std::string& problem) {
  throw Error(path + ": " + tensor + ": " + problem);
}

std::optional<DType> safetensors_dtype(std::string_view s) {
  if (s == "F32") return DType::f32;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  if (s == "I64") return DType::i64;
  if (s == "I32") return DType::i32;
  if (s == "U8") return DType::u8;
  return std::nullopt;
}

// dtypes the format defines but Loom has no element type for: named as unsupported rather
// than unknown so the message says the file is fine and the engine is the limit.
bool known_unsupported_dtype(std::string_view s) {
  static const std::set<std::string_view> known = {
      "BOOL", "I8", "I16", "U16", "U32", "U64", "F64", "C64", "F8_E4M3", "F8_E5M2",
      "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "E8M0"};
  return known.count(s) != 0;
}

std::string type_name(const json& j) { return j.type_name(); }

// nlohmann keeps the last of duplicate keys silently; a duplicated tensor name makes the file
// ambiguous, so the parse callback records the first duplicate of any object.
struct DuplicateKeyFinder {
  std::vector<std::set<std::string>> open;
  std::optional<std::string> duplicate;

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open.emplace_back(); break;
      case json::parse_event_t::object_end: if (!open.empty()) open.pop_back(); break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second && !duplicate)
          duplicate = parsed.get<std::string>();
        break;
      default: break;
    }
    return true;
  }
};

std::string strip_json_prefix(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
  auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Shape parse_shape(const json& j, const std::string& path, const std::string& name) {
  if (!j.is_array()) fail(path, name, "shape must be a list of integers, got " + type_name(j));
  Shape shape;
  shape.reserve(j.size());
  for (const auto& d : j) {
    if (d.is_number_integer() && !d.is_number_unsigned())
      fail(path, name, "shape has a negative dimension " + d.dump());
    if (!d.is_number_unsigned())
      fail(path, name, "shape must be a list of non-negative integers, found " + d.dump());
    const uint64_t v = d.get<uint64_t>();
    if (v > uint64_t(INT64_MAX)) fail(path, name, "shape dimension " + d.dump() + " is too large");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

std::pair<uint64_t, uint64_t> parse_offsets(const json& j, const std::string& path, const std::string& name) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned())
    fail(path, name, "data_offsets must be a list of two non-negative integers, got " + j.dump());
  const uint64_t begin = j[0].get<uint64_t>(), end = j[1].get<uint64_t>();
  if (begin > end)
    fail(path, name, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] are not ordered");
  return {begin, end};
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& file) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = file.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(f->path_, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(f->path_, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(f->path_, "not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size >= 8) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) fail(f->path_, std::string("cannot map: ") + std::strerror(err));
    f->base_ = static_cast<const uint8_t*>(p);
    f->size_ = size;
    f->mapped_ = true;
  } else {
    ::close(fd);
    f->size_ = size;
  }
  // On a validation error `f` is released here, which unmaps the file.
  f->parse();
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_bytes(std::string_view bytes, const std::string& name) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = name.empty() ? "<memory>" : name;
  f->owned_.assign(bytes.data(), bytes.size());
  f->base_ = reinterpret_cast<const uint8_t*>(f->owned_.data());
  f->size_ = f->owned_.size();
  f->parse();
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

void SafetensorsFile::parse() {
  if (size_ < 8) fail(path_, "file is " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
  const uint64_t header_len = read_u64_le(base_);
  if (header_len > size_ - 8)
    fail(path_, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(size_) + " bytes)");
  if (header_len > kMaxHeaderBytes)
    fail(path_, "header length " + std::to_string(header_len) + " is absurd (limit " +
                    std::to_string(kMaxHeaderBytes) + " bytes)");
  header_.assign(reinterpret_cast<const char*>(base_ + 8), header_len);
  data_offset_ = 8 + header_len;
  const uint64_t data_size = size_ - data_offset_;

  json root;
  DuplicateKeyFinder dup;
  try {
    root = json::parse(header_, std::ref(dup));
  } catch (const json::exception& e) {
    fail(path_, "header is not valid JSON: " + strip_json_prefix(e.what()));
  }
  if (!root.is_object()) fail(path_, "header must be a JSON object, got " + type_name(root));
  if (dup.duplicate) fail(path_, *dup.duplicate, "key appears more than once in the header");

  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path_, "__metadata__ must be an object of strings, got " + type_name(value));
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) fail(path_, "__metadata__: " + k + ": value must be a string, got " + type_name(v));
        metadata_.emplace(k, v.get<std::string>());
      }
      continue;
    }
    if (!value.is_object()) fail(path_, name, "entry must be an object, got " + type_name(value));
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!value.contains(key)) fail(path_, name, std::string("missing key '") + key + "'");
    for (const auto& [k, v] : value.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") fail(path_, name, "unexpected key '" + k + "'");

    const json& jd = value["dtype"];
    if (!jd.is_string()) fail(path_, name, "dtype must be a string, got " + type_name(jd));
    const std::string ds = jd.get<std::string>();
    auto dtype = safetensors_dtype(ds);
    if (!dtype) {
      if (known_unsupported_dtype(ds))
        fail(path_, name, "dtype " + ds + " is not supported (supported: F32, F16, BF16, I64, I32, U8)");
      fail(path_, name, "unknown dtype '" + ds + "'");
    }

    SafetensorsEntry e;
    e.name = name;
    e.dtype = *dtype;
    e.shape = parse_shape(value["shape"], path_, name);
    int64_t numel = 0;
    try {
      numel = shape_numel(e.shape);
    } catch (const Error& err) {
      fail(path_, name, err.what());
    }
    const uint64_t item = dtype_size(e.dtype);
    if (static_cast<uint64_t>(numel) > (uint64_t(1) << 62) / item)
      fail(path_, name, "shape " + shape_str(e.shape) + " of " + ds + " is too large");
    const uint64_t nbytes = static_cast<uint64_t>(numel) * item;

    std::tie(e.begin, e.end) = parse_offsets(value["data_offsets"], path_, name);
    if (e.end > data_size)
      fail(path_, name, "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                            "] run past the end of the data section (" + std::to_string(data_size) + " bytes)");
    if (e.end - e.begin != nbytes)
      fail(path_, name, "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                            shape_str(e.shape) + " of " + ds + " needs " + std::to_string(nbytes));
    entries_.push_back(std::move(e));
  }

  // The format requires the data section to be covered exactly: no overlap (two names for one
  // buffer), no holes and no trailing bytes (room for hidden content).
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t covered = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const auto* e : by_offset) {
    if (e->begin < covered)
      fail(path_, e->name, "data_offsets [" + std::to_string(e->begin) + ", " + std::to_string(e->end) +
                               "] overlap tensor '" + prev->name + "'");
    if (e->begin > covered)
      fail(path_, e->name, "bytes " + std::to_string(covered) + ".." + std::to_string(e->begin) +
                               " of the data section before this tensor belong to no tensor");
    covered = e->end;
    prev = e;
  }
  if (covered != data_size)
    fail(path_, std::to_string(data_size - covered) + " bytes after the last tensor belong to no tensor");

  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view tensor) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), tensor,
                             [](const SafetensorsEntry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == tensor ? &*it : nullptr;
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) fail(path_, std::string(name), "no such tensor in the file");
  const uint8_t* p = base_ + data_offset_ + e->begin;
  // Writers pad the header so data is aligned; a file that is not gets a copy rather than a
  // misaligned view that typed kernels would read with undefined behaviour.
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(e->dtype) != 0)
    return Tensor::view(e->dtype, e->shape, p, nullptr).clone();
  return Tensor::view(e->dtype, e->shape, p, shared_from_this());
}

}  // namespace loom
