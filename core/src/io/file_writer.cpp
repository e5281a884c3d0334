// write_file (loom/io.hpp): a new file beside the target, then a rename over it.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <cerrno>
#include <cstring>
#include <random>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace loom {

namespace {

// Closes and removes the new file unless it was renamed into place.
struct NewFile {
  int fd = -1;
  std::string path;
  ~NewFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void write_file(const std::filesystem::path& path, std::initializer_list<std::string_view> parts) {
  const std::string name = printable(path.string());
  if (path.empty() || path.filename().empty()) throw Error(name + ": expected the path of a file to write");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw Error(name + ": is a folder, not a file to write");
  // O_EXCL: a name that exists (a file, a link, a FIFO someone put there) is never opened; the
  // mode is what the umask leaves of rw-rw-rw-, as for any new file.
  NewFile tmp;
  std::random_device seed;
  std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) ^ static_cast<uint64_t>(::getpid()));
  for (int attempt = 0; tmp.fd < 0; ++attempt) {
    const std::string candidate = path.string() + ".loom-" + std::to_string(rng() % 1000000007) + ".tmp";
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd >= 0) {
      tmp.fd = fd;
      tmp.path = candidate;
    } else if (errno != EEXIST || attempt == 16) {
      throw Error(name + ": cannot be written: " + std::strerror(errno));
    }
  }
  for (std::string_view part : parts) {
    const char* p = part.data();
    size_t left = part.size();
    while (left > 0) {
      const ssize_t n = ::write(tmp.fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(name + ": write error: " + std::strerror(n < 0 ? errno : EIO));
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw Error(name + ": write error: " + std::strerror(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) throw Error(name + ": cannot be written: " + std::strerror(errno));
  tmp.path.clear();
}

}  // namespace loom
