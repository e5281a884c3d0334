// The SPIR-V of shaders/*.comp, compiled by glslc at build time (CMakeLists.txt generates the
// table in shader_table.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace loom::vulkan {

struct ShaderCode {
  const char* name;  // the file name without .comp
  const uint32_t* words;
  size_t count;
};

std::span<const ShaderCode> shader_table();

}  // namespace loom::vulkan
