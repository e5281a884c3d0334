// ImageProcessor against transformers' processors rendered in numpy by make_image_fixtures.py
// (ViT, Swin, CLIP, BEiT, a padded crop, a crop without resize, ImageGPT's colour quantization):
// pixel values must equal the reference exactly (tolerance 0), cluster ids exactly.
#include <doctest/doctest.h>
#include <loom/error.hpp>
#include <loom/graph.hpp>
#include <loom/image.hpp>
#include <loom/io.hpp>

#include "image_fixtures.hpp"
#include "scratch_dir.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using loom::Image;
using loom::ImageProcessor;
using loom::ImageProcessorSpec;
using loom::ImageSize;
using loom::Tensor;
using loom::test::error_message;
using loom::test::image_fixture;

namespace {

ImageSize size_of(const nlohmann::json& j) {
  if (j.contains("shortest_edge")) return ImageSize{.shortest_edge = j["shortest_edge"].get<int64_t>()};
  return ImageSize{.height = j["height"].get<int64_t>(), .width = j["width"].get<int64_t>()};
}

// The spec a pipeline fixture was made with (the keys of ImageProcessorSpec).
ImageProcessorSpec spec_of(const nlohmann::json& j) {
  ImageProcessorSpec s;
  s.input = "pixel_values";
  s.do_convert_rgb = j.value("do_convert_rgb", false);
  s.do_resize = j.value("do_resize", false);
  if (j.contains("size")) s.size = size_of(j["size"]);
  if (j.contains("resample")) s.resample = j["resample"] == "bilinear" ? loom::Resample::Bilinear : loom::Resample::Bicubic;
  s.do_center_crop = j.value("do_center_crop", false);
  if (j.contains("crop_size")) s.crop_size = size_of(j["crop_size"]);
  s.do_rescale = j.value("do_rescale", false);
  if (j.contains("rescale_factor")) s.rescale_factor = j["rescale_factor"].get<double>();
  s.do_normalize = j.value("do_normalize", false);
  s.image_mean = j.value("image_mean", std::vector<double>{});
  s.image_std = j.value("image_std", std::vector<double>{});
  return s;
}

std::string decoded_of(const std::string& src) {
  const size_t dot = src.rfind('.');
  return "decoded/" + src.substr(0, dot) + "_" + src.substr(dot + 1) + ".npy";
}

// "" when the tensors are equal in dtype, shape and every bit, else the first difference.
std::string tensor_difference(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return std::string(loom::dtype_name(got.dtype())) + " " + loom::shape_str(got.shape()) + ", expected " +
           std::string(loom::dtype_name(want.dtype())) + " " + loom::shape_str(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    if (loom::element_as_double(got, i) != loom::element_as_double(want, i))
      return "element " + std::to_string(i) + ": " + std::to_string(loom::element_as_double(got, i)) + ", expected " +
             std::to_string(loom::element_as_double(want, i));
  return "";
}

}  // namespace

TEST_CASE("image processor: ViT, Swin, CLIP, BEiT and crops equal transformers' pixel values exactly") {
  for (const char* name : {"vit", "swin", "clip", "clip_pad", "beit", "crop_only"}) {
    INFO(name);
    std::ifstream in(image_fixture(std::string("pipeline/") + name + ".json"));
    const nlohmann::json j = nlohmann::json::parse(in);
    const ImageProcessor proc(spec_of(j["spec"]), {});
    std::vector<Image> images;
    for (const auto& src : j["inputs"]) images.push_back(loom::read_image(image_fixture("src/" + src.get<std::string>())));
    const loom::TensorMap out = proc.tensors(images);
    REQUIRE(out.count("pixel_values") == 1);
    CHECK(tensor_difference(out.at("pixel_values"), loom::read_npy(image_fixture(std::string("pipeline/") + name + ".npy"))) == "");
  }
}

TEST_CASE("image processor: ImageGPT's cluster ids, from a clusters file next to the graph") {
  ImageProcessorSpec s;
  s.input = "input_ids";
  s.do_resize = true;
  s.size = ImageSize{.height = 12, .width = 10};
  s.resample = loom::Resample::Bilinear;
  s.do_rescale = true;
  s.rescale_factor = 0.00784313725490196;  // 1 / 127.5 as Python prints it
  s.do_normalize = true;
  s.image_mean = s.image_std = {1.0, 1.0, 1.0};
  s.do_color_quantize = true;
  s.clusters_file = "imagegpt_clusters.json";
  const ImageProcessor proc(s, image_fixture("pipeline"));
  CHECK(proc.clusters().size() == 64);
  const loom::TensorMap out =
      proc.tensors({loom::read_image(image_fixture("src/rgb.png")), loom::read_image(image_fixture("src/color444.jpg"))});
  CHECK(tensor_difference(out.at("input_ids"), loom::read_npy(image_fixture("pipeline/imagegpt.npy"))) == "");

  // From a graph: clusters_file is relative to the graph's folder.
  const std::string graph = R"(loom: 1
name: imagegpt-like
inputs:
  - {name: input_ids, dtype: i64, shape: [batch, 120]}
outputs: [y]
nodes:
  - {op: cast, inputs: [input_ids], outputs: [y], attrs: {to: f32}}
processing:
  version: 1
  image:
    input: input_ids
    do_resize: true
    size: {height: 12, width: 10}
    resample: bilinear
    do_rescale: true
    rescale_factor: 0.00784313725490196
    do_normalize: true
    image_mean: [1.0, 1.0, 1.0]
    image_std: [1.0, 1.0, 1.0]
    do_color_quantize: true
    clusters_file: imagegpt_clusters.json
)";
  const ImageProcessor from_graph = ImageProcessor::from_graph(loom::parse_graph_yaml(graph, "gpt.yaml", image_fixture("pipeline")));
  CHECK(from_graph.clusters() == proc.clusters());

  // The same clusters inline give the same ids.
  std::ifstream in(image_fixture("pipeline/imagegpt_clusters.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  s.clusters_file.clear();
  for (const auto& c : j["clusters"]) s.clusters.push_back({c[0].get<double>(), c[1].get<double>(), c[2].get<double>()});
  const ImageProcessor inline_proc(s, {});
  const Tensor one = inline_proc.tensors({loom::read_image(image_fixture("src/rgb.png"))}).at("input_ids");
  REQUIRE(one.shape() == loom::Shape{1, 120});
  CHECK(std::memcmp(one.data(), out.at("input_ids").data(), one.nbytes()) == 0);  // row 0 of the batch
}

TEST_CASE("image processor: ImageGPT's ties between two equally near clusters break as numpy's matmul breaks them") {
  // Each pixel has two clusters at the same exact distance; the fixture keeps only pixels where
  // numpy (OpenBLAS's fused multiply-adds) picks another one than a plain sum of products would.
  ImageProcessorSpec s;
  s.input = "input_ids";
  s.do_rescale = true;
  s.rescale_factor = 1 / 127.5;
  s.do_normalize = true;
  s.image_mean = s.image_std = {1.0, 1.0, 1.0};
  s.do_color_quantize = true;
  s.clusters_file = "imagegpt_ties_clusters.json";
  const ImageProcessor proc(s, image_fixture("pipeline"));
  const loom::TensorMap out = proc.tensors({loom::test::npy_image("pipeline/imagegpt_ties_pixels.npy")});
  CHECK(tensor_difference(out.at("input_ids"), loom::read_npy(image_fixture("pipeline/imagegpt_ties.npy"))) == "");
}

TEST_CASE("image processor: from a graph's processing section, and its errors") {
  const std::string graph = R"(loom: 1
name: vit-like
inputs:
  - {name: pixel_values, dtype: f32, shape: [batch, 3, 24, 24]}
outputs: [y]
nodes:
  - {op: relu, inputs: [pixel_values], outputs: [y]}
processing:
  version: 1
  image:
    input: pixel_values
    do_resize: true
    size: {height: 24, width: 24}
    resample: bilinear
    do_rescale: true
    rescale_factor: 0.00392156862745098
    do_normalize: true
    image_mean: [0.5, 0.5, 0.5]
    image_std: [0.5, 0.5, 0.5]
)";
  const loom::Graph g = loom::parse_graph_yaml(graph, "vit.yaml");
  const ImageProcessor proc = ImageProcessor::from_graph(g);
  const loom::TensorMap out =
      proc.tensors({loom::read_image(image_fixture("src/rgb.png")), loom::read_image(image_fixture("src/color420.jpg"))});
  CHECK(tensor_difference(out.at("pixel_values"), loom::read_npy(image_fixture("pipeline/vit.npy"))) == "");

  // Pillow's other filters have YAML names too.
  for (const auto& [yaml, filter] : {std::pair{"box", loom::Resample::Box}, {"hamming", loom::Resample::Hamming}, {"lanczos", loom::Resample::Lanczos}}) {
    std::string text = graph;
    text.replace(text.find("bilinear"), 8, yaml);
    const loom::Graph other = loom::parse_graph_yaml(text, "vit.yaml");
    CHECK(other.processing->image->resample == filter);
    CHECK(loom::enum_name(filter) == yaml);
  }

  const loom::Graph plain = loom::parse_graph_yaml(graph.substr(0, graph.find("processing:")), "plain.yaml");
  CHECK(error_message([&] { ImageProcessor::from_graph(plain); }) ==
        "graph 'vit-like': the graph has no image processor (processing.image) in its processing section");

  // Images that end at different sizes cannot share a batch.
  ImageProcessorSpec crop_free;
  crop_free.input = "pixel_values";
  crop_free.do_resize = true;
  crop_free.size = ImageSize{.shortest_edge = 8};
  crop_free.resample = loom::Resample::Bicubic;
  const ImageProcessor shortest(crop_free, {});
  CHECK(error_message([&] { shortest.tensors({Image(20, 10), Image(10, 20)}); }) ==
        "image 1 is 8x16 after resize and crop, the first image 16x8: a batch needs one size (give the images one at a time, or a spec "
        "that resizes to a fixed size)");
  CHECK(shortest.tensors({Image(20, 10), Image(40, 20)}).at("pixel_values").shape() == loom::Shape{2, 3, 8, 16});
  CHECK(error_message([&] { shortest.tensors(std::span<const Image>()); }) == "processing.image: no images to process");
  CHECK(error_message([&] { shortest.tensors({Image()}); }) == "image 0: the image is empty");
  // With the images' files, the messages name them.
  const std::vector<Image> two = {Image(20, 10), Image(10, 20)};
  const std::vector<std::string> files = {"wide.png", "tall.png"};
  CHECK(error_message([&] { shortest.tensors(two, files); }).rfind("tall.png is 8x16 after resize and crop, wide.png 16x8: ", 0) == 0);
  const std::vector<Image> empty = {Image()};
  const std::vector<std::string> one = {"blank.png"};
  CHECK(error_message([&] { shortest.tensors(empty, one); }) == "blank.png: the image is empty");
}

TEST_CASE("image processor: a spec without its values, and bad clusters files") {
  ImageProcessorSpec s;
  s.input = "pixel_values";
  s.do_resize = true;
  CHECK(error_message([&] { ImageProcessor(s, {}); }) == "processing.image: do_resize needs `size` and `resample`");
  s.do_resize = false;
  s.do_normalize = true;
  s.image_mean = {0.5, 0.5};
  s.image_std = {0.5, 0.5, 0.5};
  CHECK(error_message([&] { ImageProcessor(s, {}); }) == "processing.image: do_normalize needs 3 values in `image_mean` and in `image_std`");
  // Finite settings whose float32 values are not: a std of 1e-45, a rescale factor of 1e308.
  s.image_mean = {0.5, 0.5, 0.5};
  s.image_std = {0.5, 1e-45, 0.5};
  CHECK(error_message([&] { ImageProcessor(s, {}); }) ==
        "processing.image: rescale_factor, image_mean and image_std make byte 0 of channel 1 -inf in float32, not a finite pixel value");
  s.image_std = {0.5, 0.5, 0.5};
  s.do_rescale = true;
  s.rescale_factor = 1e308;
  CHECK(error_message([&] { ImageProcessor(s, {}); }).find("byte 1 of channel 0 inf in float32") != std::string::npos);
  s.do_rescale = false;
  s.do_normalize = false;
  s.do_color_quantize = true;
  CHECK(error_message([&] { ImageProcessor(s, {}); }) == "processing.image: do_color_quantize needs `clusters` or `clusters_file`");

  const auto dir = loom::test::scratch_dir("image_clusters");
  auto with_file = [&](const std::string& text) {
    std::ofstream(dir / "c.json") << text;
    s.clusters_file = "c.json";
    return error_message([&] { ImageProcessor(s, dir); });
  };
  const std::string f = (dir / "c.json").string();
  CHECK(with_file("{\"clusters\": [[0.1, 0.2, 0.3], [1, 2]]}") == f + ": clusters[1]: expected 3 numbers (red, green, blue)");
  CHECK(with_file("{\"clusters\": [[0.1, \"x\", 0.3]]}") == f + ": clusters[0]: expected 3 numbers (red, green, blue)");
  CHECK(with_file("{\"clusters\": []}") == f + ": \"clusters\" is empty");
  CHECK(with_file("[1, 2]") == f + ": expected a JSON object with a \"clusters\" array of [r, g, b] colours");
  CHECK(with_file("{\"clusters\": [[").rfind(f + ": not valid JSON: ", 0) == 0);
  s.clusters_file = "missing.json";
  CHECK(error_message([&] { ImageProcessor(s, dir); }) == (dir / "missing.json").string() + ": cannot open the clusters file: No such file or directory");
}
