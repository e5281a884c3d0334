// What every kind of tokenizer does after its model, on bert-base-uncased: the template with
// token types, truncation (Hugging Face tokenizers' rules, counting the template's special
// tokens), padding with attention masks, the tensors under the graph's input names, and a
// tokenizer taken from a graph. Ids: hello 7592, world 2088, how 2129, are 2024, you 2017,
// i 1045, am 2572, fine 2986, thanks 4283 (vocab.txt line less one); [PAD] 0, [CLS] 101, [SEP] 102.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/graph.hpp>
#include <loom/tokenizer.hpp>

#include "tokenizer_specs.hpp"

#include <string>

using namespace tokenizer_test;

namespace {

loom::Tokenizer bert_with(void (*edit)(loom::TokenizerSpec&)) {
  loom::TokenizerSpec s = bert_spec();
  edit(s);
  return loom::Tokenizer(s, data_dir());
}

}  // namespace

TEST_CASE("encoding: a pair is framed [CLS] A [SEP] B [SEP] with token types 0 then 1") {
  const loom::Encoding e = bert().encode({"hello world"}, {"how are you"});
  CHECK(e.input_ids[0] == Ids{101, 7592, 2088, 102, 2129, 2024, 2017, 102});
  CHECK(e.token_type_ids[0] == Ids{0, 0, 0, 0, 1, 1, 1, 1});
  CHECK(e.attention_mask[0] == Ids{1, 1, 1, 1, 1, 1, 1, 1});
  CHECK_THROWS_WITH_AS(bert().encode({"a", "b"}, {"c"}), doctest::Contains("2 texts but 1 pair texts"), loom::Error);
  CHECK_THROWS_AS(bert().encode({}), loom::Error);
  // Without a template (GPT-2) a pair is the two texts one after the other, types 0 then 1.
  const loom::Encoding g = gpt2().encode({"Hello"}, {" world"});
  CHECK(g.input_ids[0] == Ids{15496, 995});
  CHECK(g.token_type_ids[0] == Ids{0, 1});
}

TEST_CASE("encoding: longest_first truncation counts the special tokens") {
  const loom::Tokenizer t = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.max_length = 5;
  });
  // One text: 5 places, 2 for [CLS] and [SEP], so 3 words of 5.
  CHECK(t.encode({"hello world how are you"}).input_ids[0] == Ids{101, 7592, 2088, 2129, 102});
  CHECK(t.encode({"hello"}).input_ids[0] == Ids{101, 7592, 102});  // short enough: untouched

  // A pair: max_length 9 leaves 6 ids for 2 + 8; the shorter keeps its 2, the longer gets 4.
  const loom::Tokenizer nine = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.max_length = 9;
  });
  CHECK(nine.encode({"hello world"}, {"how are you i am fine thanks hello"}).input_ids[0] ==
        Ids{101, 7592, 2088, 102, 2129, 2024, 2017, 1045, 102});
  // 11 leaves 8 for 5 + 7: both are cut, to 4 each.
  const loom::Tokenizer eleven = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.max_length = 11;
  });
  const loom::Encoding both = eleven.encode({"how are you i am"}, {"i am fine thanks hello world how"});
  CHECK(both.input_ids[0] == Ids{101, 2129, 2024, 2017, 1045, 102, 1045, 2572, 2986, 4283, 102});
  CHECK(both.token_type_ids[0] == Ids{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  // 10 leaves 7 for 4 + 4: an odd budget gives the extra id to the second text, as Hugging Face
  // tokenizers (the fast tokenizers pipelines use) does.
  const loom::Tokenizer ten = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.max_length = 10;
  });
  CHECK(ten.encode({"i am fine thanks"}, {"how are you hello"}).input_ids[0] ==
        Ids{101, 1045, 2572, 2986, 102, 2129, 2024, 2017, 7592, 102});
}

TEST_CASE("encoding: truncation from the left, only_first and only_second") {
  const loom::Tokenizer left = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.truncation_side = loom::Side::Left;
    s.max_length = 11;
  });
  // As the 11 above, but each text keeps its last 4 words.
  CHECK(left.encode({"how are you i am"}, {"i am fine thanks hello world how"}).input_ids[0] ==
        Ids{101, 2024, 2017, 1045, 2572, 102, 4283, 7592, 2088, 2129, 102});

  const loom::Tokenizer first = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::OnlyFirst;
    s.max_length = 8;
  });
  // 5 + 2 words for 5 places: the first text loses 2.
  CHECK(first.encode({"hello world how are you"}, {"i am"}).input_ids[0] == Ids{101, 7592, 2088, 2129, 102, 1045, 2572, 102});
  const loom::Tokenizer second = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::OnlySecond;
    s.max_length = 8;
  });
  // The second text has only 2 words, and 2 must go: Hugging Face refuses, and so does Loom.
  CHECK_THROWS_WITH_AS(second.encode({"hello world how are you"}, {"i am"}),
                       doctest::Contains("text 0: the second text has 2 tokens: truncation only_second cannot remove 2"), loom::Error);
  CHECK_THROWS_WITH_AS(second.encode({"hello world how are you i am"}), doctest::Contains("needs a pair text"), loom::Error);
  // A max_length with no room for the template is refused, not wrapped around.
  const loom::Tokenizer tiny = bert_with([](loom::TokenizerSpec& s) {
    s.truncation = loom::Truncation::LongestFirst;
    s.max_length = 2;
  });
  CHECK(tiny.encode({"hello world"}).input_ids[0] == Ids{101, 102});
  CHECK_THROWS_WITH_AS(tiny.encode({"hello"}, {"world"}), doctest::Contains("leaves no room for the 3 special tokens"), loom::Error);
}

TEST_CASE("encoding: padding to the longest row, right or left, with masks and type 0") {
  const loom::Tokenizer right = bert_with([](loom::TokenizerSpec& s) { s.padding = loom::Padding::Longest; });
  loom::Encoding e = right.encode({"hello", "how are you"});
  CHECK(e.input_ids[0] == Ids{101, 7592, 102, 0, 0});
  CHECK(e.attention_mask[0] == Ids{1, 1, 1, 0, 0});
  CHECK(e.token_type_ids[0] == Ids{0, 0, 0, 0, 0});
  CHECK(e.input_ids[1] == Ids{101, 2129, 2024, 2017, 102});
  CHECK(e.attention_mask[1] == Ids{1, 1, 1, 1, 1});
  // A pair's pads are type 0 (Hugging Face's pad_token_type_id), after its type-1 tokens.
  e = right.encode({"hello", "how"}, {"world", "are you"});
  CHECK(e.input_ids[0] == Ids{101, 7592, 102, 2088, 102, 0});
  CHECK(e.token_type_ids[0] == Ids{0, 0, 0, 1, 1, 0});
  CHECK(e.attention_mask[0] == Ids{1, 1, 1, 1, 1, 0});

  const loom::Tokenizer left = bert_with([](loom::TokenizerSpec& s) {
    s.padding = loom::Padding::Longest;
    s.padding_side = loom::Side::Left;
  });
  e = left.encode({"hello", "how are you"});
  CHECK(e.input_ids[0] == Ids{0, 0, 101, 7592, 102});
  CHECK(e.attention_mask[0] == Ids{0, 0, 1, 1, 1});

  const loom::Tokenizer to_max = bert_with([](loom::TokenizerSpec& s) {
    s.padding = loom::Padding::MaxLength;
    s.max_length = 7;
  });
  e = to_max.encode({"hello", "how are you"});
  CHECK(e.input_ids[0] == Ids{101, 7592, 102, 0, 0, 0, 0});
  CHECK(e.input_ids[1] == Ids{101, 2129, 2024, 2017, 102, 0, 0});
  // Padding needs a pad token.
  loom::TokenizerSpec no_pad = bert_spec();
  no_pad.padding = loom::Padding::Longest;
  no_pad.special_tokens.erase("pad");
  CHECK_THROWS_WITH_AS(loom::Tokenizer(no_pad, data_dir()), doctest::Contains("padding needs a `pad`"), loom::Error);
}

TEST_CASE("encoding: int64 tensors under the graph's input names") {
  const loom::Tokenizer t = bert_with([](loom::TokenizerSpec& s) { s.padding = loom::Padding::Longest; });
  const auto tensors = t.tensors(t.encode({"hello", "how are you"}));
  REQUIRE(tensors.size() == 3);
  for (const char* name : {"input_ids", "token_type_ids", "attention_mask"}) {
    const loom::Tensor& x = tensors.at(name);
    CHECK(x.dtype() == loom::DType::i64);
    CHECK(x.shape() == loom::Shape{2, 5});
  }
  const int64_t* ids = tensors.at("input_ids").data_as<int64_t>();
  CHECK(Ids(ids, ids + 10) == Ids{101, 7592, 102, 0, 0, 101, 2129, 2024, 2017, 102});
  const int64_t* mask = tensors.at("attention_mask").data_as<int64_t>();
  CHECK(Ids(mask, mask + 10) == Ids{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
  // Names the spec leaves empty have no tensor: GPT-2 takes no token types.
  const auto g = gpt2().tensors(gpt2().encode({"Hello world"}));
  CHECK(g.size() == 2);
  CHECK(g.count("input_ids"));
  CHECK(g.count("attention_mask"));
  // Without padding, rows of different lengths make no tensor.
  CHECK_THROWS_WITH_AS(bert().tensors(bert().encode({"hello", "how are you"})), doctest::Contains("row 1 has 5 tokens and row 0 has 3"),
                       loom::Error);
}

TEST_CASE("encoding: a graph's processing section makes its tokenizer") {
  const std::string graph = R"(loom: 1
name: tiny-text
inputs:
  - {name: input_ids, dtype: i64, shape: [batch, seq]}
  - {name: attention_mask, dtype: i64, shape: [batch, seq]}
outputs: [y]
nodes:
  - {op: add, inputs: [input_ids, attention_mask], outputs: [y]}
processing:
  version: 1
  tokenizer:
    kind: byte_level_bpe
    files: {vocab: gpt2/vocab.json, merges: gpt2/merges.txt}
    vocab_size: 50257
    special_tokens:
      eos: {token: "<|endoftext|>", id: 50256}
      pad: {token: "<|endoftext|>", id: 50256}
    max_length: 1024
    padding: longest
    inputs: {input_ids: input_ids, attention_mask: attention_mask}
)";
  // File names resolve against the graph's folder, as weights do.
  const loom::Graph g = loom::parse_graph_yaml(graph, "tiny-text.yaml", data_dir());
  const loom::Tokenizer t = loom::Tokenizer::from_graph(g);
  const auto tensors = t.tensors(t.encode({"Hello world", "Hello"}));
  const int64_t* ids = tensors.at("input_ids").data_as<int64_t>();
  CHECK(Ids(ids, ids + 4) == Ids{15496, 995, 15496, 50256});
  const int64_t* mask = tensors.at("attention_mask").data_as<int64_t>();
  CHECK(Ids(mask, mask + 4) == Ids{1, 1, 1, 0});

  loom::Graph bare = g;
  bare.processing->tokenizer.reset();
  CHECK_THROWS_WITH_AS(loom::Tokenizer::from_graph(bare), doctest::Contains("has no tokenizer"), loom::Error);
  bare.processing.reset();
  CHECK_THROWS_AS(loom::Tokenizer::from_graph(bare), loom::Error);
}
