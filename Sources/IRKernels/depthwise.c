// Depthwise convolution of one padded channel plane, vectorised along the output row.
// Memory-bound (about 2 FLOP per byte for 3x3): the plane is read once from cache per row of
// taps, and 4 vectors of outputs are accumulated per step so the loads and FMAs overlap.
#include "IRKernels.h"
#include "internal.h"

#define DEFINE_DEPTHWISE(S, ATTR, VW, FMA)                                                        \
    ATTR static void depthwise_##S(const float *in, long in_ld, float *out, long out_ld, long ho, \
                                   long wo, const float *w, long kh, long kw, long dh, long dw,   \
                                   float bias) {                                                  \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                   \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                      \
        for (long y = 0; y < ho; y++) {                                                           \
            float *orow = out + y * out_ld;                                                       \
            long x = 0;                                                                           \
            for (; x + 4 * VW <= wo; x += 4 * VW) {                                               \
                v_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;                                   \
                for (long i = 0; i < kh; i++) {                                                   \
                    const float *irow = in + (y + i * dh) * in_ld + x;                            \
                    for (long j = 0; j < kw; j++) {                                               \
                        v_t wv = w[i * kw + j];                                                   \
                        const float *p = irow + j * dw;                                           \
                        a0 = FMA(wv, *(const vu_t *)(p), a0);                                     \
                        a1 = FMA(wv, *(const vu_t *)(p + VW), a1);                                \
                        a2 = FMA(wv, *(const vu_t *)(p + 2 * VW), a2);                            \
                        a3 = FMA(wv, *(const vu_t *)(p + 3 * VW), a3);                            \
                    }                                                                             \
                }                                                                                 \
                *(vu_t *)(orow + x) = a0;                                                         \
                *(vu_t *)(orow + x + VW) = a1;                                                    \
                *(vu_t *)(orow + x + 2 * VW) = a2;                                                \
                *(vu_t *)(orow + x + 3 * VW) = a3;                                                \
            }                                                                                     \
            for (; x + VW <= wo; x += VW) {                                                       \
                v_t a0 = bias;                                                                    \
                for (long i = 0; i < kh; i++) {                                                   \
                    const float *irow = in + (y + i * dh) * in_ld + x;                            \
                    for (long j = 0; j < kw; j++)                                                 \
                        a0 = FMA((v_t)w[i * kw + j], *(const vu_t *)(irow + j * dw), a0);         \
                }                                                                                 \
                *(vu_t *)(orow + x) = a0;                                                         \
            }                                                                                     \
            for (; x < wo; x++) {                                                                 \
                float a = bias;                                                                   \
                for (long i = 0; i < kh; i++)                                                     \
                    for (long j = 0; j < kw; j++)                                                 \
                        a = SFMA(w[i * kw + j], in[(y + i * dh) * in_ld + x + j * dw], a);        \
                orow[x] = a;                                                                      \
            }                                                                                     \
        }                                                                                         \
    }

// Zero padding without a padded copy: per output row only the taps whose input row exists; the
// columns where every tap is inside run vectorised, the few border columns scalar.
#define DEFINE_DEPTHWISE_ZEROPAD(S, ATTR, VW, FMA)                                                \
    ATTR static void depthwise_zp_##S(const float *in, long h, long w, float *out, long ho, long wo, \
                                      const float *wt, long kh, long kw, long dh, long dw, long ph, \
                                      long pw, float bias) {                                      \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                   \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                      \
        long xs = IRK_MIN(IRK_MAX(pw, 0), wo);                                                    \
        long xe = IRK_MAX(IRK_MIN(w + pw - (kw - 1) * dw, wo), xs);                               \
        for (long y = 0; y < ho; y++) {                                                           \
            float *orow = out + y * wo;                                                           \
            long i0 = 0, i1 = kh; /* taps i with 0 <= y - ph + i*dh < h */                        \
            while (i0 < kh && y - ph + i0 * dh < 0) i0++;                                         \
            while (i1 > i0 && y - ph + (i1 - 1) * dh >= h) i1--;                                  \
            for (long x = 0; x < wo; x++) {                                                       \
                if (x == xs) { x = xe; if (x >= wo) break; }                                      \
                float a = bias;                                                                   \
                for (long i = i0; i < i1; i++) {                                                  \
                    const float *irow = in + (y - ph + i * dh) * w;                               \
                    for (long j = 0; j < kw; j++) {                                               \
                        long ix = x - pw + j * dw;                                                \
                        if (ix >= 0 && ix < w) a = SFMA(wt[i * kw + j], irow[ix], a);             \
                    }                                                                             \
                }                                                                                 \
                orow[x] = a;                                                                      \
            }                                                                                     \
            long x = xs;                                                                          \
            for (; x + 4 * VW <= xe; x += 4 * VW) {                                               \
                v_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;                                   \
                for (long i = i0; i < i1; i++) {                                                  \
                    const float *irow = in + (y - ph + i * dh) * w + x - pw;                      \
                    for (long j = 0; j < kw; j++) {                                               \
                        v_t wv = wt[i * kw + j];                                                  \
                        const float *p = irow + j * dw;                                           \
                        a0 = FMA(wv, *(const vu_t *)(p), a0);                                     \
                        a1 = FMA(wv, *(const vu_t *)(p + VW), a1);                                \
                        a2 = FMA(wv, *(const vu_t *)(p + 2 * VW), a2);                            \
                        a3 = FMA(wv, *(const vu_t *)(p + 3 * VW), a3);                            \
                    }                                                                             \
                }                                                                                 \
                *(vu_t *)(orow + x) = a0;                                                         \
                *(vu_t *)(orow + x + VW) = a1;                                                    \
                *(vu_t *)(orow + x + 2 * VW) = a2;                                                \
                *(vu_t *)(orow + x + 3 * VW) = a3;                                                \
            }                                                                                     \
            for (; x + VW <= xe; x += VW) {                                                       \
                v_t a0 = bias;                                                                    \
                for (long i = i0; i < i1; i++) {                                                  \
                    const float *irow = in + (y - ph + i * dh) * w + x - pw;                      \
                    for (long j = 0; j < kw; j++)                                                 \
                        a0 = FMA((v_t)wt[i * kw + j], *(const vu_t *)(irow + j * dw), a0);        \
                }                                                                                 \
                *(vu_t *)(orow + x) = a0;                                                         \
            }                                                                                     \
            for (; x < xe; x++) {                                                                 \
                float a = bias;                                                                   \
                for (long i = i0; i < i1; i++) {                                                  \
                    const float *irow = in + (y - ph + i * dh) * w + x - pw;                      \
                    for (long j = 0; j < kw; j++) a = SFMA(wt[i * kw + j], irow[j * dw], a);      \
                }                                                                                 \
                orow[x] = a;                                                                      \
            }                                                                                     \
        }                                                                                         \
    }

#define VFMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#define VMULADD(a, b, c) ((a) * (b) + (c))

#if IRK_HAVE_X86
#define SFMA(a, b, c) __builtin_fmaf(a, b, c)
DEFINE_DEPTHWISE(avx512, IRK_ATTR_AVX512, 16, VFMA)
DEFINE_DEPTHWISE(avx2, IRK_ATTR_AVX2, 8, VFMA)
DEFINE_DEPTHWISE_ZEROPAD(avx512, IRK_ATTR_AVX512, 16, VFMA)
DEFINE_DEPTHWISE_ZEROPAD(avx2, IRK_ATTR_AVX2, 8, VFMA)
#undef SFMA
#endif
#if IRK_HAVE_NEON
#define SFMA(a, b, c) __builtin_fmaf(a, b, c)
DEFINE_DEPTHWISE(neon, , 4, VFMA)
DEFINE_DEPTHWISE_ZEROPAD(neon, , 4, VFMA)
#undef SFMA
#endif
#define SFMA(a, b, c) ((a) * (b) + (c))
DEFINE_DEPTHWISE(base, , 4, VMULADD)
DEFINE_DEPTHWISE_ZEROPAD(base, , 4, VMULADD)

void irk_depthwise_plane(const float *in, long in_ld, float *out, long out_ld, long ho, long wo,
                         const float *w, long kh, long kw, long dh, long dw, float bias) {
    switch (irk_level()) {
#if IRK_HAVE_X86
    case IRK_AVX512: depthwise_avx512(in, in_ld, out, out_ld, ho, wo, w, kh, kw, dh, dw, bias); return;
    case IRK_AVX2: depthwise_avx2(in, in_ld, out, out_ld, ho, wo, w, kh, kw, dh, dw, bias); return;
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: depthwise_neon(in, in_ld, out, out_ld, ho, wo, w, kh, kw, dh, dw, bias); return;
#endif
    default: depthwise_base(in, in_ld, out, out_ld, ho, wo, w, kh, kw, dh, dw, bias); return;
    }
}

void irk_depthwise_plane_zeropad(const float *in, long h, long w, float *out, long ho, long wo,
                                 const float *wt, long kh, long kw, long dh, long dw, long ph, long pw, float bias) {
    switch (irk_level()) {
#if IRK_HAVE_X86
    case IRK_AVX512: depthwise_zp_avx512(in, h, w, out, ho, wo, wt, kh, kw, dh, dw, ph, pw, bias); return;
    case IRK_AVX2: depthwise_zp_avx2(in, h, w, out, ho, wo, wt, kh, kw, dh, dw, ph, pw, bias); return;
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: depthwise_zp_neon(in, h, w, out, ho, wo, wt, kh, kw, dh, dw, ph, pw, bias); return;
#endif
    default: depthwise_zp_base(in, h, w, out, ho, wo, wt, kh, kw, dh, dw, ph, pw, bias); return;
    }
}
