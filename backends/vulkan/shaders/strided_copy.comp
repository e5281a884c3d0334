#version 450
#extension GL_GOOGLE_include_directive : require
// out[base_o + sum(index_d(i) * so_d)] = x[base_x + sum(index_d(i) * sx_d)] over 32-bit words:
// reshape (one dim), transpose (permuted input strides), slice (a base and a stepped stride) and
// concat (each input into its block of the output), for any dtype whose elements are whole words.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_o, count, row_groups, rank, base_x, base_o;
  uint dims[6];
  uint sx[6];
  uint so[6];
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint ix = p.base_x, io = p.base_o, r = i;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    ix += k * p.sx[d];
    io += k * p.so[d];
    r = q;
  }
  o[p.off_o + io] = x[p.off_x + ix];
}
