#include "io/weight_files.hpp"

#include <sys/stat.h>

#include <optional>

namespace loom {

namespace {

// The file's identity, or nullopt when it cannot be examined (the open that follows says why).
std::optional<WeightFiles::Key> identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(path, ec);
  if (ec) return std::nullopt;
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return WeightFiles::Key(canonical.string(), static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                         static_cast<int64_t>(st.st_size), mtime);
}

}  // namespace

std::shared_ptr<SafetensorsFile> WeightFiles::open(const std::filesystem::path& path) {
  const auto before = identity(path);
  if (!before) return SafetensorsFile::open(path);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = files_.begin(); it != files_.end();) it = it->second.expired() ? files_.erase(it) : std::next(it);
  if (auto it = files_.find(*before); it != files_.end())
    if (auto file = it->second.lock()) return file;
  auto file = SafetensorsFile::open(path);
  // A file replaced between the look and the mapping is used, but not shared under the old identity.
  if (identity(path) == before) files_[*before] = file;
  return file;
}

size_t WeightFiles::mapped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& [key, file] : files_) n += !file.expired();
  return n;
}

}  // namespace loom
