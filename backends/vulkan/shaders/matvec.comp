#version 450
#extension GL_GOOGLE_include_directive : require
// matmul.comp's product for at most ROWS rows of A (a decode step's linear layers): there a tile
// of 32 rows is mostly empty, and each workgroup walks all of K one tile at a time, waiting on
// memory at every step. Here a workgroup of WG invocations computes CPW columns of C for every
// row, each column's K shared out over WG / CPW lanes that sum in shared memory at the end; each
// lane walks its share of K with independent loads. The lanes of one column are neighbours where
// B is contiguous along K (a linear's [N, K] weight: CPW = 4, 32 lanes reading 32 neighbouring
// words), the columns neighbours where it is contiguous along N (CPW = 32); ops/matmul.cpp sizes
// the grid the same way. Push constants, modes, f16 weights and the store are matmul.comp's
// (matmul_io.glsl).
layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint ROWS = 4;
layout(local_size_x_id = 0) in;

#include "matmul_io.glsl"

shared float partial[ROWS * WG];

void main() {
  uint t = gl_LocalInvocationID.x;
  bool along_k = p.b_sk == 1u && p.b_sn != 1u;
  uint cpw = along_k ? 4u : 32u, lanes = WG / cpw;
  uint col = along_k ? t / lanes : t % cpw, lane = along_k ? t % lanes : t / cpw;
  uint n = gl_WorkGroupID.x * cpw + col;
  uint batch = gl_WorkGroupID.z;
  uvec2 o = batch_offsets(batch);
  float acc[ROWS];
  for (uint r = 0; r < ROWS; ++r) acc[r] = 0.0;
  if (n < p.N) {
    uint bo = o.y + n * p.b_sn;
    for (uint k = lane; k < p.K; k += lanes) {
      float b = load_b(bo + k * p.b_sk);
      uint ak = o.x + k * p.a_sk;
      for (uint r = 0; r < ROWS; ++r)
        if (r < p.M) acc[r] += a[ak + r * p.a_sm] * b;
    }
  }
  for (uint r = 0; r < ROWS; ++r) partial[r * WG + lane * cpw + col] = acc[r];
  barrier();
  for (uint s = lanes / 2u; s > 0u; s >>= 1) {
    if (lane < s)
      for (uint r = 0; r < ROWS; ++r) partial[r * WG + lane * cpw + col] += partial[r * WG + (lane + s) * cpw + col];
    barrier();
  }
  if (lane == 0u && n < p.N)
    for (uint r = 0; r < ROWS; ++r)
      if (r < p.M) store_c(batch, r, n, partial[r * WG + col]);
}
