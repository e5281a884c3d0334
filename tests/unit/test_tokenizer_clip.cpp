// CLIP's BPE on OpenAI's vocabulary (tests/tokenizers/clip, made by make_clip_vocab.py). "a photo
// of a cat" -> [49406, 320, 1125, 539, 320, 2368, 49407] is the known encoding of Hugging Face's
// CLIP tokenizers; the other expected ids came from the independent Python rendering of the fast
// tokenizer (tools/fixtures/tokenizer_reference.py), and each is named beside it by its
// vocab.json entry ("</w>" ends a word; "Ã©" and the like are byte symbols). Where the slow
// CLIPTokenizer gives other ids, the comment says which.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include "tokenizer_specs.hpp"

#include <string>
#include <vector>

using namespace tokenizer_test;

namespace {

const int64_t kBos = 49406, kEos = 49407;

// The ids of `text` with bos and eos, as encode gives them before padding.
Ids framed(const Ids& ids) { return concat({{kBos}, ids, {kEos}}); }

}  // namespace

TEST_CASE("clip: a photo of a cat, in any case") {
  // a</w> 320 | photo</w> 1125 | of</w> 539 | cat</w> 2368
  CHECK(clip().encode_text("a photo of a cat") == Ids{320, 1125, 539, 320, 2368});
  CHECK(clip().encode_text("A PHOTO of a Cat") == Ids{320, 1125, 539, 320, 2368});
  const loom::Encoding e = clip().encode({"a photo of a cat"});
  REQUIRE(e.input_ids[0].size() == 77);  // padded to max_length with <|endoftext|>
  CHECK(Ids(e.input_ids[0].begin(), e.input_ids[0].begin() + 8) == Ids{kBos, 320, 1125, 539, 320, 2368, kEos, kEos});
  CHECK(Ids(e.attention_mask[0].begin(), e.attention_mask[0].begin() + 8) == Ids{1, 1, 1, 1, 1, 1, 1, 0});
  CHECK(e.input_ids[0].back() == kEos);
  CHECK(e.attention_mask[0].back() == 0);
  // No token type input: CLIP takes input_ids and attention_mask.
  const auto tensors = clip().tensors(e);
  CHECK(tensors.size() == 2);
  CHECK(tensors.count("attention_mask") == 1);
}

TEST_CASE("clip: each digit is a word of its own") {
  // 2</w> 273 | 0</w> 271 | 4</w> 275; in</w> 530 | ,</w> 267 | 3</w> 274 | .</w> 269 | 1</w> 272 |
  // and</w> 537 | ½ (a number, C2 BD) Â½</w> 33613 | ٣ (Arabic-Indic three, D9 A3) Ù 149 £</w> 352
  CHECK(clip().encode_text("2024") == Ids{273, 271, 273, 275});
  CHECK(clip().encode_text("in 2024, 3.14 and ½ ٣") == Ids{530, 273, 271, 273, 275, 267, 274, 269, 272, 275, 537, 33613, 149, 352});
}

TEST_CASE("clip: runs of punctuation are one piece, contractions another") {
  // hello</w> 3306 | !!!</w> 995 | ...</w> 678 | ?!</w> 2835 | "#@$" merges to # 2, @ 31, $</w> 259 |
  // (</w> 263 | x</w> 343 | )</w> 264
  CHECK(clip().encode_text("hello!!! ... ?! #@$ (x)") == Ids{3306, 995, 678, 2835, 2, 31, 259, 263, 343, 264});
  // it</w> 585 | 's</w> 568 | they</w> 889 | 're</w> 982 | we</w> 649 | 've</w> 1200 | i</w> 328 |
  // 'm</w> 880 | you</w> 592 | 'll</w> 1342 | he</w> 797 | 'd</w> 1896; "IT'S" is lower-cased first.
  CHECK(clip().encode_text("it's they're we've i'm you'll he'd IT'S") ==
        Ids{585, 568, 889, 982, 649, 1200, 328, 880, 592, 1342, 797, 1896, 585, 568});
  // "'ſ" (long s) is no contraction to the fast tokenizer's case-sensitive regex: '</w> 262, then
  // ſ (C5 BF) Å 129 ¿</w> 379. (The slow one's case-insensitive 's takes "'ſ" as one piece.)
  CHECK(clip().encode_text("'ſ") == Ids{262, 129, 379});
}

TEST_CASE("clip: accents, composed or not; CJK; emoji") {
  // na 1097 | Ã¯ 35689 (ï) | ve</w> 563 | cafÃ©</w> 15304: the same after NFC when the accents
  // are combining marks.
  CHECK(clip().encode_text("naïve café") == Ids{1097, 35689, 563, 15304});
  CHECK(clip().encode_text("nai\u0308ve cafe\u0301") == Ids{1097, 35689, 563, 15304});
  // A run of CJK letters is one piece: ä¸ 19759 Ń 255 æĸ 29032 ĩ 229 åŃ 35751 Ĺ</w> 501. (The slow
  // tokenizer puts spaces around each ideograph: ... Ń</w> 511 ... ĩ</w> 485 ...) Hangul and kana
  // are letters too: íķ 15197 ľ 250 êµ 31871 Ń 255 ìĸ 31625 ´</w> 368.
  CHECK(clip().encode_text("中文字") == Ids{19759, 255, 29032, 229, 35751, 501});
  CHECK(clip().encode_text("한국어") == Ids{15197, 250, 31871, 255, 31625, 368});
  // 😀 ðŁĺĢ 12832 | 👍🏽 ðŁĳįðŁı½</w> 43722 | the family 👨‍👩‍👧 keeps its zero-width joiners
  // (E2 80 8D): ðŁĳ¨âĢį 25023 ðŁĳ©âĢį 26304 ðŁĳ 964 §</w> 356. (The slow tokenizer drops them as
  // control characters: ðŁĳ¨ 18966 ðŁĳ© 18800 ...)
  CHECK(clip().encode_text("😀👍🏽 👨\u200d👩\u200d👧") == Ids{12832, 43722, 25023, 26304, 964, 356});
}

TEST_CASE("clip: lower case is per character") {
  // ΟΔΟΣ -> οδοσ (no final sigma: σ is CF 83, Ï 139 ĥ</w> 481; Python's lower() gives ς, Ĥ</w>
  // 480): Î 138 ¿ 123 Î 138 ´ 112 Î 138 ¿ 123. İ becomes i and U+0307, which is no letter:
  // i</w> 328 Ìĩ</w> 16384 stanbul</w> 11231.
  CHECK(clip().encode_text("ΟΔΟΣ İstanbul") == Ids{138, 123, 138, 112, 138, 123, 139, 481, 328, 16384, 11231});
}

TEST_CASE("clip: white space of every kind separates words and is dropped") {
  // a</w> 320 | b</w> 321 | c</w> 322 | d</w> 323: tabs, newlines, no-break and ideographic spaces.
  CHECK(clip().encode_text("  a\t\tb\n\n c \u00a0 d \u3000 ") == Ids{320, 321, 322, 323});
  CHECK(clip().encode_text(" \n\t ").empty());
  // A soft hyphen and a zero-width space are not white space: ÂŃ</w> 22618, âĢĭ</w> 9844.
  // soft</w> 3773 | hy 1441 ph 745 en</w> 576 | zero</w> 5848 | width</w> 23571
  CHECK(clip().encode_text("soft\u00adhyphen zero\u200bwidth") == Ids{3773, 22618, 1441, 745, 576, 5848, 9844, 23571});
}

TEST_CASE("clip: the special tokens written in the text, in any case") {
  CHECK(clip().encode_text("<|startoftext|>hello<|endoftext|>") == Ids{kBos, 3306, kEos});
  // Matched in the lower-cased text, as CLIP's tokenizers do.
  CHECK(clip().encode_text("<|STARTOFTEXT|>hello") == Ids{kBos, 3306});
  // A near miss is text: < 27 | |</w> 347 | endof 40786 | text</w> 4160 | |</w> 347
  CHECK(clip().encode_text("<|endoftext|") == Ids{27, 347, 40786, 4160, 347});
}

TEST_CASE("clip: empty text is bos and eos") {
  CHECK(clip().encode_text("").empty());
  const loom::Encoding e = clip().encode({""});
  CHECK(Ids(e.input_ids[0].begin(), e.input_ids[0].begin() + 3) == Ids{kBos, kEos, kEos});
  CHECK(Ids(e.attention_mask[0].begin(), e.attention_mask[0].begin() + 3) == Ids{1, 1, 0});
}

TEST_CASE("clip: truncation to 77 keeps bos and eos") {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "cat ";
  const Ids words = clip().encode_text(text);
  REQUIRE(words == Ids(100, 2368));
  const loom::Encoding e = clip().encode({text});
  CHECK(e.input_ids[0] == framed(Ids(75, 2368)));
  CHECK(e.attention_mask[0] == Ids(77, 1));
}

TEST_CASE("clip: a batch of two, padded with the pad token of the checkpoint") {
  const loom::Encoding e = clip().encode({"a photo of a cat", "2024"});
  REQUIRE(e.size() == 2);
  CHECK(e.input_ids[1].size() == 77);
  CHECK(Ids(e.input_ids[1].begin(), e.input_ids[1].begin() + 7) == Ids{kBos, 273, 271, 273, 275, kEos, kEos});
  CHECK(Ids(e.attention_mask[1].begin(), e.attention_mask[1].begin() + 7) == Ids{1, 1, 1, 1, 1, 1, 0});
  // Some CLIP checkpoints (Stable Diffusion 2) pad with "!" (id 0); "!" in the text is then that
  // special token too, as in Hugging Face.
  loom::TokenizerSpec bang = clip_spec();
  bang.special_tokens["pad"] = {"!", 0};
  bang.padding = loom::Padding::Longest;
  const loom::Tokenizer t(bang, data_dir());
  const loom::Encoding p = t.encode({"a photo of a cat", "2024!"});
  CHECK(p.input_ids[0] == framed({320, 1125, 539, 320, 2368}));
  CHECK(p.input_ids[1] == Ids{kBos, 273, 271, 273, 275, 0, kEos});
  CHECK(t.encode({"2024"}).input_ids[0] == framed({273, 271, 273, 275}));
  const loom::Encoding q = t.encode({"a photo of a cat", "2024"});
  CHECK(q.input_ids[1] == Ids{kBos, 273, 271, 273, 275, kEos, 0});
  CHECK(q.attention_mask[1] == Ids{1, 1, 1, 1, 1, 1, 0});
}

TEST_CASE("clip: a pair is bos A eos eos B eos, all type 0") {
  loom::TokenizerSpec spec = clip_spec();
  spec.token_type_ids = "token_type_ids";
  spec.padding = loom::Padding::None;
  const loom::Tokenizer t(spec, data_dir());
  const loom::Encoding e = t.encode({"a cat"}, {"2024"});
  CHECK(e.input_ids[0] == Ids{kBos, 320, 2368, kEos, kEos, 273, 271, 273, 275, kEos});
  CHECK(e.token_type_ids[0] == Ids(10, 0));
}

TEST_CASE("clip: decode turns </w> into spaces and strips the ends") {
  const loom::Tokenizer& t = clip();
  // a</w> photo</w> ,</w> of</w> 2</w> cats</w> !</w>
  const Ids ids = t.encode_text("A Photo, of 2 CATS!");
  CHECK(ids == Ids{320, 1125, 267, 539, 273, 3989, 256});
  CHECK(t.decode(ids) == "a photo , of 2 cats !");
  CHECK(t.decode(ids, {.clean_up_tokenization_spaces = true}) == "a photo, of 2 cats!");
  // Special tokens are text unless skipped; the end of a word before one leaves its space.
  const Ids framed_ids = framed({320, 1125, 539, 320, 2368});
  CHECK(t.decode(framed_ids) == "<|startoftext|>a photo of a cat <|endoftext|>");
  CHECK(t.decode(framed_ids, {.skip_special_tokens = true}) == "a photo of a cat");
  // A padded row decodes to the text alone.
  const loom::Encoding e = t.encode({"a photo of a cat"});
  CHECK(t.decode(e.input_ids[0], {.skip_special_tokens = true}) == "a photo of a cat");
  // The bytes come back whole: naïve café, 中文字, the family with its joiners.
  for (const std::string& text : {std::string("naïve café"), std::string("中文字"), std::string("😀👍🏽 👨\u200d👩\u200d👧")})
    CHECK(t.decode(t.encode_text(text)) == text);
  // Two words joined by no </w> stay joined: na + Ã¯ + ve</w> is "naïve".
  CHECK(t.decode(Ids{1097, 35689, 563}) == "naïve");
  // A word without </w> at the end: no space to strip. A lone byte of a longer character: U+FFFD.
  CHECK(t.decode(Ids{1097}) == "na");
  CHECK(t.decode(Ids{149}) == "\uFFFD");
  CHECK(t.token_to_id("cat</w>") == 2368);
  CHECK(t.id_to_token(49406) == "<|startoftext|>");
  CHECK(t.vocabulary_size() == 49408);
  CHECK(t.is_special(kBos));
  CHECK(t.is_special(kEos));
  CHECK_FALSE(t.is_special(0));
}

TEST_CASE("clip: a stream decoder holds the spaces that may end the text") {
  const loom::Tokenizer& t = clip();
  loom::StreamDecoder stream(t);
  CHECK(stream.step(320) == "a");      // a</w>: its space waits
  CHECK(stream.step(1125) == " photo");
  CHECK(stream.step(267) == " ,");
  CHECK(stream.finish().empty());      // the last space is stripped
  // "</w>" spelt by four tokens (< 27, / 14, w 86, > 29) is a space too, as decode has it:
  // x</w> 343, then those, then x</w> is "x" and two spaces and "x".
  const Ids split = {343, 27, 14, 86, 29, 343};
  CHECK(t.decode(split) == "x  x");

  // Every stream of ids says, in pieces, what decode says at once.
  const std::vector<Ids> streams = {framed(t.encode_text("naïve 😀👍🏽 中文字<|endoftext|> done 2024!")),
                                    {kBos, 1097, 35689, 563, 149, 352, kEos, kEos},
                                    split,
                                    {27, 14, 86},
                                    {256, 256, 1097},
                                    {}};
  for (const Ids& ids : streams)
    for (bool skip : {false, true}) {
      loom::StreamDecoder s(t, skip);
      std::string pieces;
      for (int64_t id : ids) pieces += s.step(id);
      pieces += s.finish();
      CHECK(pieces == t.decode(ids, {.skip_special_tokens = skip}));
    }
}
