#version 450
#extension GL_GOOGLE_include_directive : require
// argmax and topk along an axis, one workgroup per row of the axis (rows: outer x inner). Pass r
// finds the element that comes first, in torch's order, among those after pass r-1's: NaN
// above every number, then larger values, then the lower index among equals. That order is
// total, so k passes give the k largest sorted, each pass a scan split over the workgroup and a
// tree reduction. Values are compared in their dtype and copied as words (NaN payloads kept).
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DTYPE = 0;  // 0 f32, 1 i32, 2 i64

layout(std430, set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer V { uint values[]; };
layout(std430, set = 0, binding = 2) writeonly buffer I { uint indices[]; };
layout(push_constant) uniform Push {
  uint off_x, off_v, off_i;
  uint rows, row_groups, n, inner, k, has_values;
} p;

const uint WORDS = DTYPE == 2u ? 2u : 1u;
const uint NONE = 0xffffffffu;  // no candidate

shared uvec3 best[WG];  // value words (low, high) and index

bool is_nan(uint bits) { return (bits & 0x7fffffffu) > 0x7f800000u; }

// Whether value a is above value b: NaN above every number, two NaNs equal.
bool above(uvec2 a, uvec2 b) {
  if (DTYPE == 0u) {
    if (is_nan(a.x)) return !is_nan(b.x);
    if (is_nan(b.x)) return false;
    return uintBitsToFloat(a.x) > uintBitsToFloat(b.x);
  }
  if (DTYPE == 1u) return int(a.x) > int(b.x);
  return int(a.y) > int(b.y) || (a.y == b.y && a.x > b.x);
}

// Whether (a, index ia) comes before (b, ib) in the order; no candidate comes after everything.
bool before(uvec3 a, uvec3 b) {
  if (a.z == NONE) return false;
  if (b.z == NONE) return true;
  return above(a.xy, b.xy) || (!above(b.xy, a.xy) && a.z < b.z);
}

void main() {
  uint row = gl_WorkGroupID.y * p.row_groups + gl_WorkGroupID.x;
  if (row >= p.rows) return;  // uniform across the workgroup: barriers stay uniform
  uint t = gl_LocalInvocationID.x;
  uint outer = row / p.inner, j = row - outer * p.inner;
  uint base = outer * p.n * p.inner + j;  // element of index 0 along the axis
  uint obase = outer * p.k * p.inner + j;
  uvec3 prev = uvec3(0u, 0u, NONE);
  for (uint r = 0u; r < p.k; ++r) {
    uvec3 mine = uvec3(0u, 0u, NONE);
    for (uint i = t; i < p.n; i += WG) {
      uint e = p.off_x + (base + i * p.inner) * WORDS;
      uvec3 c = uvec3(x[e], WORDS == 2u ? x[e + 1u] : 0u, i);
      if ((prev.z == NONE || before(prev, c)) && before(c, mine)) mine = c;
    }
    best[t] = mine;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
      if (t < s && before(best[t + s], best[t])) best[t] = best[t + s];
      barrier();
    }
    prev = best[0];
    barrier();
    if (t == 0u) {
      uint at = obase + r * p.inner;
      if (p.has_values != 0u) {
        values[p.off_v + at * WORDS] = prev.x;
        if (WORDS == 2u) values[p.off_v + at * WORDS + 1u] = prev.y;
      }
      indices[p.off_i + 2u * at] = prev.z;
      indices[p.off_i + 2u * at + 1u] = 0u;
    }
  }
}
