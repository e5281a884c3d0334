#include "image_section.hpp"

#include "config.hpp"
#include "graph_writer.hpp"

#include <cmath>
#include <sstream>

namespace loom::models {
namespace {

struct Size {
  int64_t height = 0, width = 0, shortest_edge = 0;
};

constexpr int64_t kMaxSide = 1 << 16;

int64_t side(const JsonFile& f, const std::string& key, const nlohmann::json& v) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxSide)
    f.fail(key, "expected a size between 1 and " + std::to_string(kMaxSide) + ", got " + v.dump());
  return v.get<int64_t>();
}

// `size` or `crop_size`: an int (square, or the shortest edge where the class reads it so), or
// {height, width}, or {shortest_edge}.
Size read_size(const JsonFile& f, const std::string& key, Size fallback, bool square) {
  if (!f.has(key)) return fallback;
  const nlohmann::json& v = f.json()[key];
  Size s;
  if (v.is_number()) {
    const int64_t n = side(f, key, v);
    if (square) s.height = s.width = n;
    else s.shortest_edge = n;
    return s;
  }
  if (!v.is_object()) f.fail(key, "expected a number or an object, got " + v.dump());
  if (v.contains("height") || v.contains("width")) {
    if (!v.contains("height") || !v.contains("width") || v.size() != 2)
      f.fail(key, "expected {\"height\": H, \"width\": W}, got " + v.dump());
    s.height = side(f, key + ".height", v["height"]);
    s.width = side(f, key + ".width", v["width"]);
    return s;
  }
  if (v.contains("shortest_edge")) {
    if (v.contains("longest_edge") && !v["longest_edge"].is_null())
      f.fail(key, "a longest_edge is not supported (shortest_edge alone, or height and width)");
    s.shortest_edge = side(f, key + ".shortest_edge", v["shortest_edge"]);
    return s;
  }
  f.fail(key, "expected height and width, or shortest_edge; got " + v.dump());
}

std::array<double, 3> per_channel(const JsonFile& f, const std::string& key, const std::array<double, 3>& fallback, bool positive) {
  if (!f.has(key)) return fallback;
  const nlohmann::json& v = f.json()[key];
  std::array<double, 3> out{};
  if (v.is_number()) {
    out.fill(v.get<double>());
  } else {
    if (!v.is_array() || v.size() != 3) f.fail(key, "expected three numbers (one per channel), got " + v.dump());
    for (size_t i = 0; i < 3; ++i) {
      if (!v[i].is_number()) f.fail(key, "expected three numbers (one per channel), got " + v.dump());
      out[i] = v[i].get<double>();
    }
  }
  for (double x : out)
    if (!std::isfinite(x) || (positive && x <= 0)) f.fail(key, "expected finite" + std::string(positive ? " positive" : "") + " numbers, got " + v.dump());
  return out;
}

const char* resample_name(const JsonFile& f, int64_t code) {
  switch (code) {
    case 0: return "nearest";
    case 1: return "lanczos";
    case 2: return "bilinear";
    case 3: return "bicubic";
    case 4: return "box";
    case 5: return "hamming";
    default: f.fail("resample", "PIL filter " + std::to_string(code) + " is not one of 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming");
  }
}

std::string size_yaml(const Size& s) {
  if (s.shortest_edge) return "{shortest_edge: " + std::to_string(s.shortest_edge) + "}";
  return "{height: " + std::to_string(s.height) + ", width: " + std::to_string(s.width) + "}";
}

std::string triple(const std::array<double, 3>& v) {
  std::string out = "[";  // appended, not "[" + ...: GCC 12 warns falsely (-Wrestrict) on that form
  out += float_literal(v[0]) + ", " + float_literal(v[1]) + ", " + float_literal(v[2]) + "]";
  return out;
}

std::string resize_yaml(const JsonFile& f, bool do_resize, const Size& size, int64_t resample) {
  return "    do_resize: " + std::string(do_resize ? "true" : "false") + "\n    size: " + size_yaml(size) + "\n    resample: " +
         resample_name(f, resample) + "\n";
}

// ImageGPT's steps: resize, x / 127.5 − 1 (a rescale by 1/127.5, then a normalisation with
// mean and std 1), nearest colour cluster of the file's `clusters`.
std::string imagegpt_section(const JsonFile& f, const ImageDefaults& d, bool do_resize, const Size& size, int64_t resample) {
  const bool normalize = f.flag("do_normalize", true);
  const bool quantize = f.flag("do_color_quantize", true);
  if (!normalize || !quantize)
    f.fail(normalize ? "do_color_quantize" : "do_normalize", "false is not supported (ImageGPT's inputs are cluster ids of normalised pixels)");
  if (!f.has("clusters") || !f.json()["clusters"].is_array())
    f.fail("clusters", "expected an array of [r, g, b] colour clusters");
  const nlohmann::json& c = f.json()["clusters"];
  // Fewer clusters than the vocabulary's colours leave ids unused (transformers compares
  // nothing); more would make ids past it.
  if (static_cast<int64_t>(c.size()) > d.clusters)
    f.fail("clusters", "holds " + std::to_string(c.size()) + " clusters; the model's vocabulary has " + std::to_string(d.clusters) +
                           " (vocab_size − 1)");
  std::ostringstream y;
  y << "  image:\n    input: " << quoted(d.input) << "\n" << resize_yaml(f, do_resize, size, resample)
    << "    do_rescale: true\n    rescale_factor: " << float_literal(1.0 / 127.5) << "\n"
    << "    do_normalize: true\n    image_mean: [1.0, 1.0, 1.0]\n    image_std: [1.0, 1.0, 1.0]\n"
    << "    do_color_quantize: true\n    clusters_file: \"preprocessor_config.json\"\n";
  return y.str();
}

// The class the file names, as its slow ImageProcessor ("ViTFeatureExtractor" and
// "ViTImageProcessorFast" are ViTImageProcessor); "" where it names none.
std::string named_class(const JsonFile& f) {
  std::string name;
  for (const char* key : {"image_processor_type", "feature_extractor_type"})
    if (f.has(key)) {
      name = f.string(key);
      break;
    }
  const std::string fast = "Fast", extractor = "FeatureExtractor";
  if (name.size() > fast.size() && name.compare(name.size() - fast.size(), fast.size(), fast) == 0) name.resize(name.size() - fast.size());
  if (name.size() > extractor.size() && name.compare(name.size() - extractor.size(), extractor.size(), extractor) == 0)
    name = name.substr(0, name.size() - extractor.size()) + "ImageProcessor";
  return name;
}

}  // namespace

std::optional<ImageDefaults> processor_defaults(const std::string& name) {
  ImageDefaults d;  // ViTImageProcessor's
  if (name == "ViTImageProcessor") return d;
  d.name = name;
  d.crops = d.do_center_crop = true;
  if (name == "DeiTImageProcessor") {
    // Its mean and std default to IMAGENET_STANDARD's 0.5, ViT's (the DeiT checkpoints give
    // ImageNet's own in their files).
    d.height = d.width = 256;
    d.resample = 3;
  } else if (name == "BeitImageProcessor") {
    d.height = d.width = 256;
    d.resample = 3;
  } else if (name == "CLIPImageProcessor") {
    d.shortest_edge = 224;
    d.default_to_square = false;
    d.resample = 3;
    d.mean = {0.48145466, 0.4578275, 0.40821073};  // OPENAI_CLIP
    d.std = {0.26862954, 0.26130258, 0.27577711};
    d.do_convert_rgb = true;
  } else if (name == "ImageGPTImageProcessor") {
    d.crops = d.do_center_crop = false;
    d.height = d.width = 256;
    d.imagegpt = true;
  } else {
    return std::nullopt;
  }
  return d;
}

std::string image_section(const std::string& checkpoint_dir, const std::string& model_class, const std::string& input, int64_t clusters) {
  const JsonFile f = JsonFile::read_optional(checkpoint_dir, "preprocessor_config.json");
  if (!f.exists()) return "";
  const std::string named = named_class(f);
  const char* type_key = f.has("image_processor_type") ? "image_processor_type" : "feature_extractor_type";
  const std::string as_written = f.has(type_key) ? f.string(type_key) : model_class;
  std::optional<ImageDefaults> known = processor_defaults(named.empty() ? model_class : named);
  if (!known)
    f.fail(type_key, "'" + as_written + "' is not supported (ViTImageProcessor, DeiTImageProcessor, BeitImageProcessor, CLIPImageProcessor, "
                     "ImageGPTImageProcessor, or their FeatureExtractor and Fast names)");
  ImageDefaults d = *known;
  d.input = input;
  d.clusters = clusters;
  // ImageGPT's inputs are cluster ids, every other model's pixel values.
  if (d.imagegpt != (model_class == "ImageGPTImageProcessor"))
    f.fail(type_key, "'" + as_written + "' does not make the inputs of this model (" + model_class + " does)");
  const bool do_resize = f.flag("do_resize", d.do_resize);
  Size size = read_size(f, "size", {d.height, d.width, d.shortest_edge}, d.default_to_square);
  // CLIPImageProcessor's legacy use_square_size: the shortest edge as both sides.
  if (d.name == "CLIPImageProcessor" && f.has("use_square_size") && f.boolean("use_square_size") && size.shortest_edge)
    size = {size.shortest_edge, size.shortest_edge, 0};
  // The slow classes but CLIP's resize to a height and a width: transformers raises as it
  // preprocesses with a shortest edge, which their Fast forms resize to.
  if (do_resize && size.shortest_edge && d.name != "CLIPImageProcessor" && !as_written.ends_with("Fast"))
    f.fail("size", "{\"shortest_edge\": " + std::to_string(size.shortest_edge) + "} is not a size of " + d.name +
                       ", which resizes to a height and a width (transformers raises as it preprocesses)");
  // resample and rescale_factor are kept as given, None included, and transformers' preprocess
  // raises when a step that needs one is on ("`size` and `resample` must be specified if
  // `do_resize` is `True`"): refused here too.
  auto null = [&](const char* key) { return f.json().contains(key) && f.json()[key].is_null(); };
  if (do_resize && null("resample")) f.fail("resample", "is null while do_resize is on (transformers raises as it preprocesses)");
  const int64_t resample = f.integer("resample", 0, 1 << 30, d.resample);
  // A class without a crop step ignores the crop keys, as ViTImageProcessor does.
  const bool do_crop = d.crops && f.flag("do_center_crop", d.do_center_crop);
  const Size crop = d.crops ? read_size(f, "crop_size", {d.crop_height, d.crop_width, 0}, true) : Size{};
  if (crop.shortest_edge) f.fail("crop_size", "a centre crop needs a height and a width");
  if (d.imagegpt) return imagegpt_section(f, d, do_resize, size, resample);
  const bool do_rescale = f.flag("do_rescale", d.do_rescale);
  if (do_rescale && null("rescale_factor"))
    f.fail("rescale_factor", "is null while do_rescale is on (transformers raises as it preprocesses)");
  const double factor = f.number("rescale_factor", d.rescale_factor, true);
  const bool do_normalize = f.flag("do_normalize", d.do_normalize);
  const auto mean = per_channel(f, "image_mean", d.mean, false);
  const auto std = per_channel(f, "image_std", d.std, true);
  const bool rgb = f.flag("do_convert_rgb", d.do_convert_rgb);

  std::ostringstream y;
  y << "  image:\n    input: " << quoted(d.input) << "\n";
  if (rgb) y << "    do_convert_rgb: true\n";
  y << resize_yaml(f, do_resize, size, resample);
  if (do_crop) y << "    do_center_crop: true\n    crop_size: " << size_yaml(crop) << "\n";
  y << "    do_rescale: " << (do_rescale ? "true" : "false") << "\n    rescale_factor: " << float_literal(factor) << "\n";
  y << "    do_normalize: " << (do_normalize ? "true" : "false") << "\n    image_mean: " << triple(mean)
    << "\n    image_std: " << triple(std) << "\n";
  return y.str();
}

}  // namespace loom::models
