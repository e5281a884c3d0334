// Each op family registers its schemas; one file per family, like the backends' ops/ folders.
#pragma once

#include "ops/registry.hpp"

namespace loom::ops {

void register_elementwise(std::vector<OpSchema>& ops);  // add sub mul div relu tanh sigmoid exp quick_gelu silu gelu cast
void register_linalg(std::vector<OpSchema>& ops);       // matmul linear
void register_conv(std::vector<OpSchema>& ops);         // conv2d
void register_norm(std::vector<OpSchema>& ops);         // layer_norm add_layer_norm rms_norm l2_normalize softmax
void register_reduce(std::vector<OpSchema>& ops);       // reduce_mean argmax topk
void register_indexing(std::vector<OpSchema>& ops);     // gather gather_rows positions
void register_layout(std::vector<OpSchema>& ops);       // roll pad
void register_shape(std::vector<OpSchema>& ops);        // reshape transpose slice concat
void register_attention(std::vector<OpSchema>& ops);    // attention cache_write
void register_masks(std::vector<OpSchema>& ops);        // key_mask

inline constexpr std::initializer_list<DType> kFloat = {DType::f32, DType::f16, DType::bf16};
inline constexpr std::initializer_list<DType> kNumeric = {DType::f32, DType::f16, DType::bf16,
                                                          DType::i64, DType::i32, DType::u8};
inline constexpr std::initializer_list<DType> kIndex = {DType::i64, DType::i32};

}  // namespace loom::ops
