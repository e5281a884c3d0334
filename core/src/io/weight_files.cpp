#include "io/weight_files.hpp"

#include "tensor/widen.hpp"

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

struct WeightFiles::Copied {
  std::shared_ptr<SafetensorsFile> file;
  Tensor tensor;
  bool widened;  // else an owned copy as stored
};

Tensor WeightFiles::copy(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor, bool widen) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Entries of copies that are gone are dropped once they could make up half of the cache, so
  // that loading a model of many tensors stays linear.
  if (copies_.size() >= 2 * copies_live_ + 64) {
    for (auto it = copies_.begin(); it != copies_.end();) it = it->second.expired() ? copies_.erase(it) : std::next(it);
    copies_live_ = copies_.size();
  }
  auto& slot = copies_[{file.get(), tensor, widen}];
  std::shared_ptr<const Copied> copy = slot.lock();
  if (!copy) {
    // Made under the lock: two sessions loading the same weights at once convert them once.
    copy = std::make_shared<const Copied>(
        Copied{file, widen ? widen_to_f32(file->tensor(tensor)) : file->tensor(tensor).clone(), widen});
    slot = copy;
  }
  return Tensor::view(copy->tensor.dtype(), copy->tensor.shape(), copy->tensor.data(), copy);
}

Tensor WeightFiles::widened(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor) {
  return copy(file, tensor, true);
}

Tensor WeightFiles::owned(const std::shared_ptr<SafetensorsFile>& file, const std::string& tensor) {
  return copy(file, tensor, false);
}

uint64_t WeightFiles::widened_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t n = 0;
  for (const auto& [key, copy] : copies_)
    if (auto c = copy.lock(); c && c->widened) n += c->tensor.nbytes();
  return n;
}

size_t WeightFiles::mapped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& [key, file] : files_) n += !file.expired();
  return n;
}

}  // namespace loom
