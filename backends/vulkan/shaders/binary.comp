#version 450
#extension GL_GOOGLE_include_directive : require
// out = a OP b with NumPy broadcasting: the output's (collapsed) dims, and each input's element
// strides along them (0 where it broadcasts).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;  // 0 add, 1 sub, 2 mul, 3 div

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_a, off_b, off_o;  // element offsets of the tensors in their bindings
  uint count, row_groups, rank;
  uint dims[6];
  uint sa[6];
  uint sb[6];
} p;

#include "grid.glsl"

// x / y rounded as IEEE division rounds (as PyTorch and the CPU backends give it). Vulkan lets a
// shader's division be off by 2.5 ulp, and NVIDIA's is off by up to 2: one correction on the
// residual, which the fused x - q*y gives exactly, brings q to the correctly rounded quotient.
// Left as it is where q is infinite, NaN or zero, or y infinite (the residual is not finite there).
float divide(float x, float y) {
  precise float q = x / y;
  if (isinf(q) || isnan(q) || q == 0.0 || isinf(y)) return q;
  precise float r = fma(-q, y, x);
  precise float c = fma(r, 1.0 / y, q);
  return c;
}

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint ia = 0, ib = 0, r = i;
  for (int d = int(p.rank) - 1; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    ia += k * p.sa[d];
    ib += k * p.sb[d];
    r = q;
  }
  float x = a[p.off_a + ia], y = b[p.off_b + ib];
  float z;
  if (OP == 0) z = x + y;
  else if (OP == 1) z = x - y;
  else if (OP == 2) z = x * y;
  else z = divide(x, y);
  o[p.off_o + i] = z;
}
