#version 450
#extension GL_GOOGLE_include_directive : require
// cache_write: the cache [batch, mid, len, inner] (mid: the dims between the batch and the axis,
// inner: the words after the axis, two per i64) with update [batch, mid, t, inner] written at
// positions offset[b] .. offset[b] + t - 1 of batch row b. FULL: one invocation per word of
// the output, which takes the cache's word or the update's (the host gave a separate output);
// else one invocation per word of the update, written into the output, which is the cache
// itself (in place: only the new rows move). Every invocation first checks every row's i64
// offset, so that a bad one writes nothing and leaves its value in the status slot.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FULL = 0;

layout(std430, set = 0, binding = 0) readonly buffer Cache { uint cache[]; };
layout(std430, set = 0, binding = 1) readonly buffer Update { uint update[]; };
layout(std430, set = 0, binding = 2) readonly buffer Offset { uint offset[]; };
layout(std430, set = 0, binding = 3) buffer O { uint o[]; };
layout(std430, set = 0, binding = 4) buffer Status { uint status[]; };
layout(push_constant) uniform Push {
  uint off_c, off_u, off_offset, off_o, off_s;
  uint count, row_groups, batch, mid, len, t, inner;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  // The first row whose offset leaves no room for t positions (same for every invocation).
  for (uint b = 0u; b < p.batch; ++b) {
    uint lo = offset[p.off_offset + 2u * b], hi = offset[p.off_offset + 2u * b + 1u];
    if (hi != 0u || lo > p.len - p.t) {
      if (atomicCompSwap(status[p.off_s], 0u, 1u) == 0u) {
        status[p.off_s + 1u] = lo;
        status[p.off_s + 2u] = hi;
      }
      return;
    }
  }
  uint w = i % p.inner, r = i / p.inner;
  if (FULL != 0u) {
    uint pos = r % p.len, slab = r / p.len;
    uint start = offset[p.off_offset + 2u * (slab / p.mid)];
    o[p.off_o + i] = pos >= start && pos - start < p.t ? update[p.off_u + (slab * p.t + pos - start) * p.inner + w]
                                                         : cache[p.off_c + i];
  } else {
    uint k = r % p.t, slab = r / p.t;
    uint start = offset[p.off_offset + 2u * (slab / p.mid)];
    o[p.off_o + (slab * p.len + start + k) * p.inner + w] = update[p.off_u + i];
  }
}
