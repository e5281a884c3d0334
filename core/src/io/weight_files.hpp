// The weight files of one engine, mapped once. Every program that names a safetensors file, by
// any path that resolves to it, gets the same SafetensorsFile while any program holds it, so
// the sessions of one engine over the same weights share one mapping, and their constants sit
// at the same addresses (which the packed-constant cache keys on). The cache holds weak
// references: a file no session uses is unmapped. A file replaced or rewritten on disk (another
// device, inode, size or modification time) is mapped anew.
#pragma once

#include <loom/io.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

namespace loom {

class WeightFiles {
 public:
  // Canonical path, device, inode, size, modification time in nanoseconds.
  using Key = std::tuple<std::string, uint64_t, uint64_t, int64_t, int64_t>;

  // The mapped file at `path`: the one already mapped when it is the same file, else a new
  // mapping (errors as SafetensorsFile::open).
  std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Files mapped now (held by some program).
  size_t mapped() const;

 private:
  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<SafetensorsFile>> files_;
};

}  // namespace loom
