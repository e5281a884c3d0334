// What differs between kinds of tokenizer, in Hugging Face's pipeline order: the normalizer
// (text -> text), the pre-tokenizer and model (normalized text -> ids) and the decoder (one
// token -> its bytes, then a last pass over the text). Special tokens, templates, truncation and
// padding are the same for every kind and live in TokenizerImpl. A new kind is one more
// TokenModel.
#pragma once

#include "tokenizer/vocabulary.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tok {

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  virtual const Vocabulary& vocab() const = 0;
  // `text` is valid UTF-8 and so is the result.
  virtual std::string normalize(std::string_view text) const = 0;
  // Appends the ids of normalized text (no added tokens in it).
  virtual void encode(std::string_view normalized, std::vector<int32_t>& ids) const = 0;
  // Appends what `token` decodes to; `first`: no token was decoded before it. The bytes may be
  // part of a UTF-8 character (byte-level BPE): the caller repairs the whole.
  virtual void decode_token(std::string_view token, bool first, std::string& bytes) const = 0;
  // The decoder's pass over the text the tokens' bytes make (valid UTF-8), into `out`; none by
  // default. CLIP's turns each end-of-word suffix into a space and strips the ends. A stream
  // decodes in stretches: `at_start` until something was given out, `at_end` on the last
  // stretch; what a later stretch could still change goes to `held`, which the caller puts
  // before the next stretch. A whole text is one stretch that is both.
  virtual void finish_text(std::string_view text, bool /*at_start*/, bool /*at_end*/, std::string& out, std::string& held) const {
    out.assign(text);
    held.clear();
  }
  // Whether decode cleans up tokenization spaces (" ." -> ".") when not told: Hugging Face's
  // default of the tokenizer class (BertTokenizer: yes, GPT2Tokenizer: no).
  virtual bool clean_up_by_default() const = 0;
};

}  // namespace loom::tok
