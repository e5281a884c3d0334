#version 450
#extension GL_GOOGLE_include_directive : require
// reduce_mean: one invocation per output element, which sums the input over the reduced dims
// (their sizes and element strides) from where its kept dims put it, and divides by their count.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_o, count, row_groups, kept_rank, reduced_rank, reduced_count;
  uint kdims[6];
  uint ks[6];
  uint rdims[6];
  uint rs[6];
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint base = p.off_x, r = i;
  for (int d = int(p.kept_rank) - 1; d >= 0; --d) {
    uint q = r / p.kdims[d];
    base += (r - q * p.kdims[d]) * p.ks[d];
    r = q;
  }
  float sum = 0.0;
  for (uint e = 0u; e < p.reduced_count; ++e) {
    uint at = base, k = e;
    for (int d = int(p.reduced_rank) - 1; d >= 0; --d) {
      uint q = k / p.rdims[d];
      at += (k - q * p.rdims[d]) * p.rs[d];
      k = q;
    }
    sum += x[at];
  }
  o[p.off_o + i] = sum / float(p.reduced_count);
}
