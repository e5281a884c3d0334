// The vision model plugins on the checkpoints of tests/models (made by
// tools/fixtures/make_vision_models.py, whose PyTorch forward follows transformers'): every output
// Hugging Face returns, within |out - ref| <= 1e-4 + 1e-5 |ref| on oneDNN and on the reference
// backend, the processing section written from preprocessor_config.json, and the errors of broken
// checkpoints.
#include "model_checks.hpp"
#include "scratch_dir.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <tuple>

using namespace loom;
using test::kModels;
using test::on_reference;

namespace {

Engine vision_engine() { return test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-vit.so"}); }

std::filesystem::path copy(const std::string& from) {
  const auto dir = test::scratch_dir("vision-models") / from;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(kModels / from)) std::filesystem::copy_file(e.path(), dir / e.path().filename());
  return dir;
}

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string error_of(Engine& engine, const std::filesystem::path& dir) {
  try {
    engine.load(dir, test::on_onednn());
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("vision models: ViTForImageClassification with the vit. prefix and a non-square patch grid") {
  Engine engine = vision_engine();
  test::check_outputs(engine, "vit-cls", {"pixel_values"}, {"logits", "last_hidden_state"});
  test::check_outputs(engine, "vit-cls", {"pixel_values"}, {"logits", "last_hidden_state"}, on_reference());
}

TEST_CASE("vision models: ViTModel without prefix, f16 weights, no qkv bias, quick_gelu and its pooler") {
  Engine engine = vision_engine();
  test::check_outputs(engine, "vit-base", {"pixel_values"}, {"last_hidden_state", "pooler_output"});
  test::check_outputs(engine, "vit-base", {"pixel_values"}, {"last_hidden_state", "pooler_output"}, on_reference());
}

TEST_CASE("vision models: ViTModel with an image no multiple of the patch, gelu_python, and pooler_output_size / pooler_act") {
  Engine engine = vision_engine();
  test::check_outputs(engine, "vit-pooler", {"pixel_values"}, {"last_hidden_state", "pooler_output"});
  test::check_outputs(engine, "vit-pooler", {"pixel_values"}, {"last_hidden_state", "pooler_output"}, on_reference());
  // patch_size [4, 3]: non-square patches (height, width), over an image that is no multiple of
  // them; hidden_act swish (silu's old name).
  test::check_outputs(engine, "vit-patch", {"pixel_values"}, {"last_hidden_state", "pooler_output"});
  test::check_outputs(engine, "vit-patch", {"pixel_values"}, {"last_hidden_state", "pooler_output"}, on_reference());

  const auto dir = copy("vit-pooler");
  std::ifstream in(kModels / "vit-pooler" / "config.json");
  const nlohmann::json config = nlohmann::json::parse(in);
  nlohmann::json c = config;
  c["pooler_act"] = "mish";
  write(dir / "config.json", c.dump());
  CHECK(error_of(engine, dir).find("config.json: pooler_act: 'mish' is not supported") != std::string::npos);
  c = config;
  c["pooler_output_size"] = 16;
  write(dir / "config.json", c.dump());
  CHECK(error_of(engine, dir).find("tensor 'pooler.dense.weight' has shape [24,32], expected [16,32]") != std::string::npos);
}

TEST_CASE("vision models: the image processor class preprocessor_config.json names sets the steps and defaults") {
  Engine engine = vision_engine();
  const auto dir = copy("vit-cls");
  auto image_of = [&](const std::string& text) {
    write(dir / "preprocessor_config.json", text);
    return *engine.load_graph(dir).processing->image;
  };
  // ViTImageProcessor has no crop step: the keys are ignored, as transformers ignores them; its
  // Fast and FeatureExtractor names stand for it.
  for (const char* type : {R"("image_processor_type": "ViTImageProcessor")", R"("feature_extractor_type": "ViTFeatureExtractor")",
                           R"("image_processor_type": "ViTImageProcessorFast")", R"("image_processor_type": null)"}) {
    INFO(std::string(type));
    const ImageProcessorSpec im = image_of(std::string("{") + type +
                                           R"(, "size": {"height": 32, "width": 24}, "do_center_crop": true, "crop_size": {"height": 16, "width": 16}})");
    CHECK_FALSE(im.do_center_crop);
    CHECK(im.resample == Resample::Bilinear);
  }
  // DeiT's class crops, and its defaults are its own: bicubic, 256 then 224; its mean and std
  // default to IMAGENET_STANDARD's 0.5, as ViT's (the checkpoints give ImageNet's in the file).
  ImageProcessorSpec deit = image_of(R"({"feature_extractor_type": "DeiTFeatureExtractor", "size": 36, "crop_size": {"height": 32, "width": 24}})");
  CHECK(deit.do_center_crop);
  CHECK(deit.crop_size->height == 32);
  CHECK(deit.size->height == 36);
  CHECK(deit.size->width == 36);
  CHECK(deit.resample == Resample::Bicubic);
  CHECK(deit.image_mean == std::vector<double>{0.5, 0.5, 0.5});
  // A shortest edge is CLIP's (and the Fast classes'): the slow ViT class refuses it, as
  // transformers' resize raises.
  write(dir / "preprocessor_config.json", R"({"image_processor_type": "ViTImageProcessor", "size": {"shortest_edge": 32}})");
  CHECK_MESSAGE(error_of(engine, dir).find("preprocessor_config.json: size: {\"shortest_edge\": 32} is not a size of ViTImageProcessor") !=
                    std::string::npos,
                error_of(engine, dir));
  CHECK(image_of(R"({"image_processor_type": "ViTImageProcessorFast", "size": {"shortest_edge": 32}})").size->shortest_edge == 32);
  CHECK_FALSE(image_of(R"({"image_processor_type": "ViTImageProcessor", "do_resize": false, "size": {"shortest_edge": 32}})").do_resize);
  // resample or rescale_factor null where its step is on: transformers raises as it preprocesses.
  write(dir / "preprocessor_config.json", R"({"image_processor_type": "ViTImageProcessor", "resample": null})");
  CHECK_MESSAGE(error_of(engine, dir).find("preprocessor_config.json: resample: is null while do_resize is on") != std::string::npos,
                error_of(engine, dir));
  CHECK_FALSE(image_of(R"({"image_processor_type": "ViTImageProcessor", "do_resize": false, "resample": null})").do_resize);
  write(dir / "preprocessor_config.json", R"({"image_processor_type": "ViTImageProcessor", "rescale_factor": null})");
  CHECK_MESSAGE(error_of(engine, dir).find("preprocessor_config.json: rescale_factor: is null while do_rescale is on") != std::string::npos,
                error_of(engine, dir));
  // A class whose steps Loom does not reproduce is refused by name.
  write(dir / "preprocessor_config.json", R"({"image_processor_type": "ConvNextImageProcessor", "crop_pct": 0.875})");
  CHECK_MESSAGE(error_of(engine, dir).find("preprocessor_config.json: image_processor_type: 'ConvNextImageProcessor' is not supported") !=
                    std::string::npos,
                error_of(engine, dir));
  write(dir / "preprocessor_config.json", R"({"image_processor_type": "ImageGPTImageProcessor", "clusters": [[0, 0, 0]]})");
  CHECK(error_of(engine, dir).find("'ImageGPTImageProcessor' does not make the inputs of this model (ViTImageProcessor does)") !=
        std::string::npos);
  // CLIP's legacy use_square_size resizes to a square of the shortest edge.
  Engine clip_engine = test::model_engine({"loom-onednn.so", "loom-clip.so"});
  const auto clip = copy("clip");
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kModels / "clip" / "preprocessor_config.json"));
  config["use_square_size"] = true;
  write(clip / "preprocessor_config.json", config.dump());
  const ImageProcessorSpec square = *clip_engine.load_graph(clip).processing->image;
  CHECK(square.size->height == 32);
  CHECK(square.size->width == 32);
  CHECK(square.size->shortest_edge == 0);
}

TEST_CASE("vision models: image-classification has no regression case: its labels choose the score function") {
  Engine engine = vision_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-image-problem-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::copy(kModels / "vit-cls", tmp, std::filesystem::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kModels / "vit-cls" / "config.json"));
  config["problem_type"] = "regression";
  std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  CHECK(engine.load_graph(tmp).processing->tasks.at(0).function == ScoreFunction::Softmax);
  config["problem_type"] = "multi_label_classification";
  std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  CHECK(engine.load_graph(tmp).processing->tasks.at(0).function == ScoreFunction::Sigmoid);
  std::filesystem::remove_all(tmp);
}

// The graph a model plugin writes quotes every string of the checkpoint, and its comment names
// the checkpoint's folder: neither may change the graph, whatever they hold.
TEST_CASE("vision models: labels keep YAML's other line breaks, and a folder's name stays in the comment") {
  Engine engine = vision_engine();
  const auto tmp = std::filesystem::temp_directory_path() / ("loom-odd-\nloom: 2\nstate: []\n#" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp);
  std::filesystem::copy(kModels / "vit-cls", tmp, std::filesystem::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kModels / "vit-cls" / "config.json"));
  const std::string odd = "a\u0085b\u2028c\u2029d \x7f\"e\\";
  config["id2label"]["0"] = odd;
  config["architectures"] = {"ViTForImageClassification"};
  std::ofstream(tmp / "config.json", std::ios::trunc) << config.dump();
  const Graph g = engine.load_graph(tmp);
  CHECK(g.processing->tasks.at(0).id2label.at(0) == odd);
  CHECK(g.states.empty());
  std::filesystem::remove_all(tmp);
}

TEST_CASE("vision models: ViT's processing section comes from preprocessor_config.json") {
  Engine engine = vision_engine();
  const Graph g = engine.load_graph(kModels / "vit-cls");
  REQUIRE(g.processing.has_value());
  REQUIRE(g.processing->image.has_value());
  const ImageProcessorSpec& im = *g.processing->image;
  CHECK(im.input == "pixel_values");
  CHECK(im.do_resize);
  REQUIRE(im.size.has_value());
  CHECK(im.size->height == 32);
  CHECK(im.size->width == 24);
  CHECK(im.resample == Resample::Bilinear);
  CHECK(im.do_rescale);
  CHECK(*im.rescale_factor == doctest::Approx(1.0 / 255));
  CHECK(im.image_mean == std::vector<double>{0.5, 0.5, 0.5});
  REQUIRE(g.processing->tasks.size() == 2);
  CHECK(g.processing->tasks[0].task == "image-classification");
  CHECK(g.processing->tasks[0].function == ScoreFunction::Softmax);
  CHECK(g.processing->tasks[0].id2label == std::vector<std::string>{"cat", "dog", "bird"});
  CHECK(g.processing->tasks[1].task == "image-feature-extraction");
  // Without preprocessor_config.json the graph runs on pixel values alone.
  CHECK_FALSE(engine.load_graph(kModels / "vit-base").processing.has_value());
}

TEST_CASE("vision models: broken ViT checkpoints are errors that name the file and what is wrong") {
  Engine engine = vision_engine();
  const auto dir = copy("vit-cls");
  std::ifstream in(kModels / "vit-cls" / "config.json");
  const std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string c = config;
    const size_t at = c.find(from);
    REQUIRE(at != std::string::npos);
    return c.replace(at, from.size(), to);
  };

  write(dir / "config.json", with("\"patch_size\": 8", "\"patch_size\": 25"));
  CHECK(error_of(engine, dir).find("config.json: patch_size: 25 is larger than image_size 32x24") != std::string::npos);

  // Sizes that disagree with the weights name the tensor and where the expected shape comes from.
  write(dir / "config.json", with("\"patch_size\": 8", "\"patch_size\": 4"));
  CHECK(error_of(engine, dir).find("tensor 'vit.embeddings.patch_embeddings.projection.weight' has shape [32,3,8,8], expected [32,3,4,4]") !=
        std::string::npos);

  write(dir / "config.json", with("ViTForImageClassification", "ViTForMaskedImageModeling"));
  CHECK(error_of(engine, dir).find("'ViTForMaskedImageModeling' is not supported") != std::string::npos);

  write(dir / "config.json", config);
  write(dir / "preprocessor_config.json", "{\"resample\": 6}");
  CHECK(error_of(engine, dir).find("preprocessor_config.json: resample: PIL filter 6 is not one of") != std::string::npos);
  write(dir / "preprocessor_config.json", "{\"image_mean\": [0.5, 0.5]}");
  CHECK(error_of(engine, dir).find("preprocessor_config.json: image_mean: expected three numbers") != std::string::npos);
  write(dir / "preprocessor_config.json", "{\"size\": {\"height\": 32}}");
  CHECK(error_of(engine, dir).find("preprocessor_config.json: size: expected {\"height\": H, \"width\": W}") != std::string::npos);
  // A processed size other than the model's is refused when the graph is checked.
  write(dir / "preprocessor_config.json", "{\"size\": 224}");
  CHECK(error_of(engine, dir).find("224") != std::string::npos);

  // Pixel values of another size are refused by name before anything runs.
  std::filesystem::copy_file(kModels / "vit-cls" / "preprocessor_config.json", dir / "preprocessor_config.json",
                             std::filesystem::copy_options::overwrite_existing);
  Session s = engine.load(dir, test::on_onednn());
  TensorMap inputs;
  inputs.emplace("pixel_values", Tensor(DType::f32, {1, 3, 24, 32}));
  CHECK_THROWS_WITH_AS(s.run(inputs), doctest::Contains("pixel_values"), Error);
}

TEST_CASE("vision models: CLIPModel's logits and normalised embeddings, pooled at the first eos of a padded batch") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-clip.so"});
  const std::vector<std::string> outputs = {"logits_per_image", "logits_per_text", "text_embeds", "image_embeds"};
  test::check_outputs(engine, "clip", {"input_ids", "attention_mask", "pixel_values"}, outputs);
  test::check_outputs(engine, "clip", {"input_ids", "attention_mask", "pixel_values"}, outputs, on_reference());
}

TEST_CASE("vision models: CLIPModel's embedding tasks run one tower on its own inputs") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-clip.so"});
  const auto dir = kModels / "clip";
  for (const auto& io : {std::tuple{"feature-extraction", "input_ids", "text_embeds"},
                         std::tuple{"image-feature-extraction", "pixel_values", "image_embeds"}}) {
    const char* task = std::get<0>(io);  // variables, not bindings: INFO's lambda takes them
    const char* input = std::get<1>(io);
    const char* output = std::get<2>(io);
    INFO(task);
    const Graph g = engine.load_graph(dir, task);
    REQUIRE(g.inputs.size() == (std::string(input) == "input_ids" ? 2u : 1u));
    CHECK(g.inputs[0].name == input);
    REQUIRE(g.outputs.size() == 1);
    CHECK(g.outputs[0].name == output);
    Session s = engine.compile(g, test::on_onednn());
    TensorMap in;
    for (const auto& i : g.inputs) in.emplace(i.name, read_npy(dir / (i.name + ".npy")));
    const Comparison c = compare(s.run(in).at(output), read_npy(dir / ("expected_" + std::string(output) + ".npy")), 1e-4, 1e-5);
    CHECK_MESSAGE(c.ok(), c.mismatch);
  }
  CHECK_THROWS_WITH_AS(engine.load_graph(dir, "text-generation"), doctest::Contains("task 'text-generation' is not offered by CLIPModel"), Error);
}

TEST_CASE("vision models: CLIPModel without tokenizer files keeps its image processor, and no task") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-clip.so"});
  const auto dir = copy("clip");
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json"}) std::filesystem::remove(dir / f);
  const Graph g = engine.load_graph(dir);
  REQUIRE(g.processing.has_value());
  CHECK(g.processing->image.has_value());
  CHECK(!g.processing->tokenizer.has_value());
  CHECK(g.processing->tasks.empty());
}

TEST_CASE("vision models: CLIPTextModelWithProjection (legacy eos 2: the largest id) and CLIPVisionModelWithProjection") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-clip.so"});
  test::check_outputs(engine, "clip-text", {"input_ids", "attention_mask"}, {"text_embeds", "last_hidden_state"});
  test::check_outputs(engine, "clip-vision", {"pixel_values"}, {"image_embeds", "last_hidden_state"});
  test::check_outputs(engine, "clip-vision", {"pixel_values"}, {"image_embeds", "last_hidden_state"}, on_reference());
}

TEST_CASE("vision models: CLIP's text tower under left padding: a query whose every earlier key is padding averages those and the later real keys, as transformers' added masks do") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-clip.so"});
  const auto dir = kModels / "clip-text";
  const Tensor ref = read_npy(dir / "left-padded" / "expected_last_hidden_state.npy");
  for (const SessionOptions& options : {test::on_onednn(), test::on_reference()}) {
    Session s = engine.load(dir, options);
    const TensorMap out = s.run({{"input_ids", read_npy(dir / "left-padded" / "input_ids.npy")},
                                 {"attention_mask", read_npy(dir / "left-padded" / "attention_mask.npy")}});
    const Comparison c = compare(out.at("last_hidden_state"), ref, 1e-4, 1e-5);
    CHECK_MESSAGE(c.ok(), options.backends.front() << ": " << c.mismatch << " " << c.differing << " elements differ, largest by "
                                                   << c.max_abs_error);
  }
}

TEST_CASE("vision models: broken CLIP configs name the key path") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-clip.so"});
  const auto dir = copy("clip");
  std::ifstream in(kModels / "clip" / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  // The legacy text_config_dict replaces text_config whole, CLIPTextConfig's defaults under it, as
  // CLIPConfig reads it: with the file's own sizes the checkpoint loads; with one of them only,
  // the others are the class's (hidden_size 512).
  const nlohmann::json text = config["text_config"];
  config["text_config_dict"] = text;
  config["text_config"] = {{"hidden_size", 48}, {"eos_token_id", 2}};
  write(dir / "config.json", config.dump());
  CHECK(error_of(engine, dir).empty());
  config["text_config_dict"] = {{"num_attention_heads", 5}};
  write(dir / "config.json", config.dump());
  CHECK_MESSAGE(error_of(engine, dir).find("config.json: text_config_dict.num_attention_heads: 5 does not divide hidden_size 512") !=
                    std::string::npos,
                error_of(engine, dir));
  config.erase("text_config_dict");
  config["text_config"] = text;
  config["vision_config"]["patch_size"] = 33;
  write(dir / "config.json", config.dump());
  CHECK(error_of(engine, dir).find("config.json: vision_config.patch_size: 33 is larger than image_size 32") != std::string::npos);
  // A patch that does not divide the image drops the last pixels, as transformers' convolution
  // does (32 // 7 = 4 patches a side); here the stored 8-pixel patch weights contradict it, by name.
  config["vision_config"]["patch_size"] = 7;
  write(dir / "config.json", config.dump());
  CHECK(error_of(engine, dir).find("tensor 'vision_model.embeddings.patch_embedding.weight' has shape") != std::string::npos);
}

TEST_CASE("vision models: BEiT classification, masked image modeling and the base model, with every form of relative bias") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-beit.so"});
  for (const auto& options : {test::on_onednn(), on_reference()}) {
    test::check_outputs(engine, "beit-cls", {"pixel_values"}, {"logits", "last_hidden_state"}, options);
    test::check_outputs(engine, "beit-mim", {"pixel_values", "bool_masked_pos"}, {"logits", "last_hidden_state"}, options);
    test::check_outputs(engine, "beit-base", {"pixel_values"}, {"pooler_output", "last_hidden_state"}, options);
    // image_size [26, 22] with 4-pixel patches: a 6x5 grid, whose relative tables transformers
    // resizes bilinearly (read as a 9x11 grid into an 11x9 one).
    test::check_outputs(engine, "beit-rect", {"pixel_values"}, {"pooler_output", "last_hidden_state"}, options);
  }
  // A patch_size list with a relative bias: transformers divides the image size by it as an int.
  const auto dir = copy("beit-rect");
  std::ifstream in(kModels / "beit-rect" / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["patch_size"] = {4, 2};
  write(dir / "config.json", config.dump());
  CHECK(error_of(engine, dir).find("config.json: patch_size: [4, 2] with a relative position bias") != std::string::npos);
  // A relative bias over 64x64 patches: its index, a constant of the graph, would not fit.
  config["patch_size"] = 8;
  config["image_size"] = 512;
  write(dir / "config.json", config.dump());
  CHECK(error_of(engine, dir).find("config.json: image_size: 512 over patch_size 8 gives a relative position bias over 4097 tokens, "
                                   "more than Loom's 2049") != std::string::npos);
  const Graph g = engine.load_graph(kModels / "beit-cls");
  REQUIRE(g.processing.has_value());
  REQUIRE(g.processing->image.has_value());
  CHECK(g.processing->image->resample == Resample::Bicubic);
  CHECK(g.processing->image->do_center_crop);
  CHECK(g.processing->image->crop_size->height == 32);
}

TEST_CASE("vision models: BEiT's bool_masked_pos is optional, 0 or 1, and its absence masks nothing") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-beit.so"});
  const auto dir = kModels / "beit-mim";
  Session s = engine.load(dir, test::on_onednn());
  const Tensor pixels = read_npy(dir / "pixel_values.npy");
  Tensor none(DType::u8, {2, 16});
  std::memset(none.data(), 0, none.nbytes());
  TensorMap explicit_inputs{{"pixel_values", pixels}, {"bool_masked_pos", none}};
  TensorMap default_inputs{{"pixel_values", pixels}};
  CHECK(compare(s.run(explicit_inputs).at("logits"), s.run(default_inputs).at("logits"), 0, 0).ok());
  static_cast<uint8_t*>(none.data())[3] = 2;
  CHECK_THROWS_WITH_AS(s.run(explicit_inputs = {{"pixel_values", pixels}, {"bool_masked_pos", none}}),
                       doctest::Contains("bool_masked_pos"), Error);
  // use_mask_token false (transformers' default): the head over the patches as they are, and no
  // bool_masked_pos to give.
  const auto plain = copy("beit-mim");
  std::ifstream in(dir / "config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["use_mask_token"] = false;
  write(plain / "config.json", config.dump());
  Session p = engine.load(plain, test::on_onednn());
  for (const auto& i : p.graph().inputs) CHECK(i.name != "bool_masked_pos");
  CHECK(compare(p.run(default_inputs).at("logits"), s.run(default_inputs).at("logits"), 0, 0).ok());
}

TEST_CASE("vision models: ImageGPT's logits over the colour clusters, its classifier, and a whole image generated from SOS") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-reference.so", "loom-imagegpt.so"});
  for (const auto& options : {test::on_onednn(), on_reference()}) {
    test::check_outputs(engine, "imagegpt", {"input_ids", "attention_mask"}, {"logits", "last_hidden_state"}, options);
    test::check_outputs(engine, "imagegpt-cls", {"input_ids", "attention_mask"}, {"logits", "last_hidden_state"}, options);
  }
  const auto dir = kModels / "imagegpt";
  const Graph g = engine.load_graph(dir, "image-generation");
  REQUIRE(g.processing.has_value());
  REQUIRE(g.processing->generation.has_value());
  CHECK(g.processing->generation->bos_token_id == 8);
  CHECK(g.processing->generation->max_length == 17);
  {
    // Generation starts from SOS whatever generation_config.json says of bos.
    const auto tmp = std::filesystem::temp_directory_path() / ("loom-igpt-sos-" + std::to_string(::getpid()));
    std::filesystem::remove_all(tmp);
    std::filesystem::copy(dir, tmp, std::filesystem::copy_options::recursive);
    std::ofstream(tmp / "generation_config.json") << "{\"bos_token_id\": 3}";
    const Graph sos = engine.load_graph(tmp, "image-generation");
    CHECK(sos.processing->generation->bos_token_id == 8);
    std::filesystem::remove_all(tmp);
  }
  REQUIRE(g.processing->image.has_value());
  CHECK(g.processing->image->do_color_quantize);
  CHECK(g.processing->image->clusters_file == "preprocessor_config.json");
  Session s = engine.compile(g, test::on_onednn());
  Generator gen(s);
  GenerationOptions o;
  o.do_sample = false;
  o.max_new_tokens = 100;
  const std::vector<int64_t> sos = {8};
  const GenerationResult r = gen.generate(sos, o);
  CHECK(r.stop_reason == "max_length");
  const Tensor expected = read_npy(dir / "expected_generated.npy");
  CHECK(r.tokens == std::vector<int64_t>(expected.data_as<int64_t>(), expected.data_as<int64_t>() + expected.numel()));
}

TEST_CASE("vision models: ImageGPT's clusters must fit its vocabulary") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-imagegpt.so"});
  const auto dir = copy("imagegpt");
  // Fewer clusters than colours leave ids unused, as transformers takes them; more are refused.
  write(dir / "preprocessor_config.json", "{\"clusters\": [[0, 0, 0], [1, 1, 1]]}");
  CHECK(error_of(engine, dir).empty());
  write(dir / "preprocessor_config.json", "{\"clusters\": [[0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0], "
                                           "[1, 1, 1], [0, 0, 0]]}");
  CHECK(error_of(engine, dir).find("preprocessor_config.json: clusters: holds 9 clusters; the model's vocabulary has 8") != std::string::npos);
  write(dir / "preprocessor_config.json", "{\"do_color_quantize\": false}");
  CHECK(error_of(engine, dir).find("do_color_quantize: false is not supported") != std::string::npos);
  CHECK_THROWS_WITH_AS(engine.load_graph(kModels / "imagegpt-cls", "image-generation"),
                       doctest::Contains("task 'image-generation' is not offered by ImageGPTForImageClassification"), Error);
  nlohmann::json config = nlohmann::json::parse(std::ifstream(kModels / "imagegpt" / "config.json"));
  // Tied, transformers' lm_head would be wte's vocab_size rows: refused by name.
  config["tie_word_embeddings"] = true;
  write(dir / "config.json", config.dump());
  CHECK_MESSAGE(error_of(engine, dir).find("config.json: tie_word_embeddings: true is not supported") != std::string::npos,
                error_of(engine, dir));
  config.erase("tie_word_embeddings");
  // A key the config leaves out takes ImageGPTConfig's default (24 layers), not GPT2Config's.
  config.erase("n_layer");
  write(dir / "config.json", config.dump());
  CHECK_MESSAGE(error_of(engine, dir).find("tensor 'transformer.h.2.ln_1.weight' is missing (config.json: n_embd 32, n_layer 24)") !=
                    std::string::npos,
                error_of(engine, dir));
}

TEST_CASE("vision models: CLIP's processing section: the clip_bpe tokenizer and CLIPImageProcessor's steps") {
  Engine engine = test::model_engine({"loom-onednn.so", "loom-clip.so"});
  const auto dir = kModels / "clip";
  const Graph g = engine.load_graph(dir);
  REQUIRE(g.processing.has_value());
  REQUIRE(g.processing->tokenizer.has_value());
  CHECK(g.processing->tokenizer->kind == TokenizerKind::ClipBpe);
  REQUIRE(g.processing->image.has_value());
  CHECK(g.processing->image->do_convert_rgb);
  CHECK(g.processing->image->size->shortest_edge == 32);
  CHECK(g.processing->image->resample == Resample::Bicubic);
  REQUIRE(g.processing->tasks.size() == 1);
  CHECK(g.processing->tasks[0].task == "zero-shot-image-classification");
  // The text of the checkpoint's first row encodes to its ids, bos and eos included.
  const Tokenizer tok = Tokenizer::from_graph(g);
  const Encoding e = tok.encode({"a photo of a cat"});
  const Tensor ids = read_npy(dir / "input_ids.npy");
  CHECK(e.input_ids[0] == std::vector<int64_t>(ids.data_as<int64_t>(), ids.data_as<int64_t>() + 7));
  // The text tower's graph has the tokenizer and no image section; the vision tower's the reverse.
  const Graph text = engine.load_graph(dir, "feature-extraction");
  REQUIRE(text.processing.has_value());
  CHECK(text.processing->tokenizer.has_value());
  CHECK_FALSE(text.processing->image.has_value());
  const Graph vision = engine.load_graph(dir, "image-feature-extraction");
  REQUIRE(vision.processing.has_value());
  CHECK_FALSE(vision.processing->tokenizer.has_value());
  CHECK(vision.processing->tasks[0].output == "image_embeds");
}
