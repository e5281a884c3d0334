#version 450
#extension GL_GOOGLE_include_directive : require
// key_mask: out[b, q, k] = 0 where query q of row b sees key k, `fill` where it does not. Key k
// is hidden when k >= valid_length[b] (Tk without the input) and, with causal, when
// k > valid_length[b] - Tq + q. A valid_length outside 0..Tk leaves its value in the status slot
// (flag, low word, high word) for the run to report.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CAUSAL = 0;

layout(std430, set = 0, binding = 0) readonly buffer Length { uint length[]; };
layout(std430, set = 0, binding = 1) writeonly buffer O { float o[]; };
layout(std430, set = 0, binding = 2) buffer Status { uint status[]; };
layout(push_constant) uniform Push {
  uint off_l, off_o, off_s;
  uint count, row_groups, tq, tk, has_length;
  float fill;
} p;

#include "grid.glsl"

void main() {
  uint i = flat_index(p.row_groups);
  if (i >= p.count) return;
  uint k = i % p.tk, r = i / p.tk;
  uint q = r % p.tq, b = r / p.tq;
  uint len = p.tk;
  if (p.has_length != 0u) {
    uint lo = length[p.off_l + 2u * b], hi = length[p.off_l + 2u * b + 1u];
    if (hi != 0u || lo > p.tk) {
      if (atomicCompSwap(status[p.off_s], 0u, 1u) == 0u) {
        status[p.off_s + 1u] = lo;
        status[p.off_s + 2u] = hi;
      }
      return;
    }
    len = lo;
  }
  bool visible = k < len && (CAUSAL == 0u || int(k) <= int(len) - int(p.tq) + int(q));
  o[p.off_o + i] = visible ? 0.0 : p.fill;
}
