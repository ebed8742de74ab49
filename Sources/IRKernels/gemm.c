// Packed fp32 GEMM (BLIS-style loop nest) with one register-tiled micro-kernel per SIMD level.
//
// C is row-major and the micro-kernel vectorises along n (the pixels of a convolution, the
// output features of a matmul), broadcasting A values: so a conv's NCHW output is written
// directly, and its OIHW weights are A read in place. Both operands are copied per call into
// small packed panels (A: MR rows x KC, B: KC x NR) that stay in L1/L2; the packing of B
// doubles as the convolution's implicit im2col, so no im2col matrix is ever materialised.
//
// FMA: the micro-kernels use explicit fused multiply-adds (one rounding per step, so they are at
// least as accurate as mul+add); the rest of the package is compiled with -ffp-contract=off.
#include "IRKernels.h"
#include "internal.h"
#include <string.h>

typedef void (*ukernel_fn)(long kc, const float *ap, const float *bp, float *c, long ldc,
                           long mr, long nr, const float *bias, const float *bias_col, int acc);

// Copies kc rows of NR contiguous floats, B(k0 + k, n .. n + NR) with noff(n) = `col`, into a panel.
typedef void (*copy_rows_fn)(const irk_gemm_args *g, long k0, long kc, long col, float *dst);

typedef struct {
    int mr, nr;     // register tile
    long kc, mc, nc; // cache blocks (kc: depth of a panel; mc x kc of A in L2; kc x nc of B)
    ukernel_fn kernel;
    copy_rows_fn copy; // packs a full contiguous panel (a constant-size vector copy per row)
} gemm_impl;

static inline long b_koff(const irk_gemm_args *g, long k) { return g->b_koff ? g->b_koff[k] : k * g->b_rs; }

// A memcpy call per row of 48 floats cost 15% of a 3x3 convolution; these copy with vector moves.
#ifndef IRK_PREFETCH_ROWS
#define IRK_PREFETCH_ROWS 16
#endif
#define DEFINE_COPY_ROWS(NAME, ATTR, VW, NRC)                                                    \
    ATTR static void NAME(const irk_gemm_args *g, long k0, long kc, long col, float *dst) {      \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                  \
        typedef float vu_t __attribute__((ext_vector_type(VW), aligned(4)));                     \
        for (long k = 0; k < kc; k++) {                                                          \
            const float *src = g->b + b_koff(g, k0 + k) + col;                                   \
            /* The rows of an implicit im2col jump between channel planes, which the hardware */ \
            /* prefetchers do not follow: fetch a few rows ahead. */                             \
            if (k + IRK_PREFETCH_ROWS < kc) {                                                    \
                const float *ahead = g->b + b_koff(g, k0 + k + IRK_PREFETCH_ROWS) + col;         \
                _Pragma("clang loop unroll(full)") for (int l = 0; l < NRC; l += 16)             \
                    __builtin_prefetch(ahead + l);                                               \
            }                                                                                    \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NRC / VW; v++)                \
                *(v_t *)(dst + k * NRC + v * VW) = *(const vu_t *)(src + v * VW);                \
        }                                                                                        \
    }

// The micro-kernel body: MR_ rows x NV_ vectors of VW_ floats, accumulated in registers.
#define UKERNEL_BODY(VW_, MR_, NV_, FMA_)                                                        \
    typedef float v_t __attribute__((ext_vector_type(VW_)));                                     \
    typedef float vu_t __attribute__((ext_vector_type(VW_), aligned(4)));                        \
    enum { NR_ = VW_ * NV_ };                                                                    \
    v_t r[MR_][NV_];                                                                             \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++)                             \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++) r[i][v] = (v_t)0.0f;    \
    for (long k = 0; k < kc; k++) {                                                              \
        v_t b[NV_];                                                                              \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++)                         \
            b[v] = *(const v_t *)(bp + v * VW_);                                                 \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++) {                       \
            v_t a = (v_t)ap[i];                                                                  \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++)                     \
                r[i][v] = FMA_(a, b[v], r[i][v]);                                                \
        }                                                                                        \
        ap += MR_;                                                                               \
        bp += NR_;                                                                               \
    }                                                                                            \
    if (mr == MR_ && nr == NR_) {                                                                \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++) {                       \
            float *cr = c + i * ldc;                                                             \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++) {                   \
                v_t x = r[i][v];                                                                 \
                if (acc) x = *(const vu_t *)(cr + v * VW_) + x;                                  \
                if (bias) x = x + bias[i];                                                       \
                if (bias_col) x = x + *(const vu_t *)(bias_col + v * VW_);                       \
                *(vu_t *)(cr + v * VW_) = x;                                                     \
            }                                                                                    \
        }                                                                                        \
    } else {                                                                                     \
        float tile[MR_ * NR_] __attribute__((aligned(64)));                                      \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++)                         \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++)                     \
                *(v_t *)(tile + i * NR_ + v * VW_) = r[i][v];                                    \
        for (long i = 0; i < mr; i++) {                                                          \
            float *cr = c + i * ldc;                                                             \
            for (long j = 0; j < nr; j++) {                                                      \
                float x = tile[i * NR_ + j];                                                     \
                if (acc) x = cr[j] + x;                                                          \
                if (bias) x = x + bias[i];                                                       \
                if (bias_col) x = x + bias_col[j];                                               \
                cr[j] = x;                                                                       \
            }                                                                                    \
        }                                                                                        \
    }

#define FMA_BUILTIN(a, b, c) __builtin_elementwise_fma(a, b, c)
#define FMA_SPLIT(a, b, c) ((a) * (b) + (c))

#if IRK_HAVE_X86
// AVX-512 (Zen 4, Skylake-X and later): 24 zmm accumulators in three shapes, chosen per product
// by how well its column count fills the tile (64 columns for images, 48 or 32 for attention
// heads). Rows x columns: 6 x 64 (4 B vectors + 1 broadcast), 8 x 48, 12 x 32.
IRK_ATTR_AVX512 static void ukernel_avx512_64(long kc, const float *restrict ap, const float *restrict bp,
                                              float *restrict c, long ldc, long mr, long nr,
                                              const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(16, 6, 4, FMA_BUILTIN)
}
IRK_ATTR_AVX512 static void ukernel_avx512_48(long kc, const float *restrict ap, const float *restrict bp,
                                              float *restrict c, long ldc, long mr, long nr,
                                              const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(16, 8, 3, FMA_BUILTIN)
}
IRK_ATTR_AVX512 static void ukernel_avx512_32(long kc, const float *restrict ap, const float *restrict bp,
                                              float *restrict c, long ldc, long mr, long nr,
                                              const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(16, 12, 2, FMA_BUILTIN)
}
// Haswell..Zen 3: 6 rows x 16 columns = 12 ymm accumulators (16 ymm registers in all).
IRK_ATTR_AVX2 static void ukernel_avx2(long kc, const float *restrict ap, const float *restrict bp,
                                       float *restrict c, long ldc, long mr, long nr,
                                       const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(8, 6, 2, FMA_BUILTIN)
}
#endif
#if IRK_HAVE_NEON
// 32 q registers: 8 rows x 12 columns = 24 accumulators.
static void ukernel_neon(long kc, const float *restrict ap, const float *restrict bp, float *restrict c,
                         long ldc, long mr, long nr, const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(4, 8, 3, FMA_BUILTIN)
}
#endif
// Portable: SSE2-sized vectors, separate multiply and add (no FMA on baseline x86-64).
static void ukernel_base(long kc, const float *restrict ap, const float *restrict bp, float *restrict c,
                         long ldc, long mr, long nr, const float *restrict bias, const float *restrict bias_col, int acc) {
    UKERNEL_BODY(4, 4, 2, FMA_SPLIT)
}

#if IRK_HAVE_X86
DEFINE_COPY_ROWS(copy_avx512_64, IRK_ATTR_AVX512, 16, 64)
DEFINE_COPY_ROWS(copy_avx512_48, IRK_ATTR_AVX512, 16, 48)
DEFINE_COPY_ROWS(copy_avx512_32, IRK_ATTR_AVX512, 16, 32)
DEFINE_COPY_ROWS(copy_avx2_16, IRK_ATTR_AVX2, 8, 16)
#endif
#if IRK_HAVE_NEON
DEFINE_COPY_ROWS(copy_neon_12, , 4, 12)
#endif
DEFINE_COPY_ROWS(copy_base_8, , 4, 8)

static gemm_impl impl_for_level(int level) {
    switch (level) {
#if IRK_HAVE_X86
    case IRK_AVX512: return (gemm_impl){6, 64, 256, 120, 2048, ukernel_avx512_64, copy_avx512_64};
    case IRK_AVX2: return (gemm_impl){6, 16, 256, 96, 2048, ukernel_avx2, copy_avx2_16};
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: return (gemm_impl){8, 12, 256, 128, 2040, ukernel_neon, copy_neon_12};
#endif
    default: return (gemm_impl){4, 8, 256, 64, 1024, ukernel_base, copy_base_8};
    }
}

// The kernel for a product with N columns: on AVX-512, the tile width that leaves the fewest
// columns empty (the 64-wide one unless it wastes more than a tenth).
static gemm_impl impl_for(int level, long N) {
    gemm_impl im = impl_for_level(level);
#if IRK_HAVE_X86
    if (level == IRK_AVX512) {
        long w64 = (N + 63) / 64 * 64 - N, w48 = (N + 47) / 48 * 48 - N, w32 = (N + 31) / 32 * 32 - N;
        if (w64 * 10 <= N) return im;
        if (w48 <= w32) return (gemm_impl){8, 48, 256, 128, 2016, ukernel_avx512_48, copy_avx512_48};
        return (gemm_impl){12, 32, 256, 132, 2016, ukernel_avx512_32, copy_avx512_32};
    }
#endif
    return im;
}

size_t irk_sgemm_workspace_floats(void) {
    // Enough for every kernel of the level (the AVX-512 ones differ in A block height).
    gemm_impl im = impl_for_level(irk_level());
    long mc = 144;
    long nc = (im.nc + im.nr - 1) / im.nr * im.nr;
    return (size_t)(mc * im.kc + im.kc * nc + 64);
}

int irk_sgemm_mr(void) { return impl_for_level(irk_level()).mr; }
int irk_sgemm_nr(void) { return impl_for_level(irk_level()).nr; }

// Packs A rows [m0, m0+mc) x depth [k0, k0+kc) into MR-row panels: panel p holds, for each k,
// MR consecutive values (rows past M are zero).
static void pack_a(const irk_gemm_args *g, long M, long m0, long mc, long k0, long kc, int MR, float *dst) {
    for (long ip = 0; ip < mc; ip += MR) {
        long rows = IRK_MIN((long)MR, mc - ip);
        if (g->a_cs == 1) {
            for (long i = 0; i < rows; i++) {
                const float *src = g->a + (m0 + ip + i) * g->a_rs + k0;
                for (long k = 0; k < kc; k++) dst[k * MR + i] = src[k];
            }
        } else {
            for (long i = 0; i < rows; i++) {
                const float *src = g->a + (m0 + ip + i) * g->a_rs + k0 * g->a_cs;
                for (long k = 0; k < kc; k++) dst[k * MR + i] = src[k * g->a_cs];
            }
        }
        for (long i = rows; i < MR; i++)
            for (long k = 0; k < kc; k++) dst[k * MR + i] = 0.0f;
        dst += MR * kc;
        (void)M;
    }
}

// Packs B depth [k0, k0+kc) x columns [n0, n0+nc) into NR-column panels (columns past N are zero).
static void pack_b(const irk_gemm_args *g, long N, long k0, long kc, long n0, long nc, int NR, copy_rows_fn copy,
                   float *dst) {
    long noff[64];
    for (long jp = 0; jp < nc; jp += NR) {
        long cols = IRK_MIN((long)NR, nc - jp);
        long n = n0 + jp;
        long row = n / g->b_ncols, col = n % g->b_ncols;
        for (long j = 0; j < cols; j++) {
            noff[j] = row * g->b_row_stride + col * g->b_col_stride;
            if (++col == g->b_ncols) { col = 0; row++; }
        }
        int contiguous = (noff[cols - 1] - noff[0] == cols - 1);
        if (contiguous && cols == NR) {
            copy(g, k0, kc, noff[0], dst); // the common case
        } else if (contiguous) {
            for (long k = 0; k < kc; k++) {
                const float *src = g->b + b_koff(g, k0 + k) + noff[0];
                float *d = dst + k * NR;
                memcpy(d, src, (size_t)cols * sizeof(float));
                for (long j = cols; j < NR; j++) d[j] = 0.0f;
            }
        } else if (!g->b_koff && g->b_rs == 1) {
            // Transposed operand: each column is contiguous along k; read it sequentially.
            for (long j = 0; j < cols; j++) {
                const float *src = g->b + k0 + noff[j];
                for (long k = 0; k < kc; k++) dst[k * NR + j] = src[k];
            }
            for (long j = cols; j < NR; j++)
                for (long k = 0; k < kc; k++) dst[k * NR + j] = 0.0f;
        } else {
            for (long k = 0; k < kc; k++) {
                const float *src = g->b + b_koff(g, k0 + k);
                float *d = dst + k * NR;
                for (long j = 0; j < cols; j++) d[j] = src[noff[j]];
                for (long j = cols; j < NR; j++) d[j] = 0.0f;
            }
        }
        dst += NR * kc;
        (void)N;
    }
}

void irk_sgemm(const irk_gemm_args *g, long M, long N, long K, long m0, long m1, long n0, long n1,
               float *workspace) {
    if (m0 >= m1 || n0 >= n1) return;
    if (K <= 0) {
        for (long m = m0; m < m1; m++) {
            float *cr = g->c + m * g->ldc;
            for (long n = n0; n < n1; n++) {
                float x = g->accumulate ? cr[n] : 0.0f;
                if (g->bias) x = x + g->bias[m];
                if (g->bias_col) x = x + g->bias_col[n];
                cr[n] = x;
            }
        }
        return;
    }
    gemm_impl im = impl_for(irk_level(), N);
    const int MR = im.mr, NR = im.nr;
    long mcmax = (im.mc + MR - 1) / MR * MR;
    float *apack = workspace;
    float *bpack = workspace + mcmax * im.kc;
    bpack = (float *)(((size_t)bpack + 63) & ~(size_t)63);
    // Depth blocks of equal size (576 = 3 x 192, not 256 + 256 + 64): a short last block would
    // spend its time loading and storing C.
    long kblocks = (K + im.kc - 1) / im.kc;
    long kcb = (K + kblocks - 1) / kblocks;
    // When all of A fits one block (few output channels), B is used by few micro-kernels after
    // packing: keep its block small enough to stay in L2 instead of round-tripping through L3.
    long ncb = (m1 - m0) <= mcmax ? IRK_MIN(im.nc, 10 * (long)NR) : im.nc;
    for (long jc = n0; jc < n1; jc += ncb) {
        long nc = IRK_MIN(ncb, n1 - jc);
        for (long pc = 0; pc < K; pc += kcb) {
            long kc = IRK_MIN(kcb, K - pc);
            pack_b(g, N, pc, kc, jc, nc, NR, im.copy, bpack);
            for (long ic = m0; ic < m1; ic += mcmax) {
                long mc = IRK_MIN(mcmax, m1 - ic);
                pack_a(g, M, ic, mc, pc, kc, MR, apack);
                int acc = pc > 0 || g->accumulate;
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = IRK_MIN((long)NR, nc - jr);
                    const float *bp = bpack + jr * kc;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = IRK_MIN((long)MR, mc - ir);
                        float *c = g->c + (ic + ir) * g->ldc + jc + jr;
                        const float *bias = (pc == 0 && g->bias) ? g->bias + ic + ir : 0;
                        const float *bias_col = (pc == 0 && g->bias_col) ? g->bias_col + jc + jr : 0;
                        im.kernel(kc, apack + ir * kc, bp, c, g->ldc, mr, nr, bias, bias_col, acc);
                    }
                }
            }
        }
    }
}
