// File names made from names that come from data (graph outputs): see file_name_for in io.hpp.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <cstdio>

namespace loom {

namespace {

// Long enough for every real tensor name; short enough that the name, the hash and a suffix
// stay within NAME_MAX (255 bytes) on every common file system.
constexpr size_t kMaxEncoded = 200;

bool needs_escape(unsigned char c, bool first) {
  return c == '/' || c == '\\' || c == '%' || c < 0x20 || c == 0x7f || (first && c == '.');
}

// FNV-1a: a stable hash, so a truncated name maps to the same file in every run.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string file_name_for(std::string_view name, std::string_view suffix) {
  if (name.empty()) throw Error("cannot make a file name from an empty name");
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (!needs_escape(c, i == 0)) {
      out += static_cast<char>(c);
      continue;
    }
    char esc[4];
    std::snprintf(esc, sizeof esc, "%%%02X", c);
    out += esc;
  }
  if (out.size() > kMaxEncoded) {
    // Cut outside an escape; "%~" never comes out of the encoding above, so a shortened name
    // cannot collide with one that was not.
    size_t cut = kMaxEncoded - 18;
    if (out[cut - 1] == '%') cut -= 1;
    else if (out[cut - 2] == '%') cut -= 2;
    // ... and outside a UTF-8 sequence: back over its continuation bytes to the lead byte.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    char hash[19];
    std::snprintf(hash, sizeof hash, "%%~%016llx", static_cast<unsigned long long>(fnv1a(name)));
    out.resize(cut);
    out += hash;
  }
  return out + std::string(suffix);
}

}  // namespace loom
