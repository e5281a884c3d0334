// safetensors reader: an 8-byte little-endian header length, a JSON header, then the data
// section. The file is mapped read-only and tensors are views into the mapping.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include "io/mapped_files.hpp"
#include "io/regular_file.hpp"

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
  throw Error(printable(path + ": " + problem));
}

[[noreturn]] void fail(const std::string& path, const std::string& tensor, const std::string& problem) {
  throw Error(printable(path + ": " + tensor + ": " + problem));
}

std::string hex_byte(char c) {
  static const char* digits = "0123456789abcdef";
  const auto b = static_cast<uint8_t>(c);
  return {digits[b >> 4], digits[b & 15]};
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

// Reads the header as a stream of JSON events straight into entries, without building a JSON
// document: a header of a million tensors is read in linear time and without a tree of a
// million objects. Anything but the expected shape ({name: {dtype, shape, data_offsets}} and
// __metadata__ of strings) is refused at its first event, so nothing nests deeper than three
// levels. Errors are thrown from inside the events; nlohmann's parser lets them through.
class HeaderReader final : public json::json_sax_t {
 public:
  HeaderReader(const std::string& path, uint64_t data_size, std::vector<SafetensorsEntry>& entries,
               std::map<std::string, std::string>& metadata)
      : path_(path), data_size_(data_size), entries_(entries), metadata_(metadata) {}

  bool done() const { return at_ == At::Done; }
  const std::string& syntax_error() const { return syntax_error_; }

  bool null() override { return value("null", ""); }
  bool boolean(bool v) override { return value("boolean", v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    if (at_ == At::Shape && v < 0) fail(path_, name_, "shape has a negative dimension " + std::to_string(v));
    return value("number", std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (at_ == At::Shape) {
      if (v > uint64_t(INT64_MAX)) fail(path_, name_, "shape dimension " + std::to_string(v) + " is too large");
      entry_.shape.push_back(static_cast<int64_t>(v));
      return true;
    }
    if (at_ == At::Offsets) {
      if (offsets_.size() == 2) fail(path_, name_, "data_offsets must be a list of two non-negative integers, got more than two");
      offsets_.push_back(v);
      return true;
    }
    return value("number", std::to_string(v));
  }
  bool number_float(number_float_t, const string_t& text) override { return value("number", text); }
  bool string(string_t& v) override {
    if (at_ == At::Metadata) {
      if (!metadata_.emplace(field_, v).second) fail(path_, "__metadata__: " + field_ + ": key appears more than once");
      return true;
    }
    if (at_ == At::Entry && field_ == "dtype") {
      set_dtype(v);
      return true;
    }
    return value("string", "\"" + v + "\"");
  }
  bool binary(binary_t&) override { return value("binary", "binary"); }

  bool start_object(std::size_t) override {
    if (at_ == At::Start) {
      at_ = At::Root;
      return true;
    }
    if (at_ == At::Root && name_ == "__metadata__") {
      at_ = At::Metadata;
      return true;
    }
    if (at_ == At::Root) {
      at_ = At::Entry;
      entry_ = SafetensorsEntry{};
      entry_.name = name_;
      seen_ = 0;
      return true;
    }
    return value("object", "an object");
  }
  bool end_object() override {
    if (at_ == At::Root) at_ = At::Done;
    else if (at_ == At::Metadata) at_ = At::Root;
    else if (at_ == At::Entry) finish_entry();
    return true;
  }
  bool start_array(std::size_t) override {
    if (at_ == At::Entry && field_ == "shape") {
      at_ = At::Shape;
      return true;
    }
    if (at_ == At::Entry && field_ == "data_offsets") {
      at_ = At::Offsets;
      offsets_.clear();
      return true;
    }
    return value("array", "a list");
  }
  bool end_array() override {
    if (at_ == At::Offsets && offsets_.size() != 2)
      fail(path_, name_, "data_offsets must be a list of two non-negative integers, got " + std::to_string(offsets_.size()));
    at_ = At::Entry;
    return true;
  }
  bool key(string_t& k) override {
    if (at_ == At::Root) {
      name_ = k;
      if (k == "__metadata__" && std::exchange(seen_metadata_, true)) fail(path_, k, "key appears more than once in the header");
    } else if (at_ == At::Metadata) {
      field_ = k;
    } else {
      const int bit = k == "dtype" ? 1 : k == "shape" ? 2 : k == "data_offsets" ? 4 : 0;
      if (bit == 0) fail(path_, name_, "unexpected key '" + k + "'");
      if (seen_ & bit) fail(path_, name_, "key '" + k + "' appears more than once");
      seen_ |= bit;
      field_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    syntax_error_ = strip_json_prefix(e.what());
    return false;
  }

 private:
  enum class At { Start, Root, Metadata, Entry, Shape, Offsets, Done };

  // A value where the format has none of its kind: says what was expected there.
  bool value(const char* type, const std::string& text) {
    switch (at_) {
      case At::Start: fail(path_, std::string("header must be a JSON object, got ") + type);
      case At::Root:
        if (name_ == "__metadata__") fail(path_, std::string("__metadata__ must be an object of strings, got ") + type);
        fail(path_, name_, std::string("entry must be an object, got ") + type);
      case At::Metadata: fail(path_, "__metadata__: " + field_ + ": value must be a string, got " + type);
      case At::Entry:
        if (field_ == "dtype") fail(path_, name_, std::string("dtype must be a string, got ") + type);
        if (field_ == "shape") fail(path_, name_, std::string("shape must be a list of integers, got ") + type);
        fail(path_, name_, std::string("data_offsets must be a list of two non-negative integers, got ") + type);
      case At::Shape: fail(path_, name_, "shape must be a list of non-negative integers, found " + text);
      case At::Offsets: fail(path_, name_, "data_offsets must be a list of two non-negative integers, found " + text);
      case At::Done: break;
    }
    fail(path_, "header: unexpected JSON value after the object");
  }

  void set_dtype(const std::string& ds) {
    auto dtype = safetensors_dtype(ds);
    if (!dtype) {
      if (known_unsupported_dtype(ds))
        fail(path_, name_, "dtype " + ds + " is not supported (supported: F32, F16, BF16, I64, I32, U8)");
      fail(path_, name_, "unknown dtype '" + ds + "'");
    }
    entry_.dtype = *dtype;
    dtype_text_ = ds;
  }

  void finish_entry() {
    at_ = At::Root;
    if (!(seen_ & 1)) fail(path_, name_, "missing key 'dtype'");
    if (!(seen_ & 2)) fail(path_, name_, "missing key 'shape'");
    if (!(seen_ & 4)) fail(path_, name_, "missing key 'data_offsets'");
    SafetensorsEntry& e = entry_;
    int64_t numel = 0;
    try {
      numel = shape_numel(e.shape);
    } catch (const Error& err) {
      fail(path_, name_, err.what());
    }
    const uint64_t item = dtype_size(e.dtype);
    if (static_cast<uint64_t>(numel) > (uint64_t(1) << 62) / item)
      fail(path_, name_, "shape " + shape_str(e.shape) + " of " + dtype_text_ + " is too large");
    const uint64_t nbytes = static_cast<uint64_t>(numel) * item;
    e.begin = offsets_[0];
    e.end = offsets_[1];
    if (e.begin > e.end)
      fail(path_, name_, "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] are not ordered");
    if (e.end > data_size_)
      fail(path_, name_, "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                             "] run past the end of the data section (" + std::to_string(data_size_) + " bytes)");
    if (e.end - e.begin != nbytes)
      fail(path_, name_, "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                             shape_str(e.shape) + " of " + dtype_text_ + " needs " + std::to_string(nbytes));
    entries_.push_back(std::move(e));
  }

  const std::string& path_;
  const uint64_t data_size_;
  std::vector<SafetensorsEntry>& entries_;
  std::map<std::string, std::string>& metadata_;
  At at_ = At::Start;
  std::string name_;    // the tensor (or __metadata__) being read
  std::string field_;   // its key being read
  SafetensorsEntry entry_;
  std::string dtype_text_;
  std::vector<uint64_t> offsets_;
  int seen_ = 0;        // dtype, shape, data_offsets seen in this entry: bits 1, 2, 4
  bool seen_metadata_ = false;
  std::string syntax_error_;
};

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& file) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = file.string();
  const io::RegularFile in(file, "the safetensors file");
  const size_t size = static_cast<size_t>(in.size());
  if (size >= 8) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, in.fd(), 0);
    if (p == MAP_FAILED) fail(f->path_, std::string("cannot map: ") + std::strerror(errno));
    f->base_ = static_cast<const uint8_t*>(p);
    f->size_ = size;
    f->mapped_ = true;
    io::register_mapping(p, size);
  } else {
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
  if (!mapped_) return;
  io::unregister_mapping(base_);
  ::munmap(const_cast<uint8_t*>(base_), size_);
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

  // JSON text has no raw NUL byte, but nlohmann's parser takes one for the end of the input,
  // which would let anything hide after it.
  if (size_t nul = header_.find('\0'); nul != std::string::npos)
    fail(path_, "header holds a NUL byte at offset " + std::to_string(nul) + " (it must be JSON text padded with spaces)");
  HeaderReader reader(path_, data_size, entries_, metadata_);
  if (!json::sax_parse(header_, &reader) || !reader.done())
    fail(path_, "header is not valid JSON: " + reader.syntax_error());
  // The format allows padding after the object, and only with spaces (0x20).
  if (header_.front() != '{') fail(path_, "header must start with '{', found whitespace before the JSON object");
  if (size_t last = header_.find_last_not_of(' '); header_[last] != '}')
    fail(path_, "header: only spaces may follow the JSON object, found byte 0x" + hex_byte(header_[last]) + " at offset " +
                    std::to_string(last));

  // Entries sorted by name find a duplicate name next to its twin.
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (size_t i = 1; i < entries_.size(); ++i)
    if (entries_[i].name == entries_[i - 1].name) fail(path_, entries_[i].name, "key appears more than once in the header");

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
