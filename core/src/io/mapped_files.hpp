// The read-only file mappings of weights files (SafetensorsFile maps each one), so that the
// engine can give back the pages of a constant once a backend keeps its own copy of it (the
// packed-constant cache, docs/architecture.md "Weights"). A page of a private, never written
// file mapping that is given back is read again from the file if anything touches it later:
// giving it back changes no value, only what stays resident.
#pragma once

#include <cstddef>

namespace loom::io {

void register_mapping(const void* base, size_t size);
void unregister_mapping(const void* base);

// Gives back the whole pages inside [data, data + bytes) when the range lies in one registered
// mapping; returns the bytes given back (0 for memory that is not such a mapping).
size_t release_mapped_pages(const void* data, size_t bytes);

}  // namespace loom::io
