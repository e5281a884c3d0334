// The BERT and GPT-2 model plugins on the checkpoints of tests/models (made by
// tools/fixtures/make_text_models.py, whose PyTorch forward follows transformers'): every output
// Hugging Face returns, within |out - ref| <= 1e-4 + 1e-5 |ref|, for the layouts a loader can get
// wrong (prefixes, legacy names, tied weights, f16 and bf16 files, shards, padding, token types),
// greedy generation through the KV cache, and the errors of broken checkpoints.
#include "counting_allocator.hpp"
#include "model_checks.hpp"
#include "safetensors_bytes.hpp"
#include "session_graphs.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

using namespace loom;

namespace {

using test::kModels;

Engine text_engine() { return test::model_engine({"loom-onednn.so", "loom-bert.so", "loom-gpt2.so"}); }

void check_outputs(const std::string& name, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  Engine engine = text_engine();
  test::check_outputs(engine, name, inputs, outputs);
}

}  // namespace

TEST_CASE("text models: BertForMaskedLM with the bert. prefix, gamma/beta names and a tied decoder") {
  check_outputs("bert-mlm", {"input_ids", "attention_mask", "token_type_ids"}, {"logits", "last_hidden_state"});
}

TEST_CASE("text models: BertForPreTraining from f16 weights with gelu_new") {
  check_outputs("bert-pretraining", {"input_ids", "attention_mask", "token_type_ids"},
                {"prediction_logits", "seq_relationship_logits", "last_hidden_state", "pooler_output"});
}

TEST_CASE("text models: BertModel without prefix, sharded in two files") {
  check_outputs("bert-base", {"input_ids", "attention_mask", "token_type_ids"}, {"last_hidden_state", "pooler_output"});
}

TEST_CASE("text models: a BertModel saved without its pooler offers last_hidden_state, not a random pooler_output") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-no-pooler-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::create_directories(tmp);
  for (const char* f : {"config.json", "vocab.txt", "tokenizer_config.json"}) std::filesystem::copy_file(kModels / "bert-base" / f, tmp / f);
  std::vector<test::StTensor> tensors;
  for (const char* shard : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"})
    for (test::StTensor& t : test::read_safetensors(kModels / "bert-base" / shard))
      if (t.name.rfind("pooler.", 0) != 0) tensors.push_back(std::move(t));
  test::write_safetensors(tmp / "model.safetensors", tensors);
  const Graph g = engine.load_graph(tmp);
  std::vector<std::string> outputs;
  for (const auto& o : g.outputs) outputs.push_back(o.name);
  CHECK(outputs == std::vector<std::string>{"last_hidden_state"});
  Session s = engine.compile(g, test::on_onednn());
  TensorMap out = s.run({{"input_ids", read_npy(kModels / "bert-base" / "input_ids.npy")},
                         {"attention_mask", read_npy(kModels / "bert-base" / "attention_mask.npy")},
                         {"token_type_ids", read_npy(kModels / "bert-base" / "token_type_ids.npy")}});
  CHECK(compare(out.at("last_hidden_state"), read_npy(kModels / "bert-base" / "expected_last_hidden_state.npy"), 1e-4, 1e-5).ok());
  std::filesystem::remove_all(tmp);
}

TEST_CASE("text models: BertForNextSentencePrediction and BertForSequenceClassification from bf16") {
  check_outputs("bert-nsp", {"input_ids", "attention_mask", "token_type_ids"}, {"logits", "pooler_output"});
  check_outputs("bert-seqcls", {"input_ids", "attention_mask", "token_type_ids"}, {"logits", "last_hidden_state"});
}

TEST_CASE("text models: GPT2LMHeadModel with a right-padded batch and GPT2Model with a left-padded row") {
  check_outputs("gpt2", {"input_ids", "attention_mask"}, {"logits", "last_hidden_state"});
  check_outputs("gpt2-base", {"input_ids", "attention_mask", "position_ids"}, {"last_hidden_state"});
}

// precision=bf16 against the fixture's own bf16 forward (expected_bf16_*: each linear layer's
// input and weight rounded to bf16, products summed in f32). The two sum in different orders, so
// an activation that lies within an f32 rounding of a bf16 tie may round the other way: that
// moves its position's outputs (GPT-2's logits at one of 14 positions differ by up to 3.6e-3), so
// up to a fifth of the elements may differ beyond 1e-4, all stay within 1e-2; and the result is
// not the f32 one.
TEST_CASE("text models: precision=bf16 gives the linear layers in bf16 of the fixture's forward") {
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return;  // bf16 runs on the AVX2 GEMM
  Engine engine = text_engine();
  SessionOptions bf16 = test::on_onednn();
  bf16.options["precision"] = "bf16";
  for (int threads : {1, 2}) {
    bf16.threads = threads;
    for (const auto& [name, inputs] :
         {std::pair<std::string, std::vector<std::string>>{"bert-mlm", {"input_ids", "attention_mask", "token_type_ids"}},
          {"gpt2", {"input_ids", "attention_mask"}}}) {
      Session s = engine.load(kModels / name, bf16);
      TensorMap in;
      for (const auto& i : inputs) in.emplace(i, read_npy(kModels / name / (i + ".npy")));
      TensorMap out = s.run(in);
      for (const std::string o : {"last_hidden_state", "logits"}) {
        INFO(name << ": " << o << ", " << threads << " threads");
        const Tensor ref = read_npy(kModels / name / ("expected_bf16_" + o + ".npy"));
        const Comparison tight = compare(out.at(o), ref, 1e-4, 1e-5), loose = compare(out.at(o), ref, 1e-2, 1e-2);
        MESSAGE(name << " " << o << " bf16: largest difference " << tight.max_abs_error << ", " << tight.differing << " of "
                     << ref.numel() << " beyond 1e-4");
        CHECK(loose.ok());
        CHECK(tight.differing * 5 <= ref.numel());
        CHECK_FALSE(compare(out.at(o), read_npy(kModels / name / ("expected_" + o + ".npy")), 1e-3, 0).ok());
      }
    }
  }
}

TEST_CASE("text models: optional inputs left out take Hugging Face's defaults") {
  Engine engine = text_engine();
  Session s = engine.load(kModels / "bert-nsp", test::on_onednn());
  const Tensor ids = read_npy(kModels / "bert-nsp" / "input_ids.npy");
  Tensor ones(DType::i64, ids.shape()), zeros(DType::i64, ids.shape()), positions(DType::i64, ids.shape());
  const int64_t seq = ids.shape()[1];
  for (int64_t i = 0; i < ids.numel(); ++i) {
    ones.data_as<int64_t>()[i] = 1;
    zeros.data_as<int64_t>()[i] = 0;
    positions.data_as<int64_t>()[i] = i % seq;
  }
  TensorMap given = s.run({{"input_ids", ids}, {"attention_mask", ones}, {"token_type_ids", zeros}, {"position_ids", positions}});
  TensorMap left_out = s.run({{"input_ids", ids}});
  for (const char* o : {"logits", "last_hidden_state", "pooler_output"}) {
    INFO(o);
    CHECK(compare(left_out.at(o), given.at(o), 0, 0).ok());
  }
}

TEST_CASE("text models: an empty batch gives empty outputs, as transformers does") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-bert.so", "loom-gpt2.so"});
  for (const SessionOptions& options : {test::on_onednn(), test::on_reference()}) {
    for (const auto& [name, outputs] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"bert-nsp", {"logits [0, 2]", "last_hidden_state [0, 7, 32]", "pooler_output [0, 32]"}},
             {"gpt2", {"logits [0, 7, 294]", "last_hidden_state [0, 7, 32]"}}}) {
      INFO(name);
      Session s = engine.load(kModels / name, options);
      TensorMap out = s.run({{"input_ids", Tensor(DType::i64, {0, 7})}, {"attention_mask", Tensor(DType::i64, {0, 7})}});
      for (const std::string& o : outputs) {
        const std::string key = o.substr(0, o.find(' '));
        REQUIRE(out.count(key));
        CHECK(key + " " + shape_str(out.at(key).shape()) == o);
      }
    }
  }
}

TEST_CASE("text models: GPT-2 generates greedily through the KV cache as a full recomputation does") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  Graph g = engine.load_graph(dir, "text-generation");
  REQUIRE(g.processing);
  REQUIRE(g.processing->generation);
  Session s = engine.compile(g, test::on_onednn());
  const Tensor prompt = read_npy(dir / "prompt_ids.npy");
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  State state = s.new_state();
  Tensor past(DType::i64, {1});
  past.data_as<int64_t>()[0] = 0;
  TensorMap out = s.run({{"input_ids", prompt}, {"past_length", past}}, state);
  std::vector<int64_t> seq(prompt.data_as<int64_t>(), prompt.data_as<int64_t>() + prompt.numel());
  const int64_t vocab = out.at("logits").shape().back();
  auto next = [&](const Tensor& logits) {
    const float* l = logits.data_as<float>() + logits.numel() - vocab;
    return static_cast<int64_t>(std::max_element(l, l + vocab) - l);
  };
  seq.push_back(next(out.at("logits")));
  const uint64_t plans = s.stats().plans_made;
  while (static_cast<int64_t>(seq.size()) < prompt.numel() + expected.numel()) {
    Tensor token(DType::i64, {1, 1});
    token.data_as<int64_t>()[0] = seq.back();
    past.data_as<int64_t>()[0] = static_cast<int64_t>(seq.size()) - 1;
    out = s.run({{"input_ids", token}, {"past_length", past}}, state);
    seq.push_back(next(out.at("logits")));
  }
  const std::vector<int64_t> generated(seq.begin() + prompt.numel(), seq.end());
  CHECK(generated == std::vector<int64_t>(expected.data_as<int64_t>(), expected.data_as<int64_t>() + expected.numel()));
  // The prefill's shape is one plan, every decode step shares the other.
  CHECK(s.stats().plans_made == plans + 1);
}

TEST_CASE("text models: broken checkpoints are errors that name the file and what is wrong") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-text-models-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  auto copy = [&](const std::string& from, const std::string& as = "") {
    const auto dir = tmp / (as.empty() ? from : as);
    std::filesystem::create_directories(dir);
    for (const auto& e : std::filesystem::directory_iterator(kModels / from)) std::filesystem::copy_file(e.path(), dir / e.path().filename());
    return dir;
  };
  auto write = [](const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; };
  auto error_of = [&](const std::filesystem::path& dir) -> std::string {
    try {
      engine.load(dir, test::on_onednn());
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  auto config = [](const std::string& extra) {
    return std::string("{\"model_type\": \"bert\", \"architectures\": [\"BertForMaskedLM\"], \"vocab_size\": 64, ") +
           "\"hidden_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 64, " +
           "\"max_position_embeddings\": 32" + extra + "}";
  };
  const auto dir = copy("bert-mlm");

  write(dir / "config.json", config(", \"hidden_act\": \"swiglu\""));
  std::string e = error_of(dir);
  CHECK(e.find("config.json: hidden_act: 'swiglu' is not supported") != std::string::npos);
  write(dir / "config.json", config(", \"pruned_heads\": {\"0\": [1]}"));
  CHECK(error_of(dir).find("config.json: pruned_heads: pruned attention heads are not supported") != std::string::npos);
  write(dir / "config.json", config(", \"pruned_heads\": {}"));
  CHECK(error_of(dir).empty());
  write(dir / "config.json", config(", \"position_embedding_type\": null"));
  CHECK(error_of(dir).find("config.json: position_embedding_type: null (no position embeddings) is not supported") != std::string::npos);
  // A null flag is false, as transformers tests it (`if config.tie_word_embeddings:`): the head is
  // untied and must be stored.
  write(dir / "config.json", config(", \"tie_word_embeddings\": null"));
  CHECK(error_of(dir).find("tensor 'cls.predictions.decoder.weight' is missing, and config.json's tie_word_embeddings is false") !=
        std::string::npos);
  write(dir / "config.json", config(", \"add_cross_attention\": true"));
  CHECK(error_of(dir).find("config.json: add_cross_attention: cross-attention is not supported") != std::string::npos);

  // An untied head the file does not store would be random in transformers: refused by name.
  write(dir / "config.json", config(", \"tie_word_embeddings\": false"));
  e = error_of(dir);
  CHECK_MESSAGE(e.find("model.safetensors: tensor 'cls.predictions.decoder.weight' is missing, and config.json's "
                       "tie_word_embeddings is false") != std::string::npos,
                e);
  {
    const auto untied = copy("gpt2", "gpt2-untied");
    std::ifstream in(untied / "config.json");
    nlohmann::json c = nlohmann::json::parse(in);
    c["tie_word_embeddings"] = false;
    write(untied / "config.json", c.dump());
    e = error_of(untied);
    CHECK_MESSAGE(e.find("model.safetensors: tensor 'lm_head.weight' is missing, and config.json's tie_word_embeddings is false") !=
                      std::string::npos,
                  e);
    // scale_attn_weights null is false in transformers' `if module.scale_attn_weights:`: no scaling.
    c.erase("tie_word_embeddings");
    c["scale_attn_weights"] = nullptr;
    write(untied / "config.json", c.dump());
    std::vector<double> scales;
    for (const auto& n : engine.load_graph(untied).nodes)
      if (n.attrs.count("scale")) scales.push_back(std::get<double>(n.attrs.at("scale")));
    CHECK(!scales.empty());
    for (double s : scales) CHECK(s == 1.0);
  }
  {
    // GPT2Config's attribute_map names win over its own where both are given, as
    // PretrainedConfig sets them last: num_attention_heads 3 is read, not n_head 4.
    const auto both = copy("gpt2", "gpt2-both-names");
    std::ifstream in(both / "config.json");
    nlohmann::json c = nlohmann::json::parse(in);
    c["num_attention_heads"] = 3;
    write(both / "config.json", c.dump());
    e = error_of(both);
    CHECK_MESSAGE(e.find("config.json: num_attention_heads: 3 does not divide n_embd 32") != std::string::npos, e);
  }

  write(dir / "config.json", config("").replace(config("").find("\"hidden_size\": 32"), 17, "\"hidden_size\": \"32\""));
  e = error_of(dir);
  CHECK(e.find("config.json: hidden_size: expected an integer") != std::string::npos);

  write(dir / "config.json", config(", \"num_attention_heads\": 5").replace(config("").find("\"num_attention_heads\": 4, "), 26, ""));
  e = error_of(dir);
  CHECK(e.find("num_attention_heads: 5 does not divide hidden_size 32") != std::string::npos);

  write(dir / "config.json", config("").replace(config("").find("BertForMaskedLM"), 15, "BertForQuestionAnswering"));
  e = error_of(dir);
  CHECK(e.find("'BertForQuestionAnswering' is not supported") != std::string::npos);

  // Sizes that disagree with the weights name the tensor, its shape and the config key.
  write(dir / "config.json", config("").replace(config("").find("\"intermediate_size\": 64"), 23, "\"intermediate_size\": 48"));
  e = error_of(dir);
  CHECK(e.find("model.safetensors: tensor 'bert.encoder.layer.0.intermediate.dense.weight' has shape [64,32], expected [48,32]") !=
        std::string::npos);

  write(dir / "config.json", "{\"model_type\": \"llama\"}");
  e = error_of(dir);
  CHECK(e.find("no loaded model plugin accepts model_type 'llama'") != std::string::npos);

  write(dir / "config.json", "{\"model_type\": \"bert\", ");
  e = error_of(dir);
  CHECK(e.find("config.json: not valid JSON") != std::string::npos);
  // The parser's excerpt of a file with a byte that is no UTF-8 comes back escaped.
  write(dir / "config.json", "{\"model_type\": \"bert\", \"x\": \"\xff\"}");
  e = error_of(dir);
  CHECK_MESSAGE(e.find("config.json: not valid JSON") != std::string::npos, e);
  CHECK_MESSAGE(e.find("\\xff") != std::string::npos, e);
  CHECK_MESSAGE(e.find('\xff') == std::string::npos, e);

  // A tensor the checkpoint lacks is named, with the file that should hold it: the header of
  // model.safetensors rewritten with one tensor under another name (the data stays where it was).
  const auto lacking = copy("gpt2-base");
  {
    std::ifstream in(lacking / "model.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
    const std::string name = header.contains("h.1.mlp.c_proj.bias") ? "h.1.mlp.c_proj.bias" : "transformer.h.1.mlp.c_proj.bias";
    REQUIRE(header.contains(name));
    header[name + "_renamed"] = header[name];
    header.erase(name);
    const std::string text = header.dump();
    const uint64_t m = text.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &m, 8);
    std::ofstream(lacking / "model.safetensors", std::ios::binary | std::ios::trunc) << out << text << bytes.substr(8 + n);
  }
  e = error_of(lacking);
  CHECK_MESSAGE(e.find("model.safetensors") != std::string::npos, e);
  CHECK_MESSAGE(e.find("h.1.mlp.c_proj.bias") != std::string::npos, e);
  CHECK_MESSAGE(e.find("_renamed") == std::string::npos, e);

  // Without tokenizer files a checkpoint still runs on ids; it offers no text task.
  const auto no_vocab = copy("bert-mlm", "bert-mlm-ids-only");
  std::filesystem::remove(no_vocab / "vocab.txt");
  CHECK_NOTHROW(engine.load(no_vocab, test::on_onednn()));

  // The special tokens must be in the vocabulary.
  const auto gpt = copy("gpt2");
  std::filesystem::remove(gpt / "vocab.json");
  std::filesystem::remove(gpt / "merges.txt");
  CHECK_NOTHROW(engine.load(gpt, test::on_onednn()));  // no tokenizer files: no tokenizer section
  write(gpt / "tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}}}");
  e = error_of(gpt);
  CHECK(e.find("tokenizer.json: the bos token \"<|endoftext|>\" is not in the vocabulary") != std::string::npos);

  // A tokenizer_class that splits words otherwise would give other ids from the same vocabulary.
  const auto japanese = copy("bert-mlm", "bert-mlm-japanese");
  write(japanese / "tokenizer_config.json", "{\"tokenizer_class\": \"BertJapaneseTokenizer\"}");
  e = error_of(japanese);
  CHECK_MESSAGE(e.find("tokenizer_config.json: tokenizer_class: 'BertJapaneseTokenizer' is not supported (BertTokenizer") !=
                    std::string::npos, e);
  write(japanese / "tokenizer_config.json", "{\"tokenizer_class\": \"BertTokenizerFast\", \"do_lower_case\": true}");
  CHECK_NOTHROW(engine.load(japanese, test::on_onednn()));

  // padding_side and truncation_side reach the tokenizer; a side that is neither is refused.
  write(japanese / "tokenizer_config.json", "{\"padding_side\": \"left\", \"truncation_side\": \"left\"}");
  const Graph sided = engine.load_graph(japanese);
  REQUIRE(sided.processing);
  REQUIRE(sided.processing->tokenizer);
  CHECK(sided.processing->tokenizer->padding_side == loom::Side::Left);
  CHECK(sided.processing->tokenizer->truncation_side == loom::Side::Left);
  write(japanese / "tokenizer_config.json", "{\"padding_side\": \"middle\"}");
  e = error_of(japanese);
  CHECK_MESSAGE(e.find("tokenizer_config.json: padding_side: expected \"left\" or \"right\", got \"middle\"") != std::string::npos, e);
  std::filesystem::remove_all(tmp);
}

TEST_CASE("text models: tokens added to a checkpoint's vocabulary are read as transformers reads them") {
  Engine engine = text_engine();
  const auto dir = std::filesystem::temp_directory_path() / ("loom-added-tokens-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / "bert-mlm")) std::filesystem::copy_file(e.path(), dir / e.path().filename());
  auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir / name, std::ios::trunc) << text; };
  auto error_of = [&]() -> std::string {
    try {
      engine.load_graph(dir);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  // vocab.txt keeps its first 60 lines ([PAD] 0 ... the 5, cat 6); ids 60..63 of the model's 64
  // are free for added tokens.
  {
    std::ifstream in(kModels / "bert-mlm" / "vocab.txt");
    std::string line, kept;
    for (int i = 0; i < 60 && std::getline(in, line); ++i) kept += line + "\n";
    write("vocab.txt", kept);
  }
  const std::string settings = R"("do_lower_case": true, "model_max_length": 32)";
  auto tokenizer = [&] { return Tokenizer::from_graph(engine.load_graph(dir)); };

  // tokenizer_config.json's added_tokens_decoder (transformers 4.34 and later).
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {
      "4": {"content": "[MASK]", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
      "60": {"content": "loomword", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false, "special": false},
      "61": {"content": "<Extra>", "normalized": false, "special": true}}})");
  {
    const Tokenizer t = tokenizer();
    // loomword is matched in the lower-cased text, <Extra> in the raw text only.
    CHECK(t.encode_text("the LoomWord cat<Extra>[MASK]") == std::vector<int64_t>{5, 60, 6, 61, 4});
    CHECK(t.encode_text("<extra>") != std::vector<int64_t>{61});
    CHECK(t.is_special(61));
    CHECK_FALSE(t.is_special(60));
    CHECK(t.decode(std::vector<int64_t>{5, 60, 61}, {.skip_special_tokens = true}) == "the loomword");
  }

  // The older files: added_tokens.json (special when special_tokens_map.json says so), and the
  // added_tokens of a tokenizer.json beside vocab.txt over it.
  write("tokenizer_config.json", "{" + settings + "}");
  write("added_tokens.json", R"({"loomword": 60, "<Extra>": 61})");
  write("special_tokens_map.json", R"({"additional_special_tokens": ["<Extra>"]})");
  write("tokenizer.json", R"({"added_tokens": [{"id": 62, "content": "tokword", "special": false, "normalized": false}]})");
  {
    const Tokenizer t = tokenizer();
    CHECK(t.encode_text("LOOMWORD <Extra> tokword TOKWORD") == std::vector<int64_t>{60, 61, 62, 1});
    CHECK(t.is_special(61));
    CHECK_FALSE(t.is_special(62));
  }

  // Wrong entries name the file and the entry.
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {"64": {"content": "far"}}})");
  std::string e = error_of();
  CHECK_MESSAGE(e.find("tokenizer_config.json: added_tokens_decoder.64: \"far\" has id 64, outside config.json's vocab_size 64") !=
                    std::string::npos, e);
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {"x": {"content": "far"}}})");
  e = error_of();
  CHECK_MESSAGE(e.find("tokenizer_config.json: added_tokens_decoder: \"x\" is not a token id") != std::string::npos, e);
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {"60": {"content": 5}}})");
  e = error_of();
  CHECK_MESSAGE(e.find("tokenizer_config.json: added_tokens_decoder.60.content: expected a string") != std::string::npos, e);
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {"62": {"content": "loomword", "special": "no"}}})");
  e = error_of();
  CHECK_MESSAGE(e.find("added_tokens_decoder.62.special: expected true or false") != std::string::npos, e);
  // Another text on an id tokenizer.json gives its own token.
  write("tokenizer_config.json", "{" + settings + R"(, "added_tokens_decoder": {"62": {"content": "loomword"}}})");
  e = error_of();
  CHECK_MESSAGE(e.find("added_tokens_decoder.62: \"loomword\" has id 62, which ") != std::string::npos, e);
  CHECK_MESSAGE(e.find("tokenizer.json: added_tokens[0] gives \"tokword\"") != std::string::npos, e);
  write("tokenizer_config.json", "{" + settings + "}");
  write("added_tokens.json", R"({"loomword": -1})");
  e = error_of();
  CHECK_MESSAGE(e.find("added_tokens.json: \"loomword\": expected a token id") != std::string::npos, e);
  write("added_tokens.json", "[1]");
  e = error_of();
  CHECK_MESSAGE(e.find("added_tokens.json") != std::string::npos, e);
  std::filesystem::remove_all(dir);
}

TEST_CASE("text models: a tokenizer.json alone takes tokenizer_config.json's options as the Fast classes do") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-file-options-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  auto copy = [&](const char* name) {
    const auto dir = tmp / name;
    std::filesystem::create_directories(dir);
    for (const auto& e : std::filesystem::directory_iterator(kModels / name)) std::filesystem::copy_file(e.path(), dir / e.path().filename());
    return dir;
  };
  auto write = [](const std::filesystem::path& path, const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  auto tokenizer = [&](const std::filesystem::path& dir) { return Tokenizer::from_graph(engine.load_graph(dir)); };
  auto replaces = [&](const std::filesystem::path& dir) { return engine.load_graph(dir).processing->tokenizer->replace_file_options; };

  // BERT: vocab.txt becomes a WordPiece tokenizer.json whose BertNormalizer keeps the case.
  const auto bert = copy("bert-mlm");
  nlohmann::json wordpiece = {{"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", nlohmann::json::object()}}},
                              {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                                              {"strip_accents", nullptr}, {"lowercase", false}}},
                              {"pre_tokenizer", {{"type", "BertPreTokenizer"}}}};
  {
    std::ifstream in(kModels / "bert-mlm" / "vocab.txt");
    std::string line;
    for (int64_t id = 0; std::getline(in, line); ++id) wordpiece["model"]["vocab"][line] = id;
  }
  write(bert / "tokenizer.json", wordpiece.dump());
  std::filesystem::remove(bert / "vocab.txt");
  // tokenizer_class BertTokenizer loads as BertTokenizerFast, whose do_lower_case (true here, and
  // by default) replaces the file's lowercase: "THE CAT" is "the cat" (5, 6).
  CHECK(replaces(bert));
  CHECK(tokenizer(bert).encode_text("THE CAT") == std::vector<int64_t>{5, 6});
  write(bert / "tokenizer_config.json", R"({"model_max_length": 32})");
  CHECK(tokenizer(bert).encode_text("THE CAT") == std::vector<int64_t>{5, 6});
  // do_lower_case false agrees with the file: upper case is unknown (1).
  write(bert / "tokenizer_config.json", R"({"do_lower_case": false})");
  CHECK(tokenizer(bert).encode_text("THE cat") == std::vector<int64_t>{1, 6});
  // PreTrainedTokenizerFast takes the file as it is, whatever do_lower_case says.
  write(bert / "tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast", "do_lower_case": true})");
  CHECK_FALSE(replaces(bert));
  CHECK(tokenizer(bert).encode_text("THE cat") == std::vector<int64_t>{1, 6});
  wordpiece["normalizer"]["lowercase"] = true;
  write(bert / "tokenizer.json", wordpiece.dump());
  CHECK(tokenizer(bert).encode_text("THE cat") == std::vector<int64_t>{5, 6});
  // Without a normalizer PreTrainedTokenizerFast reads the text as it is; BertTokenizerFast cannot
  // replace the options of a normalizer that is not there.
  wordpiece["normalizer"] = nullptr;
  write(bert / "tokenizer.json", wordpiece.dump());
  CHECK(tokenizer(bert).encode_text("THE cat") == std::vector<int64_t>{1, 6});
  write(bert / "tokenizer_config.json", R"({"do_lower_case": true})");
  CHECK_THROWS_WITH_AS(tokenizer(bert), doctest::Contains("tokenizer.json: normalizer is null, but processing.tokenizer.replace_file_options"),
                       Error);

  // GPT-2: vocab.json and merges.txt become a tokenizer.json whose ByteLevel adds a prefix space.
  const auto gpt = copy("gpt2");
  const Tokenizer reference = tokenizer(gpt);
  nlohmann::json bpe = {{"model", {{"type", "BPE"}, {"vocab", nlohmann::json::parse(std::ifstream(kModels / "gpt2" / "vocab.json"))},
                                   {"merges", nlohmann::json::array()}}},
                        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
                        {"decoder", {{"type", "ByteLevel"}}}};
  {
    std::ifstream in(kModels / "gpt2" / "merges.txt");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty() && line.rfind("#version", 0) != 0) bpe["model"]["merges"].push_back(line);
  }
  write(gpt / "tokenizer.json", bpe.dump());
  std::filesystem::remove(gpt / "vocab.json");
  std::filesystem::remove(gpt / "merges.txt");
  // GPT2TokenizerFast's add_prefix_space (false here, and by default) replaces the file's.
  CHECK(replaces(gpt));
  CHECK(tokenizer(gpt).encode_text("the cat") == reference.encode_text("the cat"));
  write(gpt / "tokenizer_config.json", R"({"model_max_length": 48})");
  CHECK(tokenizer(gpt).encode_text("the cat") == reference.encode_text("the cat"));
  // PreTrainedTokenizerFast keeps the file's prefix space: "the cat" reads as " the cat".
  write(gpt / "tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast", "add_prefix_space": false})");
  CHECK_FALSE(replaces(gpt));
  CHECK(tokenizer(gpt).encode_text("the cat") == reference.encode_text(" the cat"));
  CHECK(reference.encode_text("the cat") != reference.encode_text(" the cat"));

  // tokenizer_config.json's clean_up_tokenization_spaces reaches decode (GPT2Tokenizer's default
  // is off; transformers 4.30 to 4.44 wrote true into the files it saved).
  const std::vector<int64_t> dot = reference.encode_text("the cat . it isn't");
  CHECK(reference.decode(dot) == "the cat . it isn't");
  write(gpt / "tokenizer_config.json", R"({"clean_up_tokenization_spaces": true})");
  CHECK(tokenizer(gpt).spec().clean_up_tokenization_spaces == true);
  CHECK(tokenizer(gpt).decode(dot) == "the cat. it isn't");
  CHECK(tokenizer(gpt).decode(dot, {.clean_up_tokenization_spaces = false}) == "the cat . it isn't");
  write(bert / "tokenizer_config.json", R"({"clean_up_tokenization_spaces": false})");
  // (The WordPiece decoder's own clean-up, on by default, would join " ." too.)
  wordpiece["normalizer"] = {{"type", "BertNormalizer"}, {"lowercase", true}};
  wordpiece["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", false}};
  write(bert / "tokenizer.json", wordpiece.dump());
  const std::vector<int64_t> cat_dot = tokenizer(bert).encode_text("the cat .");
  CHECK(tokenizer(bert).decode(cat_dot) == "the cat .");  // BertTokenizer's default would clean up
  write(bert / "tokenizer_config.json", "{}");
  CHECK(tokenizer(bert).decode(cat_dot) == "the cat.");
  write(bert / "tokenizer_config.json", R"({"clean_up_tokenization_spaces": "yes"})");
  CHECK_THROWS_WITH_AS(tokenizer(bert), doctest::Contains("tokenizer_config.json: clean_up_tokenization_spaces"), Error);
  std::filesystem::remove_all(tmp);
}

TEST_CASE("text models: a tokenizer.json frames texts as its post_processor says, as the fast tokenizers do") {
  Engine engine = text_engine();
  const auto dir = std::filesystem::temp_directory_path() / ("loom-post-processor-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / "bert-mlm"))
    if (e.path().filename() != "vocab.txt") std::filesystem::copy_file(e.path(), dir / e.path().filename());
  nlohmann::json file = {{"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", nlohmann::json::object()}}},
                         {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
                         {"pre_tokenizer", {{"type", "BertPreTokenizer"}}}};
  {
    std::ifstream in(kModels / "bert-mlm" / "vocab.txt");
    std::string line;
    for (int64_t id = 0; std::getline(in, line); ++id) file["model"]["vocab"][line] = id;
  }
  auto encode = [&](const nlohmann::json& post_processor) {
    file["post_processor"] = post_processor;
    std::ofstream(dir / "tokenizer.json", std::ios::trunc) << file.dump();
    const Encoding e = Tokenizer::from_graph(engine.load_graph(dir)).encode({"the cat"}, {"sat"});
    std::vector<int64_t> out = e.input_ids[0];
    out.insert(out.end(), e.token_type_ids[0].begin(), e.token_type_ids[0].end());
    return out;
  };
  auto special = [](const char* token, int64_t type) { return nlohmann::json{{"SpecialToken", {{"id", token}, {"type_id", type}}}}; };
  auto sequence = [](const char* id, int64_t type) { return nlohmann::json{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
  const nlohmann::json specials = {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
                                   {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}};
  // transformers' own template: [CLS] A [SEP] B [SEP], B's part of type 1.
  const nlohmann::json bert = {{"type", "TemplateProcessing"},
                               {"single", {special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)}},
                               {"pair", {special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0), sequence("B", 1), special("[SEP]", 1)}},
                               {"special_tokens", specials}};
  CHECK(encode(bert) == std::vector<int64_t>{2, 5, 6, 3, 7, 3, 0, 0, 0, 0, 1, 1});
  CHECK(encode({{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}}) ==
        std::vector<int64_t>{2, 5, 6, 3, 7, 3, 0, 0, 0, 0, 1, 1});
  // RoBERTa's frame: two separators between the texts, every type 0.
  CHECK(encode({{"type", "RobertaProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}, {"trim_offsets", true}}) ==
        std::vector<int64_t>{2, 5, 6, 3, 3, 7, 3, 0, 0, 0, 0, 0, 0, 0});
  // Another template, in a Sequence beside ByteLevel (which frames nothing).
  const nlohmann::json other = {{"type", "TemplateProcessing"},
                                {"single", {sequence("A", 0), special("[SEP]", 0)}},
                                {"pair", {sequence("A", 0), special("[SEP]", 0), special("[CLS]", 1), sequence("B", 1)}},
                                {"special_tokens", specials}};
  CHECK(encode({{"type", "Sequence"}, {"processors", {{{"type", "ByteLevel"}}, other}}}) ==
        std::vector<int64_t>{5, 6, 3, 2, 7, 0, 0, 0, 1, 1});
  // No post_processor: no special tokens, the pair's second text of type 1.
  CHECK(encode(nullptr) == std::vector<int64_t>{5, 6, 7, 0, 0, 1});
  // What Loom does not read, and tokens that are no special token, are refused by name.
  auto error_of = [&](const nlohmann::json& post_processor) {
    try {
      encode(post_processor);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of({{"type", "RobertaProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"the", 5}}})
            .find("tokenizer.json: post_processor.cls: \"the\" is none of the special tokens") != std::string::npos);
  CHECK(error_of({{"type", "BertProcessing"}, {"sep", {"[SEP]", 4}}, {"cls", {"[CLS]", 2}}})
            .find("tokenizer.json: post_processor.sep: \"[SEP]\" has id 4 there, but 3 in the vocabulary") != std::string::npos);
  CHECK(error_of({{"type", "Metaspace"}}).find("tokenizer.json: post_processor.type: \"Metaspace\" is not supported") != std::string::npos);
  nlohmann::json typed = bert;
  typed["single"][1]["Sequence"]["type_id"] = 1;
  CHECK(error_of(typed).find("post_processor.single: a single text's token types must be 0") != std::string::npos);
  nlohmann::json two = bert;
  two["special_tokens"]["[CLS]"]["ids"] = {2, 2};
  CHECK(error_of(two).find("post_processor.single[0]: \"[CLS]\" needs one id in special_tokens") != std::string::npos);
  CHECK(error_of({{"type", "Sequence"}, {"processors", {bert, bert}}}).find("post_processor.processors[1]: a second processor") !=
        std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("text models: the Generator applies transformers' logits processors as the reference does") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  // Each case of make_text_models.py: its settings and the greedy tokens its reference made.
  const nlohmann::json cases = nlohmann::json::parse(std::ifstream(dir / "expected_generated_processed.json"));
  REQUIRE(cases.size() == 33);
  const auto copy = std::filesystem::temp_directory_path() / ("loom-processed-" + std::to_string(::getpid()));
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  const std::set<std::string> option_keys = {"prompt", "expected", "max_new_tokens", "eos_token_id", "repetition_penalty",
                                             "no_repeat_ngram_size", "min_length", "min_new_tokens"};
  for (const nlohmann::json& c : cases) {
    INFO(c.dump());
    const auto prompt = c["prompt"].get<std::vector<int64_t>>();
    const auto expected = c["expected"].get<std::vector<int64_t>>();
    // The case's settings as generation_config.json, read by the plugin.
    nlohmann::json config = c;
    config.erase("prompt");
    config.erase("expected");
    std::ofstream(copy / "generation_config.json", std::ios::trunc) << config.dump();
    {
      Session from_file = engine.compile(engine.load_graph(copy, "text-generation"), test::on_onednn());
      Generator file_gen(from_file);
      CHECK(file_gen.generate(prompt).tokens == expected);
      if (c.contains("num_beams")) {
        // Beam sampling is refused rather than replaced.
        CHECK_THROWS_WITH_AS(file_gen.generate(prompt, {.do_sample = true}), doctest::Contains("asks for beam sampling"), Error);
      } else if (c.contains("exponential_decay_length_penalty") && c.contains("min_new_tokens")) {
        // NaN scores cannot be sampled from, as in transformers.
        CHECK_THROWS_WITH_AS(file_gen.generate(prompt, {.do_sample = true}), doctest::Contains("a score is NaN"), Error);
      } else if (!c.contains("forced_eos_token_id")) {
        // Sampling sees the processed scores: with top_k 1 it is the greedy choice (but where
        // forced eos ids tie: transformers' top_k keeps every token tied with the k-th).
        CHECK(file_gen.generate(prompt, {.do_sample = true, .top_k = 1}).tokens == expected);
      }
    }
    bool options_only = true;
    for (const auto& [key, value] : c.items()) options_only = options_only && option_keys.count(key);
    if (!options_only) continue;
    Graph g = engine.load_graph(dir, "text-generation");
    if (c.contains("eos_token_id")) g.processing->generation->eos_token_ids = c["eos_token_id"].get<std::vector<int64_t>>();
    Session s = engine.compile(g, test::on_onednn());
    Generator gen(s);
    GenerationOptions o;
    o.max_new_tokens = c["max_new_tokens"].get<int64_t>();
    if (c.contains("repetition_penalty")) o.repetition_penalty = c["repetition_penalty"].get<double>();
    if (c.contains("no_repeat_ngram_size")) o.no_repeat_ngram_size = c["no_repeat_ngram_size"].get<int64_t>();
    if (c.contains("min_length")) o.min_length = c["min_length"].get<int64_t>();
    if (c.contains("min_new_tokens")) o.min_new_tokens = c["min_new_tokens"].get<int64_t>();
    CHECK(gen.generate(prompt, o).tokens == expected);
    // The same settings as the graph's defaults, as generation_config.json gives them.
    GenerationSpec& spec = *g.processing->generation;
    spec.repetition_penalty = o.repetition_penalty;
    spec.no_repeat_ngram_size = o.no_repeat_ngram_size;
    spec.min_length = o.min_length;
    spec.min_new_tokens = o.min_new_tokens;
    spec.max_new_tokens = o.max_new_tokens;
    Session defaults = engine.compile(g, test::on_onednn());
    CHECK(Generator(defaults).generate(prompt).tokens == expected);
    // Sampling sees the processed scores: with top_k 1 it is the greedy choice.
    o.do_sample = true;
    o.top_k = 1;
    CHECK(gen.generate(prompt, o).tokens == expected);
  }
  std::filesystem::remove_all(copy);

  // generation_config.json's keys reach the graph; without the file, config.json's do.
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-processors-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::copy(dir, tmp, std::filesystem::copy_options::recursive);
  std::ofstream(tmp / "generation_config.json")
      << R"({"repetition_penalty": 1.5, "no_repeat_ngram_size": 2, "min_length": 3, "min_new_tokens": 2, "max_length": 10})";
  GenerationSpec spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(spec.repetition_penalty == 1.5);
  CHECK(spec.no_repeat_ngram_size == 2);
  CHECK(spec.min_length == 3);
  CHECK(spec.min_new_tokens == 2);
  CHECK(spec.max_total_length == 10);
  // max_length counts the prompt (6 tokens here): 4 new tokens; max_new_tokens wins over it.
  Session s = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
  Generator gen(s);
  const std::vector<int64_t> prompt = cases[0]["prompt"].get<std::vector<int64_t>>();
  GenerationOptions keep_going;
  keep_going.stop_at_eos = false;
  CHECK(gen.generate(prompt, keep_going).tokens.size() == 4);
  keep_going.max_new_tokens = 7;
  CHECK(gen.generate(prompt, keep_going).tokens.size() == 7);
  // A prompt that leaves no room under max_length is refused, as transformers' generate() does.
  const std::vector<int64_t> long_prompt(10, 5);
  keep_going.max_new_tokens.reset();
  CHECK_THROWS_WITH_AS(gen.generate(long_prompt, keep_going),
                       doctest::Contains("the prompt has 10 tokens, but processing.generation.max_total_length"), Error);
  keep_going.max_new_tokens = 2;
  CHECK(gen.generate(long_prompt, keep_going).tokens.size() == 2);
  // A model that samples with beams asks for beam sampling, which is refused rather than replaced;
  // choosing a decoding runs: one beam, or beams without sampling.
  std::ofstream(tmp / "generation_config.json") << R"({"num_beams": 4, "do_sample": true, "length_penalty": 1.0, "early_stopping": "never"})";
  {
    Session beams = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    Generator beam_gen(beams);
    CHECK(beam_gen.spec().num_beams == 4);
    CHECK(!beam_gen.spec().length_penalty);
    CHECK(beam_gen.spec().early_stopping == GenerationSpec::EarlyStopping::Never);
    CHECK_THROWS_WITH_AS(beam_gen.generate(prompt), doctest::Contains("num_beams 4 (processing.generation.num_beams, from the model's"),
                         Error);
    GenerationOptions one;
    one.num_beams = 1;
    one.max_new_tokens = 3;
    CHECK(beam_gen.generate(prompt, one).tokens.size() == 3);
    GenerationOptions searched;
    searched.do_sample = false;
    searched.max_new_tokens = 3;
    searched.stop_at_eos = false;
    CHECK(beam_gen.generate(prompt, searched).tokens.size() == 3);  // no eos closes a beam
  }

  // Values that change nothing are left out; wrong ones name the file and key.
  // max_length 20, transformers' default, means 20 new tokens there too.
  std::ofstream(tmp / "generation_config.json")
      << R"({"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "max_length": 20, "num_beams": 1})";
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(!spec.num_beams);
  CHECK(!spec.repetition_penalty);
  CHECK(!spec.no_repeat_ngram_size);
  CHECK(!spec.max_total_length);
  // A max_length past the positions generates until they are full.
  std::ofstream(tmp / "generation_config.json") << R"({"max_length": 400})";
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(spec.max_total_length == 48);
  auto error_of = [&] {
    try {
      engine.load_graph(tmp, "text-generation");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::ofstream(tmp / "generation_config.json") << R"({"repetition_penalty": -1})";
  CHECK_MESSAGE(error_of().find("generation_config.json: repetition_penalty") != std::string::npos, error_of());
  std::ofstream(tmp / "generation_config.json") << R"({"no_repeat_ngram_size": "two"})";
  CHECK_MESSAGE(error_of().find("generation_config.json: no_repeat_ngram_size") != std::string::npos, error_of());
  std::ofstream(tmp / "generation_config.json") << R"({"min_new_tokens": -2})";
  CHECK_MESSAGE(error_of().find("generation_config.json: min_new_tokens") != std::string::npos, error_of());
  // The other processors: malformed lists and ids past the vocabulary name the key; the ids
  // transformers ignores in the suppress lists (outside the scores) are left out, and so is a
  // bad word that is one eos token.
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"sequence_bias": [[[4], "up"]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs"},
           {R"j({"sequence_bias": {"(4,)": 1.0}})j", "sequence_bias: expected"},
           {R"({"sequence_bias": [[[4, 300], 1.0]]})", "sequence_bias: token id 300 is outside the vocabulary"},
           {R"({"bad_words_ids": [4, 5]})", "bad_words_ids: expected a list of lists of token ids"},
           {R"({"bad_words_ids": [[4], []]})", "bad_words_ids: expected a list of lists"},
           {R"({"bad_words_ids": [[-4]]})", "bad_words_ids: expected a list of lists of token ids (whole numbers >= 0)"},
           {R"({"forced_bos_token_id": 999})", "forced_bos_token_id"},
           {R"({"forced_eos_token_id": [1, "x"]})", "forced_eos_token_id"},
           {R"({"exponential_decay_length_penalty": [2]})", "exponential_decay_length_penalty: expected [start, factor]"},
           {R"({"suppress_tokens": 5})", "suppress_tokens: expected a list of token ids"},
           {R"({"do_sample": true, "min_p": 1.5})", "min_p: expected a number in [0, 1]"},
           {R"({"do_sample": true, "typical_p": 0})", "typical_p"},
           {R"({"do_sample": true, "temperature": 0.0})", "temperature"},
           {R"({"early_stopping": "sometimes"})", "early_stopping: expected true, false or \"never\""},
           // What transformers refuses (its list form takes ids > 0 and a float bias; a float
           // temperature and penalty; a non-empty bad_words_ids).
           {R"({"sequence_bias": [[[0], -1.0]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs (token ids > 0)"},
           {R"({"sequence_bias": [[[4], -10]]})", "sequence_bias: expected a non-empty list of [[token ids], bias] pairs (a float bias)"},
           {R"({"bad_words_ids": []})", "bad_words_ids: expected a non-empty list"},
           {R"({"do_sample": true, "temperature": 2})", "temperature: expected a float (2.0)"},
           {R"({"repetition_penalty": 2})", "repetition_penalty: expected a float (2.0)"},
           {"{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}", "nested deeper than 64 levels"},
           {R"({"length_penalty": "long"})", "length_penalty"}}) {
    std::ofstream(tmp / "generation_config.json", std::ios::trunc) << text;
    CHECK_MESSAGE(error_of().find("generation_config.json: " + key) != std::string::npos, (text + " -> " + error_of()));
  }
  std::ofstream(tmp / "generation_config.json", std::ios::trunc)
      << R"({"eos_token_id": 3, "bad_words_ids": [[3], [3, 4]], "suppress_tokens": [1, 999, 2], "begin_suppress_tokens": [999],
            "sequence_bias": [[[5], 1.0], [[6, 7], -2.0], [[5], 2.5]], "forced_eos_token_id": 3,
            "exponential_decay_length_penalty": [4, 1.5], "forced_bos_token_id": null})";
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(spec.bad_words_ids == std::vector<std::vector<int64_t>>{{3, 4}});
  CHECK(spec.suppress_tokens == std::vector<int64_t>{1, 2});
  CHECK(spec.begin_suppress_tokens.empty());
  REQUIRE(spec.sequence_bias.size() == 2);
  CHECK(spec.sequence_bias[0] == GenerationSpec::SequenceBias{{5}, 2.5});
  CHECK(spec.sequence_bias[1] == GenerationSpec::SequenceBias{{6, 7}, -2.0});
  CHECK(spec.forced_eos_token_ids == std::vector<int64_t>{3});
  CHECK(spec.exponential_decay_length_penalty == GenerationSpec::LengthDecay{4, 1.5});
  CHECK(!spec.forced_bos_token_id);
  // Sampling settings are used only when sampling: where the file does not sample, a value
  // transformers would refuse is ignored, as generate() ignores it; values that filter nothing
  // are left out.
  std::ofstream(tmp / "generation_config.json", std::ios::trunc)
      << R"({"do_sample": false, "temperature": 0.0, "top_k": -1, "min_p": 2, "typical_p": 1.0, "epsilon_cutoff": 0.0})";
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(!spec.temperature);
  CHECK(!spec.top_k);
  CHECK(!spec.min_p);
  CHECK(!spec.typical_p);
  CHECK(!spec.epsilon_cutoff);
  std::ofstream(tmp / "generation_config.json", std::ios::trunc)
      << R"({"do_sample": true, "top_p": 1.5, "typical_p": 1.0, "min_p": 0.05, "epsilon_cutoff": 3e-4, "eta_cutoff": 1.5})";
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(!spec.top_p);
  CHECK(!spec.typical_p);
  CHECK(!spec.eta_cutoff);
  CHECK(spec.min_p == 0.05);
  CHECK(spec.epsilon_cutoff == 3e-4);
  std::filesystem::remove(tmp / "generation_config.json");
  {
    std::ifstream in(tmp / "config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    config["repetition_penalty"] = 1.25;
    config["do_sample"] = true;
    std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  }
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(spec.repetition_penalty == 1.25);
  CHECK(spec.do_sample == true);
  // config.json's settings that generation_config.json could not hold are left out, not refused:
  // the checkpoint loaded before they were read.
  {
    std::ifstream in(tmp / "config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    config["temperature"] = 0;
    config["no_repeat_ngram_size"] = "none";
    std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  }
  spec = *engine.load_graph(tmp, "text-generation").processing->generation;
  CHECK(!spec.temperature);
  CHECK(!spec.no_repeat_ngram_size);
  CHECK(spec.repetition_penalty == 1.25);
  std::filesystem::remove_all(tmp);

  // Wrong options are refused by name.
  GenerationOptions wrong;
  wrong.repetition_penalty = 0.0;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("repetition_penalty must be a finite number > 0"), Error);
  wrong = {};
  wrong.no_repeat_ngram_size = -1;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("no_repeat_ngram_size must be >= 0"), Error);
  wrong = {};
  wrong.min_new_tokens = -1;
  CHECK_THROWS_WITH_AS(gen.generate(prompt, wrong), doctest::Contains("min_new_tokens must be >= 0"), Error);
}

TEST_CASE("text models: the classification score function follows the text-classification pipeline's order") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-problem-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::copy(kModels / "bert-seqcls", tmp, std::filesystem::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kModels / "bert-seqcls" / "config.json"));
  auto function_for = [&](const nlohmann::json& changes) {
    nlohmann::json c = config;
    for (const auto& [key, value] : changes.items()) {
      if (value.is_null()) c.erase(key);
      else c[key] = value;
    }
    std::ofstream(tmp / "config.json", std::ios::trunc) << c.dump();
    return engine.load_graph(tmp).processing->tasks.at(0).function;
  };
  CHECK(function_for({{"problem_type", "multi_label_classification"}}) == ScoreFunction::Sigmoid);
  CHECK(function_for({{"problem_type", "single_label_classification"}}) == ScoreFunction::Softmax);
  CHECK(function_for({{"problem_type", "regression"}}) == ScoreFunction::None);
  CHECK(function_for({{"problem_type", nullptr}}) == ScoreFunction::Softmax);
  // A num_labels beside id2label that disagrees is ignored, as PretrainedConfig ignores it.
  CHECK(function_for({{"num_labels", 5}}) == ScoreFunction::Sigmoid);
  CHECK(engine.load_graph(tmp).processing->tasks.at(0).id2label.size() == 3);
  // One label: sigmoid, even where problem_type says single-label (the pipeline tests the label
  // count first); regression stays without a function. The checkpoint's classifier keeps one row.
  {
    std::vector<test::StTensor> tensors = test::read_safetensors(kModels / "bert-seqcls" / "model.safetensors");
    for (test::StTensor& t : tensors)
      if (t.name.rfind("classifier.", 0) == 0) {
        t.bytes.resize(t.bytes.size() / static_cast<size_t>(t.shape[0]));  // the first row
        t.shape[0] = 1;
      }
    test::write_safetensors(tmp / "model.safetensors", tensors);
  }
  const nlohmann::json one = {{"id2label", {{"0", "score"}}}, {"label2id", nullptr}};
  nlohmann::json single = one, regression = one, unset = one;
  single["problem_type"] = "single_label_classification";
  regression["problem_type"] = "regression";
  unset["problem_type"] = nullptr;
  CHECK(function_for(single) == ScoreFunction::Sigmoid);
  CHECK(function_for(unset) == ScoreFunction::Sigmoid);
  CHECK(function_for(regression) == ScoreFunction::None);
  std::filesystem::remove_all(tmp);
}

TEST_CASE("text models: ids past an embedding table are refused by the input's name, before any node runs") {
  Engine engine = text_engine();
  Session bert = engine.load(kModels / "bert-mlm", test::on_onednn());
  Tensor ids(loom::DType::i64, {1, 3});
  ids.data_as<int64_t>()[0] = 1;
  ids.data_as<int64_t>()[1] = 63;
  ids.data_as<int64_t>()[2] = 64;  // vocab_size 64
  CHECK_THROWS_WITH_AS(bert.run({{"input_ids", ids}}), "run: input 'input_ids' holds 64 at [0, 2], outside its values 0..63", Error);
  ids.data_as<int64_t>()[2] = -1;
  CHECK_THROWS_WITH_AS(bert.run({{"input_ids", ids}}), "run: input 'input_ids' holds -1 at [0, 2], outside its values 0..63", Error);
  ids.data_as<int64_t>()[2] = 5;
  Tensor types(loom::DType::i64, {1, 3});
  for (int i = 0; i < 3; ++i) types.data_as<int64_t>()[i] = i == 1 ? 2 : 0;  // type_vocab_size 2
  CHECK_THROWS_WITH_AS(bert.run({{"input_ids", ids}, {"token_type_ids", types}}),
                       "run: input 'token_type_ids' holds 2 at [0, 1], outside its values 0..1", Error);
  CHECK(bert.run({{"input_ids", ids}}).count("logits") == 1);

  Session gpt = engine.load(kModels / "gpt2", test::on_onednn());
  Tensor positions(loom::DType::i64, {1, 3});
  for (int i = 0; i < 3; ++i) positions.data_as<int64_t>()[i] = i == 2 ? 48 : i;  // n_positions 48
  CHECK_THROWS_WITH_AS(gpt.run({{"input_ids", ids}, {"position_ids", positions}}),
                       "run: input 'position_ids' holds 48 at [0, 2], outside its values 0..47", Error);
  // A sequence longer than the position table is refused by the input given, not by the default
  // position_ids made from it; through a Binding too.
  Tensor long_ids(loom::DType::i64, {1, 49});
  for (int i = 0; i < 49; ++i) long_ids.data_as<int64_t>()[i] = 5;
  const char* past = "run: input 'input_ids' has seq = 49, past the graph's bound seq <= 48 (its axis 1)";
  CHECK_THROWS_WITH_AS(gpt.run({{"input_ids", long_ids}}), past, Error);
  loom::Binding b = gpt.new_binding();
  b.bind_input("input_ids", long_ids);
  CHECK_THROWS_WITH_AS(gpt.run(b), past, Error);
}

TEST_CASE("text models: the Generator decodes greedily as the reference, samples by seed, and allocates nothing per step") {
  Engine engine = text_engine();
  const auto dir = kModels / "gpt2";
  Session s = engine.compile(engine.load_graph(dir, "text-generation"), test::on_onednn());
  Generator gen(s);
  const Tensor prompt = read_npy(dir / "prompt_ids.npy");
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  const std::span<const int64_t> ids(prompt.data_as<int64_t>(), static_cast<size_t>(prompt.numel()));
  GenerationOptions greedy;
  greedy.max_new_tokens = expected.numel();
  greedy.stop_at_eos = false;
  std::vector<int64_t> streamed;
  GenerationResult r = gen.generate(ids, greedy, [&](int64_t id) {
    streamed.push_back(id);
    return true;
  });
  const std::vector<int64_t> want(expected.data_as<int64_t>(), expected.data_as<int64_t>() + expected.numel());
  CHECK(r.tokens == want);
  CHECK(streamed == want);
  CHECK(r.stop_reason == "max_new_tokens");

  // Every decode step runs through the Generator's binding: 5 tokens or 20, the same allocations
  // (those of the prefill and of the result).
  if (test::counting()) {
    GenerationOptions few = greedy, more = greedy;
    few.max_new_tokens = 5;
    more.max_new_tokens = 20;
    gen.generate(ids, more);  // the decode plan and the binding's outputs exist from here on
    uint64_t before = test::heap_allocations();
    gen.generate(ids, few);
    const uint64_t five = test::heap_allocations() - before;
    before = test::heap_allocations();
    gen.generate(ids, more);
    const uint64_t twenty = test::heap_allocations() - before;
    MESSAGE("allocations of a generation of 5 tokens: " << five << ", of 20 tokens: " << twenty);
    CHECK(twenty == five);
    // So does sampling through every filter, and the processors (stop_at_eos off: 5 and 20
    // tokens, whatever is drawn).
    for (GenerationOptions* o : {&few, &more}) {
      o->do_sample = true;
      o->top_k = 0;
      o->top_p = 0.95;
      o->min_p = 0.01;
      o->typical_p = 0.9;
      o->epsilon_cutoff = 1e-4;
      o->eta_cutoff = 1e-4;
      o->repetition_penalty = 1.2;
      o->no_repeat_ngram_size = 3;
      o->stop_at_eos = false;
    }
    gen.generate(ids, more);
    before = test::heap_allocations();
    gen.generate(ids, few);
    const uint64_t sampled_five = test::heap_allocations() - before;
    before = test::heap_allocations();
    gen.generate(ids, more);
    const uint64_t sampled_twenty = test::heap_allocations() - before;
    MESSAGE("allocations when sampling 5 tokens: " << sampled_five << ", 20 tokens: " << sampled_twenty);
    CHECK(sampled_twenty == sampled_five);
  }

  // Sampling with top_k 1 is greedy; one seed gives one sequence, another seed another.
  GenerationOptions top1 = greedy;
  top1.do_sample = true;
  top1.top_k = 1;
  CHECK(gen.generate(ids, top1).tokens == want);
  GenerationOptions sample = greedy;
  sample.do_sample = true;
  sample.temperature = 1.5;
  sample.top_p = 0.95;
  sample.seed = 7;
  const auto a = gen.generate(ids, sample).tokens, b = gen.generate(ids, sample).tokens;
  CHECK(a == b);
  sample.seed = 8;
  CHECK(gen.generate(ids, sample).tokens != a);

  // A callback stops it; eos stops it; the caches' end stops it.
  CHECK(gen.generate(ids, greedy, [](int64_t) { return false; }).stop_reason == "callback");
  GenerationOptions many = greedy;
  many.max_new_tokens = 1000;
  const GenerationResult full = gen.generate(ids, many);
  CHECK(full.stop_reason == "max_length");
  CHECK(static_cast<int64_t>(full.tokens.size()) == gen.spec().max_length - prompt.numel());

  // generation_config.json's eos_token_id may be a list (transformers stops at any of them).
  {
    const auto tmp = std::filesystem::temp_directory_path() / ("loom-eos-list-" + std::to_string(::getpid()));
    std::filesystem::remove_all(tmp);
    std::filesystem::copy(dir, tmp, std::filesystem::copy_options::recursive);
    std::ofstream(tmp / "generation_config.json") << "{\"eos_token_id\": [" << want[4] << ", " << want[2] << "]}";
    Session listed = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    Generator eos_gen(listed);
    CHECK(eos_gen.spec().eos_token_ids == std::vector<int64_t>{want[4], want[2]});
    GenerationOptions stop = greedy;
    stop.stop_at_eos = true;
    const GenerationResult r_eos = eos_gen.generate(ids, stop);
    size_t first = 0;
    while (want[first] != want[4] && want[first] != want[2]) ++first;
    CHECK(r_eos.stop_reason == "eos");
    CHECK(r_eos.tokens == std::vector<int64_t>(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(first) + 1));
    // GPT2Config's default 50256, kept in the config of a smaller vocabulary (294 here), can never
    // be generated: transformers loads it and never stops at it; here it is dropped.
    std::ofstream(tmp / "generation_config.json") << "{\"bos_token_id\": 50256, \"eos_token_id\": [50256, " << want[2] << "]}";
    Session wide = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(Generator(wide).spec().eos_token_ids == std::vector<int64_t>{want[2]});
    CHECK(!Generator(wide).spec().bos_token_id);
    std::ofstream(tmp / "generation_config.json") << "{\"eos_token_id\": []}";
    CHECK_THROWS_WITH_AS(engine.load_graph(tmp, "text-generation"), doctest::Contains("generation_config.json: eos_token_id"), Error);
    // The same ids in config.json, with no generation_config.json: a model that never stops at eos.
    std::filesystem::remove(tmp / "generation_config.json");
    std::ifstream in(tmp / "config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const std::string key : {"\"bos_token_id\": ", "\"eos_token_id\": "}) {
      const size_t at = text.find(key);
      REQUIRE(at != std::string::npos);
      const size_t from = at + key.size(), to = text.find_first_of(",\n}", from);
      text.replace(from, to - from, "50256");
    }
    std::ofstream(tmp / "config.json") << text;
    Session unbounded = engine.compile(engine.load_graph(tmp, "text-generation"), test::on_onednn());
    CHECK(Generator(unbounded).spec().eos_token_ids.empty());
    CHECK(Generator(unbounded).generate(ids, many).stop_reason == "max_length");
    std::filesystem::remove_all(tmp);
  }

  CHECK_THROWS_WITH_AS(gen.generate({}, greedy), doctest::Contains("the prompt is empty"), Error);
  std::vector<int64_t> bad(ids.begin(), ids.end());
  bad[2] = 100000;
  CHECK_THROWS_WITH_AS(gen.generate(bad, greedy), doctest::Contains("prompt token 2 is id 100000, outside the vocabulary"), Error);
  std::vector<int64_t> too_long(static_cast<size_t>(gen.spec().max_length), 5);
  CHECK_THROWS_WITH_AS(gen.generate(too_long, greedy), doctest::Contains("holds at most 48 positions"), Error);
  GenerationOptions cold = greedy;
  cold.temperature = 0.0;
  CHECK_THROWS_WITH_AS(gen.generate(ids, cold), doctest::Contains("temperature must be a finite number > 0"), Error);
}
