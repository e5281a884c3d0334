// The text tasks' post-processing (loom/tasks.hpp) on hand-made outputs, checked against values
// worked out here: scores by function and id2label, fill-mask's best tokens and sequences, and
// pooled embeddings.
#include <loom/error.hpp>
#include <loom/tasks.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace loom;

namespace {

Tensor f32(Shape shape, std::vector<float> v) {
  Tensor t(DType::f32, shape);
  std::copy(v.begin(), v.end(), t.data_as<float>());
  return t;
}

// A WordPiece tokenizer over a ten-token vocabulary, from memory.
Tokenizer small_tokenizer() {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::WordPiece;
  spec.files.vocab = "vocab.txt";
  spec.vocab_size = 10;
  spec.lowercase = true;
  spec.special_tokens = {{"pad", {"[PAD]", 0}}, {"unk", {"[UNK]", 1}}, {"cls", {"[CLS]", 2}}, {"sep", {"[SEP]", 3}},
                         {"mask", {"[MASK]", 4}}};
  spec.post_processor = TokenizerTemplate{{"cls", "$A", "sep"}, {"cls", "$A", "sep", "$B", "sep"}, {0, 0, 0, 1, 1}};
  spec.max_length = 16;
  spec.padding = Padding::Longest;
  spec.input_ids = "input_ids";
  spec.attention_mask = "attention_mask";
  TokenizerFileTexts files;
  files.vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nparis\nis\nthe\ncapital\n.\n";
  return Tokenizer::from_texts(spec, files);
}

}  // namespace

TEST_CASE("tasks: classify scores by the task's function, labels by id2label, best first") {
  const Tensor logits = f32({2, 3}, {1.0f, 3.0f, 2.0f, 0.0f, 0.0f, -1.0f});
  TaskSpec t;
  t.task = "text-classification";
  t.output = "logits";
  t.function = ScoreFunction::Softmax;
  t.id2label = {"a", "b", "c"};
  auto rows = classify(logits, t);
  REQUIRE(rows.size() == 2);
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  CHECK(rows[0][0].label == "b");
  CHECK(rows[0][0].score == doctest::Approx(std::exp(3.0) / z));
  CHECK(rows[0][1].label == "c");
  CHECK(rows[0][2].label == "a");
  // Ties keep the class order.
  CHECK(rows[1][0].label == "a");
  CHECK(rows[1][1].label == "b");
  t.function = ScoreFunction::Sigmoid;
  rows = classify(logits, t, 1);
  REQUIRE(rows[0].size() == 1);
  CHECK(rows[0][0].score == doctest::Approx(1.0 / (1.0 + std::exp(-3.0))));
  t.function = ScoreFunction::None;
  t.id2label.clear();
  rows = classify(logits, t, 2);
  CHECK(rows[0][0].label == "LABEL_1");
  CHECK(rows[0][0].score == 3.0);
  t.id2label = {"a", "b"};
  CHECK_THROWS_WITH_AS(classify(logits, t), doctest::Contains("has 3 classes, id2label names 2"), Error);
}

TEST_CASE("tasks: fill-mask takes the best tokens at the mask and puts each in the text") {
  const Tokenizer tok = small_tokenizer();
  const Encoding e = tok.encode({"paris is the [MASK] ."});
  REQUIRE(e.input_ids[0] == std::vector<int64_t>{2, 5, 6, 7, 4, 9, 3});
  // Logits that prefer "capital" (8), then "paris" (5), at the mask (position 4).
  Tensor logits(DType::f32, {1, 7, 10});
  std::fill(logits.data_as<float>(), logits.data_as<float>() + logits.numel(), 0.0f);
  logits.data_as<float>()[4 * 10 + 8] = 5.0f;
  logits.data_as<float>()[4 * 10 + 5] = 4.0f;
  const auto preds = fill_mask(logits, e, tok, 2);
  REQUIRE(preds.size() == 1);
  REQUIRE(preds[0].size() == 1);
  REQUIRE(preds[0][0].size() == 2);
  const double z = std::exp(5.0) + std::exp(4.0) + 8.0;
  CHECK(preds[0][0][0].token == 8);
  CHECK(preds[0][0][0].token_str == "capital");
  CHECK(preds[0][0][0].score == doctest::Approx(std::exp(5.0) / z));
  CHECK(preds[0][0][0].sequence == "paris is the capital.");
  CHECK(preds[0][0][1].token == 5);
  CHECK(preds[0][0][1].sequence == "paris is the paris.");
  const Encoding none = tok.encode({"paris is the capital ."});
  CHECK_THROWS_WITH_AS(fill_mask(logits, none, tok, 2), doctest::Contains("has no [MASK] token to fill"), Error);
}

TEST_CASE("tasks: pool means over the attention mask or takes the first token, and normalises") {
  const Tokenizer tok = small_tokenizer();
  const Encoding e = tok.encode({"paris is", "paris"});  // rows of 4 and 3 tokens, the second padded
  REQUIRE(e.attention_mask[1] == std::vector<int64_t>{1, 1, 1, 0});
  Tensor h(DType::f32, {2, 4, 2});
  for (int64_t i = 0; i < h.numel(); ++i) h.data_as<float>()[i] = static_cast<float>(i);
  const Tensor mean = pool(h, e, Pooling::Mean);
  // Row 0: tokens 0..3 -> mean of (0,1),(2,3),(4,5),(6,7) = (3,4); row 1: its first three only.
  CHECK(mean.data_as<float>()[0] == 3.0f);
  CHECK(mean.data_as<float>()[1] == 4.0f);
  CHECK(mean.data_as<float>()[2] == 10.0f);  // (8 + 10 + 12) / 3
  CHECK(mean.data_as<float>()[3] == 11.0f);
  const Tensor cls = pool(h, e, Pooling::Cls, true);
  CHECK(cls.data_as<float>()[0] == 0.0f);
  CHECK(cls.data_as<float>()[1] == 1.0f);
  CHECK(cls.data_as<float>()[2] == doctest::Approx(8.0 / std::sqrt(145.0)));
}
