// write_file (loom/io.hpp): a new file beside the target, then a rename over it; a device or a
// pipe at the path is written into instead.
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

// Closes a descriptor written in place.
struct OpenFile {
  int fd = -1;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::string reason(int err) { return err == ENXIO ? "a FIFO with no reader" : std::strerror(err); }

void write_parts(int fd, std::initializer_list<std::string_view> parts, const std::string& name) {
  for (std::string_view part : parts) {
    const char* p = part.data();
    size_t left = part.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(name + ": write error: " + std::strerror(n < 0 ? errno : EIO));
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
}

// Into what `path` names, opened as it is: a device or a FIFO (/dev/null, /dev/stdout, a shell's
// pipe), or a regular file whose folder takes no new file. O_NONBLOCK for the open only, so that
// a FIFO without a reader is an error rather than a wait; `regular` refuses anything else, and a
// link, once opened.
void write_in_place(const std::filesystem::path& path, std::initializer_list<std::string_view> parts, const std::string& name,
                    bool regular) {
  OpenFile f;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (regular ? O_TRUNC | O_NOFOLLOW : 0));
  if (f.fd < 0) throw Error(name + ": cannot be written: " + reason(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(name + ": cannot be written: " + std::strerror(errno));
  if (regular ? !S_ISREG(st.st_mode) : !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
    throw Error(name + ": changed while it was opened for writing");
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  write_parts(f.fd, parts, name);
  const int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) throw Error(name + ": write error: " + std::strerror(errno));
}

std::string kind_of(mode_t mode) {
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

}  // namespace

void write_file(const std::filesystem::path& path, std::initializer_list<std::string_view> parts) {
  const std::string name = printable(path.string());
  if (path.empty() || path.filename().empty()) throw Error(name + ": expected the path of a file to write");
  struct stat st {};  // what the path names, links followed
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists) {
    if (S_ISDIR(st.st_mode)) throw Error(name + ": is a folder, not a file to write");
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return write_in_place(path, parts, name, false);
    if (!S_ISREG(st.st_mode)) throw Error(name + ": is " + kind_of(st.st_mode) + ", not a file to write");
  }
  // A new file in the same folder under a short name of its own (O_EXCL: nothing already there
  // is opened), mode rw-rw-rw- less the umask, or the mode (and, for root, the owner) of the
  // file it replaces.
  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  NewFile tmp;
  std::random_device seed;
  std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) ^ static_cast<uint64_t>(::getpid()));
  for (int attempt = 0; tmp.fd < 0; ++attempt) {
    const std::string candidate = (dir / (".loom-" + std::to_string(rng() % 1000000007) + ".tmp")).string();
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd >= 0) {
      tmp.fd = fd;
      tmp.path = candidate;
      continue;
    }
    const int err = errno;
    // A folder that takes no new file (not writable, read-only) around a file that may be
    // written: that file, in place.
    if (exists && (err == EACCES || err == EPERM || err == EROFS)) return write_in_place(path, parts, name, true);
    if (err != EEXIST || attempt == 16) throw Error(name + ": cannot be written: " + std::strerror(err));
  }
  if (exists) {
    ::fchmod(tmp.fd, st.st_mode & 07777);
    if (::geteuid() == 0) (void)::fchown(tmp.fd, st.st_uid, st.st_gid);
  }
  write_parts(tmp.fd, parts, name);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw Error(name + ": write error: " + std::strerror(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    // A file that cannot be replaced (a mount of its own, a sticky folder's file of another
    // owner): written in place, where it lets.
    if (exists && (err == EBUSY || err == EXDEV || err == EACCES || err == EPERM)) return write_in_place(path, parts, name, true);
    throw Error(name + ": cannot be written: " + std::strerror(err));
  }
  tmp.path.clear();
}

}  // namespace loom
