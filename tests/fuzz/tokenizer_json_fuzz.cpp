// Any bytes given as a Hugging Face tokenizer.json, read for a WordPiece, a byte-level BPE and a
// CLIP BPE tokenizer (the first two also with the spec's options replacing the file's), either
// load or give loom::Error; a file that loads encodes and decodes the sample texts without failing.
#include "tokenizer_fuzz.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  for (loom::TokenizerKind kind : {loom::TokenizerKind::WordPiece, loom::TokenizerKind::ByteLevelBpe, loom::TokenizerKind::ClipBpe}) {
    for (bool replace : {false, true}) {
      if (replace && kind == loom::TokenizerKind::ClipBpe) continue;
      loom::TokenizerSpec s = tokenizer_fuzz::spec(kind, {.tokenizer = "tokenizer.json"});
      s.replace_file_options = replace;
      try {
        tokenizer_fuzz::exercise(loom::Tokenizer::from_texts(s, {.tokenizer = json}));
      } catch (const loom::Error&) {
      }
    }
  }
  return 0;
}
