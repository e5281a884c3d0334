// BERT's WordPiece tokenizer on the real bert-base-uncased vocabulary. Every expected id is a
// line of tests/tokenizers/bert-base-uncased/vocab.txt less one (the id is the line index):
// "hello" is line 7593, so 7592. The pieces follow ARCHITECTURES.md 1.4 step by step; the same
// ids come out of an independent Python rendering of Hugging Face's BertTokenizer (README of
// tests/tokenizers).
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include "tokenizer_specs.hpp"

#include <string>

using namespace tokenizer_test;

TEST_CASE("wordpiece: words and punctuation, framed by [CLS] and [SEP]") {
  // hello (line 7593) , (1011) world (2089) ! (1000); [CLS] 101, [SEP] 102.
  CHECK(bert().encode_text("Hello, World!") == Ids{7592, 1010, 2088, 999});
  const loom::Encoding e = bert().encode({"Hello, World!"});
  CHECK(e.input_ids[0] == Ids{101, 7592, 1010, 2088, 999, 102});
  CHECK(e.token_type_ids[0] == Ids{0, 0, 0, 0, 0, 0});
  CHECK(e.attention_mask[0] == Ids{1, 1, 1, 1, 1, 1});
  // "$", "+" and "^" are symbols (Sc, Sm, Sk), not Unicode punctuation, but BERT splits every
  // ASCII symbol: $ (1003) 5 (1020) + (1010) 3 (1018) ^ (1035) 2 (1017).
  CHECK(bert().encode_text("$5 + 3^2") == Ids{1002, 1019, 1009, 1017, 1034, 1016});
  // "don't" splits at the apostrophe: don (2124) ' (1006) t (1057).
  CHECK(bert().encode_text("don't") == Ids{2123, 1005, 1056});
}

TEST_CASE("wordpiece: greedy longest match with ## continuations") {
  // una (14478) ##ffa (20962) ##ble (3469): the longest prefix in the vocabulary first.
  CHECK(bert().encode_text("unaffable") == Ids{14477, 20961, 3468});
  // x (1061) ##y (2101) ##z (2481)
  CHECK(bert().encode_text("xyz") == Ids{1060, 2100, 2480});
}

TEST_CASE("wordpiece: lower case strips accents unless strip_accents is false") {
  // hello (7593) cafe (7669) naive (15744) ang (17077) ##strom (15688): NFD, then the
  // nonspacing marks dropped, after lower-casing.
  CHECK(bert().encode_text("Héllo Café naïve ÅNGSTRÖM") == Ids{7592, 7668, 15743, 17076, 15687});

  // strip_accents: false keeps "café": no "café" and no "##é" in the vocabulary, so the
  // whole word is [UNK] (100) even though "caf" (24691) is there.
  loom::TokenizerSpec keep = bert_spec();
  keep.strip_accents = false;
  const loom::Tokenizer kept(keep, data_dir());
  CHECK(kept.encode_text("CAFÉ") == Ids{100});
  CHECK(kept.encode_text("Cafe") == Ids{7668});

  // Accents stripped without lower-casing (strip_accents: true, lowercase: false): "café" ->
  // "cafe" (7669), while "Cafe" keeps its capital and is unknown to the uncased vocabulary.
  loom::TokenizerSpec cased = bert_spec();
  cased.lowercase = false;
  cased.strip_accents = true;
  const loom::Tokenizer strip_only(cased, data_dir());
  CHECK(strip_only.encode_text("café") == Ids{7668});
  CHECK(strip_only.encode_text("Cafe") == Ids{100});
}

TEST_CASE("wordpiece: lower case is Python's, with the final sigma") {
  // "ΟΔΟΣ" lower-cases to "οδος" with a final sigma (U+03C2), as Python's str.lower() does:
  // ο (1170) ##δ (29723) ##ος (15298, whose sigma is the final U+03C2).
  CHECK(bert().encode_text("ΟΔΟΣ") == Ids{1169, 29722, 15297});
  CHECK(*bert().id_to_token(15297) == "##\u03BF\u03C2");
}

TEST_CASE("wordpiece: CJK ideographs are words of their own") {
  // 中 (1747) 文 (1862); 字 is not in the vocabulary: [UNK] (101).
  CHECK(bert().encode_text("中文字") == Ids{1746, 1861, 100});
  // Without spaces around them in the text, they still split from "hello" (7593).
  CHECK(bert().encode_text("hello中文") == Ids{7592, 1746, 1861});
  // Hangul is not among the CJK ideograph blocks: "한국어" stays one word, and NFD (accent
  // stripping) breaks its syllables into conjoining jamo (Lo, not marks, so they stay), which the
  // vocabulary has: ᄒ (1470) ##ᅡ (30007) ##ᆫ (30022) | ##ᄀ (29992) ##ᅮ (30015) ##ᆨ (30021) |
  // ##ᄋ (30000) ##ᅥ (30009).
  const Ids hangul = bert().encode_text("한국어");
  CHECK(hangul == Ids{1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008});
  CHECK(*bert().id_to_token(1469) == "ᄒ");  // HANGUL CHOSEONG HIEUH
}

TEST_CASE("wordpiece: control characters are dropped, whitespace becomes a space") {
  // U+0001 and U+007F (Cc) and U+200B (Cf) vanish, so "a", "b", "c" join into "abc" (5926);
  // the tab separates "d" (1041).
  CHECK(bert().encode_text("a\x01" "b\x7f\u200b" "c\td") == Ids{5925, 1040});
  // NUL and U+FFFD vanish too: x (1061) ##y (2101) ##z (2481).
  CHECK(bert().encode_text(std::string("x\0y\uFFFDz", 7)) == Ids{1060, 2100, 2480});
  // No-break space and em space (Zs) separate words like a space: hello (7593) world (2089).
  CHECK(bert().encode_text("hello\u00A0world") == Ids{7592, 2088});
  CHECK(bert().encode_text("hello\u2003world") == Ids{7592, 2088});
  CHECK(bert().encode_text(" \t\r\n ").empty());
}

TEST_CASE("wordpiece: a word it cannot split is [UNK] as a whole") {
  // "😀world" is one word; no piece of the vocabulary starts with the emoji, so the whole word,
  // "world" included, is [UNK] (101).
  CHECK(bert().encode_text("hello 😀world") == Ids{7592, 100});
}

TEST_CASE("wordpiece: words longer than 100 characters are [UNK]") {
  // 100 a's split as aaa (13361), 48 x ##aa (11058), ##a (2051).
  const Ids hundred = bert().encode_text(std::string(100, 'a'));
  REQUIRE(hundred.size() == 50);
  CHECK(hundred.front() == 13360);
  CHECK(hundred[1] == 11057);
  CHECK(hundred.back() == 2050);
  // One more character and the word is past max_input_chars_per_word.
  CHECK(bert().encode_text(std::string(101, 'a')) == Ids{100});
  // Characters count, not bytes: 60 two-byte "é" (120 bytes) strip to 60 "e", not unknown.
  std::string accented;
  for (int i = 0; i < 60; ++i) accented += "é";
  CHECK(bert().encode_text(accented) != Ids{100});
}

TEST_CASE("wordpiece: special tokens in the text are split out whole, never lower-cased") {
  // paris (3001) is (2004) the (1997) [MASK] (104) of (1998) france (2606) . (1013)
  CHECK(bert().encode_text("paris is the [MASK] of france.") == Ids{3000, 2003, 1996, 103, 1997, 2605, 1012});
  // Glued to words on both sides.
  CHECK(bert().encode_text("the[MASK]of") == Ids{1996, 103, 1997});
  // "[mask]" is not the special token: it lower-cases to itself and splits at the brackets:
  // the (1997) [ (1032) mask (7309) ] (1034) token (19205).
  CHECK(bert().encode_text("the [mask] token") == Ids{1996, 1031, 7308, 1033, 19204});
  // Every special token of the spec, next to each other.
  CHECK(bert().encode_text("[CLS][SEP][PAD][UNK]") == Ids{101, 102, 0, 100});
}

TEST_CASE("wordpiece: decode joins words, glues ## pieces and cleans up spaces") {
  const loom::Tokenizer& t = bert();
  const Ids ids{101, 7592, 1010, 2088, 999, 102};
  CHECK(t.decode(ids) == "[CLS] hello, world! [SEP]");
  CHECK(t.decode(ids, {.skip_special_tokens = true}) == "hello, world!");
  CHECK(t.decode(Ids{14477, 20961, 3468}) == "unaffable");
  // Hugging Face's clean-up joins " ' " (BertTokenizer cleans up by default); without it the
  // decoder's own per-token clean-up still joins " ," and " !", but not the apostrophe.
  CHECK(t.decode(Ids{2123, 1005, 1056}) == "don't");
  CHECK(t.decode(Ids{2123, 1005, 1056}, {.clean_up_tokenization_spaces = false}) == "don ' t");
  CHECK(t.is_special(101));
  CHECK(t.is_special(0));
  CHECK_FALSE(t.is_special(7592));
  CHECK(t.token_to_id("hello") == 7592);
  CHECK(t.token_to_id("[MASK]") == 103);
  CHECK_FALSE(t.token_to_id("no-such-token").has_value());
  CHECK(t.vocabulary_size() == 30522);
  // Ids outside the vocabulary give no text (HF's fast tokenizers skip them).
  CHECK(t.decode(Ids{30522}).empty());
  CHECK(t.decode(Ids{-1}).empty());
  CHECK(t.decode(Ids{2123, 30522, 1005, -1, 1056}, {.clean_up_tokenization_spaces = false}) == "don ' t");
}

TEST_CASE("wordpiece: text that is not UTF-8 is an error naming the text") {
  CHECK_THROWS_WITH_AS(bert().encode({"fine", "bad \xff byte"}), doctest::Contains("text 1: not valid UTF-8 (byte 4"), loom::Error);
  CHECK_THROWS_WITH_AS(bert().encode({"a"}, {"\xc3"}), doctest::Contains("pair text 0: not valid UTF-8"), loom::Error);
  CHECK_THROWS_AS(bert().encode_text("\xed\xa0\x80"), loom::Error);  // a surrogate
  CHECK_THROWS_AS(bert().encode_text("\xc0\xaf"), loom::Error);      // an overlong '/'
}
