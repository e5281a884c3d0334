// Tensor files: safetensors (read, memory-mapped, zero-copy) and NumPy .npy (read and write),
// and the file names under which named tensors are written.
// Every reader validates strictly and throws loom::Error naming the file and the problem.
#pragma once

#include <loom/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

// ---- safetensors

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
 public:
  // Maps the file read-only and validates the header: 8-byte length, JSON, dtypes, shape vs
  // byte size, offsets inside the file, no overlap between tensors.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& file);
  // Same validation over bytes in memory; `name` is used in errors. The bytes are copied.
  static std::shared_ptr<SafetensorsFile> from_bytes(std::string_view bytes, const std::string& name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(std::string_view tensor) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& header_json() const { return header_; }
  // A zero-copy view into the mapping; the tensor keeps the file mapped. Throws if absent.
  // Data the file leaves misaligned for its dtype (an unpadded header) is copied instead.
  Tensor tensor(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  void parse();
  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::string owned_;  // from_bytes storage
  std::string header_;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// ---- .npy (format versions 1.0, 2.0, 3.0; little-endian; C order)

Tensor read_npy(const std::filesystem::path& file);
Tensor parse_npy(std::string_view bytes, const std::string& name);
void write_npy(const std::filesystem::path& file, const Tensor& t);
std::string serialize_npy(const Tensor& t);

// ---- writing files

// Writes `parts`, one after another, as the file `path`: into a new file beside it (created
// exclusively, so that nothing already there is opened), then renamed over `path` with the old
// file's mode. A symbolic link at `path` to a file or to nothing is replaced, not followed; a
// failed write leaves what was there (or nothing) rather than half a file. A device or a FIFO
// at `path`, or named by a link there (/dev/null, /dev/stdout), is written into, never replaced;
// a FIFO without a reader is an error, not a wait. A regular file whose folder takes no new file,
// or that cannot be renamed over, is written in place. A folder, a block device or a socket is
// refused. Throws loom::Error naming the path. Every file libloom and the loom command write
// goes through here.
void write_file(const std::filesystem::path& path, std::initializer_list<std::string_view> parts);

// ---- file names from names that come from data

// The file name (one path component, no folder) under which something named `name` by a graph
// or a model is written into a folder the user chose, followed by `suffix` (".npy"). Every
// command that writes files from such names goes through here, so that whatever the names say
// (`../../x`, `/tmp/x`), the files land inside that folder:
//   * '/', '\\', '%', control bytes (0x00-0x1f, 0x7f) and a leading '.' are percent-encoded
//     ("a/b" -> "a%2Fb", "../x" -> "%2E.%2Fx"); every other byte, UTF-8 included, is kept;
//   * a name whose encoding is longer than 200 bytes keeps its first bytes and ends in "%~"
//     and a 64-bit hash of the whole name, to stay within the file system's 255-byte limit.
// Distinct names give distinct file names. Throws loom::Error for an empty name.
std::string file_name_for(std::string_view name, std::string_view suffix = "");

}  // namespace loom
