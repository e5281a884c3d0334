// What matmul.comp and matvec.comp share: their bindings and push constants (one layout, so that
// ops/matmul.cpp fills the same words for either), B's f16 reads, the batch offsets and the
// store of one element of C with its mode, alpha, bias and activation (matmul.comp's comment).
layout(constant_id = 3) const uint ACT = 0;
layout(constant_id = 4) const uint B_HALF = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { uint bw[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };
layout(push_constant) uniform Push {
  uint off_a, off_b, off_bias, off_c;
  uint M, N, K;
  uint a_sm, a_sk, b_sk, b_sn;
  uint batch_rank;
  uint bdims[3];
  uint a_sb[3];
  uint b_sb[3];
  uint has_bias;
  float alpha;
  uint a_add, b_add, c_add, bias_add, c_sm, c_sb, mode;
} p;
const uint MODE_WHOLE = 0, MODE_FIRST = 1, MODE_MIDDLE = 2, MODE_LAST = 3;

#include "activation.glsl"

float load_b(uint i) {
  if (B_HALF == 0) return uintBitsToFloat(bw[i]);
  vec2 pair = unpackHalf2x16(bw[i >> 1]);
  return (i & 1u) != 0 ? pair.y : pair.x;
}

// Where batch entry `batch` of A and B starts (elements; B's in halves with B_HALF).
uvec2 batch_offsets(uint batch) {
  uint ao = p.off_a + p.a_add, bo = (B_HALF != 0 ? 2 * p.off_b : p.off_b) + p.b_add, r = batch;
  for (int d = int(p.batch_rank) - 1; d >= 0; --d) {
    uint q = r / p.bdims[d];
    uint k = r - q * p.bdims[d];
    ao += k * p.a_sb[d];
    bo += k * p.b_sb[d];
    r = q;
  }
  return uvec2(ao, bo);
}

// C[m, n] of batch entry `batch` from the sum over this dispatch's span of K.
void store_c(uint batch, uint m, uint n, float sum) {
  uint at = p.off_c + p.c_add + batch * p.c_sb + m * p.c_sm + n;
  float v = p.alpha * sum;
  if (p.mode == MODE_MIDDLE || p.mode == MODE_LAST) v += c[at];
  if (p.mode == MODE_FIRST || p.mode == MODE_MIDDLE) {
    c[at] = v;
    return;
  }
  if (p.has_bias != 0) v += bias[p.off_bias + p.bias_add + n];
  c[at] = activate(ACT, v);
}
