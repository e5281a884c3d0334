#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = x[sum(index_d(i) * stride_d)] over 32-bit words: transposes (strides permuted) and
// plain copies (rank 1, stride 1) of any dtype whose elements are whole words.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_o, count, row_groups, rank;
  uint dims[6];
  uint sx[6];
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint ix = 0, r = i;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    uint q = r / p.dims[d];
    ix += (r - q * p.dims[d]) * p.sx[d];
    r = q;
  }
  o[p.off_o + i] = x[p.off_x + ix];
}
