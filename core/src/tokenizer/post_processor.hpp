// What happens to a text's ids after the model, the same for every kind, as in Hugging Face
// tokenizers: truncation (leaving room for the template's special tokens), the post_processor
// template (special tokens and token types) and padding of the batch.
#pragma once

#include <loom/processing.hpp>
#include <loom/tokenizer.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace loom::tok {

// Checks what encoding needs of a spec that did not come through a graph's check: template
// roles among special_tokens, a pad token to pad with, a max_length to truncate or pad to.
void check_post_processing(const TokenizerSpec& spec);

// Truncates `a` and `b` (no pair: nullopt) to the spec's max_length, then frames them with the
// template; appends the row to `e` with its attention mask. `row` names the row in errors.
void add_row(const TokenizerSpec& spec, std::vector<int32_t> a, std::optional<std::vector<int32_t>> b, size_t row, Encoding& e);

// Pads every row of `e` as the spec says (longest in the batch, or max_length).
void pad(const TokenizerSpec& spec, Encoding& e);

}  // namespace loom::tok
