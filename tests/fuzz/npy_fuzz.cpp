// Any bytes given to the .npy reader either parse, with the whole array readable and writable
// back to the same array, or give loom::Error; anything else is a bug.
#include <loom/error.hpp>
#include <loom/io.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom::Tensor t;
  try {
    t = loom::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  } catch (const loom::Error&) {
    return 0;
  }
  volatile uint8_t sink = 0;
  const auto* bytes = static_cast<const uint8_t*>(t.data());
  for (size_t i = 0; i < t.nbytes(); ++i) sink = sink ^ bytes[i];
  // Every array the reader accepts has a .npy form that reads back to the same array.
  const loom::Tensor again = loom::parse_npy(loom::serialize_npy(t), "fuzz.npy (rewritten)");
  if (again.dtype() != t.dtype() || again.shape() != t.shape() ||
      (t.nbytes() && std::memcmp(again.data(), t.data(), t.nbytes()) != 0))
    std::abort();
  return 0;
}
