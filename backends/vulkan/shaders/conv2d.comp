#version 450
#extension GL_GOOGLE_include_directive : require
// conv2d (F.conv2d's cross-correlation, zero padding): one invocation per output element
// out[b, f, i, j], which sums its window over every input channel and adds the bias.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_w, off_b, off_o, count, row_groups;
  uint channels, height, width;  // of x
  uint filters, out_h, out_w;
  uint kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, has_bias;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint col = i % p.out_w, r = i / p.out_w;
  uint row = r % p.out_h;
  r /= p.out_h;
  uint f = r % p.filters, b = r / p.filters;
  float sum = 0.0;
  for (uint c = 0u; c < p.channels; ++c) {
    uint xbase = p.off_x + (b * p.channels + c) * p.height * p.width;
    uint wbase = p.off_w + (f * p.channels + c) * p.kernel_h * p.kernel_w;
    for (uint ky = 0u; ky < p.kernel_h; ++ky) {
      int y = int(row * p.stride_h + ky) - int(p.pad_h);
      if (y < 0 || y >= int(p.height)) continue;
      for (uint kx = 0u; kx < p.kernel_w; ++kx) {
        int xx = int(col * p.stride_w + kx) - int(p.pad_w);
        if (xx < 0 || xx >= int(p.width)) continue;
        sum += x[xbase + uint(y) * p.width + uint(xx)] * w[wbase + ky * p.kernel_w + kx];
      }
    }
  }
  if (p.has_bias != 0u) sum += bias[p.off_b + f];
  o[p.off_o + i] = sum;
}
