// loom::file_name_for: every name from a graph becomes one file name inside the chosen folder.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

using loom::file_name_for;

TEST_CASE("file names: ordinary names are kept") {
  CHECK(file_name_for("last_hidden_state", ".npy") == "last_hidden_state.npy");
  CHECK(file_name_for("layer.0.out") == "layer.0.out");
  CHECK(file_name_for("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 kept as is
}

TEST_CASE("file names: names that would leave the folder are encoded") {
  CHECK(file_name_for("../../x", ".npy") == "%2E.%2F..%2Fx.npy");
  CHECK(file_name_for("/tmp/x") == "%2Ftmp%2Fx");
  CHECK(file_name_for("..") == "%2E.");
  CHECK(file_name_for(".") == "%2E");
  CHECK(file_name_for(".hidden") == "%2Ehidden");
  CHECK(file_name_for("a\\b") == "a%5Cb");
  CHECK(file_name_for("100%") == "100%25");
  CHECK(file_name_for(std::string("a\nb\x7f\0c", 6)) == "a%0Ab%7F%00c");
  for (const char* name : {"../../x", "/tmp/x", "..", ".", "a/../../b", "/", "//"}) {
    const std::filesystem::path p = std::filesystem::path("out") / file_name_for(name, ".npy");
    CHECK(p.parent_path() == "out");
    CHECK(p.filename() != "..");
    CHECK(p.lexically_normal().parent_path() == "out");
  }
}

TEST_CASE("file names: distinct names give distinct files") {
  std::set<std::string> files;
  const char* names[] = {"a/b", "a%2Fb", "a%b", "a%25b", ".a", "%2Ea", "a", "A"};
  for (const char* n : names) files.insert(file_name_for(n));
  CHECK(files.size() == std::size(names));
}

TEST_CASE("file names: long names stay within the file system's limit") {
  const std::string a(300, 'a'), b = std::string(299, 'a') + "b", slashes(150, '/');
  const std::string fa = file_name_for(a, ".npy"), fb = file_name_for(b, ".npy"), fs = file_name_for(slashes);
  CHECK(fa.size() <= 255);
  CHECK(fs.size() <= 255);
  CHECK(fa != fb);
  CHECK(fa.find("%~") != std::string::npos);
  CHECK(fa == file_name_for(a, ".npy"));  // stable
  CHECK(fs.find('/') == std::string::npos);
  // An escape is never cut in half: every '%' is followed by two hex digits or by the "~" mark.
  for (size_t i = fs.find('%'); i != std::string::npos; i = fs.find('%', i + 1))
    CHECK((fs.compare(i, 3, "%2F") == 0 || fs.compare(i, 2, "%~") == 0));
  CHECK(file_name_for(std::string(200, 'x')) == std::string(200, 'x'));
  // Nor a UTF-8 sequence: "é" (2 bytes) or "€" (3) across the cut at 182 bytes is left out whole.
  for (const std::string& ch : {std::string("\xC3\xA9"), std::string("\xE2\x82\xAC")})
    for (size_t lead = 179; lead <= 182; ++lead) {
      std::string name = std::string(lead, 'n') + ch;
      name += std::string(300 - name.size(), 'z');
      const std::string f = file_name_for(name);
      const size_t mark = f.find("%~");
      REQUIRE(mark != std::string::npos);
      const std::string kept = f.substr(0, mark);
      CHECK(kept == name.substr(0, kept.size()));
      CHECK((kept.size() == lead || (kept.size() >= lead + ch.size() && kept.compare(lead, ch.size(), ch) == 0)));
    }
}

TEST_CASE("file names: an empty name is refused") {
  CHECK_THROWS_AS(file_name_for(""), loom::Error);
}
