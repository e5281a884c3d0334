// `loom plugins` loads each plugin file first in a child process, `loom probe-plugin FILE`, as
// GStreamer's plugin scanner does: a plugin that aborts, segfaults or hangs in its constructor,
// entry point, init() or shutdown() takes down or stalls only the child, and is listed with
// what happened instead of ending the listing.
#include "commands.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

extern char** environ;

namespace loom::cli {

namespace {

// What the child prints once the plugin is loaded, before it unloads it.
constexpr const char* kLoadedMarker = "loom-probe: loaded";
// Output kept from the child: the end of it, where a crash leaves its last words.
constexpr size_t kMaxOutput = 16 * 1024;

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* text = strsignal(sig);
  return (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig)) + " (" + (text ? text : "unknown") + ")";
}

// A line of a stack trace ("    #3 0x4f2a in init ..."), as sanitizers and glibc print after the
// line that says what happened.
bool stack_frame(const std::string& line) {
  const size_t at = line.find_first_not_of(" \t");
  return at != std::string::npos && line[at] == '#' && at + 1 < line.size() && std::isdigit(static_cast<unsigned char>(line[at + 1]));
}

// The last non-empty line of the child's output other than the marker and stack frames,
// escaped, or "".
std::string last_words(const std::string& output) {
  size_t end = output.size();
  while (end > 0) {
    const size_t begin = output.rfind('\n', end - 1);
    const size_t from = begin == std::string::npos ? 0 : begin + 1;
    std::string line = output.substr(from, end - from);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line != kLoadedMarker && !stack_frame(line)) {
      if (line.size() > 200) line = line.substr(0, 200) + "...";
      return printable(line);
    }
    if (begin == std::string::npos) break;
    end = begin;
  }
  return "";
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
};

}  // namespace

int cmd_probe_plugin(const std::string& file) {
  // A crash here is expected and reported by the parent: leave no core file behind.
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  EngineOptions o;
  o.plugin_files = {file};
  o.search_default_paths = false;
  {
    Engine engine(o);
    std::printf("%s\n", kLoadedMarker);
    std::fflush(stdout);
  }  // unloads: shutdown() and the library's destructors run here
  return 0;
}

std::string probe_plugin(const std::filesystem::path& file, int timeout_s) {
  Pipe out;
  if (pipe2(out.fd, O_CLOEXEC) != 0) return std::string("cannot start a probe process: pipe: ") + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 2);
  // The probe is this very executable, so it speaks the same ABI as the listing that follows.
  const std::string self = "/proc/self/exe", command = "probe-plugin", path = file.string();
  char* argv[] = {const_cast<char*>(self.c_str()), const_cast<char*>(command.c_str()), const_cast<char*>("--"),
                  const_cast<char*>(path.c_str()), nullptr};
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) return std::string("cannot start a probe process: ") + std::strerror(spawn_error);
  close(out.fd[1]);
  out.fd[1] = -1;

  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::seconds(timeout_s);
  std::string output;
  bool open = true, timed_out = false;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (clock::now() >= deadline) {
      timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    if (!open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    pollfd p{out.fd[0], POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char buf[4096];
      const ssize_t n = read(out.fd[0], buf, sizeof buf);
      if (n > 0) {
        output.append(buf, static_cast<size_t>(n));
        if (output.size() > 2 * kMaxOutput) output.erase(0, output.size() - kMaxOutput);
      } else if (n == 0 || errno != EINTR) {
        open = false;
      }
    }
  }
  // What the child wrote just before it ended.
  for (char buf[4096]; open;) {
    pollfd p{out.fd[0], POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    const ssize_t n = read(out.fd[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }

  const bool loaded = output.find(kLoadedMarker) != std::string::npos;
  const std::string stage = loaded ? "unloading" : "loading";
  const std::string words = last_words(output);
  const std::string said = words.empty() ? "" : "; its last output: " + words;
  if (timed_out)
    return "did not finish " + stage + " within " + std::to_string(timeout_s) +
           " s (the probe was stopped; see --probe-timeout)" + said;
  if (WIFSIGNALED(status)) return "crashed while " + stage + ": " + signal_text(WTERMSIG(status)) + said;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return "ended the probe process while " + stage + " with exit status " + std::to_string(WEXITSTATUS(status)) + said;
  if (!loaded) return "the probe process ended without loading it" + said;
  return "";
}

}  // namespace loom::cli
