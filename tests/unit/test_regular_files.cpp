// Every reader opens files through one helper that refuses anything but a regular file: a FIFO
// would block a reader forever and a device such as /dev/zero never ends.
#include <doctest/doctest.h>
#include <loom/loom.hpp>

#include "io/regular_file.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <future>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scratch_dir.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  return loom::test::scratch_dir("regular_files");
}

fs::path make_fifo(const std::string& name) {
  const fs::path p = temp_dir() / name;
  fs::remove(p);
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  return p;
}

// Runs `read` on a FIFO with a deadline. A reader that blocks is failed, then released by
// opening the FIFO's other end, so the test ends either way.
std::string error_reading_fifo(const std::string& name, const std::function<void(const fs::path&)>& read) {
  const fs::path fifo = make_fifo(name);
  auto result = std::async(std::launch::async, [&] {
    try {
      read(fifo);
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    FAIL_CHECK("reading the FIFO " << name << " blocked");
    const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) ::close(writer);
  }
  return result.get();
}

loom::Engine bare_engine() {
  loom::EngineOptions options;
  options.search_default_paths = false;
  return loom::Engine(options);
}

}  // namespace

TEST_CASE("regular files: every reader refuses a FIFO at once, naming the file and what it is") {
  const loom::Engine engine = bare_engine();
  const std::pair<const char*, std::function<void(const fs::path&)>> readers[] = {
      {"graph.yaml", [](const fs::path& p) { loom::read_graph_yaml(p); }},
      {"engine.yaml", [&](const fs::path& p) { engine.load_graph(p); }},
      {"input.npy", [](const fs::path& p) { loom::read_npy(p); }},
      {"weights.safetensors", [](const fs::path& p) { loom::SafetensorsFile::open(p); }},
  };
  for (const auto& [name, read] : readers) {
    const std::string message = error_reading_fifo(name, read);
    CHECK_MESSAGE(message.find(name) != std::string::npos, message);
    CHECK_MESSAGE(message.find("is a FIFO (named pipe), not a regular file") != std::string::npos, message);
  }
}

TEST_CASE("regular files: character devices and folders are refused before a byte is read") {
  const loom::Engine engine = bare_engine();
  // /dev/zero never ends: a reader that read it would grow until memory ran out.
  CHECK_THROWS_WITH_AS(loom::read_npy("/dev/zero"), doctest::Contains("/dev/zero: the .npy file is a character device"), loom::Error);
  CHECK_THROWS_WITH_AS(loom::SafetensorsFile::open("/dev/zero"), doctest::Contains("/dev/zero: the safetensors file is a character device"),
                       loom::Error);
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml("/dev/zero"), doctest::Contains("/dev/zero: the graph is a character device"), loom::Error);
  // /dev/null ends at once, so a reader without the check would only report an empty graph.
  CHECK_THROWS_WITH_AS(engine.load_graph("/dev/null"), doctest::Contains("/dev/null: the graph is a character device, not a regular file"),
                       loom::Error);
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml(temp_dir()), doctest::Contains("the graph is a folder, not a regular file"), loom::Error);
  // The engine reads a folder as a checkpoint, which must hold config.json.
  CHECK_THROWS_WITH_AS(engine.load_graph(temp_dir()), doctest::Contains("a folder is read as a checkpoint, but it has no config.json"),
                       loom::Error);
}

TEST_CASE("regular files: a manifest's checkpoint files are held to the same rule") {
  const loom::Engine engine = bare_engine();
  const fs::path dir = temp_dir() / "checkpoint";
  fs::create_directories(dir);
  fs::remove(dir / "config.json");
  fs::create_symlink("/dev/zero", dir / "config.json");
  std::ofstream(temp_dir() / "manifest.yaml") << "model: toy\ncheckpoint: checkpoint\n";
  CHECK_THROWS_WITH_AS(engine.load_graph(temp_dir() / "manifest.yaml"),
                       doctest::Contains("config.json: the checkpoint's config.json is a character device"), loom::Error);
}

TEST_CASE("regular files: text files are read up to a limit") {
  const fs::path big = temp_dir() / "big.yaml";
  std::ofstream(big) << "loom: 1\n";
  fs::resize_file(big, loom::io::kMaxTextFileBytes + 1);  // sparse: nothing is written
  CHECK_THROWS_WITH_AS(loom::read_graph_yaml(big),
                       doctest::Contains("big.yaml: the graph is 67108865 bytes, more than the 67108864 bytes this reader reads"),
                       loom::Error);
  fs::remove(big);
  // Files whose size the file system does not tell are still cut at the limit.
  const std::string status = loom::io::RegularFile("/proc/self/status", "a test file").read_all(1 << 20);
  CHECK(status.find("Name:") == 0);
  CHECK_THROWS_WITH_AS(loom::io::RegularFile("/proc/self/status", "a test file").read_all(16),
                       doctest::Contains("a test file is larger than 16 bytes"), loom::Error);
}

// Files are written beside their target and renamed over it (loom::write_file): what a path
// holds is replaced, never written through.
TEST_CASE("regular files: a written file replaces a link at its path, writes into a device or a FIFO, and keeps the mode") {
  const fs::path dir = temp_dir() / "write";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path victim = dir / "victim.txt";
  std::ofstream(victim) << "keep";
  fs::create_symlink(victim, dir / "linked.npy");
  loom::Tensor t(loom::DType::f32, {2});
  loom::write_npy(dir / "linked.npy", t);
  CHECK(fs::is_regular_file(fs::symlink_status(dir / "linked.npy")));
  CHECK(loom::read_npy(dir / "linked.npy").shape() == loom::Shape{2});
  std::ifstream in(victim);
  CHECK(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()) == "keep");

  // A FIFO at the path is written into, not replaced: without a reader that is an error at
  // once (an open for writing would wait for one); /dev/null takes the bytes and stays a device.
  REQUIRE(::mkfifo((dir / "fifo.npy").c_str(), 0600) == 0);
  auto wrote = std::async(std::launch::async, [&]() -> std::string {
    try {
      loom::write_npy(dir / "fifo.npy", t);
    } catch (const loom::Error& e) {
      return e.what();
    }
    return "(no error)";
  });
  if (wrote.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    FAIL_CHECK("writing into a FIFO without a reader blocked");
    const int reader = ::open((dir / "fifo.npy").c_str(), O_RDONLY | O_NONBLOCK);
    if (reader >= 0) ::close(reader);
  }
  CHECK(wrote.get().find("fifo.npy: cannot be written: a FIFO with no reader") != std::string::npos);
  CHECK(fs::is_fifo(fs::symlink_status(dir / "fifo.npy")));
  loom::write_npy("/dev/null", t);
  CHECK(fs::is_character_file("/dev/null"));

  // A replaced file keeps its mode.
  std::ofstream(dir / "private.npy") << "old";
  fs::permissions(dir / "private.npy", fs::perms::owner_read | fs::perms::owner_write);
  loom::write_npy(dir / "private.npy", t);
  CHECK(fs::status(dir / "private.npy").permissions() == (fs::perms::owner_read | fs::perms::owner_write));

  // A folder is refused; nothing is left beside it.
  fs::create_directories(dir / "folder.npy");
  CHECK_THROWS_WITH_AS(loom::write_npy(dir / "folder.npy", t), doctest::Contains("folder.npy: is a folder"), loom::Error);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().extension() == ".tmp";  // .loom-N.tmp
  CHECK(entries == 0);
  fs::remove_all(dir);
}
