#version 450
#extension GL_GOOGLE_include_directive : require
// gather: out[o, t, w] = data[o, index[t], w] over 32-bit words, and gather_rows (ROWS):
// out[b, w] = data[b, index[b], w] (w walks `inner` words: the dims
// after the axis, times two for i64 data). Negative indices count from the end; an index outside
// [-n, n) leaves its value in the status slot (flag, low word, high word) for the run to report,
// and its output is left unwritten. Data larger than one binding can reach is split along its
// outermost dim over several dispatches: each binds the chunk of words [base, base + len) of the
// data and writes the outputs that read from it (every dispatch checks every index; an f16 chunk
// that starts a half early also writes, with the same value, the output of that half). HALF:
// the data is an f32 constant stored as f16, two halves to a word (precision=f16): element e is
// the low (even e) or high half of word e / 2, and base, len and inner count halves.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint INDEX64 = 1;  // i64 indices, else i32
layout(constant_id = 2) const uint ROWS = 0;     // gather_rows: out[b, w] = data[b, index[b], w]
layout(constant_id = 3) const uint HALF = 0;     // f16 data read into f32 outputs

layout(std430, set = 0, binding = 0) readonly buffer Data { uint data[]; };
layout(std430, set = 0, binding = 1) readonly buffer Index { uint index[]; };
layout(std430, set = 0, binding = 2) writeonly buffer O { uint o[]; };
layout(std430, set = 0, binding = 3) buffer Status { uint status[]; };
layout(push_constant) uniform Push {
  uint off_d, off_i, off_o, off_s;
  uint count, row_groups, tokens, inner, n;
  uint base, len;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint w = i % p.inner, r = i / p.inner;
  uint t = r % p.tokens, outer = ROWS != 0u ? t : r / p.tokens;
  uint lo = index[p.off_i + (INDEX64 != 0u ? 2u * t : t)];
  uint hi = INDEX64 != 0u ? index[p.off_i + 2u * t + 1u] : (int(lo) < 0 ? 0xffffffffu : 0u);
  uint j;
  if (hi == 0u && lo < p.n) {
    j = lo;
  } else if (hi == 0xffffffffu && lo >= -p.n && p.n != 0u) {
    j = lo + p.n;  // lo - 2^32 + n, modulo 2^32
  } else {
    if (atomicCompSwap(status[p.off_s], 0u, 1u) == 0u) {
      status[p.off_s + 1u] = lo;
      status[p.off_s + 2u] = hi;
    }
    return;
  }
  uint e = (outer * p.n + j) * p.inner + w - p.base;
  if (e >= p.len) return;  // in another chunk's dispatch
  if (HALF != 0u) {
    const vec2 h = unpackHalf2x16(data[p.off_d + e / 2u]);
    o[p.off_o + i] = floatBitsToUint((e & 1u) != 0u ? h.y : h.x);
  } else {
    o[p.off_o + i] = data[p.off_d + e];
  }
}
