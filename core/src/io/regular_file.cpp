#include "io/regular_file.hpp"

#include <loom/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace loom::io {

namespace {

std::string kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

std::string size_text(uint64_t bytes) {
  return std::to_string(bytes) + " bytes";
}

}  // namespace

std::optional<std::string> non_regular_kind(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return std::nullopt;
  return kind_of(st.st_mode);
}

RegularFile::RegularFile(const std::filesystem::path& path, std::string_view what)
    : name_(printable(path.string())), what_(what) {
  // Looked at before it is opened: opening a FIFO blocks until a writer comes, and opening a
  // device may act on it. The descriptor is checked again below, in case the path changed.
  if (auto kind = non_regular_kind(path)) throw Error(name_ + ": " + what_ + " is " + *kind + ", not a regular file");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) throw Error(name_ + ": cannot open " + what_ + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    throw Error(name_ + ": cannot open " + what_ + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(name_ + ": " + what_ + " is " + kind_of(st.st_mode) + ", not a regular file");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<uint64_t>(st.st_size);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RegularFile::read_exact(uint64_t offset, void* out, size_t n) const {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(name_ + ": cannot read " + what_ + ": " + std::strerror(errno));
    if (got == 0) throw Error(name_ + ": " + what_ + " ended early: it changed while it was read");
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

std::string RegularFile::read_all(uint64_t limit) const {
  const std::string too_large = name_ + ": " + what_ + " is larger than " + size_text(limit) + ", the most this reader reads";
  if (size_ > limit) throw Error(name_ + ": " + what_ + " is " + size_text(size_) + ", more than the " + size_text(limit) + " this reader reads");
  std::string text;
  text.resize(static_cast<size_t>(size_));
  size_t used = 0;
  while (true) {
    if (used == text.size()) {
      if (used > limit) throw Error(too_large);
      text.resize(static_cast<size_t>(std::min<uint64_t>(std::max<uint64_t>(used * 2, 4096), limit + 1)));
    }
    const ssize_t got = ::read(fd_, text.data() + used, text.size() - used);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(name_ + ": cannot read " + what_ + ": " + std::strerror(errno));
    if (got == 0) break;
    used += static_cast<size_t>(got);
  }
  if (used > limit) throw Error(too_large);
  text.resize(used);
  return text;
}

std::string read_text_file(const std::filesystem::path& path, std::string_view what, uint64_t limit) {
  return RegularFile(path, what).read_all(limit);
}

}  // namespace loom::io
