// The tokenizer sections the BERT and GPT-2 plugins make from a checkpoint's tokenizer files, as
// transformers reads them: tokens added to the vocabulary, tokenizer.json's options under
// tokenizer_config.json's, and tokenizer.json's post_processor framing.
#include "model_checks.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace loom;

namespace {

using test::kModels;
using test::text_engine;

// A copy of tests/models/`name` as tmp/`name`.
std::filesystem::path copy_model(const std::filesystem::path& tmp, const char* name) {
  const auto dir = tmp / name;
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / name)) std::filesystem::copy_file(e.path(), dir / e.path().filename());
  return dir;
}

}  // namespace

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
      "61": {"content": "<Extra>", "normalized": false, "special": true},
      "63": {"content": "TokTwo", "normalized": true, "special": false}}})");
  {
    const Tokenizer t = tokenizer();
    // loomword is matched in the lower-cased text, <Extra> in the raw text only.
    CHECK(t.encode_text("the LoomWord cat<Extra>[MASK]") == std::vector<int64_t>{5, 60, 6, 61, 4});
    // A normalized token is matched as its normalized content: TokTwo as toktwo, in any case.
    CHECK(t.encode_text("toktwo TOKTWO TokTwo") == std::vector<int64_t>{63, 63, 63});
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
    CHECK(t.encode_text("[unused0]") != std::vector<int64_t>{59});  // a word of the vocabulary, but split as text
  }
  // An additional special token that no file adds is added by transformers all the same: the
  // vocabulary's [unused0] is then one token, matched as written.
  write("special_tokens_map.json", R"({"additional_special_tokens": ["<Extra>", "[unused0]"]})");
  {
    const Tokenizer t = tokenizer();
    CHECK(t.encode_text("the [unused0] cat") == std::vector<int64_t>{5, 59, 6});
    CHECK(t.encode_text("[UNUSED0]") == std::vector<int64_t>{1, 1, 1});  // not normalized: "[", "unused0", "]" as text
    CHECK(t.is_special(59));
  }
  write("special_tokens_map.json", R"({"additional_special_tokens": ["<Extra>"]})");

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
  // A vocabulary file that is there but no regular file is named, not taken for no tokenizer.
  std::filesystem::remove(dir / "added_tokens.json");
  std::filesystem::remove(dir / "vocab.txt");
  std::filesystem::create_directory(dir / "vocab.txt");
  e = error_of();
  CHECK_MESSAGE(e.find("vocab.txt: not a regular file") != std::string::npos, e);
  std::filesystem::remove_all(dir);
}

TEST_CASE("text models: a tokenizer.json alone takes tokenizer_config.json's options as the Fast classes do") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-file-options-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  auto copy = [&](const char* name) { return copy_model(tmp, name); };
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

// GPT-2's vocab.json and merges.txt with tokenizer_config.json's add_bos_token: transformers'
// GPT2TokenizerFast (converted from the slow files) puts <|endoftext|> before the text, and
// before a pair of texts once; off by default.
TEST_CASE("text models: GPT-2's add_bos_token puts the bos token before a text, as transformers does") {
  Engine engine = text_engine();
  const auto dir = std::filesystem::temp_directory_path() / ("loom-add-bos-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / "gpt2")) std::filesystem::copy_file(e.path(), dir / e.path().filename());
  REQUIRE_FALSE(std::filesystem::exists(dir / "tokenizer.json"));
  auto write = [&](const std::string& text) { std::ofstream(dir / "tokenizer_config.json", std::ios::trunc) << text; };
  auto tokenizer = [&] { return Tokenizer::from_graph(engine.load_graph(dir)); };
  const Tokenizer plain = tokenizer();
  const std::vector<int64_t> cat = plain.encode_text("the cat"), sat = plain.encode_text(" sat");
  const int64_t bos = 293;  // <|endoftext|> in tests/models/gpt2/vocab.json
  CHECK(plain.encode({"the cat"}).input_ids[0] == cat);
  write(R"({"add_bos_token": false})");
  CHECK(tokenizer().encode({"the cat"}).input_ids[0] == cat);
  write(R"({"add_bos_token": true})");
  const Tokenizer with_bos = tokenizer();
  std::vector<int64_t> want = {bos};
  want.insert(want.end(), cat.begin(), cat.end());
  CHECK(with_bos.encode({"the cat"}).input_ids[0] == want);
  want.insert(want.end(), sat.begin(), sat.end());
  CHECK(with_bos.encode({"the cat"}, {" sat"}).input_ids[0] == want);
  write(R"({"add_bos_token": "yes"})");
  CHECK_THROWS_WITH_AS(tokenizer(), doctest::Contains("tokenizer_config.json: add_bos_token"), Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("text models: model_input_names decides which of token types and attention mask feed the model") {
  Engine engine = text_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-input-names-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  auto copy = [&](const char* name) { return copy_model(tmp, name); };
  auto write = [](const std::filesystem::path& dir, const std::string& text) { std::ofstream(dir / "tokenizer_config.json", std::ios::trunc) << text; };
  auto fed = [&](const std::filesystem::path& dir) {
    const Tokenizer tok = Tokenizer::from_graph(engine.load_graph(dir));
    std::string names;
    for (const auto& [name, tensor] : tok.tensors(tok.encode({"the cat"}, {"sat"}))) names += name + " ";
    return names;
  };
  const auto bert = copy("bert-nsp");
  write(bert, R"({"tokenizer_class": "BertTokenizer"})");
  CHECK(fed(bert) == "attention_mask input_ids token_type_ids ");
  // DistilBertTokenizer's class list leaves the type ids out: a pair's B segment reads type 0.
  write(bert, R"({"tokenizer_class": "DistilBertTokenizerFast"})");
  CHECK(fed(bert) == "attention_mask input_ids ");
  write(bert, R"({"model_input_names": ["input_ids", "token_type_ids"]})");
  CHECK(fed(bert) == "input_ids token_type_ids ");
  write(bert, R"({"tokenizer_class": "DistilBertTokenizer", "model_input_names": ["input_ids", "token_type_ids", "attention_mask"]})");
  CHECK(fed(bert) == "attention_mask input_ids token_type_ids ");
  write(bert, R"({"model_input_names": ["attention_mask", "input_ids"]})");
  CHECK_THROWS_WITH_AS(fed(bert), doctest::Contains("tokenizer_config.json: model_input_names: starts with \"attention_mask\""), Error);
  for (const char* bad : {R"({"model_input_names": "input_ids"})", R"({"model_input_names": []})", R"({"model_input_names": [7]})"}) {
    write(bert, bad);
    CHECK_THROWS_WITH_AS(fed(bert), doctest::Contains("tokenizer_config.json: model_input_names: expected a non-empty list"), Error);
  }
  write(bert, R"({"split_special_tokens": true})");
  CHECK_THROWS_WITH_AS(fed(bert), doctest::Contains("tokenizer_config.json: split_special_tokens: true is not supported"), Error);
  write(bert, R"({"split_special_tokens": false})");
  CHECK(fed(bert) == "attention_mask input_ids token_type_ids ");

  // GPT2Model would add the type ids' embeddings, which its graph has no input for; generation
  // passes ids and mask only.
  const auto gpt2 = copy("gpt2-base");
  write(gpt2, R"({"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]})");
  CHECK_THROWS_WITH_AS(fed(gpt2), doctest::Contains("model_input_names: lists \"token_type_ids\""), Error);
  write(gpt2, R"({"model_input_names": ["input_ids"]})");
  CHECK(fed(gpt2) == "input_ids ");
  // PreTrainedTokenizerFast's base list, which names type ids, is not read as a refusal: the
  // model plugin's inputs stand (docs/models.md).
  write(gpt2, R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
  CHECK(fed(gpt2) == "attention_mask input_ids ");
  write(gpt2, R"({"tokenizer_class": "PreTrainedTokenizerFast", "model_input_names": ["input_ids"]})");
  CHECK(fed(gpt2) == "input_ids ");
  const auto lm = copy("gpt2");
  write(lm, R"({"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]})");
  CHECK_NOTHROW(engine.load_graph(lm, "text-generation"));
  std::filesystem::remove_all(tmp);
}
