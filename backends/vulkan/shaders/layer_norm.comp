#version 450
#extension GL_GOOGLE_include_directive : require
// The norms of each row of n elements, one workgroup per row. MODE 0, layer norm: the mean
// first, then the variance around it (two passes, as accurate as the reference for long rows);
// 1, RMS norm: x / sqrt(mean(x^2) + epsilon); 2, L2 normalisation: x / max(||x||, epsilon).
// Weight and bias are optional (RMS norm has no bias, L2 neither).
layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint MODE = 0;
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_w, off_b, off_o;
  uint rows, n, row_groups, has_weight, has_bias;
  float epsilon;
} p;

#include "reduce.glsl"

void main() {
  uint row = gl_WorkGroupID.y * p.row_groups + gl_WorkGroupID.x;
  if (row >= p.rows) return;
  uint t = gl_LocalInvocationID.x;
  uint base = p.off_x + row * p.n;
  float mean = 0.0;
  if (MODE == 0u) {
    float s = 0.0;
    for (uint j = t; j < p.n; j += WG) s += x[base + j];
    mean = workgroup_sum(s) / float(p.n);
  }
  float v = 0.0;
  for (uint j = t; j < p.n; j += WG) {
    float d = x[base + j] - mean;
    v += d * d;
  }
  v = workgroup_sum(v);
  float inv = MODE == 2u ? 1.0 / max(sqrt(v), p.epsilon) : 1.0 / sqrt(v / float(p.n) + p.epsilon);
  uint obase = p.off_o + row * p.n;
  for (uint j = t; j < p.n; j += WG) {
    float y = (x[base + j] - mean) * inv;
    if (p.has_weight != 0) y *= w[p.off_w + j];
    if (p.has_bias != 0) y += b[p.off_b + j];
    o[obase + j] = y;
  }
}
