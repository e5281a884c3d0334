#version 450
#extension GL_GOOGLE_include_directive : require
// attention, first half: the probabilities softmax(scale * q . k + mask) of one query row over the
// keys it sees (docs/ops.md: key j of batch row b is seen when j < valid_length[b] and, with
// CAUSAL, j <= valid_length[b] - Tq + i), one workgroup per row [b, h, i], into probs
// [B, H, Tq, Tk] (the run's scratch). Keys the row does not see get probability 0 and cost no
// dot product: a decode step reads only the filled prefix of the caches. A row that sees no key
// gives NaN, as PyTorch. A valid_length outside 0..Tk leaves its value in the status slot.
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CAUSAL = 0;

layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 2) readonly buffer M { float m[]; };
layout(std430, set = 0, binding = 3) readonly buffer L { uint length[]; };
layout(std430, set = 0, binding = 4) buffer P { float probs[]; };
layout(std430, set = 0, binding = 5) buffer Status { uint status[]; };
layout(push_constant) uniform Push {
  uint off_q, off_k, off_m, off_l, off_p, off_s;
  uint rows, row_groups, heads, tq, tk, d, has_mask, has_length;
  float scale;
  uint sm[4];  // the mask's element strides along [B, H, Tq, Tk] (0 where it broadcasts)
} p;

#include "reduce.glsl"

void main() {
  uint row = gl_WorkGroupID.y * p.row_groups + gl_WorkGroupID.x;
  if (row >= p.rows) return;  // uniform across the workgroup: barriers stay uniform
  uint t = gl_LocalInvocationID.x;
  uint i = row % p.tq, bh = row / p.tq;
  uint h = bh % p.heads, b = bh / p.heads;
  uint len = p.tk;
  if (p.has_length != 0u) {
    uint lo = length[p.off_l + 2u * b], hi = length[p.off_l + 2u * b + 1u];
    if (hi != 0u || lo > p.tk) {  // the same for the whole workgroup
      if (t == 0u && atomicCompSwap(status[p.off_s], 0u, 1u) == 0u) {
        status[p.off_s + 1u] = lo;
        status[p.off_s + 2u] = hi;
      }
      return;
    }
    len = lo;
  }
  // Keys 0 .. seen - 1 are the ones this query sees.
  int last = CAUSAL != 0u ? int(len) - int(p.tq) + int(i) : int(len) - 1;
  uint seen = uint(clamp(last + 1, 0, int(len)));
  uint qbase = p.off_q + row * p.d, kbase = p.off_k + bh * p.tk * p.d, pbase = p.off_p + row * p.tk;
  uint mbase = p.off_m + b * p.sm[0] + h * p.sm[1] + i * p.sm[2];
  float mx = -1.0 / 0.0;
  for (uint j = t; j < seen; j += WG) {
    float dot = 0.0;
    for (uint c = 0u; c < p.d; ++c) dot += q[qbase + c] * k[kbase + j * p.d + c];
    float s = p.scale * dot + (p.has_mask != 0u ? m[mbase + j * p.sm[3]] : 0.0);
    probs[pbase + j] = s;  // read back below by this same invocation
    mx = max(mx, s);
  }
  mx = workgroup_max(mx);
  float sum = 0.0;
  for (uint j = t; j < seen; j += WG) sum += exp(probs[pbase + j] - mx);
  sum = workgroup_sum(sum);
  // No key seen: NaN for the whole row (0 / 0 on the device may be folded, the bits are not).
  float nan = uintBitsToFloat(0x7fc00000u);
  for (uint j = t; j < p.tk; j += WG) probs[pbase + j] = seen == 0u ? nan : j < seen ? exp(probs[pbase + j] - mx) / sum : 0.0;
}
