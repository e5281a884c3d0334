// GPT-2's byte-level BPE on the real vocab.json and merges.txt (tests/tokenizers/gpt2). The
// pre-tokenizer pieces are derived by hand from the regex of ARCHITECTURES.md 2.4; each
// expected id is the vocab.json entry of the token named beside it ("Ġ" stands for a space,
// "Ċ" for a newline). "Hello world" and " Hello world" are the examples of Hugging Face's
// GPT2Tokenizer docstring; the rest agree with an independent Python rendering of its
// algorithm (README of tests/tokenizers).
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/tokenizer.hpp>

#include "tokenizer_specs.hpp"

#include <string>
#include <thread>
#include <vector>

using namespace tokenizer_test;

TEST_CASE("bpe: the docstring examples, and a leading space") {
  // Hello = 15496, Ġworld = 995, ĠHello = 18435.
  CHECK(gpt2().encode_text("Hello world") == Ids{15496, 995});
  CHECK(gpt2().encode_text(" Hello world") == Ids{18435, 995});
  // No template: encode adds nothing, and there is no token type input.
  const loom::Encoding e = gpt2().encode({"Hello world"});
  CHECK(e.input_ids[0] == Ids{15496, 995});
  CHECK(e.attention_mask[0] == Ids{1, 1});
  // ! = 0: the first entry of vocab.json.
  CHECK(gpt2().encode_text("Hello world!") == Ids{15496, 995, 0});
}

TEST_CASE("bpe: contractions match in lower case only") {
  // it 270 | 's 338 | Ġthey 484 | 're 821 | Ġwe 356 | 've 1053 | ĠI 314 | 'm 1101 | Ġyou 345 |
  // 'll 1183 | Ġhe 339 | 'd 1549 | ĠIT 7283, and "'S" is no contraction: ' 6 | S 50.
  CHECK(gpt2().encode_text("it's they're we've I'm you'll he'd IT'S") ==
        Ids{270, 338, 484, 821, 356, 1053, 314, 1101, 345, 1183, 339, 1549, 7283, 6, 50});
}

TEST_CASE("bpe: numbers are pieces of their own, merged as the merges say") {
  // "12345" is one \p{N}+ piece that merges into 123 (10163) 45 (2231); " 3" is Ġ3 (513), then
  // "." (13) and "14" (1415).
  CHECK(gpt2().encode_text("12345 3.14") == Ids{10163, 2231, 513, 13, 1415});
}

TEST_CASE("bpe: runs of spaces and newlines leave their last space to the next word") {
  // "a  b": \s+(?!\S) takes one of the two spaces (Ġ 220) and " b" is Ġb (275). "\n\nc": the
  // same rule takes one newline, then \s+ the other: Ċ Ċ (198 198), never ĊĊ (628) before a
  // word. Trailing "   " is one piece; GPT-2 has no ĠĠ, so three Ġ.
  CHECK(gpt2().encode_text("a  b\n\nc   ") == Ids{64, 220, 275, 198, 198, 66, 220, 220, 220});
  // At the end of the text both newlines are one piece: ĊĊ (628) after hello (31373).
  CHECK(gpt2().encode_text("hello\n\n") == Ids{31373, 628});
}

TEST_CASE("bpe: U+180E is a symbol, not white space, as in Python's regex and the Rust tokenizers") {
  // PCRE2 takes it for \s. "x \u180e!" is x, then " \u180e!" one piece of symbols:
  // Ġá (28053) ł (254) ½ (236) ! (0); as white space it would have been x Ġ (220) then á ł ½ !.
  const Ids ids = gpt2().encode_text("x \u180e!");
  CHECK(ids == Ids{87, 28053, 254, 236, 0});
  // "\u180e's": the symbol takes the apostrophe (' 6), then s (82).
  const Ids apostrophe = gpt2().encode_text("\u180e's");
  CHECK(apostrophe.size() >= 2);
  CHECK(apostrophe[apostrophe.size() - 2] == 6);
  CHECK(apostrophe.back() == 82);
}

TEST_CASE("bpe: any bytes: emoji and accented letters") {
  // 😀 is F0 9F 98 80: ðŁĺ (47249) and Ģ (222, byte 0x80). " ü" is ĠÃ (6184) ¼ (120); then
  // n (77) Ã¯ (26884, ï) c (66) Ã¶ (9101, ö) d (67) Ã© (2634, é).
  const Ids ids = gpt2().encode_text("😀 ünïcödé");
  CHECK(ids == Ids{47249, 222, 6184, 120, 77, 26884, 66, 9101, 67, 2634});
  CHECK(gpt2().decode(ids) == "😀 ünïcödé");
}

TEST_CASE("bpe: <|endoftext|> in the text is its id, not pieces") {
  // <|endoftext|> = 50256, the last entry of vocab.json.
  CHECK(gpt2().encode_text("Hello<|endoftext|> world") == Ids{15496, 50256, 995});
  CHECK(gpt2().encode_text("<|endoftext|><|endoftext|>") == Ids{50256, 50256});
  // A near miss is ordinary text, cut by the regex like any other.
  CHECK(gpt2().encode_text("<|endoftext|") ==
        concat({gpt2().encode_text("<|"), gpt2().encode_text("endoftext"), gpt2().encode_text("|")}));
}

TEST_CASE("bpe: add_prefix_space puts a space before the text and after each special token") {
  loom::TokenizerSpec spec = gpt2_spec();
  spec.add_prefix_space = true;
  const loom::Tokenizer t(spec, data_dir());
  CHECK(t.encode_text("Hello world") == Ids{18435, 995});   // as " Hello world"
  CHECK(t.encode_text(" Hello world") == Ids{18435, 995});  // a space already there: none added
  CHECK(t.encode_text("Hello<|endoftext|>world") == Ids{18435, 50256, 995});
}

TEST_CASE("bpe: decode gives the bytes back, and U+FFFD for broken UTF-8") {
  const loom::Tokenizer& t = gpt2();
  for (const std::string& text :
       std::vector<std::string>{"Hello world", " a  b\n\nc   ", "naïve café 中文 😀👍🏽", "tab\there\r\n", std::string("nul\0byte", 8)})
    CHECK(t.decode(t.encode_text(text)) == text);
  // ðŁĺ alone is F0 9F 98, three bytes of a four-byte character: one U+FFFD, as Python's
  // bytes.decode(errors="replace") gives for a maximal ill-formed subpart.
  CHECK(t.decode(Ids{47249}) == "\uFFFD");
  CHECK(t.decode(Ids{47249, 222}) == "😀");
  // Ģ alone is the continuation byte 0x80: U+FFFD; ðŁĺ then "!" is F0 9F 98 21: one U+FFFD and "!".
  CHECK(t.decode(Ids{222}) == "\uFFFD");
  CHECK(t.decode(Ids{47249, 0}) == "\uFFFD!");
  // Special tokens decode to their text unless skipped.
  CHECK(t.decode(Ids{15496, 50256, 995}) == "Hello<|endoftext|> world");
  CHECK(t.decode(Ids{15496, 50256, 995}, {.skip_special_tokens = true}) == "Hello world");
  // GPT-2 does not clean up tokenization spaces unless asked.
  CHECK(t.decode(t.encode_text("Hello , world")) == "Hello , world");
  CHECK(t.decode(t.encode_text("Hello , world"), {.clean_up_tokenization_spaces = true}) == "Hello, world");
  CHECK(t.token_to_id("Ġworld") == 995);
  CHECK(t.id_to_token(15496) == "Hello");
  CHECK_FALSE(t.id_to_token(50257).has_value());
  CHECK(t.vocabulary_size() == 50257);
  CHECK(t.is_special(50256));
  CHECK_FALSE(t.is_special(0));
}

TEST_CASE("bpe: a stream decoder holds a character's bytes until it is whole") {
  const loom::Tokenizer& t = gpt2();
  loom::StreamDecoder stream(t);
  CHECK(stream.step(15496) == "Hello");
  CHECK(stream.step(47249).empty());  // F0 9F 98: held
  CHECK(stream.step(222) == "😀");    // 80 completes it
  CHECK(stream.step(47249).empty());
  CHECK(stream.step(0) == "\uFFFD!");  // "!" can never complete it: replaced at once
  CHECK(stream.step(47249).empty());
  CHECK(stream.finish() == "\uFFFD");  // the end of the stream: what is held is replaced
  CHECK(stream.finish().empty());

  // Every stream of ids says, in pieces, what decode says at once.
  const std::string text = "naïve 😀👍🏽 中文<|endoftext|> done";
  const Ids ids = t.encode_text(text);
  for (bool skip : {false, true}) {
    loom::StreamDecoder s(t, skip);
    std::string streamed;
    for (int64_t id : ids) streamed += s.step(id);
    streamed += s.finish();
    CHECK(streamed == t.decode(ids, {.skip_special_tokens = skip}));
  }
  CHECK(loom::StreamDecoder(t).step(60000).empty());  // outside the vocabulary: no text, as decode gives
}

TEST_CASE("bpe: one tokenizer encodes from many threads at once") {
  const loom::Tokenizer& t = gpt2();
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back("Thread " + std::to_string(i) + " says: héllo wörld 😀 " + std::string(i % 7, ' ') + "x");
  std::vector<Ids> expected;
  for (const auto& text : texts) expected.push_back(t.encode_text(text));
  std::vector<int> wrong(8, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w)
    threads.emplace_back([&, w] {
      for (int round = 0; round < 50; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          if (t.encode_text(texts[(i + w) % texts.size()]) != expected[(i + w) % texts.size()]) ++wrong[w];
    });
  for (auto& th : threads) th.join();
  for (int w = 0; w < 8; ++w) CHECK(wrong[w] == 0);
}

TEST_CASE("bpe: long texts encode in linear time") {
  // A megabyte of one character class each: the regex and the merge loop stay linear.
  const std::string spaces(1 << 20, ' ');
  CHECK(gpt2().encode_text(spaces).size() == spaces.size());  // no ĠĠ: one Ġ per space
  const std::string letters(1 << 20, 'a');
  CHECK(gpt2().decode(gpt2().encode_text(letters)) == letters);
}
