// The GPT-2 decoder that GPT-2 and ImageGPT share (modeling_gpt2.py, modeling_imagegpt.py):
// token and position embeddings, pre-LN blocks with Conv1D weights stored [in, out] and read as
// they are, Q|K|V split along c_attn's output, the final norm. Written into a plugin's graph
// in one of two forms:
// - whole sequences (`loom run`): any batch, Hugging Face's masks (causal positions and padded
//   keys at finfo(float32).min, added), position_ids an input;
// - generation: one sequence driven step by step through KV caches held as session state
//   (cache_write at past_length, attention over the filled prefix only), so that every new
//   token costs one decode step with one plan; only the last position goes on.
#pragma once

#include "config.hpp"
#include "graph_writer.hpp"
#include "weights.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loom::models {

struct DecoderConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, inner = 0, positions = 0;
  double eps = 1e-5;
  std::string act;  // the linear op's activation
  bool scale_attn = true, scale_by_layer = false;
  bool rms_norm = false;  // ImageGPT's LayerNorm: no centring, no bias
};

// The defaults of a config class (GPT2Config, ImageGPTConfig) for the keys a config.json leaves out.
struct DecoderDefaults {
  int64_t vocab, hidden, layers, heads;
  std::string act;
};

// GPT2Config's keys under either name (n_embd / hidden_size, ...); where a config.json holds both,
// the attribute_map's name (hidden_size, ...) wins, as PretrainedConfig sets it last.
DecoderConfig read_decoder_config(const JsonFile& c, const DecoderDefaults& defaults);

class DecoderGraph {
 public:
  DecoderGraph(GraphWriter& g, const Weights& w, const DecoderConfig& c, bool generation) : g_(g), w_(w), c_(c), generation_(generation) {}
  // Writes the inputs, embeddings, blocks and final norm; returns the final norm's output:
  // "last_hidden_state" [batch, seq, hidden], or "hidden.final" [1, 1, hidden] when generating.
  std::string write();
  // The cache states, in order (generation).
  const std::vector<std::string>& caches() const { return caches_; }

 private:
  void weight(const std::string& value, const std::string& tensor, const std::vector<int64_t>& shape, const std::string& why);
  void norm(const std::string& x, const std::string& params, const std::string& out);
  void masks();
  void linear(const std::string& x, const std::string& params, const std::string& out, const std::string& act = "none");
  void heads(const std::string& x, const std::string& out);
  std::string block(int64_t i, const std::string& x);

  GraphWriter& g_;
  const Weights& w_;
  const DecoderConfig& c_;
  bool generation_;
  std::vector<std::string> caches_;
};

// bos_token_id and eos_token_id (one id or a list) of `file`, where it has them: the ids inside
// the vocabulary. An id past it, as GPT2Config's default 50256 left in the config of a smaller
// vocabulary, can never be generated: transformers loads such a config and never stops at it,
// so it is dropped here rather than refused.
std::optional<int64_t> bos_token_id(const JsonFile& file, int64_t vocab);
std::vector<int64_t> eos_token_ids(const JsonFile& file, int64_t vocab);

// The `generation:` section of a generation graph: its caches, the bos and eos ids, the longest
// sequence, and the decoding defaults the checkpoint ships, checked as transformers checks them.
// As transformers' generate() reads them, every setting comes from generation_config.json where
// the checkpoint has one (an id it leaves out is none), else from config.json (`config_json`,
// the request's text; `bos` and `eos`, the ids read from it). Where `sos`, `bos` is the token
// generation starts from (ImageGPT's SOS) and no file changes it.
std::string generation_section(const std::string& checkpoint_dir, const std::string& config_json, const std::vector<std::string>& caches,
                               std::optional<int64_t> bos, std::vector<int64_t> eos, int64_t vocab, int64_t max_length,
                               bool sos = false);

}  // namespace loom::models
