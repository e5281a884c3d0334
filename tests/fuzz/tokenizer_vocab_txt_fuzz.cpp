// Any bytes given as a WordPiece vocab.txt either load or give loom::Error; a vocabulary that
// loads encodes and decodes the sample texts without failing.
#include "tokenizer_fuzz.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string vocab(reinterpret_cast<const char*>(data), size);
  loom::TokenizerSpec s = tokenizer_fuzz::spec(loom::TokenizerKind::WordPiece, {.vocab = "vocab.txt"});
  try {
    tokenizer_fuzz::exercise(loom::Tokenizer::from_texts(s, {.vocab = vocab}));
  } catch (const loom::Error&) {
  }
  return 0;
}
