// One head of a prompt's attention with precision=bf16, on AMX tiles: scores = q k^T and
// out = p v as bf16 products summed in f32, the softmax between them in f32 (scale, mask, the keys
// a query may see; the 16 rows of a block reduced together). The head's keys and values are
// rounded to bf16 once, into the pair layout the tile products read; queries go 16 at a time,
// their scores (one row of the tk keys each) staying in L1. A head's rows may lie apart (layout
// bshd: the heads of a position side by side). Its place in a run: docs/performance.md, "bf16
// attention on AMX tiles" and "Heads read in place".
#pragma once

#include <cstddef>
#include <cstdint>

namespace loom::onednn {

// A head: q [tq, d], k [valid.., d] and v [valid.., dv], out [tq, dv], each row `*_ld` floats
// after the one before (d or dv where a head's rows are contiguous; heads times that where the
// heads of a position are side by side, layout bshd).
struct AmxHead {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  int64_t tq, d, dv;
  int64_t q_ld, k_ld, v_ld, out_ld;
  int64_t keys;   // the keys that exist (at most the rows of k and v): 1..
  bool causal;    // query i sees keys below keys - tq + i + 1
  float scale;
  const float* mask;           // the additive mask at query 0, key 0; null for none
  int64_t mask_row, mask_col;  // its strides in floats, 0 where it broadcasts
};

// True where attention_head_amx takes a head of these sizes: amx_gemm_supported(), at least 16
// queries, d a multiple of 32, dv of 16, both at most 256, and at most 8192 keys.
bool amx_attention_fits(int64_t tq, int64_t tk, int64_t d, int64_t dv);

// Scratch bytes of one thread's heads over tk keys; its start aligned to 64 bytes.
size_t amx_attention_scratch_bytes(int64_t tk, int64_t d, int64_t dv);

// out = softmax(scale * q k^T + mask) v for one head, the operands rounded to bf16 (nearest
// even) and p too; a row with no key to see (causal, or every one masked with -inf) is NaN, as
// PyTorch's softmax gives. Needs amx_attention_fits(...).
void attention_head_amx(const AmxHead& head, std::byte* scratch);

}  // namespace loom::onednn
