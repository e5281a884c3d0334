#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = value, one 32-bit word each: the padding of pad, before its input is copied in.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push {
  uint off_o, count, row_groups, value;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  o[p.off_o + i] = p.value;
}
