// Any bytes given to the safetensors reader either parse, with every tensor's bytes readable,
// or give loom::Error; anything else (a crash, another exception, a sanitizer report) is a bug.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = loom::SafetensorsFile::from_bytes(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const auto& entry : file->entries()) {
      const loom::Tensor t = file->tensor(entry.name);
      const auto* bytes = static_cast<const uint8_t*>(t.data());
      for (size_t i = 0; i < t.nbytes(); ++i) sink = sink ^ bytes[i];
    }
    for (const auto& [key, value] : file->metadata()) sink = sink ^ static_cast<uint8_t>(key.size() + value.size());
  } catch (const loom::Error&) {
  }
  return 0;
}
