// Any bytes given as BPE files (vocab.json, a NUL byte, then merges.txt; no NUL: all vocab.json),
// read for byte-level BPE and for CLIP's BPE, either load or give loom::Error; files that load
// encode and decode the sample texts, and with byte-level BPE every valid UTF-8 text decodes back
// to itself (a byte-level vocabulary covers every byte).
#include "tokenizer_fuzz.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const size_t nul = bytes.find('\0');
  const std::string vocab(bytes.substr(0, nul));
  const std::string merges(nul == std::string_view::npos ? std::string_view() : bytes.substr(nul + 1));
  for (loom::TokenizerKind kind : {loom::TokenizerKind::ByteLevelBpe, loom::TokenizerKind::ClipBpe}) {
    loom::TokenizerSpec s = tokenizer_fuzz::spec(kind, {.vocab = "vocab.json", .merges = "merges.txt"});
    try {
      const loom::Tokenizer t = loom::Tokenizer::from_texts(s, {.vocab = vocab, .merges = merges});
      tokenizer_fuzz::exercise(t);
      if (kind == loom::TokenizerKind::ByteLevelBpe)
        for (const std::string& text : tokenizer_fuzz::sample_texts())
          if (t.decode(t.encode_text(text)) != text) std::abort();
    } catch (const loom::Error&) {
    }
  }
  return 0;
}
