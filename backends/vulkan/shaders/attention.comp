#version 450
#extension GL_GOOGLE_include_directive : require
// attention in one dispatch, flash-style: out = softmax(scale * q . k + mask) . v over the keys
// each query sees (docs/ops.md: key j of batch row b is seen when j < valid_length[b] and, with
// CAUSAL, j <= valid_length[b] - Tq + i). A workgroup takes BQ query rows of one [b, h], WG / BQ
// invocations a row, and walks the keys in tiles of BK rows of k and v copied into shared memory:
// each invocation scores a few keys of its row, the row's maximum and sum are updated online
// (the running maximum mx and sum; the output so far is rescaled by exp(mx_old - mx_new)), and
// each invocation adds the tile's weighted v to the output elements of its row it owns. The scores
// never leave shared memory. Keys past the last one a row of the workgroup sees are not read: a
// decode step reads only the filled prefix of the caches. A row that sees no key (or whose every
// score is -inf) gives NaN, as PyTorch. A valid_length outside 0..Tk leaves its value in the
// status slot and the workgroup writes nothing (the run fails).
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CAUSAL = 0;
layout(constant_id = 2) const uint BQ = 16;    // query rows a workgroup (a power of two <= WG)
layout(constant_id = 3) const uint BK = 32;    // keys a tile
layout(constant_id = 4) const uint DMAX = 64;  // the largest head size (of q . k and of v) served
const uint TPR = WG / BQ;                      // invocations a row
const uint SPT = (BK + TPR - 1) / TPR;         // scores an invocation a tile
const uint OPT = (DMAX + TPR - 1) / TPR;       // output elements an invocation

layout(std430, set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(std430, set = 0, binding = 1) readonly buffer K { float k[]; };
layout(std430, set = 0, binding = 2) readonly buffer V { float v[]; };
layout(std430, set = 0, binding = 3) readonly buffer M { float m[]; };
layout(std430, set = 0, binding = 4) readonly buffer L { uint length[]; };
layout(std430, set = 0, binding = 5) writeonly buffer O { float o[]; };
layout(std430, set = 0, binding = 6) buffer Status { uint status[]; };
layout(push_constant) uniform Push {
  uint off_q, off_k, off_v, off_m, off_l, off_o, off_s;
  uint groups, row_groups, blocks, heads, tq, tk, d, dv, has_mask, has_length;
  float scale;
  uint sm[4];  // the mask's element strides along [B, H, Tq, Tk] (0 where it broadcasts)
} p;

shared float qs[BQ * DMAX];   // qs[r * d + c]: the workgroup's queries
shared float ks[DMAX * BK];   // ks[c * BK + jj]: the tile's keys, transposed (lanes read along jj)
shared float vs[BK * DMAX];   // vs[jj * dv + c]: their values
shared float ps[BQ * BK];     // ps[r * BK + jj]: the tile's weights exp(score - mx)
shared float pmax[WG];        // each invocation's maximum over its scores of the tile
shared float psum[WG];        // and the sum of their weights

const float NEG_INF = -1.0 / 0.0;

// The maximum and the sum of what the row's TPR invocations left in pmax and psum (after a
// barrier): a few rows read them all; a row of many invocations (a decode step) halves them in
// shared memory first, with a barrier a step (TPR is a constant: the branch is uniform).
float row_max(uint r, uint lane) {
  if (TPR > 16u) {
    for (uint s = TPR / 2u; s >= 16u; s >>= 1) {
      if (lane < s) pmax[r * TPR + lane] = max(pmax[r * TPR + lane], pmax[r * TPR + lane + s]);
      barrier();
    }
  }
  float x = pmax[r * TPR];
  for (uint e = 1u; e < min(TPR, 16u); ++e) x = max(x, pmax[r * TPR + e]);
  return x;
}

float row_sum(uint r, uint lane) {
  if (TPR > 16u) {
    for (uint s = TPR / 2u; s >= 16u; s >>= 1) {
      if (lane < s) psum[r * TPR + lane] += psum[r * TPR + lane + s];
      barrier();
    }
  }
  float x = psum[r * TPR];
  for (uint e = 1u; e < min(TPR, 16u); ++e) x += psum[r * TPR + e];
  return x;
}

void main() {
  uint group = gl_WorkGroupID.y * p.row_groups + gl_WorkGroupID.x;
  if (group >= p.groups) return;  // uniform across the workgroup: barriers stay uniform
  uint t = gl_LocalInvocationID.x, r = t / TPR, lane = t % TPR;
  uint blk = group % p.blocks, bh = group / p.blocks;
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
  // This invocation's query row i (valid when below Tq) sees keys 0 .. seen - 1; the workgroup
  // reads keys 0 .. kend - 1, what its last valid row sees (rows see more keys as i grows).
  uint i0 = blk * BQ, i = i0 + r, ilast = min(i0 + BQ, p.tq) - 1u;
  bool valid = i < p.tq;
  int last = CAUSAL != 0u ? int(len) - int(p.tq) + int(i) : int(len) - 1;
  uint seen = valid ? uint(clamp(last + 1, 0, int(len))) : 0u;
  int klast = CAUSAL != 0u ? int(len) - int(p.tq) + int(ilast) : int(len) - 1;
  uint kend = uint(clamp(klast + 1, 0, int(len)));
  uint row = bh * p.tq + i;
  uint kbase = p.off_k + bh * p.tk * p.d, vbase = p.off_v + bh * p.tk * p.dv;
  uint mbase = p.off_m + b * p.sm[0] + h * p.sm[1] + i * p.sm[2];

  float mx = NEG_INF, sum = 0.0;
  float acc[OPT];
  for (uint e = 0u; e < OPT; ++e) acc[e] = 0.0;
  uint qrows = min(BQ, p.tq - i0);
  for (uint e = t; e < qrows * p.d; e += WG) qs[e] = q[p.off_q + (bh * p.tq + i0) * p.d + e];
  for (uint j0 = 0u; j0 < kend; j0 += BK) {
    uint n = min(BK, kend - j0);
    for (uint e = t; e < n * p.d; e += WG) {
      uint jj = e / p.d;
      ks[(e - jj * p.d) * BK + jj] = k[kbase + j0 * p.d + e];
    }
    for (uint e = t; e < n * p.dv; e += WG) vs[e] = v[vbase + j0 * p.dv + e];
    barrier();
    // Scores of keys lane, lane + TPR, ... of the tile, each q element read once for all of
    // them; -inf where the row does not see the key. Indices past the tile are clamped into it
    // (what they read is dropped).
    float s[SPT];
    for (uint e = 0u; e < SPT; ++e) s[e] = 0.0;
    if (valid) {
      for (uint c = 0u; c < p.d; ++c) {
        float x = qs[r * p.d + c];
        for (uint e = 0u; e < SPT; ++e) s[e] += x * ks[c * BK + min(lane + e * TPR, BK - 1u)];
      }
    }
    float tmax = NEG_INF;
    for (uint e = 0u; e < SPT; ++e) {
      uint jj = lane + e * TPR, j = j0 + jj;
      s[e] = jj < n && j < seen ? p.scale * s[e] + (p.has_mask != 0u ? m[mbase + j * p.sm[3]] : 0.0) : NEG_INF;
      tmax = max(tmax, s[e]);
    }
    pmax[t] = tmax;
    barrier();
    tmax = row_max(r, lane);
    float mnew = max(mx, tmax);
    // While every score so far is -inf, nothing is added (exp(-inf - -inf) would be NaN).
    bool none = mnew == NEG_INF;
    float tsum = 0.0;
    for (uint e = 0u; e < SPT; ++e) {
      uint jj = lane + e * TPR;
      if (jj < BK) {
        float w = none ? 0.0 : exp(s[e] - mnew);
        ps[r * BK + jj] = w;
        tsum += w;
      }
    }
    psum[t] = tsum;
    barrier();
    tsum = row_sum(r, lane);
    float rescale = none ? 1.0 : exp(mx - mnew);
    sum = sum * rescale + tsum;
    // The tile's weighted values, each weight read once for all the row's outputs this invocation
    // owns (channels lane, lane + TPR, ...; those past dv read a channel of the row and are dropped).
    for (uint e = 0u; e < OPT; ++e) acc[e] *= rescale;
    for (uint jj = 0u; jj < n; ++jj) {
      float w = ps[r * BK + jj];
      for (uint e = 0u; e < OPT; ++e) acc[e] += w * vs[jj * p.dv + min(lane + e * TPR, p.dv - 1u)];
    }
    mx = mnew;
    barrier();  // before the next tile overwrites ks, vs, ps, pmax and psum
  }
  if (!valid) return;
  // No key seen, or every score -inf: NaN (0 / 0 on the device may be folded, the bits are not).
  float nan = uintBitsToFloat(0x7fc00000u);
  for (uint e = 0u; e < OPT; ++e) {
    uint c = lane + e * TPR;
    if (c < p.dv) o[p.off_o + row * p.dv + c] = sum == 0.0 ? nan : acc[e] / sum;
  }
}
