#version 450
#extension GL_GOOGLE_include_directive : require
// attention, second half: out[b, h, i, c] = sum over the keys j the row sees of probs[b, h, i, j]
// * v[b, h, j, c], one invocation per output element; attention_probs.comp made the
// probabilities (NaN for a row that sees no key) and checked the valid lengths, so only the
// keys below seen (clamped to Tk) are read.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CAUSAL = 0;

layout(std430, set = 0, binding = 0) readonly buffer P { float probs[]; };
layout(std430, set = 0, binding = 1) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 2) readonly buffer L { uint length[]; };
layout(std430, set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
  uint off_p, off_v, off_l, off_o;
  uint count, row_groups, heads, tq, tk, dv, has_length;
} p;

#include "grid.glsl"

void main() {
  uint e = flat_index(p.row_groups);
  if (e >= p.count) return;
  uint c = e % p.dv, row = e / p.dv;
  uint i = row % p.tq, bh = row / p.tq, b = bh / p.heads;
  uint len = p.tk;
  if (p.has_length != 0u) {
    uint lo = length[p.off_l + 2u * b], hi = length[p.off_l + 2u * b + 1u];
    len = hi != 0u ? 0u : min(lo, p.tk);  // out of range: the run fails (attention_probs.comp)
  }
  int last = CAUSAL != 0u ? int(len) - int(p.tq) + int(i) : int(len) - 1;
  uint seen = uint(clamp(last + 1, 0, int(len)));
  uint pbase = p.off_p + row * p.tk, vbase = p.off_v + bh * p.tk * p.dv + c;
  float acc = seen == 0u ? uintBitsToFloat(0x7fc00000u) : 0.0;  // NaN when the row sees no key
  for (uint j = 0u; j < seen; ++j) acc += probs[pbase + j] * v[vbase + j * p.dv];
  o[p.off_o + e] = acc;
}
