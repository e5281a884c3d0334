// The BERT and GPT-2 model plugins on the checkpoints of tests/models (made by
// tools/fixtures/make_text_models.py, whose PyTorch forward follows transformers'): every output
// Hugging Face returns, within |out - ref| <= 1e-4 + 1e-5 |ref|, for the layouts a loader can get
// wrong (prefixes, legacy names, tied weights, f16 and bf16 files, shards, padding, token types),
// the errors of broken checkpoints and config.json read as transformers reads it (generation:
// test_generation.cpp; tokenizer files: test_checkpoint_tokenizers.cpp).
#include "cpu_features.hpp"
#include "model_checks.hpp"
#include "safetensors_bytes.hpp"
#include "session_graphs.hpp"

#include <loom/io.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

using namespace loom;

namespace {

using test::kModels;

using test::text_engine;

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

TEST_CASE("text models: a tied head is the input embeddings, whatever copy of them the file stores") {
  // transformers ties the output embeddings to the input ones after loading: a stored head of
  // other values is not read while tie_word_embeddings is true (its default).
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-tied-head-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  struct Model {
    const char* name;
    const char* embeddings;
    const char* head;
    std::vector<std::string> inputs;
  };
  for (const Model& m : {Model{"gpt2", "transformer.wte.weight", "lm_head.weight", {"input_ids", "attention_mask"}},
                         Model{"bert-mlm", "bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight",
                               {"input_ids", "attention_mask", "token_type_ids"}}}) {
    CAPTURE(m.name);
    const auto dir = tmp / m.name;
    std::filesystem::create_directories(dir);
    for (const auto& e : std::filesystem::directory_iterator(kModels / m.name))
      if (e.path().filename() != "model.safetensors") std::filesystem::copy_file(e.path(), dir / e.path().filename());
    std::vector<test::StTensor> tensors = test::read_safetensors(kModels / m.name / "model.safetensors");
    for (const auto& t : tensors)
      if (t.name == m.embeddings) {
        test::StTensor head = t;
        head.name = m.head;
        std::vector<float> values(head.bytes.size() / sizeof(float));
        for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) - 3.0f;
        head.bytes = test::raw_bytes(values);
        tensors.push_back(std::move(head));
        break;
      }
    test::write_safetensors(dir / "model.safetensors", tensors);
    Session s = engine.load(dir, test::on_onednn());
    TensorMap in;
    for (const auto& i : m.inputs) in.emplace(i, read_npy(kModels / m.name / (i + ".npy")));
    const auto got = compare(s.run(in).at("logits"), read_npy(kModels / m.name / "expected_logits.npy"), 1e-4, 1e-5);
    CHECK_MESSAGE(got.ok(), got.mismatch << " " << got.differing << " differ, worst " << got.max_abs_error);
  }
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
  if (!loom::test::cpu_allows(loom::test::CpuIsa::avx2)) return;  // bf16 runs on the AVX2 GEMM
  Engine engine = text_engine();
  SessionOptions bf16 = test::on_onednn();
  bf16.options["precision"] = "bf16";
  for (int threads : {1, 2}) {
    bf16.threads = threads;
    for (const auto& model :
         {std::pair<std::string, std::vector<std::string>>{"bert-mlm", {"input_ids", "attention_mask", "token_type_ids"}},
          {"gpt2", {"input_ids", "attention_mask"}}}) {
      const std::string& name = model.first;  // variables, not bindings: INFO's lambda takes them
      const std::vector<std::string>& inputs = model.second;
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
    for (const auto& model : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"bert-nsp", {"logits [0, 2]", "last_hidden_state [0, 7, 32]", "pooler_output [0, 32]"}},
             {"gpt2", {"logits [0, 7, 294]", "last_hidden_state [0, 7, 32]"}}}) {
      const std::string& name = model.first;
      const std::vector<std::string>& outputs = model.second;
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
  write(dir / "config.json", config(", \"hidden_act\": null"));  // transformers: ACT2FN[None] raises
  CHECK(error_of(dir).find("config.json: hidden_act: expected a string, got null") != std::string::npos);
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
