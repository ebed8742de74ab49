#ifndef IRK_VMATH_H
#define IRK_VMATH_H
// Vector transcendental functions, written once over clang vector types and instantiated per
// SIMD level (see DEFINE_VMATH). Accuracy: exp about 2 ulp; erf max abs error 1.5e-7
// (Abramowitz & Stegun 7.1.26, the same formula PyTorch's vectorised CPU erf uses).
#include <stdint.h>

#define DEFINE_VMATH(S, ATTR, VW)                                                                   \
    typedef float vf_##S __attribute__((ext_vector_type(VW)));                                      \
    typedef float vfu_##S __attribute__((ext_vector_type(VW), aligned(4)));                         \
    typedef int32_t vi_##S __attribute__((ext_vector_type(VW)));                                    \
    ATTR static inline vf_##S vload_##S(const float *p) { return *(const vfu_##S *)p; }             \
    ATTR static inline void vstore_##S(float *p, vf_##S v) { *(vfu_##S *)p = v; }                   \
    ATTR static inline vf_##S vmin_##S(vf_##S a, vf_##S b) { return a < b ? a : b; }                \
    ATTR static inline vf_##S vmax_##S(vf_##S a, vf_##S b) { return a > b ? a : b; }                \
    ATTR static inline vf_##S vabs_##S(vf_##S a) { return a < 0.0f ? -a : a; }                      \
    /* exp: x = n ln2 + r, |r| <= ln2/2; Cephes polynomial; 2^n applied as two factors 2^(n/2), so */ \
    /* results below FLT_MIN come out as denormals and n = 128 overflows to inf, as expf does. */      \
    /* x is clamped only for the reduction: NaN stays NaN, +inf gives inf, -inf gives 0. */        \
    ATTR static inline vf_##S vexp_##S(vf_##S x) {                                                  \
        vf_##S xc = vmin_##S(vmax_##S(x, (vf_##S)-104.0f), (vf_##S)89.0f);                          \
        vf_##S fx = xc * 1.44269504088896341f + 12582912.0f;                                        \
        fx = fx - 12582912.0f; /* round to nearest */                                               \
        vf_##S r = xc - fx * 0.693359375f;                                                          \
        r = r - fx * -2.12194440e-4f;                                                               \
        vf_##S p = (vf_##S)1.9875691500E-4f;                                                        \
        p = p * r + 1.3981999507E-3f;                                                               \
        p = p * r + 8.3334519073E-3f;                                                               \
        p = p * r + 4.1665795894E-2f;                                                               \
        p = p * r + 1.6666665459E-1f;                                                               \
        p = p * r + 5.0000001201E-1f;                                                               \
        p = p * (r * r) + r + 1.0f;                                                                 \
        vi_##S n = __builtin_convertvector(fx, vi_##S);                                             \
        vi_##S n1 = n >> 1;                                                                         \
        vf_##S y = p * (vf_##S)((n1 + 127) << 23) * (vf_##S)((n - n1 + 127) << 23);                 \
        return x != x ? x : y;                                                                      \
    }                                                                                               \
    ATTR static inline vf_##S verf_##S(vf_##S x) {                                                  \
        vf_##S ax = vabs_##S(x);                                                                    \
        vf_##S t = 1.0f / (ax * 0.3275911f + 1.0f);                                                 \
        vf_##S p = (vf_##S)1.061405429f;                                                            \
        p = p * t + -1.453152027f;                                                                  \
        p = p * t + 1.421413741f;                                                                   \
        p = p * t + -0.284496736f;                                                                  \
        p = p * t + 0.254829592f;                                                                   \
        vf_##S y = 1.0f - p * t * vexp_##S(-(ax * ax));                                             \
        return x < 0.0f ? -y : y;                                                                   \
    }                                                                                               \
    ATTR static inline vf_##S vtanh_##S(vf_##S x) {                                                 \
        vf_##S ax = vmin_##S(vabs_##S(x), (vf_##S)20.0f);                                           \
        vf_##S y = 1.0f - 2.0f / (vexp_##S(ax + ax) + 1.0f);                                        \
        y = x < 0.0f ? -y : y;                                                                      \
        return x != x ? x : y; /* the clamp above would turn NaN into 1 */                          \
    }                                                                                               \
    ATTR static inline vf_##S vsigmoid_##S(vf_##S x) { return 1.0f / (1.0f + vexp_##S(-x)); }

#endif
