// The one way libloom opens a file it reads (graphs, manifests, config.json, weights, .npy):
// only regular files are read. A FIFO, a device, a socket or a folder is refused before a byte
// is read, so a path like /dev/zero or a named pipe cannot block a reader or make it grow without
// bound, and text files are read up to a size limit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace loom::io {

// Most bytes of a YAML or JSON text file: a graph of 100000 nodes is far below it, and the
// parsers hold each byte of text several times over in memory.
inline constexpr uint64_t kMaxTextFileBytes = uint64_t(64) << 20;

// "a FIFO (named pipe)", "a character device", "a folder", ... for what `path` is when it exists
// and is not a regular file (symbolic links followed); nullopt for a regular file or when the
// path cannot be examined (the open that follows reports why).
std::optional<std::string> non_regular_kind(const std::filesystem::path& path);

class RegularFile {
 public:
  // Opens `path` for reading; `what` names its role in messages ("the graph", "the weights
  // file"). Throws loom::Error "<path>: <what> is a FIFO (named pipe), not a regular file", or
  // "<path>: cannot open <what>: <reason>".
  RegularFile(const std::filesystem::path& path, std::string_view what);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }       // when it was opened
  const std::string& name() const { return name_; }  // the path, printable

  // Reads exactly `n` bytes at `offset`; throws if the file ends first (it shrank meanwhile).
  void read_exact(uint64_t offset, void* out, size_t n) const;
  // The whole file, refused when larger than `limit` bytes (checked again while reading, for
  // files whose size the file system does not know in advance, such as those of /proc).
  std::string read_all(uint64_t limit) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string name_;
  std::string what_;
};

// RegularFile(path, what).read_all(limit).
std::string read_text_file(const std::filesystem::path& path, std::string_view what, uint64_t limit = kMaxTextFileBytes);

}  // namespace loom::io
