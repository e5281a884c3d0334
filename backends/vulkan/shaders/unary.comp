#version 450
#extension GL_GOOGLE_include_directive : require
// out = f(x) element by element; f is one of activation.glsl's.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ACT = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_o, count, row_groups;
} p;

#include "grid.glsl"
#include "activation.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  o[p.off_o + i] = activate(ACT, x[p.off_x + i]);
}
