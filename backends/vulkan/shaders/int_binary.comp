#version 450
#extension GL_GOOGLE_include_directive : require
// out = a OP b on i32 or i64 (WORDS 1 or 2: an i64 is two 32-bit words, low first) with NumPy
// broadcasting, as binary.comp. Arithmetic wraps; division truncates toward zero (torch's
// rounding_mode="trunc"), and a zero divisor leaves the status slot set for the run to report,
// its output unwritten. i64 needs no shaderInt64: carries and the long division are done on
// the words.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;     // 0 add, 1 sub, 2 mul, 3 div
layout(constant_id = 2) const uint WORDS = 2;  // 1: i32, 2: i64

layout(std430, set = 0, binding = 0) readonly buffer A { uint a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { uint b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer O { uint o[]; };
layout(std430, set = 0, binding = 3) buffer Status { uint status[]; };  // read only by div
layout(push_constant) uniform Push {
  uint off_a, off_b, off_o, off_s;
  uint count, row_groups, rank;
  uint dims[6];
  uint sa[6];
  uint sb[6];
} p;

#include "grid.glsl"

// Two's complement negation of a 64-bit (low, high) pair.
uvec2 neg64(uvec2 x) {
  uint borrow;
  uint lo = usubBorrow(0u, x.x, borrow);
  return uvec2(lo, 0u - x.y - borrow);
}

// Unsigned 64-bit quotient n / d (d != 0), one bit at a time.
uvec2 udiv64(uvec2 n, uvec2 d) {
  uvec2 q = uvec2(0u), r = uvec2(0u);
  for (int i = 63; i >= 0; --i) {
    r = uvec2(r.x << 1, (r.y << 1) | (r.x >> 31));
    r.x |= (i >= 32 ? (n.y >> uint(i - 32)) : (n.x >> uint(i))) & 1u;
    if (r.y > d.y || (r.y == d.y && r.x >= d.x)) {
      uint borrow;
      r.x = usubBorrow(r.x, d.x, borrow);
      r.y = r.y - d.y - borrow;
      if (i >= 32) q.y |= 1u << uint(i - 32);
      else q.x |= 1u << uint(i);
    }
  }
  return q;
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
  // Operands as (low, high) words; an i32 is sign-extended so that one path serves both.
  uvec2 x, y;
  if (WORDS == 2u) {
    x = uvec2(a[p.off_a + 2u * ia], a[p.off_a + 2u * ia + 1u]);
    y = uvec2(b[p.off_b + 2u * ib], b[p.off_b + 2u * ib + 1u]);
  } else {
    uint xa = a[p.off_a + ia], yb = b[p.off_b + ib];
    x = uvec2(xa, int(xa) < 0 ? 0xffffffffu : 0u);
    y = uvec2(yb, int(yb) < 0 ? 0xffffffffu : 0u);
  }
  uvec2 z;
  if (OP == 0u) {
    uint carry;
    z.x = uaddCarry(x.x, y.x, carry);
    z.y = x.y + y.y + carry;
  } else if (OP == 1u) {
    uint borrow;
    z.x = usubBorrow(x.x, y.x, borrow);
    z.y = x.y - y.y - borrow;
  } else if (OP == 2u) {
    uint hi, lo;
    umulExtended(x.x, y.x, hi, lo);
    z = uvec2(lo, hi + x.x * y.y + x.y * y.x);
  } else {
    bool zero = WORDS == 2u ? (y.x == 0u && y.y == 0u) : y.x == 0u;
    if (zero) {
      atomicCompSwap(status[p.off_s], 0u, 1u);
      return;
    }
    bool nx = int(x.y) < 0, ny = int(y.y) < 0;
    z = udiv64(nx ? neg64(x) : x, ny ? neg64(y) : y);
    if (nx != ny) z = neg64(z);
  }
  if (WORDS == 2u) {
    o[p.off_o + 2u * i] = z.x;
    o[p.off_o + 2u * i + 1u] = z.y;
  } else {
    o[p.off_o + i] = z.x;
  }
}
