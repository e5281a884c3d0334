// The Swin model plugin on the checkpoints of tests/models (made by
// tools/fixtures/make_vision_models.py, whose PyTorch forward follows transformers'
// modeling_swin.py): every output within |out - ref| <= 1e-4 + 1e-5 |ref| on oneDNN and on the
// reference backend, the processing section over ViTImageProcessor's defaults, where the relative
// position index comes from, and the errors of broken configs.
#include "model_checks.hpp"
#include "safetensors_bytes.hpp"
#include "scratch_dir.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>

using namespace loom;
using test::kModels;
using test::on_reference;

namespace {

Engine swin_engine() { return test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-swin.so"}); }

const Initializer* find_initializer(const Graph& g, const std::string& name) {
  auto it = std::find_if(g.initializers.begin(), g.initializers.end(), [&](const Initializer& i) { return i.name == name; });
  return it == g.initializers.end() ? nullptr : &*it;
}

// A copy of checkpoint `from` whose config.json is `config`; the error of loading it ("" if none).
std::string error_with_config(Engine& engine, const std::string& from, const nlohmann::json& config) {
  const auto dir = test::scratch_dir("swin-model") / from;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / from)) std::filesystem::copy_file(e.path(), dir / e.path().filename());
  std::ofstream(dir / "config.json") << config.dump(2);
  try {
    engine.load(dir, test::on_onednn());
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A copy of swin-cls whose stored relative_position_index of stage 1, block 1 is `index`.
std::filesystem::path with_index(const std::string& folder, const test::StTensor& index) {
  const auto dir = test::scratch_dir("swin-model") / folder;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / "swin-cls"))
    if (e.path().filename() != "model.safetensors") std::filesystem::copy_file(e.path(), dir / e.path().filename());
  auto file = SafetensorsFile::open(kModels / "swin-cls" / "model.safetensors");
  std::vector<test::StTensor> tensors;
  for (const auto& e : file->entries()) {
    if (e.name == index.name) {
      tensors.push_back(index);
      continue;
    }
    const Tensor t = file->tensor(e.name);
    std::string dtype(dtype_name(t.dtype()));
    std::transform(dtype.begin(), dtype.end(), dtype.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    tensors.push_back({e.name, dtype, t.shape(), std::string(static_cast<const char*>(t.data()), t.nbytes())});
  }
  std::ofstream(dir / "model.safetensors", std::ios::binary) << test::safetensors_bytes(tensors);
  return dir;
}

nlohmann::json config_of(const std::string& name) {
  std::ifstream in(kModels / name / "config.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("swin model: SwinForImageClassification with the swin. prefix, a padded image and padded shifted windows") {
  Engine engine = swin_engine();
  const std::vector<std::string> outputs = {"logits", "last_hidden_state", "pooler_output"};
  test::check_outputs(engine, "swin-cls", {"pixel_values"}, outputs);
  test::check_outputs(engine, "swin-cls", {"pixel_values"}, outputs, on_reference());
}

TEST_CASE("swin model: SwinModel without prefix, f16 weights, no qkv bias and a stage whose side is the window (no shift)") {
  Engine engine = swin_engine();
  const std::vector<std::string> outputs = {"last_hidden_state", "pooler_output"};
  test::check_outputs(engine, "swin-base", {"pixel_values"}, outputs);
  test::check_outputs(engine, "swin-base", {"pixel_values"}, outputs, on_reference());
}

TEST_CASE("swin model: patch_size as a pair [2, 3], a 23x29 image padded to whole patches on both sides") {
  Engine engine = swin_engine();
  const std::vector<std::string> outputs = {"last_hidden_state", "pooler_output"};
  test::check_outputs(engine, "swin-patch", {"pixel_values"}, outputs);
  test::check_outputs(engine, "swin-patch", {"pixel_values"}, outputs, on_reference());
}

TEST_CASE("swin model: the relative position index is the stored buffer, or computed where the file has none") {
  Engine engine = swin_engine();
  const Graph cls = engine.load_graph(kModels / "swin-cls");
  const Initializer* stored = find_initializer(cls, "layers.1.blocks.1.relative_index");
  REQUIRE(stored != nullptr);
  CHECK(stored->tensor == "swin.encoder.layers.1.blocks.1.attention.self.relative_position_index");
  CHECK(stored->dtype == DType::i64);
  CHECK(find_initializer(cls, "relative_position.rows") == nullptr);

  const Graph base = engine.load_graph(kModels / "swin-base");
  CHECK(find_initializer(base, "layers.0.blocks.0.relative_index") == nullptr);
  REQUIRE(find_initializer(base, "relative_position.rows") != nullptr);
}

TEST_CASE("swin model: a stored relative_position_index is read as stored, as transformers loads the buffer") {
  Engine engine = swin_engine();
  const std::string name = "swin.encoder.layers.1.blocks.1.attention.self.relative_position_index";
  auto file = SafetensorsFile::open(kModels / "swin-cls" / "model.safetensors");
  const Tensor stored = file->tensor(name);
  REQUIRE(stored.shape() == Shape{9, 9});
  std::vector<int64_t> index(stored.data_as<int64_t>(), stored.data_as<int64_t>() + 81);
  TensorMap in;
  in.emplace("pixel_values", read_npy(kModels / "swin-cls" / "pixel_values.npy"));
  const Tensor expected = read_npy(kModels / "swin-cls" / "expected_logits.npy");

  // The transpose is a valid index too (the bias of the opposite offsets): the logits move.
  std::vector<int64_t> transposed(81);
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j) transposed[i * 9 + j] = index[j * 9 + i];
  Session s = engine.load(with_index("swin-transposed-index", {name, "I64", {9, 9}, test::raw_bytes(transposed)}), test::on_onednn());
  CHECK_FALSE(compare(s.run(in).at("logits"), expected, 1e-4, 1e-5).ok());

  // An I32 copy of the same index gives transformers' logits.
  std::vector<int32_t> narrow(index.begin(), index.end());
  Session s32 = engine.load(with_index("swin-i32-index", {name, "I32", {9, 9}, test::raw_bytes(narrow)}), test::on_onednn());
  const Comparison c = compare(s32.run(in).at("logits"), expected, 1e-4, 1e-5);
  CHECK_MESSAGE(c.ok(), c.mismatch);

  // An entry outside the table (25 rows) fails the run, naming the gather.
  std::vector<int64_t> outside = index;
  outside[40] = 25;
  Session bad = engine.load(with_index("swin-outside-index", {name, "I64", {9, 9}, test::raw_bytes(outside)}), test::on_onednn());
  CHECK_THROWS_WITH_AS(bad.run(in), doctest::Contains("layers.1.blocks.1.bias.rows"), Error);

  // A float index is refused by name when the checkpoint is expanded.
  std::vector<float> floats(index.begin(), index.end());
  const auto dir = with_index("swin-float-index", {name, "F32", {9, 9}, test::raw_bytes(floats)});
  CHECK_THROWS_WITH_AS(engine.load(dir, test::on_onednn()), doctest::Contains(("tensor '" + name + "' is F32; an index must be I64 or I32").c_str()), Error);
}

TEST_CASE("swin model: the processing section takes preprocessor_config.json over ViTImageProcessor's defaults") {
  Engine engine = swin_engine();
  const Graph cls = engine.load_graph(kModels / "swin-cls");
  REQUIRE(cls.processing.has_value());
  REQUIRE(cls.processing->image.has_value());
  const ImageProcessorSpec& im = *cls.processing->image;
  CHECK(im.input == "pixel_values");
  REQUIRE(im.size.has_value());
  CHECK(im.size->height == 42);
  CHECK(im.size->width == 34);
  CHECK(im.resample == Resample::Bicubic);
  CHECK(im.image_mean == std::vector<double>{0.485, 0.456, 0.406});
  CHECK(im.image_std == std::vector<double>{0.229, 0.224, 0.225});
  REQUIRE(cls.processing->tasks.size() == 2);
  CHECK(cls.processing->tasks[0].task == "image-classification");
  CHECK(cls.processing->tasks[0].id2label == std::vector<std::string>{"cat", "dog", "bird"});
  CHECK(cls.processing->tasks[1].task == "image-feature-extraction");
  CHECK(cls.processing->tasks[1].output == "last_hidden_state");

  // swin-base's file gives the size alone: the rest is ViTImageProcessor's (bilinear, 0.5).
  const Graph base = engine.load_graph(kModels / "swin-base");
  REQUIRE(base.processing.has_value());
  REQUIRE(base.processing->image.has_value());
  const ImageProcessorSpec& bi = *base.processing->image;
  CHECK(bi.resample == Resample::Bilinear);
  CHECK(bi.do_rescale);
  CHECK(*bi.rescale_factor == doctest::Approx(1.0 / 255));
  CHECK(bi.image_mean == std::vector<double>{0.5, 0.5, 0.5});
  REQUIRE(base.processing->tasks.size() == 1);
  CHECK(base.processing->tasks[0].task == "image-feature-extraction");
  CHECK_THROWS_WITH_AS(engine.load_graph(kModels / "swin-base", "image-classification"),
                       doctest::Contains("task 'image-classification' is not offered by SwinModel"), Error);
}

TEST_CASE("swin model: broken configs are errors that name the file, the key or the tensor") {
  Engine engine = swin_engine();
  nlohmann::json c = config_of("swin-cls");
  c["num_heads"] = {2, 4, 8};
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: num_heads: has 3 entries, depths has 2 (one per stage)") !=
        std::string::npos);

  c = config_of("swin-cls");
  c["num_heads"] = {2, 5};
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: num_heads: 5 (stage 1) does not divide the stage's width 24") !=
        std::string::npos);

  c = config_of("swin-cls");
  c["depths"] = {2, "2"};
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: depths: expected integers") != std::string::npos);

  // Sizes that disagree with the weights name the tensor and the keys behind the expected shape.
  c = config_of("swin-cls");
  c["window_size"] = 4;
  CHECK(error_with_config(engine, "swin-cls", c)
            .find("tensor 'swin.encoder.layers.0.blocks.0.attention.self.relative_position_bias_table' has shape [25,2], expected [49,2]") !=
        std::string::npos);
  c = config_of("swin-cls");
  c["embed_dim"] = 16;
  c["num_heads"] = {2, 4};
  CHECK(error_with_config(engine, "swin-cls", c).find("tensor 'swin.embeddings.patch_embeddings.projection.weight' has shape [12,3,4,4], expected [16,3,4,4]") !=
        std::string::npos);
  c = config_of("swin-cls");
  c["mlp_ratio"] = 3.0;
  CHECK(error_with_config(engine, "swin-cls", c).find("tensor 'swin.encoder.layers.0.blocks.0.intermediate.dense.weight' has shape [24,12], expected [36,12]") !=
        std::string::npos);

  // A window wider than a stage's map cannot run in transformers either.
  c = config_of("swin-cls");
  c["window_size"] = 6;
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: window_size: 6 is larger than stage 1's 6x5 map") != std::string::npos);

  c = config_of("swin-cls");
  c["use_absolute_embeddings"] = true;
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: use_absolute_embeddings: true is not supported") != std::string::npos);

  c = config_of("swin-cls");
  c["architectures"] = {"SwinForMaskedImageModeling"};
  CHECK(error_with_config(engine, "swin-cls", c).find("'SwinForMaskedImageModeling' is not supported") != std::string::npos);

  c = config_of("swin-cls");
  c["image_size"] = 65536;
  c["patch_size"] = 1;
  CHECK(error_with_config(engine, "swin-cls", c).find("config.json: image_size: 65536x65536 with patch_size 1") != std::string::npos);

  // Pixel values of another size than the config's are refused by name before anything runs.
  Session s = engine.load(kModels / "swin-cls", test::on_onednn());
  TensorMap inputs;
  inputs.emplace("pixel_values", Tensor(DType::f32, {1, 3, 34, 42}));
  CHECK_THROWS_WITH_AS(s.run(inputs), doctest::Contains("pixel_values"), Error);
}
