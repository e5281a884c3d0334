#version 450
#extension GL_GOOGLE_include_directive : require
// positions: i64 out[r, k] = offset[r] + k (one row, or one per batch row with per_row), written
// as two 32-bit words with the carry.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer Offset { uint offset[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push {
  uint off_offset, off_o, count, row_groups, n, has_offset;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint r = i / p.n, k = i - r * p.n;
  uint lo = 0u, hi = 0u;
  if (p.has_offset != 0u) {
    lo = offset[p.off_offset + 2u * r];
    hi = offset[p.off_offset + 2u * r + 1u];
  }
  uint sum = lo + k;
  o[p.off_o + 2u * i] = sum;
  o[p.off_o + 2u * i + 1u] = hi + (sum < lo ? 1u : 0u);
}
