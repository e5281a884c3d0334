// Activations shared by unary.comp and matmul.comp, numbered as kernel.hpp's Activation.
// GLSL has no erf, and its tanh may overflow to NaN for large |x| on some drivers: both are
// written out here in forms that stay finite and within ~1e-7 of the exact value.

float erf_approx(float x) {
  // Numerical Recipes' erfc (fractional error below 1.2e-7 everywhere).
  float z = abs(x);
  float t = 1.0 / (1.0 + 0.5 * z);
  float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0.0 ? 1.0 - r : r - 1.0;
}

float tanh_stable(float x) {
  float e = exp(-2.0 * abs(x));
  float t = (1.0 - e) / (1.0 + e);
  return x < 0.0 ? -t : t;
}

float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }

const uint ACT_NONE = 0, ACT_RELU = 1, ACT_GELU = 2, ACT_GELU_TANH = 3, ACT_QUICK_GELU = 4, ACT_TANH = 5,
           ACT_SIGMOID = 6, ACT_EXP = 7, ACT_SILU = 8;

float activate(uint act, float x) {
  switch (act) {
    case ACT_RELU: return x > 0.0 || isnan(x) ? x : 0.0;  // max(x, 0) may drop a NaN, which PyTorch keeps
    case ACT_GELU: return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
    case ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh_stable(0.79788456080286536 * (x + 0.044715 * x * x * x)));
    case ACT_QUICK_GELU: return x * sigmoid(1.702 * x);
    case ACT_SILU: return x * sigmoid(x);
    case ACT_TANH: return tanh_stable(x);
    case ACT_SIGMOID: return sigmoid(x);
    case ACT_EXP: return exp(x);
    default: return x;
  }
}
