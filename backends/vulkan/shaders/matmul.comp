#version 450
#extension GL_GOOGLE_include_directive : require
// C[batch] = act(alpha * A[batch] . B[batch] + bias), tiled through shared memory: a workgroup
// of TX x TY invocations computes a (2 TY) x (2 TX) tile of C, each invocation 2 x 2 elements,
// stepping through K by TK. A and B are read through element strides, so transposed operands
// and a linear's [N, K] weight need no copy; leading batch dims broadcast through their strides.
// An operand larger than one binding can reach is split over several dispatches (ops/matmul.cpp):
// each computes the block of C at rows m0, columns n0 over the span of K at k0, which the host
// folds into a_add, b_add, c_add and bias_add (element offsets into the bound chunks); M, N and K
// are the block's, c_sm and c_sb the whole C's strides. A K split over several dispatches sums
// into C: MODE_FIRST writes alpha * A.B, MODE_MIDDLE adds to it, MODE_LAST adds, then the bias
// and the activation. With B_HALF, B is IEEE f16 packed two to a 32-bit word (precision=f16:
// a constant weight, ops/matmul.cpp), read through unpackHalf2x16: its offsets and strides count
// halves, off_b (the recording's element offset) still words; the sums stay f32.
layout(constant_id = 0) const uint TX = 16;
layout(constant_id = 1) const uint TY = 16;
layout(constant_id = 2) const uint TK = 16;
layout(local_size_x_id = 0, local_size_y_id = 1) in;
const uint TM = 2 * TY;
const uint TN = 2 * TX;
// Rows of the tiles in shared memory, one longer than the tile: the loads below run along K
// where the operand is contiguous along K, and a row of exactly 32 words would put them all in
// one bank.
const uint TMP = TM + 1;
const uint TNP = TN + 1;

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

shared float As[TK * TMP];  // As[k * TMP + m]
shared float Bs[TK * TNP];  // Bs[k * TNP + n]

void main() {
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint tid = ty * TX + tx;
  uint m0 = gl_WorkGroupID.y * TM, n0 = gl_WorkGroupID.x * TN;
  uint batch = gl_WorkGroupID.z;
  uvec2 o = batch_offsets(batch);
  uint ao = o.x, bo = o.y;
  // Each tile is loaded along the dim its operand is contiguous in (K for A in rows and for a
  // linear's [N, K] weight), so that neighbouring invocations read neighbouring words.
  bool a_along_k = p.a_sk == 1u, b_along_k = p.b_sk == 1u && p.b_sn != 1u;
  float acc00 = 0.0, acc01 = 0.0, acc10 = 0.0, acc11 = 0.0;
  for (uint k0 = 0; k0 < p.K; k0 += TK) {
    for (uint e = tid; e < TM * TK; e += TX * TY) {
      uint mm = a_along_k ? e / TK : e % TM, kk = a_along_k ? e % TK : e / TM;
      uint gm = m0 + mm, gk = k0 + kk;
      As[kk * TMP + mm] = (gm < p.M && gk < p.K) ? a[ao + gm * p.a_sm + gk * p.a_sk] : 0.0;
    }
    for (uint e = tid; e < TK * TN; e += TX * TY) {
      uint kk = b_along_k ? e % TK : e / TN, nn = b_along_k ? e / TK : e % TN;
      uint gk = k0 + kk, gn = n0 + nn;
      Bs[kk * TNP + nn] = (gk < p.K && gn < p.N) ? load_b(bo + gk * p.b_sk + gn * p.b_sn) : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < TK; ++kk) {
      float a0 = As[kk * TMP + ty], a1 = As[kk * TMP + ty + TY];
      float b0 = Bs[kk * TNP + tx], b1 = Bs[kk * TNP + tx + TX];
      acc00 += a0 * b0;
      acc01 += a0 * b1;
      acc10 += a1 * b0;
      acc11 += a1 * b1;
    }
    barrier();
  }
  float acc[4] = float[4](acc00, acc01, acc10, acc11);
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 2; ++j) {
      uint m = m0 + ty + i * TY, n = n0 + tx + j * TX;
      if (m < p.M && n < p.N) store_c(batch, m, n, acc[i * 2 + j]);
    }
}
