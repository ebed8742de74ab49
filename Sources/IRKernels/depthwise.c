// Depthwise convolution of one channel plane, vectorised along the output row. Memory-bound (about
// 2 FLOP per byte for 3x3): each input row is read once from memory into a small ring of padded
// rows that stays in L1, and 4 vectors of outputs are accumulated per step so loads and FMAs overlap.
#include "IRKernels.h"
#include "internal.h"
#include <string.h>

// One output row from kh padded input rows: 4 vectors of outputs per step, then an
// overlapping last vector instead of a scalar tail.
#define DEFINE_DEPTHWISE_ROWS(S, ATTR, VW, FMA)                                                   \
    ATTR static void depthwise_rows_##S(const float **rows, float *orow, long wo, const float *w,  \
                                        long kh, long kw, long dw, float bias) {                  \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                   \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                      \
        long x = 0;                                                                               \
        if (kh == 3 && kw == 3 && dw == 1) {                                                      \
            /* The common 3x3: taps unrolled, weights held in registers. */                      \
            const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];                              \
            v_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],      \
                w7 = w[7], w8 = w[8];                                                             \
            for (; x + 2 * VW <= wo; x += 2 * VW) {                                               \
                v_t a0 = bias, a1 = bias, b0 = 0.0f, b1 = 0.0f;                                   \
                a0 = FMA(w0, *(const vu_t *)(r0 + x), a0);                                        \
                a1 = FMA(w0, *(const vu_t *)(r0 + x + VW), a1);                                   \
                b0 = FMA(w1, *(const vu_t *)(r0 + x + 1), b0);                                    \
                b1 = FMA(w1, *(const vu_t *)(r0 + x + VW + 1), b1);                               \
                a0 = FMA(w2, *(const vu_t *)(r0 + x + 2), a0);                                    \
                a1 = FMA(w2, *(const vu_t *)(r0 + x + VW + 2), a1);                               \
                b0 = FMA(w3, *(const vu_t *)(r1 + x), b0);                                        \
                b1 = FMA(w3, *(const vu_t *)(r1 + x + VW), b1);                                   \
                a0 = FMA(w4, *(const vu_t *)(r1 + x + 1), a0);                                    \
                a1 = FMA(w4, *(const vu_t *)(r1 + x + VW + 1), a1);                               \
                b0 = FMA(w5, *(const vu_t *)(r1 + x + 2), b0);                                    \
                b1 = FMA(w5, *(const vu_t *)(r1 + x + VW + 2), b1);                               \
                a0 = FMA(w6, *(const vu_t *)(r2 + x), a0);                                        \
                a1 = FMA(w6, *(const vu_t *)(r2 + x + VW), a1);                                   \
                b0 = FMA(w7, *(const vu_t *)(r2 + x + 1), b0);                                    \
                b1 = FMA(w7, *(const vu_t *)(r2 + x + VW + 1), b1);                               \
                a0 = FMA(w8, *(const vu_t *)(r2 + x + 2), a0);                                    \
                a1 = FMA(w8, *(const vu_t *)(r2 + x + VW + 2), a1);                               \
                *(vu_t *)(orow + x) = a0 + b0;                                                    \
                *(vu_t *)(orow + x + VW) = a1 + b1;                                               \
            }                                                                                     \
        }                                                                                         \
        for (; x + 4 * VW <= wo; x += 4 * VW) {                                                   \
            v_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;                                       \
            for (long i = 0; i < kh; i++) {                                                       \
                const float *irow = rows[i] + x;                                                  \
                for (long j = 0; j < kw; j++) {                                                   \
                    v_t wv = w[i * kw + j];                                                       \
                    const float *p = irow + j * dw;                                               \
                    a0 = FMA(wv, *(const vu_t *)(p), a0);                                         \
                    a1 = FMA(wv, *(const vu_t *)(p + VW), a1);                                    \
                    a2 = FMA(wv, *(const vu_t *)(p + 2 * VW), a2);                                \
                    a3 = FMA(wv, *(const vu_t *)(p + 3 * VW), a3);                                \
                }                                                                                 \
            }                                                                                     \
            *(vu_t *)(orow + x) = a0;                                                             \
            *(vu_t *)(orow + x + VW) = a1;                                                        \
            *(vu_t *)(orow + x + 2 * VW) = a2;                                                    \
            *(vu_t *)(orow + x + 3 * VW) = a3;                                                    \
        }                                                                                         \
        while (x < wo && wo >= VW) {                                                              \
            if (x + VW > wo) x = wo - VW;                                                         \
            /* One vector, with the taps split over two chains to halve the FMA latency. */       \
            v_t a0 = bias, a1 = 0.0f;                                                             \
            for (long i = 0; i < kh; i++) {                                                       \
                const float *irow = rows[i] + x;                                                  \
                for (long j = 0; j < kw; j++) {                                                   \
                    if ((i * kw + j) & 1) a1 = FMA((v_t)w[i * kw + j], *(const vu_t *)(irow + j * dw), a1); \
                    else a0 = FMA((v_t)w[i * kw + j], *(const vu_t *)(irow + j * dw), a0);        \
                }                                                                                 \
            }                                                                                     \
            *(vu_t *)(orow + x) = a0 + a1;                                                        \
            x += VW;                                                                              \
        }                                                                                         \
        for (; x < wo; x++) {                                                                     \
            float a = bias;                                                                       \
            for (long i = 0; i < kh; i++)                                                         \
                for (long j = 0; j < kw; j++) a = SFMA(w[i * kw + j], rows[i][x + j * dw], a);    \
            orow[x] = a;                                                                          \
        }                                                                                         \
    }

#define VFMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#define VMULADD(a, b, c) ((a) * (b) + (c))

#if IRK_HAVE_X86
#define SFMA(a, b, c) __builtin_fmaf(a, b, c)
DEFINE_DEPTHWISE_ROWS(avx512, IRK_ATTR_AVX512, 16, VFMA)
DEFINE_DEPTHWISE_ROWS(avx2, IRK_ATTR_AVX2, 8, VFMA)
#undef SFMA
#endif
#if IRK_HAVE_NEON
#define SFMA(a, b, c) __builtin_fmaf(a, b, c)
DEFINE_DEPTHWISE_ROWS(neon, , 4, VFMA)
#undef SFMA
#endif
#define SFMA(a, b, c) ((a) * (b) + (c))
DEFINE_DEPTHWISE_ROWS(base, , 4, VMULADD)

static void irk_depthwise_rows(const float **rows, float *orow, long wo, const float *w, long kh, long kw, long dw,
                               float bias) {
    switch (irk_level()) {
#if IRK_HAVE_X86
    case IRK_AVX512: depthwise_rows_avx512(rows, orow, wo, w, kh, kw, dw, bias); return;
    case IRK_AVX2: depthwise_rows_avx2(rows, orow, wo, w, kh, kw, dw, bias); return;
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: depthwise_rows_neon(rows, orow, wo, w, kh, kw, dw, bias); return;
#endif
    default: depthwise_rows_base(rows, orow, wo, w, kh, kw, dw, bias); return;
    }
}

// Pads input row `src` (or zeros) into `dst`: columns [lo, hi) copy src[first ...], the rest go
// through the column map.
static void pad_row(const float *src, const long *colmap, long wp, long lo, long hi, long first, float *dst) {
    if (!src) {
        memset(dst, 0, (size_t)wp * sizeof(float));
        return;
    }
    for (long c = 0; c < lo; c++) dst[c] = colmap[c] < 0 ? 0.0f : src[colmap[c]];
    memcpy(dst + lo, src + first, (size_t)(hi - lo) * sizeof(float));
    for (long c = hi; c < wp; c++) dst[c] = colmap[c] < 0 ? 0.0f : src[colmap[c]];
}

void irk_depthwise_plane_ring(const float *in, long w, float *out, long ho, long wo,
                              const float *wt, long kh, long kw, long dh, long dw, float bias,
                              const long *rowmap, const long *colmap, long wp, float *ring) {
    // The run of padded columns that copies consecutive input columns (the interior).
    long lo = 0;
    while (lo < wp && colmap[lo] != 0) lo++;
    long hi = lo;
    while (hi < wp && hi - lo < w && colmap[hi] == hi - lo) hi++;
    long first = 0;
    if (lo == wp) { lo = hi = 0; }
    long R = (kh - 1) * dh + 1;
    long held[64]; // padded row index held by each ring slot
    long hcap = R < 64 ? R : 64;
    for (long i = 0; i < hcap; i++) held[i] = -1;
    const float *rows[64];
    for (long y = 0; y < ho; y++) {
        for (long i = 0; i < kh && i < 64; i++) {
            long r = y + i * dh, slot = r % R;
            float *dst = ring + slot * wp;
            if (slot >= 64 || held[slot] != r) {
                pad_row(rowmap[r] < 0 ? 0 : in + rowmap[r] * w, colmap, wp, lo, hi, first, dst);
                if (slot < 64) held[slot] = r;
            }
            rows[i] = dst;
        }
        irk_depthwise_rows(rows, out + y * wo, wo, wt, kh, kw, dw, bias);
    }
}
