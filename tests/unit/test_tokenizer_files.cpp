// Hostile tokenizer files and specs: each is refused with a loom::Error that names the file and
// the line or entry at fault, never a crash. The files are made here, in memory, from the tiny
// tokenizers of tests/tokenizers.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include "io/regular_file.hpp"
#include "tokenizer_specs.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include "scratch_dir.hpp"

using namespace tokenizer_test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& relative) {
  std::ifstream in(data_dir() / relative, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A WordPiece spec with no special tokens: only the files are under test.
loom::TokenizerSpec plain_wordpiece() {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::WordPiece;
  s.files.vocab = "vocab.txt";
  s.input_ids = "input_ids";
  return s;
}

loom::TokenizerSpec plain_bpe() {
  loom::TokenizerSpec s;
  s.kind = loom::TokenizerKind::ByteLevelBpe;
  s.files.vocab = "vocab.json";
  s.files.merges = "merges.txt";
  s.input_ids = "input_ids";
  return s;
}

std::string error_of(const loom::TokenizerSpec& spec, const loom::TokenizerFileTexts& texts) {
  try {
    loom::Tokenizer::from_texts(spec, texts);
  } catch (const loom::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string vocab_txt_error(const std::string& text) { return error_of(plain_wordpiece(), {.vocab = text}); }

std::string bpe_error(const std::string& vocab, const std::string& merges) {
  return error_of(plain_bpe(), {.vocab = vocab, .merges = merges});
}

std::string tiny_bpe_vocab() { return read("tiny-bpe/vocab.json"); }
std::string tiny_bpe_merges() { return read("tiny-bpe/merges.txt"); }

std::string json_error(loom::TokenizerKind kind, const std::string& text) {
  loom::TokenizerSpec s;
  s.kind = kind;
  s.files.tokenizer = "tokenizer.json";
  s.input_ids = "input_ids";
  if (kind != loom::TokenizerKind::ByteLevelBpe) s.lowercase = true;
  return error_of(s, {.tokenizer = text});
}

std::string edited_json_error(const std::string& fixture, loom::TokenizerKind kind, void (*edit)(json&)) {
  json j = json::parse(read(fixture));
  edit(j);
  return json_error(kind, j.dump());
}

constexpr auto kWordPiece = loom::TokenizerKind::WordPiece;
constexpr auto kBpe = loom::TokenizerKind::ByteLevelBpe;
constexpr auto kClip = loom::TokenizerKind::ClipBpe;

// CLIP's BPE without special tokens (and so without an unknown token): only the files are under test.
loom::TokenizerSpec plain_clip() {
  loom::TokenizerSpec s = plain_bpe();
  s.kind = kClip;
  s.lowercase = true;
  return s;
}

}  // namespace

TEST_CASE("tokenizer files: vocab.txt") {
  // As transformers reads vocab.txt: a repeated token takes its last line's id, and the ids of
  // its earlier lines and of empty lines hold no token (they decode to no text).
  const loom::Tokenizer repeated =
      loom::Tokenizer::from_texts(plain_wordpiece(), {.vocab = "[UNK]\nhello\n\nworld\nhello\n"});
  CHECK(repeated.encode_text("hello world") == Ids{4, 3});
  CHECK(repeated.decode(std::vector<int64_t>{1, 2, 4, 3}) == "hello world");
  CHECK(vocab_txt_error("\n\n") == "vocab.txt: the vocabulary is empty");
  CHECK(vocab_txt_error("[UNK]\n" + std::string(5000, 'x') + "\n") == "vocab.txt:2: a token of 5000 bytes (at most 1024)");
  CHECK(vocab_txt_error("[UNK]\nok\n\xff\xfe\n") == "vocab.txt:3: a token that is not UTF-8 (at byte 0)");
  CHECK(vocab_txt_error("") == "vocab.txt: the vocabulary is empty");
  CHECK(vocab_txt_error("hello\nworld\n") ==
        "vocab.txt: the unknown token '[UNK]' is not in the vocabulary (WordPiece gives it to every word it cannot split)");
  // Windows line ends are line ends, and so is a lone \r (Python's universal newlines); a last
  // line without one is a line.
  const loom::Tokenizer crlf = loom::Tokenizer::from_texts(plain_wordpiece(), {.vocab = "[UNK]\r\nhello\r\nworld"});
  CHECK(crlf.encode_text("hello world") == Ids{1, 2});
  CHECK(crlf.encode_text("nope") == Ids{0});
  const loom::Tokenizer cr = loom::Tokenizer::from_texts(plain_wordpiece(), {.vocab = "[UNK]\rhello\r\n\nworld\n"});
  CHECK(cr.encode_text("hello world") == Ids{1, 3});
}

TEST_CASE("tokenizer files: vocab.json") {
  const std::string merges = tiny_bpe_merges();
  CHECK(bpe_error("[1, 2]", merges) == "vocab.json: expected a JSON object {token: id}, found a list");
  CHECK(bpe_error("{\"a\": \"1\"}", merges) == "vocab.json: 'a': the id must be a whole number, found a string \"1\"");
  CHECK(bpe_error("{\"a\": 1.5}", merges) == "vocab.json: 'a': the id must be a whole number, found a fractional number 1.5");
  CHECK(bpe_error("{\"a\": true}", merges) == "vocab.json: 'a': the id must be a whole number, found a boolean true");
  CHECK(bpe_error("{\"a\": -1}", merges) == "vocab.json: 'a': id -1 is out of range (0 to 2147483646)");
  CHECK(bpe_error("{\"a\": 3000000000}", merges) == "vocab.json: 'a': id 3000000000 is out of range (0 to 2147483646)");
  CHECK(bpe_error("{\"a\": 1, \"b\": 1}", merges) == "vocab.json: 'b': id 1 is already 'a'");
  CHECK(bpe_error("{\"a\": 1, \"a\": 2}", merges) == "vocab.json: key \"a\" appears more than once");
  CHECK(bpe_error("{\"\": 1}", merges) == "vocab.json: '': an empty token");
  CHECK(bpe_error("{}", merges) == "vocab.json: the vocabulary is empty");
  CHECK(bpe_error("{\"a\": 1", merges).rfind("vocab.json: not valid JSON: ", 0) == 0);
  CHECK(bpe_error(std::string("{\"a\": 1}\0", 9), merges) == "vocab.json: not JSON text: a NUL byte at offset 8");
  CHECK(bpe_error("{\"a\xff\": 1}", merges).rfind("vocab.json: not valid JSON: ", 0) == 0);
  CHECK(bpe_error(std::string(100, '[') + std::string(100, ']'), merges).find("nested deeper than 64 levels") != std::string::npos);
  // Byte-level BPE without an unknown token needs every byte's symbol.
  json no_nul = json::parse(tiny_bpe_vocab());
  no_nul.erase("\u0100");  // the symbol of byte 0x00
  CHECK(bpe_error(no_nul.dump(), merges) ==
        "vocab.json: the symbol '\u0100' of byte 0x00 is not in the vocabulary (byte-level BPE without an unknown token needs all 256)");
}

TEST_CASE("tokenizer files: merges.txt") {
  const std::string vocab = tiny_bpe_vocab();
  CHECK(bpe_error(vocab, "#version: 0.2\nh e\nh e x\n") == "merges.txt:3: expected two tokens separated by one space, found 'h e x'");
  CHECK(bpe_error(vocab, "#version: 0.2\nh\n") == "merges.txt:2: expected two tokens separated by one space, found 'h'");
  CHECK(bpe_error(vocab, "#version: 0.2\nh  e\n") == "merges.txt:2: expected two tokens separated by one space, found 'h  e'");
  CHECK(bpe_error(vocab, "#version: 0.2\nhe zz\n") == "merges.txt:2: the right part 'zz' of the merge 'he zz' is not in the vocabulary");
  CHECK(bpe_error(vocab, "#version: 0.2\nx y\n") == "merges.txt:2: the result 'xy' of the merge 'x y' is not in the vocabulary");
  CHECK(bpe_error(vocab, "#version: 0.2\nh e\nl l\nh e\n") == "merges.txt:4: the merge 'h e' is listed twice (first at merges.txt:2)");
  CHECK(bpe_error(vocab, "#version: 0.2\nh \xff\n") == "merges.txt:2: a token that is not UTF-8 (at byte 0)");
  // GPT2Tokenizer reads read().split("\n")[1:-1]: the first line is left out whatever it holds,
  // and so is the last one where no newline ends the file; a blank line is no merge.
  CHECK(bpe_error(vocab, "he zz\n") == "(no error)");
  CHECK(bpe_error(vocab, "#version: 0.2\nh e\nhe zz") == "(no error)");
  CHECK(bpe_error(vocab, "#version: 0.2\nh e\n\nl l\n") == "(no error)");
  // No merges at all is a tokenizer of bytes.
  const loom::Tokenizer bytes = loom::Tokenizer::from_texts(plain_bpe(), {.vocab = vocab, .merges = "#version: 0.2\n"});
  CHECK(bytes.encode_text("Hi") == Ids{72, 105});
}

TEST_CASE("tokenizer files: tokenizer.json") {
  CHECK(json_error(kWordPiece, "[]") == "tokenizer.json: expected an object, found a list");
  CHECK(json_error(kWordPiece, "{}") == "tokenizer.json: model: missing");
  CHECK(json_error(kWordPiece, "{\"model\": 3}") == "tokenizer.json: model: expected an object, found an integer");
  CHECK(json_error(kWordPiece, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}") ==
        "tokenizer.json: model.type: 'Unigram' is not supported (Loom reads WordPiece and BPE models)");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["model"]["vocab"] = json::array(); }) ==
        "tokenizer.json: model.vocab: expected a JSON object {token: id}, found a list");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["model"]["vocab"]["hello"] = "x"; }) ==
        "tokenizer.json: model.vocab: 'hello': the id must be a whole number, found a string \"x\"");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["added_tokens"][0].erase("id"); }) ==
        "tokenizer.json: added_tokens[0].id: missing");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["added_tokens"][1]["special"] = "yes"; }) ==
        "tokenizer.json: added_tokens[1].special: expected true or false, found a string");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["added_tokens"][1]["id"] = 0; }) ==
        "tokenizer.json: added_tokens[1]: id 0 is listed twice");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["added_tokens"][1]["id"] = 7; }) ==
        "tokenizer.json: added_tokens: '[UNK]' has id 7, but it is 1 in model.vocab");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["added_tokens"] = json::object(); }) ==
        "tokenizer.json: added_tokens: expected a list, found an object");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["model"]["max_input_chars_per_word"] = -5; }) ==
        "tokenizer.json: model.max_input_chars_per_word: expected a whole number from 1 to 1000000, found -5");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["normalizer"] = {{"type", "NFC"}}; }) ==
        "tokenizer.json: normalizer.type: 'NFC' is not supported with a WordPiece model (Loom reads BertNormalizer)");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }) ==
        "tokenizer.json: pre_tokenizer.type: 'Whitespace' is not supported with a WordPiece model (Loom reads BertPreTokenizer)");
  CHECK(edited_json_error("tiny-wordpiece/tokenizer.json", kWordPiece, [](json& j) { j["model"]["unk_token"] = "[NOPE]"; }) ==
        "tokenizer.json: the unknown token '[NOPE]' is not in the vocabulary (WordPiece gives it to every word it cannot split)");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["dropout"] = 0.1; }) ==
        "tokenizer.json: model.dropout: BPE dropout (0.1) samples merges at random; Loom encodes deterministically and reads only null");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["merges"][2] = 5; }) ==
        "tokenizer.json: model.merges[2]: expected \"a b\" or [\"a\", \"b\"], found an integer");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["merges"][3] = "Ġw zz"; }) ==
        "tokenizer.json: model.merges[3]: the right part 'zz' of the merge 'Ġw zz' is not in the vocabulary");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["end_of_word_suffix"] = "</w>"; }) ==
        "tokenizer.json: model.end_of_word_suffix: not supported with byte-level BPE (expected null or \"\")");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["normalizer"] = {{"type", "NFC"}}; }) ==
        "tokenizer.json: normalizer.type: 'NFC' is not supported with byte-level BPE (expected null)");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["pre_tokenizer"]["use_regex"] = false; }) ==
        "tokenizer.json: pre_tokenizer.use_regex: false is not supported (GPT-2's regex is always used)");
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["vocab"]["Ġw"] = 5; }) ==
        "tokenizer.json: model.vocab: 'Ġw': id 5 is already 'ą'");  // byte 0x05's symbol
  CHECK(edited_json_error("tiny-bpe/tokenizer.json", kBpe, [](json& j) { j["model"]["unk_token"] = "<unk>"; }) ==
        "tokenizer.json: the unknown token '<unk>' is not in the vocabulary");
}

TEST_CASE("tokenizer files: CLIP's tokenizer.json") {
  const char* fixture = "tiny-clip/tokenizer.json";
  const std::string normalizer = "(Loom reads CLIP's Sequence of NFC, Replace(\\s+, \" \") and Lowercase)";
  const std::string pre_tokenizer = "(Loom reads CLIP's Sequence of Split and ByteLevel)";
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["model"]["end_of_word_suffix"] = ""; }) ==
        "tokenizer.json: model.end_of_word_suffix: CLIP's BPE marks the end of a word (expected \"</w>\")");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["model"]["continuing_subword_prefix"] = "##"; }) ==
        "tokenizer.json: model.continuing_subword_prefix: not supported with CLIP's BPE (expected null or \"\")");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["model"]["type"] = "WordPiece"; }) ==
        "tokenizer.json: model.type: 'WordPiece', but processing.tokenizer.kind is clip_bpe (which needs a BPE model)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"] = nullptr; }) == "tokenizer.json: normalizer: missing " + normalizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"] = {{"type", "BertNormalizer"}}; }) ==
        "tokenizer.json: normalizer.type: 'BertNormalizer' is not supported with CLIP's BPE " + normalizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"]["normalizers"][0]["type"] = "NFKC"; }) ==
        "tokenizer.json: normalizer.normalizers[0].type: 'NFKC' is not supported here " + normalizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"]["normalizers"].erase(1); }) ==
        "tokenizer.json: normalizer.normalizers[1].type: 'Lowercase' is not supported here " + normalizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"]["normalizers"].push_back({{"type", "Strip"}}); }) ==
        "tokenizer.json: normalizer.normalizers[3].type: 'Strip' is not supported here " + normalizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"]["normalizers"][1]["pattern"] = {{"String", " "}}; }) ==
        "tokenizer.json: normalizer.normalizers[1].pattern: expected {\"Regex\": \"\\s+\"}");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["normalizer"]["normalizers"][1]["content"] = "_"; }) ==
        "tokenizer.json: normalizer.normalizers[1].content: expected \" \" (CLIP's white space becomes one space)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"] = {{"type", "ByteLevel"}}; }) ==
        "tokenizer.json: pre_tokenizer.type: 'ByteLevel' is not supported with CLIP's BPE " + pre_tokenizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"]["pretokenizers"] = json::array(); }) ==
        "tokenizer.json: pre_tokenizer.pretokenizers: too few steps " + pre_tokenizer);
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+"; }) ==
        "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: '\\w+' is not CLIP's "
        "''s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+'");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Isolated"; }) ==
        "tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: expected \"Removed\" (CLIP keeps only the regex's matches)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["invert"] = false; }) ==
        "tokenizer.json: pre_tokenizer.pretokenizers[0].invert: expected true (CLIP keeps only the regex's matches)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true; }) ==
        "tokenizer.json: pre_tokenizer.pretokenizers[1].add_prefix_space: expected false (CLIP adds no space)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }) ==
        "tokenizer.json: decoder.type: 'WordPiece' is not supported with CLIP's BPE (Loom reads ByteLevel)");
  CHECK(edited_json_error(fixture, kClip, [](json& j) { j["model"]["merges"][3] = "hell o"; }) ==
        "tokenizer.json: model.merges[3]: the result 'hello' of the merge 'hell o' is not in the vocabulary");
}

TEST_CASE("tokenizer files: the spec's special tokens against the vocabulary") {
  loom::TokenizerSpec wrong_id = tiny_wordpiece_spec(false);
  wrong_id.special_tokens["cls"].id = 5;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(wrong_id, data_dir()),
                       doctest::Contains("processing.tokenizer.special_tokens.cls: '[CLS]' is id 2 in"), loom::Error);
  // A special token missing from the vocabulary takes its id when no token has it...
  loom::TokenizerSpec added = tiny_wordpiece_spec(false);
  added.special_tokens["bos"] = {"<s>", 21};
  added.vocab_size = 22;
  const loom::Tokenizer with_bos(added, data_dir());
  CHECK(with_bos.encode_text("<s>hello") == Ids{21, 5});
  CHECK(with_bos.token_to_id("<s>") == 21);
  CHECK(with_bos.is_special(21));
  CHECK(with_bos.vocabulary_size() == 22);
  // ... and is refused when one does.
  loom::TokenizerSpec taken = tiny_wordpiece_spec(false);
  taken.special_tokens["bos"] = {"<s>", 5};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(taken, data_dir()),
                       doctest::Contains(("special_tokens.bos: '<s>' is not in " + (data_dir() / "tiny-wordpiece/vocab.txt").string() +
                                          ", and its id 5 is 'hello' there").c_str()),
                       loom::Error);
  // Every id must be one the graph takes.
  loom::TokenizerSpec small = tiny_wordpiece_spec(false);
  small.vocab_size = 20;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(small, data_dir()),
                       doctest::Contains("token '##a' has id 20, not below processing.tokenizer.vocab_size 20"), loom::Error);
  // Templates name roles of special_tokens.
  loom::TokenizerSpec no_role = tiny_wordpiece_spec(false);
  no_role.post_processor->single = {"bos", "$A"};
  CHECK_THROWS_WITH_AS(loom::Tokenizer(no_role, data_dir()),
                       doctest::Contains("post_processor.single[0]: 'bos' is neither $A, $B nor a role of special_tokens"), loom::Error);
}

TEST_CASE("tokenizer files: CLIP's vocab.json and merges.txt") {
  // GPT-2's byte symbols are not enough: CLIP's words end in "</w>".
  CHECK(error_of(plain_clip(), {.vocab = tiny_bpe_vocab(), .merges = tiny_bpe_merges()}) ==
        "vocab.json: the symbol '\u0100</w>' of byte 0x00 at a word's end is not in the vocabulary (BPE over bytes with an "
        "end-of-word suffix and no unknown token needs all 512)");
  // ... unless there is an unknown token for what is missing.
  const std::string vocab = read("tiny-clip/vocab.json"), merges = read("tiny-clip/merges.txt");
  json no_x = json::parse(vocab);
  no_x.erase("x</w>");
  CHECK(error_of(plain_clip(), {.vocab = no_x.dump(), .merges = merges}).find("the symbol 'x</w>' of byte 0x78 at a word's end") !=
        std::string::npos);
  loom::TokenizerSpec with_unk = plain_clip();
  with_unk.special_tokens["unk"] = {"<|endoftext|>", 523};
  const loom::Tokenizer unk = loom::Tokenizer::from_texts(with_unk, {.vocab = no_x.dump(), .merges = merges});
  CHECK(unk.encode_text("ax x") == Ids{97, 523, 523});
  CHECK(error_of(plain_clip(), {.vocab = vocab, .merges = "#version: 0.2\nhe llo</w>\n"}) ==
        "merges.txt:2: the right part 'llo</w>' of the merge 'he llo</w>' is not in the vocabulary");
  // CLIPTokenizer reads no more than 48,894 merges; those after them are not looked at.
  const std::string real_vocab = read("clip/vocab.json");
  const std::string real_merges = read("clip/merges.txt");
  const loom::Tokenizer more = loom::Tokenizer::from_texts(plain_clip(), {.vocab = real_vocab, .merges = real_merges + "zzz qqq\nc at</w>\n"});
  CHECK(more.encode_text("a photo of a cat") == Ids{320, 1125, 539, 320, 2368});
  // CLIP never strips accents.
  loom::TokenizerSpec strip = tiny_clip_spec(false);
  strip.strip_accents = true;
  CHECK_THROWS_WITH_AS(loom::Tokenizer(strip, data_dir()),
                       doctest::Contains("processing.tokenizer.strip_accents: CLIP's tokenizer never strips accents"), loom::Error);
}

TEST_CASE("tokenizer files: missing, special and oversized files") {
  const fs::path dir = loom::test::scratch_dir("tokenizer_files");
  loom::TokenizerSpec spec = plain_wordpiece();
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, dir / "nowhere"), doctest::Contains("cannot open the tokenizer's vocabulary file"),
                       loom::Error);
  spec.files.vocab = "/dev/zero";
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, dir), doctest::Contains("/dev/zero: the tokenizer's vocabulary file is a character device"),
                       loom::Error);
  const fs::path big = dir / "vocab.txt";
  std::ofstream(big) << "[UNK]\n";
  fs::resize_file(big, loom::io::kMaxTextFileBytes + 1);  // sparse: nothing is written
  spec.files.vocab = "vocab.txt";
  CHECK_THROWS_WITH_AS(loom::Tokenizer(spec, dir), doctest::Contains("vocab.txt: the tokenizer's vocabulary file is 67108865 bytes, more than"),
                       loom::Error);
  fs::remove(big);
}
