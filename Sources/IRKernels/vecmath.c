// Element-wise activations, row softmax and the LayerNorm variants, per SIMD level.
#include "IRKernels.h"
#include "internal.h"
#include "vmath.h"
#include <math.h>

// One activation on a vector (S = level suffix).
#define ACT_APPLY(S, kind, x)                                                                     \
    ({                                                                                            \
        vf_##S y_;                                                                                \
        switch (kind) {                                                                           \
        case IRK_ACT_RELU: y_ = x < 0.0f ? (vf_##S)0.0f : x; break; /* NaN stays NaN */         \
        case IRK_ACT_GELU_ERF: y_ = x * 0.5f * (1.0f + verf_##S(x * 0.70710678118654752f)); break; \
        case IRK_ACT_GELU_TANH: {                                                                 \
            vf_##S inner = (x + x * x * x * 0.044715f) * 0.79788456080286536f;                    \
            y_ = x * 0.5f * (1.0f + vtanh_##S(inner));                                           \
            break;                                                                                \
        }                                                                                         \
        case IRK_ACT_QUICK_GELU: y_ = x * vsigmoid_##S(x * 1.702f); break;                       \
        case IRK_ACT_SILU: y_ = x * vsigmoid_##S(x); break;                                      \
        case IRK_ACT_SIGMOID: y_ = vsigmoid_##S(x); break;                                       \
        case IRK_ACT_TANH: y_ = vtanh_##S(x); break;                                             \
        default: y_ = vexp_##S(x); break;                                                        \
        }                                                                                         \
        y_;                                                                                       \
    })

#define DEFINE_ELEMENTWISE(S, ATTR, VW)                                                           \
    DEFINE_VMATH(S, ATTR, VW)                                                                     \
    ATTR static void activation_##S(int kind, const float *in, float *out, long n) {              \
        long i = 0;                                                                               \
        for (; i + VW <= n; i += VW) {                                                            \
            vf_##S x = vload_##S(in + i);                                                         \
            vstore_##S(out + i, ACT_APPLY(S, kind, x));                                           \
        }                                                                                         \
        if (i < n) {                                                                              \
            float tmp[VW] = {0};                                                                  \
            for (long j = i; j < n; j++) tmp[j - i] = in[j];                                      \
            vf_##S y = ACT_APPLY(S, kind, vload_##S(tmp));                                        \
            vstore_##S(tmp, y);                                                                   \
            for (long j = i; j < n; j++) out[j] = tmp[j - i];                                     \
        }                                                                                         \
    }                                                                                             \
    ATTR static void gated_##S(int kind, const float *a, const float *b, float *out, long n) {    \
        long i = 0;                                                                               \
        for (; i + VW <= n; i += VW) {                                                            \
            vf_##S x = vload_##S(a + i);                                                          \
            vstore_##S(out + i, ACT_APPLY(S, kind, x) * vload_##S(b + i));                        \
        }                                                                                         \
        if (i < n) {                                                                              \
            float ta[VW] = {0}, tb[VW] = {0};                                                     \
            for (long j = i; j < n; j++) { ta[j - i] = a[j]; tb[j - i] = b[j]; }                  \
            vf_##S y = ACT_APPLY(S, kind, vload_##S(ta)) * vload_##S(tb);                         \
            vstore_##S(ta, y);                                                                    \
            for (long j = i; j < n; j++) out[j] = ta[j - i];                                      \
        }                                                                                         \
    }                                                                                             \
    /* Softmax of rows of x·scale (+ add when add is not NULL). */                              \
    ATTR static void softmax_##S(const float *in, const float *add, float *out, long rows, long n, \
                                 float scale) {                                                   \
        for (long r = 0; r < rows; r++) {                                                         \
            const float *x = in + r * n;                                                          \
            const float *ad = add ? add + r * n : 0;                                              \
            float *y = out + r * n;                                                               \
            /* Pass 1: the (biased) logits' maximum, vectorised. */                               \
            vf_##S vm = -INFINITY;                                                                \
            long i0 = 0;                                                                          \
            if (ad) {                                                                             \
                for (; i0 + VW <= n; i0 += VW) {                                                  \
                    vf_##S v = vload_##S(x + i0) * scale + vload_##S(ad + i0);                    \
                    vstore_##S(y + i0, v);                                                        \
                    vm = vmax_##S(vm, v);                                                         \
                }                                                                                 \
            } else {                                                                              \
                for (; i0 + VW <= n; i0 += VW) vm = vmax_##S(vm, vload_##S(x + i0) * scale);      \
            }                                                                                     \
            float m = -INFINITY;                                                                  \
            for (int j = 0; j < VW; j++) m = fmaxf(m, vm[j]);                                     \
            if (ad) for (long i = i0; i < n; i++) { float v = x[i] * scale + ad[i]; y[i] = v; m = fmaxf(m, v); } \
            else for (long i = i0; i < n; i++) m = fmaxf(m, x[i] * scale);                        \
            if (m == -INFINITY) m = 0.0f; /* all -inf: torch yields NaN via 0/0 too */            \
            const float *src = ad ? y : x;                                                        \
            float sc = ad ? 1.0f : scale;                                                         \
            vf_##S vs = 0.0f;                                                                     \
            long i = 0;                                                                           \
            for (; i + VW <= n; i += VW) {                                                        \
                vf_##S e = vexp_##S(vload_##S(src + i) * sc - m);                                 \
                vstore_##S(y + i, e);                                                             \
                vs += e;                                                                          \
            }                                                                                     \
            float s = 0.0f;                                                                       \
            for (int j = 0; j < VW; j++) s += vs[j];                                              \
            for (; i < n; i++) {                                                                  \
                float e = expf(src[i] * sc - m);                                                  \
                y[i] = e;                                                                         \
                s += e;                                                                           \
            }                                                                                     \
            float inv = 1.0f / s;                                                                 \
            i = 0;                                                                                \
            for (; i + VW <= n; i += VW) vstore_##S(y + i, vload_##S(y + i) * inv);              \
            for (; i < n; i++) y[i] *= inv;                                                       \
        }                                                                                         \
    }                                                                                             \
    /* Per-pixel LayerNorm over channels, one vector of pixels at a time. The statistics are taken */ \
    /* about the first channel (shifted data: equal channels give a mean equal to them and a variance */ \
    /* of exactly 0, as torch's double-accumulated var does at any magnitude) and the squares are */ \
    /* divided by C before they are summed, so no partial sum overflows before the variance would. */ \
    ATTR static void chnorm_##S(const float *x, float *y, long C, long HW, long p0, long p1,      \
                                const float *w, const float *b, float eps, int mode) {            \
        float invc = 1.0f / (float)C;                                                             \
        for (long p = p0; p < p1; p += VW) {                                                      \
            long cnt = p1 - p < VW ? p1 - p : VW;                                                 \
            float tmp[VW];                                                                        \
            vf_##S x0;                                                                            \
            if (cnt == VW) x0 = vload_##S(x + p);                                                 \
            else { for (int j = 0; j < VW; j++) tmp[j] = j < cnt ? x[p + j] : 0.0f; x0 = vload_##S(tmp); } \
            vf_##S sum = 0.0f;                                                                    \
            for (long c = 1; c < C; c++) {                                                        \
                vf_##S v;                                                                         \
                if (cnt == VW) v = vload_##S(x + c * HW + p);                                     \
                else { for (int j = 0; j < VW; j++) tmp[j] = j < cnt ? x[c * HW + p + j] : 0.0f; v = vload_##S(tmp); } \
                sum += v - x0;                                                                    \
            }                                                                                     \
            vf_##S mean = x0 + sum * invc;                                                        \
            vf_##S var = 0.0f;                                                                    \
            for (long c = 0; c < C; c++) {                                                        \
                vf_##S v;                                                                         \
                if (cnt == VW) v = vload_##S(x + c * HW + p);                                     \
                else { for (int j = 0; j < VW; j++) tmp[j] = j < cnt ? x[c * HW + p + j] : 0.0f; v = vload_##S(tmp); } \
                vf_##S d = v - mean;                                                              \
                var += d * invc * d;                                                              \
            }                                                                                     \
            vf_##S rstd;                                                                          \
            for (int j = 0; j < VW; j++) rstd[j] = 1.0f / sqrtf(var[j] + eps);                    \
            for (long c = 0; c < C; c++) {                                                        \
                vf_##S v;                                                                         \
                if (cnt == VW) v = vload_##S(x + c * HW + p);                                     \
                else { for (int j = 0; j < VW; j++) tmp[j] = j < cnt ? x[c * HW + p + j] : 0.0f; v = vload_##S(tmp); } \
                vf_##S o = mode == 0 ? (v - mean) * rstd : v * rstd;                              \
                o = o * w[c];                                                                     \
                if (mode == 0 && b) o = o + b[c];                                                 \
                if (cnt == VW) vstore_##S(y + c * HW + p, o);                                     \
                else for (long j = 0; j < cnt; j++) y[c * HW + p + j] = o[j];                     \
            }                                                                                     \
        }                                                                                         \
    }

#define DEFINE_SUMSQ(S, ATTR, VW)                                                                 \
    ATTR static void sumsq_##S(const float *x, long ld, long rows, long n, double *out) {         \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                   \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                      \
        for (long r = 0; r < rows; r++) {                                                         \
            const float *p = x + r * ld;                                                          \
            double total = 0;                                                                     \
            for (long b0 = 0; b0 < n; b0 += 1024) {                                               \
                long b1 = n - b0 < 1024 ? n : b0 + 1024;                                          \
                v_t s0 = 0.0f, s1 = 0.0f;                                                         \
                long i = b0;                                                                      \
                for (; i + 2 * VW <= b1; i += 2 * VW) {                                           \
                    v_t u = *(const vu_t *)(p + i), v = *(const vu_t *)(p + i + VW);              \
                    s0 += u * u;                                                                  \
                    s1 += v * v;                                                                  \
                }                                                                                 \
                v_t s = s0 + s1;                                                                  \
                float t = 0.0f;                                                                   \
                for (int l = 0; l < VW; l++) t += s[l];                                           \
                for (; i < b1; i++) t += p[i] * p[i];                                             \
                total += t;                                                                       \
            }                                                                                     \
            out[r] = total;                                                                       \
        }                                                                                         \
    }

#if IRK_HAVE_X86
DEFINE_SUMSQ(avx512, IRK_ATTR_AVX512, 16)
DEFINE_SUMSQ(avx2, IRK_ATTR_AVX2, 8)
#endif
DEFINE_SUMSQ(base, , 4)

#if IRK_HAVE_X86
DEFINE_ELEMENTWISE(avx512, IRK_ATTR_AVX512, 16)
DEFINE_ELEMENTWISE(avx2, IRK_ATTR_AVX2, 8)
#endif
DEFINE_ELEMENTWISE(base, , 4)

#if IRK_HAVE_X86
#define DISPATCH(fn, ...)                                                                         \
    switch (irk_level()) {                                                                        \
    case IRK_AVX512: fn##_avx512(__VA_ARGS__); return;                                            \
    case IRK_AVX2: fn##_avx2(__VA_ARGS__); return;                                                \
    default: fn##_base(__VA_ARGS__); return;                                                      \
    }
#else
#define DISPATCH(fn, ...) fn##_base(__VA_ARGS__); return;
#endif

void irk_activation(int kind, const float *in, float *out, long n) { DISPATCH(activation, kind, in, out, n) }
void irk_gated_activation(int kind, const float *a, const float *b, float *out, long n) { DISPATCH(gated, kind, a, b, out, n) }
void irk_softmax_rows(const float *in, float *out, long rows, long n, float scale) { DISPATCH(softmax, in, 0, out, rows, n, scale) }
void irk_softmax_rows_add(const float *in, const float *add, float *out, long rows, long n, float scale) {
    DISPATCH(softmax, in, add, out, rows, n, scale)
}
void irk_channel_layernorm(const float *x, float *y, long C, long HW, long p0, long p1, const float *w,
                           const float *b, float eps, int mode) {
    DISPATCH(chnorm, x, y, C, HW, p0, p1, w, b, eps, mode)
}

void irk_sumsq_rows(const float *x, long ld, long rows, long n, double *out) { DISPATCH(sumsq, x, ld, rows, n, out) }

void irk_leaky_relu(const float *in, float *out, long n, float slope) {
    for (long i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : in[i] * slope;
}

void irk_layernorm_rows(const float *x, float *y, long rows, long n, const float *w, const float *b, float eps) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        // Two passes in double: LayerNorm widths reach 8192 (SDXL), where a float sum drifts.
        double s = 0;
        for (long i = 0; i < n; i++) s += xr[i];
        float mean = (float)(s / (double)n);
        double q = 0;
        for (long i = 0; i < n; i++) { double d = (double)xr[i] - mean; q += d * d; }
        float rstd = 1.0f / sqrtf((float)(q / (double)n) + eps);
        for (long i = 0; i < n; i++) {
            float o = (xr[i] - mean) * rstd;
            if (w) o = o * w[i];
            if (b) o = o + b[i];
            yr[i] = o;
        }
    }
}
