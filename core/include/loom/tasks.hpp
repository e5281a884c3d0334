// What the text tasks make of a graph's outputs, as transformers' pipelines make it: scores by
// the task's function with id2label's labels (text-classification, next-sentence-prediction),
// the most likely tokens at each [MASK] (fill-mask), and pooled sentence embeddings. The CLI's
// task commands are one user of these; a host application calls them the same way:
//
//   loom::Tokenizer tok = loom::Tokenizer::from_graph(session.graph());
//   loom::Encoding e = tok.encode({"Paris is the [MASK] of France."});
//   loom::TensorMap out = session.run(tok.tensors(e));
//   auto best = loom::fill_mask(out.at("logits"), e, tok, 5);
#pragma once

#include <loom/processing.hpp>
#include <loom/tensor.hpp>
#include <loom/tokenizer.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

struct LabelScore {
  std::string label;
  double score = 0;
};

// Per row of `logits` [batch, classes]: every class scored by the task's function (softmax,
// sigmoid or none), labelled by id2label (LABEL_i where it has none), best first, at most
// `top_k` of them (0: all).
std::vector<std::vector<LabelScore>> classify(const Tensor& logits, const TaskSpec& task, int64_t top_k = 0);

struct MaskPrediction {
  double score = 0;       // softmax over the vocabulary at the masked position
  int64_t token = 0;      // its id
  std::string token_str;  // the token decoded alone
  std::string sequence;   // the text with the token in place of the mask
};

// Per row of the encoding, per [MASK] position in order: the `top_k` most likely tokens.
// `logits` is [batch, seq, vocab]; the tokenizer must have a `mask` special token. As
// transformers' FillMaskPipeline, `sequence` leaves out special tokens when the row has one
// mask, and keeps them (the other masks) when it has several.
std::vector<std::vector<std::vector<MaskPrediction>>> fill_mask(const Tensor& logits, const Encoding& encoding,
                                                                const Tokenizer& tokenizer, int64_t top_k = 5);

enum class Pooling { Mean, Cls };

// Sentence embeddings f32 [batch, hidden] from `last_hidden_state` [batch, seq, hidden]: the mean
// over the tokens the attention mask keeps (Mean), or the first token (Cls); each row scaled to
// unit length when `normalize`.
Tensor pool(const Tensor& last_hidden_state, const Encoding& encoding, Pooling pooling, bool normalize = false);

}  // namespace loom
