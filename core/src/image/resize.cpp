// Pillow 9.4's Image.resize on 8-bit RGB, computed as src/libImaging/Resample.c and Geometry.c
// compute it, so that the bytes are equal: the same filters in double precision, coefficients
// normalized per output pixel and rounded to 22-bit fixed point, rows first (only the input rows
// the vertical pass reads) into an 8-bit intermediate, then columns, each sum rounded by a
// half-unit bias and clipped to 0..255. NEAREST is Pillow's affine scaling with an accumulated
// source position.
#include <loom/error.hpp>
#include <loom/image.hpp>

#include "image/image_size.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace loom {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * std::numbers::pi;
  // Pillow writes the constants as floats: 0.54f and 0.46f, widened to double.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_filter(double x) { return -3.0 <= x && x < 3.0 ? sinc_filter(x) * sinc_filter(x / 3) : 0.0; }

struct Filter {
  double (*weight)(double);
  double support;
};

Filter filter_of(Resample r) {
  switch (r) {
    case Resample::Box: return {box_filter, 0.5};
    case Resample::Bilinear: return {bilinear_filter, 1.0};
    case Resample::Hamming: return {hamming_filter, 1.0};
    case Resample::Bicubic: return {bicubic_filter, 2.0};
    case Resample::Lanczos: return {lanczos_filter, 3.0};
    case Resample::Nearest: break;
  }
  throw Error("resize: no convolution filter for '" + std::string(enum_name(r)) + "'");
}

// One axis: for each output pixel the first input pixel, how many it reads, and their weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // ksize per output pixel, fixed point
};

Coefficients coefficients(int in_size, int out_size, const Filter& filter) {
  // Pillow's box is float[4] = {0, 0, width, height}.
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  // Pillow's bound on its table of double weights (out_size * ksize of them under 2 GiB).
  if (static_cast<int64_t>(out_size) * c.ksize * static_cast<int64_t>(sizeof(double)) > INT_MAX)
    throw Error("resize: " + std::to_string(in_size) + " -> " + std::to_string(out_size) + " pixels needs too many filter weights");
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(std::min(c.ksize, in_size));  // no output pixel reads more
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    int32_t* out = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      out[x] = w < 0 ? static_cast<int32_t>(-0.5 + w * (1 << kPrecisionBits)) : static_cast<int32_t>(0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// The sum starts at half a unit (rounding) and wraps as Pillow's int does; the result is
// clipped to 0..255.
uint8_t clip8(uint32_t sum) {
  const int32_t v = static_cast<int32_t>(sum) >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + out.height()) of `in`, resampled along x.
void horizontal(const Image& in, int row0, const Coefficients& c, Image& out) {
  for (int64_t y = 0; y < out.height(); ++y) {
    const uint8_t* src = in.row(row0 + y);
    uint8_t* dst = out.row(y);
    for (int64_t xx = 0; xx < out.width(); ++xx) {
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = src + static_cast<int64_t>(c.first[xx]) * 3;
      uint32_t s0 = 1u << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        const auto w = static_cast<uint32_t>(k[x]);
        s0 += p[0] * w, s1 += p[1] * w, s2 += p[2] * w;
      }
      dst[xx * 3] = clip8(s0), dst[xx * 3 + 1] = clip8(s1), dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Along y; `shift` is the first input row `in` holds.
void vertical(const Image& in, int shift, const Coefficients& c, Image& out) {
  const int64_t stride = in.width() * 3;
  for (int64_t yy = 0; yy < out.height(); ++yy) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    const uint8_t* src = in.row(c.first[yy] - shift);
    uint8_t* dst = out.row(yy);
    for (int64_t i = 0; i < stride; ++i) {
      uint32_t s = 1u << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) s += src[y * stride + i] * static_cast<uint32_t>(k[y]);
      dst[i] = clip8(s);
    }
  }
}

Image convolve(const Image& in, int out_w, int out_h, const Filter& f) {
  const Coefficients ch = coefficients(static_cast<int>(in.width()), out_w, f);
  const Coefficients cv = coefficients(static_cast<int>(in.height()), out_h, f);
  const bool need_horizontal = out_w != in.width();
  const bool need_vertical = out_h != in.height();
  const int first_row = cv.first.front(), last_row = cv.first.back() + cv.count.back();
  Image temp;
  if (need_horizontal) {
    temp = Image(out_w, last_row - first_row);
    horizontal(in, first_row, ch, temp);
  }
  if (!need_vertical) return need_horizontal ? temp : in;
  Image out(need_horizontal ? out_w : in.width(), out_h);
  vertical(need_horizontal ? temp : in, need_horizontal ? first_row : 0, cv, out);
  return out;
}

// Geometry.c's ImagingScaleAffine: the source position advances by a running sum, and output
// pixels whose position falls outside the source stay black.
Image nearest(const Image& in, int out_w, int out_h) {
  const double ax = static_cast<double>(static_cast<float>(in.width()) - 0.0f) / out_w;
  const double ay = static_cast<double>(static_cast<float>(in.height()) - 0.0f) / out_h;
  auto coord = [](double v) { return v < 0.0 ? -1 : static_cast<int>(v); };
  std::vector<int> xin(out_w, 0);
  int xmin = out_w, xmax = 0;
  double xo = 0.0 + ax * 0.5;
  for (int x = 0; x < out_w; ++x, xo += ax) {
    const int xi = coord(xo);
    if (xi >= 0 && xi < in.width()) {
      xmax = x + 1;
      if (x < xmin) xmin = x;
      xin[x] = xi;
    }
  }
  Image out(out_w, out_h);
  double yo = 0.0 + ay * 0.5;
  for (int y = 0; y < out_h; ++y, yo += ay) {
    const int yi = coord(yo);
    if (yi < 0 || yi >= in.height()) continue;
    const uint8_t* src = in.row(yi);
    uint8_t* dst = out.row(y);
    for (int x = xmin; x < xmax; ++x)
      for (int c = 0; c < 3; ++c) dst[x * 3 + c] = src[xin[x] * 3 + c];
  }
  return out;
}

}  // namespace

ImageSize resize_output_size(const Image& image, const ImageSize& size) {
  if (image.empty()) throw Error("resize: the image is empty");
  if (size.shortest_edge == 0) return {size.height, size.width, 0};
  const int64_t s = size.shortest_edge;
  if (s < 1 || s > kMaxImagePixels)
    throw Error("resize: shortest_edge " + std::to_string(s) + " is outside 1.." + std::to_string(kMaxImagePixels));
  const int64_t h = image.height(), w = image.width();
  const int64_t shorter = w <= h ? w : h, longer = w <= h ? h : w;
  // Python's int(s * long / short): the product is exact in a double below 2^53, the quotient
  // correctly rounded, then truncated.
  const auto new_long = static_cast<int64_t>(static_cast<double>(s * longer) / static_cast<double>(shorter));
  return w <= h ? ImageSize{new_long, s, 0} : ImageSize{s, new_long, 0};
}

Image resize(const Image& image, const ImageSize& size, Resample filter) {
  const ImageSize out = resize_output_size(image, size);
  image::check_size(out.width, out.height, kMaxImagePixels, "resize: the output");
  if (out.width == image.width() && out.height == image.height()) return image;
  const int w = static_cast<int>(out.width), h = static_cast<int>(out.height);
  return filter == Resample::Nearest ? nearest(image, w, h) : convolve(image, w, h, filter_of(filter));
}

}  // namespace loom
