// A folder for the files a test writes.
//
// ctest runs every test case in a process of its own, several at once: a file that one case writes
// and another rewrites a moment later would change under the first one's feet (its identity, which
// weight sharing keys on, or its bytes). So each process writes under a folder of its own, named by
// its pid and removed when the process exits.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace loom::test {

inline std::filesystem::path scratch_dir(const std::string& area) {
  struct Owned {
    std::filesystem::path root;
    ~Owned() {
      std::error_code ignored;
      std::filesystem::remove_all(root, ignored);
    }
  };
  static const Owned owned{std::filesystem::path(LOOM_BUILD_DIR) / "test_tmp" / ("pid-" + std::to_string(::getpid()))};
  std::filesystem::path dir = owned.root / area;
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace loom::test
