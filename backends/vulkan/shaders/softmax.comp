#version 450
#extension GL_GOOGLE_include_directive : require
// Softmax over the last axis, one workgroup per row, with an optional additive mask that
// broadcasts to x: the mask's element strides along the row dims and along the last axis.
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer M { float m[]; };
layout(std430, set = 0, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_m, off_o;
  uint rows, n, row_groups, has_mask, rank;  // rank: how many row dims
  uint dims[5];
  uint sm[5];
  uint sm_col;
} p;

#include "reduce.glsl"

void main() {
  uint row = gl_WorkGroupID.y * p.row_groups + gl_WorkGroupID.x;
  if (row >= p.rows) return;  // uniform across the workgroup: barriers stay uniform
  uint t = gl_LocalInvocationID.x;
  uint base = p.off_x + row * p.n;
  uint mbase = p.off_m;
  if (p.has_mask != 0) {
    uint r = row;
    for (int d = int(p.rank) - 1; d >= 0; --d) {
      uint q = r / p.dims[d];
      mbase += (r - q * p.dims[d]) * p.sm[d];
      r = q;
    }
  }
  float mx = -1.0 / 0.0;
  for (uint j = t; j < p.n; j += WG) {
    float v = x[base + j] + (p.has_mask != 0 ? m[mbase + j * p.sm_col] : 0.0);
    mx = max(mx, v);
  }
  mx = workgroup_max(mx);
  float sum = 0.0;
  for (uint j = t; j < p.n; j += WG) {
    float v = x[base + j] + (p.has_mask != 0 ? m[mbase + j * p.sm_col] : 0.0);
    sum += exp(v - mx);
  }
  sum = workgroup_sum(sum);
  uint obase = p.off_o + row * p.n;
  for (uint j = t; j < p.n; j += WG) {
    float v = x[base + j] + (p.has_mask != 0 ? m[mbase + j * p.sm_col] : 0.0);
    o[obase + j] = exp(v - mx) / sum;
  }
}
