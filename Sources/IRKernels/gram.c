// Gram-type products A·Bᵀ with rows of A and B contiguous along a long depth: blocks of
// MR x NR dot products accumulate in vector registers over a depth chunk that keeps both
// operands' rows in L2, then are summed horizontally into C.
#include "IRKernels.h"
#include "internal.h"

// Depth per pass: MR + NR rows of this many floats stay in L1/L2 while the block is computed.
#define GRAM_CHUNK 2048

#define DEFINE_GRAM(S, ATTR, VW, MR, NR, FMA)                                                     \
    ATTR static void gram_##S(const float *a, long lda, const float *b, long ldb, long M, long N,  \
                              long K, float *c, long ldc, int accumulate) {                       \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                   \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                      \
        for (long i = 0; i < M; i++)                                                              \
            if (!accumulate) for (long j = 0; j < N; j++) c[i * ldc + j] = 0.0f;                  \
        for (long k0 = 0; k0 < K; k0 += GRAM_CHUNK) {                                             \
            long kc = K - k0 < GRAM_CHUNK ? K - k0 : GRAM_CHUNK;                                  \
            long kv = kc / VW * VW;                                                               \
            for (long i0 = 0; i0 < M; i0 += MR) {                                                 \
                long mr = M - i0 < MR ? M - i0 : MR;                                              \
                for (long j0 = 0; j0 < N; j0 += NR) {                                             \
                    long nr = N - j0 < NR ? N - j0 : NR;                                          \
                    const float *ar[MR], *br[NR];                                                 \
                    /* Rows past the edge repeat the last one; their sums are not stored. */      \
                    for (int t = 0; t < MR; t++) ar[t] = a + (i0 + (t < mr ? t : mr - 1)) * lda + k0; \
                    for (int t = 0; t < NR; t++) br[t] = b + (j0 + (t < nr ? t : nr - 1)) * ldb + k0; \
                    v_t acc[MR][NR];                                                              \
                    _Pragma("clang loop unroll(full)") for (int t = 0; t < MR; t++)               \
                        _Pragma("clang loop unroll(full)") for (int u = 0; u < NR; u++) acc[t][u] = 0.0f; \
                    for (long k = 0; k < kv; k += VW) {                                           \
                        v_t bv[NR];                                                               \
                        _Pragma("clang loop unroll(full)") for (int u = 0; u < NR; u++)           \
                            bv[u] = *(const vu_t *)(br[u] + k);                                   \
                        _Pragma("clang loop unroll(full)") for (int t = 0; t < MR; t++) {         \
                            v_t av = *(const vu_t *)(ar[t] + k);                                  \
                            _Pragma("clang loop unroll(full)") for (int u = 0; u < NR; u++)       \
                                acc[t][u] = FMA(av, bv[u], acc[t][u]);                            \
                        }                                                                         \
                    }                                                                             \
                    for (long t = 0; t < mr; t++) {                                               \
                        for (long u = 0; u < nr; u++) {                                           \
                            float sum = 0.0f;                                                     \
                            for (int l = 0; l < VW; l++) sum += acc[t][u][l];                     \
                            for (long k = kv; k < kc; k++) sum += ar[t][k] * br[u][k];            \
                            c[(i0 + t) * ldc + j0 + u] += sum;                                    \
                        }                                                                         \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

#define VFMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#define VMULADD(a, b, c) ((a) * (b) + (c))

#if IRK_HAVE_X86
DEFINE_GRAM(avx512, IRK_ATTR_AVX512, 16, 4, 6, VFMA)
DEFINE_GRAM(avx2, IRK_ATTR_AVX2, 8, 3, 4, VFMA)
#endif
#if IRK_HAVE_NEON
DEFINE_GRAM(neon, , 4, 4, 6, VFMA)
#endif
DEFINE_GRAM(base, , 4, 2, 3, VMULADD)

void irk_gram_nt(const float *a, long lda, const float *b, long ldb, long M, long N, long K, float *c, long ldc,
                 int accumulate) {
    switch (irk_level()) {
#if IRK_HAVE_X86
    case IRK_AVX512: gram_avx512(a, lda, b, ldb, M, N, K, c, ldc, accumulate); return;
    case IRK_AVX2: gram_avx2(a, lda, b, ldb, M, N, K, c, ldc, accumulate); return;
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: gram_neon(a, lda, b, ldb, M, N, K, c, ldc, accumulate); return;
#endif
    default: gram_base(a, lda, b, ldb, M, N, K, c, ldc, accumulate); return;
    }
}
