#version 450
#extension GL_GOOGLE_include_directive : require
// cast between f32, i32 and i64 (i64 as two 32-bit words, low first), and from u8 (four to a
// word, the first in the low byte; a u8 tensor starts on a word, as every tensor the backend
// binds does) to those three, as docs/ops.md says:
// float to integer truncates toward zero, NaN becomes 0 and values out of range saturate;
// integer to integer keeps the low bits; integer to float rounds to nearest.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FROM = 0;  // 0 f32, 1 i32, 2 i64, 3 u8 (FROM only)
layout(constant_id = 2) const uint TO = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push {
  uint off_x, off_o, count, row_groups;
} p;

#include "grid.glsl"

const float TWO32 = 4294967296.0;

// The 64-bit two's complement negation of (lo, hi).
uvec2 negate64(uvec2 v) {
  uint lo = ~v.x + 1u;
  return uvec2(lo, ~v.y + (lo == 0u ? 1u : 0u));
}

float i64_to_float(uvec2 v) {
  bool negative = (v.y & 0x80000000u) != 0u;
  uvec2 m = negative ? negate64(v) : v;
  float f;
  if (m.y == 0u) {
    f = float(m.x);  // conversions round correctly
  } else {
    // The top 32 bits with a sticky bit for anything below, so that rounding them rounds the
    // whole 64-bit value; then scaled back exactly.
    int shift = findMSB(m.y) + 1;
    uint top = (m.y << (32 - shift)) | (shift == 32 ? 0u : (m.x >> shift));
    uint rest = shift == 32 ? m.x : (m.x << (32 - shift));
    if (rest != 0u) top |= 1u;
    f = ldexp(float(top), shift);
  }
  return negative ? -f : f;
}

uvec2 float_to_i64(float f) {
  if (isnan(f)) return uvec2(0u);
  if (f >= 9223372036854775808.0) return uvec2(0xffffffffu, 0x7fffffffu);
  if (f < -9223372036854775808.0) return uvec2(0u, 0x80000000u);
  float m = trunc(abs(f));
  uint hi = uint(floor(m / TWO32));
  uint lo = uint(m - float(hi) * TWO32);  // exact: m is whole and above 2^24 its low bits are 0
  uvec2 v = uvec2(lo, hi);
  return f < 0.0 ? negate64(v) : v;
}

int float_to_i32(float f) {
  if (isnan(f)) return 0;
  if (f >= 2147483648.0) return 2147483647;
  if (f < -2147483648.0) return -2147483647 - 1;
  return int(trunc(f));
}

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint in_words = FROM == 2u ? 2u : 1u, out_words = TO == 2u ? 2u : 1u;
  uint xi = p.off_x + i * in_words, oi = p.off_o + i * out_words;
  uvec2 v = FROM == 3u ? uvec2((x[p.off_x + i / 4u] >> (8u * (i % 4u))) & 0xffu, 0u)
                       : uvec2(x[xi], in_words == 2u ? x[xi + 1u] : 0u);  // a u8 converts as the i64 it equals
  if (FROM == TO) {
    o[oi] = v.x;
    if (out_words == 2u) o[oi + 1u] = v.y;
    return;
  }
  if (TO == 0u) {
    float f = FROM == 1u ? float(int(v.x)) : i64_to_float(v);
    o[oi] = floatBitsToUint(f);
  } else if (TO == 1u) {
    o[oi] = FROM == 0u ? uint(float_to_i32(uintBitsToFloat(v.x))) : v.x;  // i64 to i32 keeps the low word
  } else {
    uvec2 r = FROM == 0u ? float_to_i64(uintBitsToFloat(v.x)) : uvec2(v.x, int(v.x) < 0 ? 0xffffffffu : 0u);
    o[oi] = r.x;
    o[oi + 1u] = r.y;
  }
}
