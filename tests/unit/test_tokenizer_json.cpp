// Tokenizers from a Hugging Face tokenizer.json. The tiny tokenizers of tests/tokenizers exist
// twice, as vocabulary files and as tokenizer.json (make_tiny_fixtures.py), and must give the
// same ids both ways; the real vocabularies, written into a tokenizer.json here, must too. Added
// tokens' flags (lstrip, rstrip, single_word, normalized, special) and the spec's agreement with
// the file are checked on edited copies.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include "tokenizer_specs.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

using namespace tokenizer_test;
using nlohmann::json;

namespace {

std::string read(const std::string& relative) {
  std::ifstream in(data_dir() / relative, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

json read_json(const std::string& relative) { return json::parse(read(relative)); }

// The tokenizer.json `fixture` with the vocabulary and merges of the folder `files` (vocab.json,
// merges.txt) in place of its own.
json with_bpe_files(const std::string& fixture, const std::string& files) {
  json j = read_json(fixture);
  j["model"]["vocab"] = json::parse(read(files + "/vocab.json"));
  j["model"]["merges"] = json::array();
  std::ifstream in(data_dir() / files / "merges.txt");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("#version", 0) != 0 && !line.empty()) j["model"]["merges"].push_back(line);
  return j;
}

loom::Tokenizer from_json(loom::TokenizerSpec spec, const json& j) {
  return loom::Tokenizer::from_texts(spec, {.tokenizer = j.dump()});
}

const std::vector<std::string> kTexts = {
    "Hello, World!", "unaffable café", "中文 the's", "thes aaa [MASK]", "xyz [SEP]", "hello  world\n\n", "it's   x",
    "<|endoftext|>Hello world", "é ü 😀", "", "   ", "HELLO'S"};

}  // namespace

TEST_CASE("tokenizer.json: the tiny WordPiece gives the ids of its vocab.txt") {
  const loom::Tokenizer files(tiny_wordpiece_spec(false), data_dir());
  const loom::Tokenizer from_file(tiny_wordpiece_spec(true), data_dir());
  // Ids are lines of tiny-wordpiece/vocab.txt less one: hello 5, world 6, ! 7, "," 8, ' 9, s 10,
  // un 11, ##aff 12, ##able 13, cafe 14, 中 15, 文 16, the 17, ##s 18, a 19, ##a 20; [UNK] 1.
  for (const loom::Tokenizer* t : {&files, &from_file}) {
    CHECK(t->encode_text("Hello, World!") == Ids{5, 8, 6, 7});
    CHECK(t->encode_text("unaffable Café") == Ids{11, 12, 13, 14});
    CHECK(t->encode_text("中文 the's") == Ids{15, 16, 17, 9, 10});
    CHECK(t->encode_text("thes aaa xyz [MASK]") == Ids{17, 18, 19, 20, 20, 1, 4});
    CHECK(t->encode({"hello"}, {"world"}).input_ids[0] == Ids{2, 5, 3, 6, 3});
    CHECK(t->decode(Ids{2, 11, 12, 13, 7, 3}, {.skip_special_tokens = true}) == "unaffable!");
  }
  for (const std::string& text : kTexts) CHECK(files.encode_text(text) == from_file.encode_text(text));
}

TEST_CASE("tokenizer.json: the tiny byte-level BPE gives the ids of its vocab.json and merges.txt") {
  const loom::Tokenizer files(tiny_bpe_spec(false), data_dir());
  const loom::Tokenizer from_file(tiny_bpe_spec(true), data_dir());
  // Byte b's symbol is id b (H 72, i 105, t 116, w 119, Ġ 32 for the space, Ã 195, © 169), the
  // merges follow from 256: Ġw 256, or 257, ld 258, Ġwor 259, Ġworld 260, he 261, ll 262,
  // hell 263, hello 264, He 265, Hell 266, Hello 267, 's 268, ĠĠ 269, ĊĊ 270; <|endoftext|> 271.
  for (const loom::Tokenizer* t : {&files, &from_file}) {
    CHECK(t->encode_text("Hello world") == Ids{267, 260});
    CHECK(t->encode_text("hello  world\n\n") == Ids{264, 32, 260, 270});
    CHECK(t->encode_text("world") == Ids{119, 257, 258});  // no Ġ: "o r" and "l d" only
    CHECK(t->encode_text("it's") == Ids{105, 116, 268});
    CHECK(t->encode_text("   x") == Ids{269, 32, 120});  // "  " then " x" (\s+(?!\S))
    CHECK(t->encode_text("é<|endoftext|>") == Ids{195, 169, 271});
  }
  for (const std::string& text : kTexts) {
    CHECK(files.encode_text(text) == from_file.encode_text(text));
    CHECK(from_file.decode(from_file.encode_text(text)) == text);
  }
  // Merges written as pairs (newer tokenizers files) read the same.
  json j = read_json("tiny-bpe/tokenizer.json");
  json pairs = json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    pairs.push_back(json::array({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)}));
  }
  j["model"]["merges"] = pairs;
  CHECK(from_json(tiny_bpe_spec(true), j).encode_text("Hello world") == Ids{267, 260});
}

TEST_CASE("tokenizer.json: the tiny CLIP BPE gives the ids of its vocab.json and merges.txt") {
  const loom::Tokenizer files(tiny_clip_spec(false), data_dir());
  const loom::Tokenizer from_file(tiny_clip_spec(true), data_dir());
  // Byte b's symbol is id b and ends a word as 256 + b (i 105, t</w> 372, h 104, i</w> 361, 2</w>
  // 306, 0</w> 304, 4</w> 308, Ã 195, ©</w> 425); the merges follow from 512: he, ll, hell,
  // hello</w> 515, ld</w>, rld</w>, wo, world</w> 519, 's</w> 520, !!</w> 521; <|startoftext|>
  // 522, <|endoftext|> 523.
  for (const loom::Tokenizer* t : {&files, &from_file}) {
    CHECK(t->encode_text("Hello World!!") == Ids{515, 519, 521});
    CHECK(t->encode_text("it's") == Ids{105, 372, 520});
    CHECK(t->encode_text("2024") == Ids{306, 304, 306, 308});
    CHECK(t->encode_text("<|STARTOFTEXT|>hi") == Ids{522, 104, 361});
    CHECK(t->encode_text("é") == Ids{195, 425});
    const loom::Encoding e = t->encode({"hello"}, {"world"});
    CHECK(e.input_ids[0] == Ids{522, 515, 523, 523, 519, 523, 523, 523, 523, 523, 523, 523, 523, 523, 523, 523});
    CHECK(t->decode(e.input_ids[0], {.skip_special_tokens = true}) == "hello world");
  }
  for (const std::string& text : kTexts) CHECK(files.encode_text(text) == from_file.encode_text(text));
  // Without Lowercase in the normalizer (and in the spec) upper case stays: H 72 E 69 L 76 L 76 O</w> 335.
  json j = read_json("tiny-clip/tokenizer.json");
  j["normalizer"]["normalizers"].erase(2);
  loom::TokenizerSpec cased = tiny_clip_spec(true);
  cased.lowercase = false;
  CHECK(from_json(cased, j).encode_text("HELLO") == Ids{72, 69, 76, 76, 335});
  CHECK_THROWS_WITH_AS(from_json(tiny_clip_spec(true), j),
                       doctest::Contains("tokenizer.json: the normalizer does not lower-case but processing.tokenizer.lowercase is true"),
                       loom::Error);
  CHECK_THROWS_WITH_AS(loom::Tokenizer(cased, data_dir()),
                       doctest::Contains("tokenizer.json: the normalizer lower-cases but processing.tokenizer.lowercase is false"),
                       loom::Error);
  // The unknown token of the spec and the file's must agree.
  j = read_json("tiny-clip/tokenizer.json");
  j["model"]["unk_token"] = nullptr;
  CHECK_THROWS_WITH_AS(from_json(tiny_clip_spec(true), j),
                       doctest::Contains("tokenizer.json: model.unk_token is null but processing.tokenizer.special_tokens.unk is '<|endoftext|>'"),
                       loom::Error);
}

TEST_CASE("tokenizer.json: the real vocabularies written as tokenizer.json give the same ids") {
  // bert-base-uncased's vocab.txt as a WordPiece tokenizer.json, GPT-2's and CLIP's files as BPE
  // ones.
  json bert_json = read_json("tiny-wordpiece/tokenizer.json");
  bert_json["model"]["vocab"] = json::object();
  {
    std::ifstream in(data_dir() / "bert-base-uncased" / "vocab.txt");
    std::string line;
    for (int64_t id = 0; std::getline(in, line); ++id) bert_json["model"]["vocab"][line] = id;
  }
  for (auto& added : bert_json["added_tokens"]) added["id"] = bert_json["model"]["vocab"][added["content"].get<std::string>()];
  loom::TokenizerSpec bert_json_spec = bert_spec();
  bert_json_spec.files = {.tokenizer = "tokenizer.json"};
  const loom::Tokenizer bert_from_json = from_json(bert_json_spec, bert_json);

  json gpt2_json = with_bpe_files("tiny-bpe/tokenizer.json", "gpt2");
  gpt2_json["added_tokens"][0]["id"] = 50256;
  loom::TokenizerSpec gpt2_json_spec = gpt2_spec();
  gpt2_json_spec.files = {.tokenizer = "tokenizer.json"};
  const loom::Tokenizer gpt2_from_json = from_json(gpt2_json_spec, gpt2_json);

  // CLIP's files as the tokenizer.json of its checkpoints.
  json clip_json = with_bpe_files("tiny-clip/tokenizer.json", "clip");
  clip_json["added_tokens"][0]["id"] = 49406;
  clip_json["added_tokens"][1]["id"] = 49407;
  loom::TokenizerSpec clip_json_spec = clip_spec();
  clip_json_spec.files = {.tokenizer = "tokenizer.json"};
  const loom::Tokenizer clip_from_json = from_json(clip_json_spec, clip_json);

  for (const std::string& text : kTexts) {
    CHECK(bert_from_json.encode_text(text) == bert().encode_text(text));
    CHECK(gpt2_from_json.encode_text(text) == gpt2().encode_text(text));
    CHECK(clip_from_json.encode_text(text) == clip().encode_text(text));
  }
  CHECK(clip_from_json.encode({"a photo of a cat"}).input_ids == clip().encode({"a photo of a cat"}).input_ids);
  CHECK(gpt2_from_json.encode_text("Hello world") == Ids{15496, 995});
  CHECK(bert_from_json.encode_text("Hello, World!") == Ids{7592, 1010, 2088, 999});
}

TEST_CASE("tokenizer.json: added tokens' lstrip, rstrip, single_word and special") {
  loom::TokenizerSpec spec = tiny_bpe_spec(true);
  spec.vocab_size = 273;
  auto with_mask = [&](bool lstrip, bool rstrip, bool single_word, bool special) {
    json j = read_json("tiny-bpe/tokenizer.json");
    j["added_tokens"].push_back({{"id", 272}, {"content", "<mask>"}, {"single_word", single_word}, {"lstrip", lstrip},
                                 {"rstrip", rstrip}, {"normalized", false}, {"special", special}});
    return from_json(spec, j);
  };
  // lstrip takes the space before the token: Hello (267) <mask> (272), not Hello Ġ <mask>.
  CHECK(with_mask(true, false, false, true).encode_text("Hello <mask>") == Ids{267, 272});
  CHECK(with_mask(false, false, false, true).encode_text("Hello <mask>") == Ids{267, 32, 272});
  // rstrip takes the space after it: "world" loses its Ġ (w 119, or 257, ld 258).
  CHECK(with_mask(false, true, false, true).encode_text("<mask> world") == Ids{272, 119, 257, 258});
  CHECK(with_mask(false, false, false, true).encode_text("<mask> world") == Ids{272, 260});
  // single_word: only between non-word characters; inside a word it stays text.
  const loom::Tokenizer single = with_mask(false, false, true, true);
  CHECK(single.encode_text("a <mask> b") == Ids{97, 32, 272, 32, 98});  // a Ġ <mask> Ġ b
  const Ids glued = single.encode_text("a<mask>b");
  CHECK(std::find(glued.begin(), glued.end(), 272) == glued.end());
  CHECK(single.decode(glued) == "a<mask>b");
  // A word character as the tokenizers library's \w has it: the zero-width non-joiner (U+200C)
  // and the circled letter ⓐ (Other_Alphabetic) join the token to a word, "!" does not.
  for (const char* text : {"a <mask>\u200c", "a <mask>\u24d0"}) {
    const Ids ids = single.encode_text(text);
    CHECK_MESSAGE(std::find(ids.begin(), ids.end(), 272) == ids.end(), text);
  }
  const Ids bang = single.encode_text("a <mask>!");
  CHECK(std::find(bang.begin(), bang.end(), 272) != bang.end());
  // special decides what skip_special_tokens leaves out.
  CHECK(with_mask(false, false, false, true).decode(Ids{267, 272}, {.skip_special_tokens = true}) == "Hello");
  CHECK(with_mask(false, false, false, false).decode(Ids{267, 272}, {.skip_special_tokens = true}) == "Hello<mask>");
  CHECK_FALSE(with_mask(false, false, false, false).is_special(272));
}

TEST_CASE("tokenizer.json: normalized added tokens match the lower-cased text") {
  loom::TokenizerSpec spec = tiny_wordpiece_spec(true);
  spec.vocab_size = 22;
  auto with_word = [&](bool normalized) {
    json j = read_json("tiny-wordpiece/tokenizer.json");
    j["added_tokens"].push_back({{"id", 21}, {"content", "newword"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                 {"normalized", normalized}, {"special", false}});
    return from_json(spec, j);
  };
  // Normalized: matched after lower-casing, so "NEWWORD" is it (21), then hello (5).
  CHECK(with_word(true).encode_text("NEWWORD hello") == Ids{21, 5});
  // Not normalized: matched in the raw text only; "NEWWORD" lower-cases to a word WordPiece
  // cannot split: [UNK] (1).
  CHECK(with_word(false).encode_text("NEWWORD hello") == Ids{1, 5});
  CHECK(with_word(false).encode_text("newword hello") == Ids{21, 5});
}

TEST_CASE("tokenizer spec: added_tokens join the vocabulary files' tokens and tokenizer.json's") {
  // Over vocab.txt (which has no added tokens) the spec's are the only ones.
  loom::TokenizerSpec spec = tiny_wordpiece_spec(false);
  spec.vocab_size = 23;
  spec.added_tokens = {{"newword", 21, false, false, false, false, std::nullopt}, {"<extra>", 22, true, false, false, false, std::nullopt}};
  const loom::Tokenizer files(spec, data_dir());
  // newword is normalized (not special: the default), so "NEWWORD" is it; <extra> is matched raw.
  CHECK(files.encode_text("NEWWORD hello<extra>") == Ids{21, 5, 22});
  CHECK(files.encode_text("<EXTRA>") != Ids{22});
  CHECK(files.decode(Ids{5, 21, 22}, {.skip_special_tokens = true}) == "hello newword");
  CHECK(files.is_special(22));
  CHECK_FALSE(files.is_special(21));

  // Over tokenizer.json the spec's flags win for a token the file adds with the same id.
  json j = read_json("tiny-wordpiece/tokenizer.json");
  j["added_tokens"].push_back({{"id", 21}, {"content", "newword"}, {"normalized", false}, {"special", false}});
  loom::TokenizerSpec on_json = tiny_wordpiece_spec(true);
  on_json.vocab_size = 23;
  CHECK(from_json(on_json, j).encode_text("NEWWORD") == Ids{1});  // the file's: raw only
  on_json.added_tokens = {{"newword", 21, false, false, false, false, true}};
  CHECK(from_json(on_json, j).encode_text("NEWWORD") == Ids{21});
  // Another id for the same text, or another text on the file's id, disagree with the file.
  on_json.added_tokens = {{"newword", 22, false, false, false, false, std::nullopt}};
  CHECK_THROWS_WITH_AS(from_json(on_json, j),
                       doctest::Contains("processing.tokenizer.added_tokens[0]: 'newword' with id 22, but tiny-wordpiece/tokenizer.json adds 'newword' as id 21"),
                       loom::Error);
  on_json.added_tokens = {{"other", 21, false, false, false, false, std::nullopt}};
  CHECK_THROWS_WITH_AS(from_json(on_json, j), doctest::Contains("adds 'newword' as id 21"), loom::Error);
  // A text of the vocabulary keeps its id there.
  spec.added_tokens = {{"hello", 21, false, false, false, false, std::nullopt}};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, data_dir()), doctest::Contains("'hello' has id 21, but it is 5"), loom::Error);
  // Ids past vocab_size are refused.
  spec.added_tokens = {{"far", 23, false, false, false, false, std::nullopt}};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, data_dir()), doctest::Contains("token 'far' has id 23, not below processing.tokenizer.vocab_size 23"),
                       loom::Error);
  spec.added_tokens = {{"", 21, false, false, false, false, std::nullopt}};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, data_dir()), doctest::Contains("processing.tokenizer.added_tokens[0].token"), loom::Error);
}

TEST_CASE("tokenizer.json: the spec must say what the file says") {
  loom::TokenizerSpec cased = tiny_wordpiece_spec(true);
  cased.lowercase = false;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(cased, data_dir()),
                       doctest::Contains("tokenizer.json: normalizer.lowercase is true but processing.tokenizer.lowercase is false"),
                       loom::Error);
  loom::TokenizerSpec keep_accents = tiny_wordpiece_spec(true);
  keep_accents.strip_accents = false;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(keep_accents, data_dir()), doctest::Contains("normalizer.strip_accents is true"), loom::Error);
  loom::TokenizerSpec no_cjk = tiny_wordpiece_spec(true);
  no_cjk.tokenize_chinese_chars = false;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(no_cjk, data_dir()), doctest::Contains("handle_chinese_chars is true"), loom::Error);
  loom::TokenizerSpec prefix = tiny_bpe_spec(true);
  prefix.add_prefix_space = true;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(prefix, data_dir()),
                       doctest::Contains("pre_tokenizer.add_prefix_space is false but processing.tokenizer.add_prefix_space is true"),
                       loom::Error);
  // replace_file_options: the spec's values win, as BertTokenizerFast and GPT2TokenizerFast
  // apply tokenizer_config.json's.
  cased.replace_file_options = true;
  CHECK(loom::Tokenizer(cased, data_dir()).encode_text("Hello café") == Ids{1, 1});  // neither is in the vocabulary
  CHECK(loom::Tokenizer(tiny_wordpiece_spec(true), data_dir()).encode_text("Hello café") == Ids{5, 14});
  keep_accents.lowercase = true;
  keep_accents.replace_file_options = true;
  CHECK(loom::Tokenizer(keep_accents, data_dir()).encode_text("Hello café") == Ids{5, 1});
  no_cjk.replace_file_options = true;
  CHECK(loom::Tokenizer(no_cjk, data_dir()).encode_text("中文") == Ids{1});  // one word, not in the vocabulary
  prefix.replace_file_options = true;
  CHECK(loom::Tokenizer(prefix, data_dir()).encode_text("world") == Ids{260});  // " world" = Ġworld
  json nothing = read_json("tiny-wordpiece/tokenizer.json");
  nothing["normalizer"] = nullptr;
  CHECK_THROWS_WITH_AS(from_json(cased, nothing), doctest::Contains("tokenizer.json: normalizer is null, but processing.tokenizer.replace_file_options"),
                       loom::Error);
  // Without a decoder the tokens are joined by spaces as they are (Hugging Face's tokenizers);
  // a decoder other than WordPiece's is refused by name.
  json plain = read_json("tiny-wordpiece/tokenizer.json");
  plain["decoder"] = nullptr;
  CHECK(from_json(tiny_wordpiece_spec(true), plain).decode(Ids{11, 12, 13, 7}, {.clean_up_tokenization_spaces = false}) ==
        "un ##aff ##able !");
  plain["decoder"] = {{"type", "ByteLevel"}};
  CHECK_THROWS_WITH_AS(from_json(tiny_wordpiece_spec(true), plain),
                       doctest::Contains("tokenizer.json: decoder.type: 'ByteLevel' is not supported with a WordPiece model"), loom::Error);
  json bpe = read_json("tiny-bpe/tokenizer.json");
  bpe["decoder"] = nullptr;  // byte-level BPE likewise: the symbols as they are, not their bytes
  CHECK(from_json(tiny_bpe_spec(true), bpe).decode(Ids{264, 260, 271}) == "hello \u0120world <|endoftext|>");
  CHECK(from_json(tiny_bpe_spec(true), bpe).decode(Ids{264, 260, 271}, {.skip_special_tokens = true}) == "hello \u0120world");
  CHECK(from_json(tiny_bpe_spec(true), read_json("tiny-bpe/tokenizer.json")).decode(Ids{264, 260}) == "hello world");
  bpe["decoder"] = {{"type", "WordPiece"}};
  CHECK_THROWS_WITH_AS(from_json(tiny_bpe_spec(true), bpe),
                       doctest::Contains("tokenizer.json: decoder.type: 'WordPiece' is not supported with byte-level BPE"), loom::Error);
  loom::TokenizerSpec clip = tiny_clip_spec(true);
  clip.replace_file_options = true;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(clip, data_dir()), doctest::Contains("replace_file_options: applies to `kind: wordpiece`"), loom::Error);
  loom::TokenizerSpec other_unk = tiny_wordpiece_spec(true);
  other_unk.special_tokens["unk"] = {"[MASK]", 4};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(other_unk, data_dir()), doctest::Contains("model.unk_token is '[UNK]'"), loom::Error);
  // The model must be the kind's.
  loom::TokenizerSpec wrong_kind = tiny_bpe_spec(true);
  wrong_kind.kind = loom::TokenizerKind::WordPiece;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(wrong_kind, data_dir()),
                       doctest::Contains("model.type: 'BPE', but processing.tokenizer.kind is wordpiece"), loom::Error);
}
