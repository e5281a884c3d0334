// Hugging Face's additive attention masks, as graph nodes the text plugins share.
#pragma once

#include "graph_writer.hpp"

#include <string>

namespace loom::models {

// The mask of a whole sequence under a causal mask and a padding mask, as GPT-2, ImageGPT and
// CLIP's text tower build it: finfo(float32).min where a key comes after its query, plus
// finfo.min where the key is padding (attention_mask [batch, seq] = 0); where both apply the sum
// overflows to -inf, as there. A query whose every earlier key is padding then sees finfo.min on
// those and on the later real keys alike, and averages them (transformers' result under left
// padding), which the attention op's `causal` flag, excluding the later keys, would not give.
// Writes nodes named prefix + "mask.*" (and a few constants and positions under the prefix) and
// returns the mask's name: [batch, 1, seq, seq], f32. `ids`: any [batch, seq] input, for its seq.
std::string causal_padding_mask(GraphWriter& g, const std::string& prefix, const std::string& ids,
                                const std::string& attention_mask);

}  // namespace loom::models
