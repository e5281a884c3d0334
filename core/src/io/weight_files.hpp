// The weight files of one engine, mapped once. Every program that names a safetensors file, by
// any path that resolves to it, gets the same SafetensorsFile while any program holds it, so
// the sessions of one engine over the same weights share one mapping, and their constants sit
// at the same addresses (which the packed-constant cache keys on). The cache holds weak
// references: a file no session uses is unmapped. A file replaced or rewritten on disk (another
// device, inode, size or modification time) is mapped anew.
//
// It also holds the f32 copies of F16 and BF16 tensors that graphs declare as f32 (widened on
// load, docs/graph-format.md "Initializers"), one per mapped file and tensor, so that sessions
// over the same weights read one copy, at one address. Those are held weakly as well: a copy
// goes with the last constant that uses it. Small tensors that programs copy out of the mapping
// (program.cpp) are shared the same way.
#pragma once

#include <loom/io.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

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

  // Tensor `tensor` of `file`, stored as F16 or BF16, widened to f32: the copy already made from
  // this mapping while anything holds it, else a new one. The copy keeps `file` mapped (so the
  // mapping a copy is keyed by is not unmapped, nor its address reused, while the copy lives).
  // Throws loom::Error as SafetensorsFile::tensor, or for a tensor of another dtype.
  Tensor widened(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor);
  // Tensor `tensor` of `file` copied as stored into memory of its own, shared as widened().
  Tensor owned(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor);
  // Bytes of the widened copies held now, each counted once.
  uint64_t widened_bytes() const;

 private:
  struct Copied;
  Tensor copy(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor, bool widen);
  mutable std::mutex mutex_;
  std::map<Key, std::weak_ptr<SafetensorsFile>> files_;
  std::map<std::tuple<const SafetensorsFile*, std::string, bool>, std::weak_ptr<const Copied>> copies_;
  size_t copies_live_ = 0;  // entries after the last pruning
};

}  // namespace loom
