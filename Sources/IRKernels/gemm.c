// Packed fp32 GEMM (BLIS-style loop nest) with one register-tiled micro-kernel per SIMD level.
//
// C is row-major and the micro-kernel vectorises along n (the pixels of a convolution, the
// output features of a matmul), broadcasting A values: so a conv's NCHW output is written
// directly, and its OIHW weights are A read in place from the mapping. Per call, A is copied into
// small packed panels (MR rows x KC; all of A once when it fits, shared by the threads). B is
// either read in place (a stride-1 convolution's tile that lies inside one output row: its rows
// are the input rows at offsets koff[k]) or packed into KC x NR panels; that packing doubles as
// the convolution's implicit im2col, so no im2col matrix is ever materialised.
//
// FMA: the micro-kernels use explicit fused multiply-adds (one rounding per accumulation step);
// the package is compiled with -ffp-contract=off so nothing else is fused implicitly, and the
// goldens pass at 1e-5 on every level (the portable one multiplies and adds separately).
#include "IRKernels.h"
#include "internal.h"
#include <string.h>

typedef void (*ukernel_fn)(long kc, const float *ap, const float *bp, float *c, long ldc,
                           long mr, long nr, const float *bias, const float *bias_col, int acc);
// The same reading B row k in place at bb + koff[k] (no packed panel).
typedef void (*ukernel_direct_fn)(long kc, const float *ap, const float *bb, const long *koff, float *c, long ldc,
                                  long mr, long nr, const float *bias, const float *bias_col, int acc);

// Copies kc rows of NR contiguous floats, B(k0 + k, n .. n + NR) with noff(n) = `col`, into a panel.
typedef void (*copy_rows_fn)(const irk_gemm_args *g, long k0, long kc, long col, float *dst);

typedef struct {
    int mr, nr;     // register tile
    long kc, mc, nc; // cache blocks (kc: depth of a panel; mc x kc of A in L2; kc x nc of B)
    ukernel_fn kernel;
    ukernel_direct_fn direct; // or NULL: B is always packed
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

// The micro-kernel: MR_ rows x NV_ vectors of VW_ floats accumulated in registers over kc steps,
// with B from a packed panel (BSRC_PACKED) or read in place from rows b + koff[k] (BSRC_DIRECT,
// for convolution tiles that lie inside one output row), then stored (or added) into C.
#define BSRC_PACKED(v, W) (*(const v_t *)(bp + (v) * (W)))
#define BSRC_DIRECT(v, W) (*(const vu_t *)(brow + (v) * (W)))
#define UKERNEL_BODY_GEN(VW_, MR_, NV_, FMA_, BSRC, NEXT_B, ADVANCE_B)                                      \
    typedef float v_t __attribute__((ext_vector_type(VW_)));                                     \
    typedef float vu_t __attribute__((ext_vector_type(VW_), aligned(4)));                        \
    enum { NR_ = VW_ * NV_ };                                                                    \
    v_t r[MR_][NV_];                                                                             \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++)                             \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++) r[i][v] = (v_t)0.0f;    \
    for (long k = 0; k < kc; k++) {                                                              \
        NEXT_B;                                                                                  \
        v_t b[NV_];                                                                              \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++) b[v] = BSRC(v, VW_);    \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < MR_; i++) {                       \
            v_t a = (v_t)ap[i];                                                                  \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NV_; v++)                     \
                r[i][v] = FMA_(a, b[v], r[i][v]);                                                \
        }                                                                                        \
        ap += MR_;                                                                               \
        ADVANCE_B;                                                                               \
    }                                                                                            \
    UKERNEL_STORE(VW_, MR_, NV_)

#define UKERNEL_STORE(VW_, MR_, NV_)                                                             \
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

#define UKERNEL_BODY(VW_, MR_, NV_, FMA_) UKERNEL_BODY_GEN(VW_, MR_, NV_, FMA_, BSRC_PACKED, (void)0, bp += NR_)
// Direct B rows jump between input rows and channel planes (koff), which the hardware
// prefetchers do not follow: fetch the row needed this many steps ahead (+4% on a 3x3 conv).
#ifndef IRK_DIRECT_PREFETCH
#define IRK_DIRECT_PREFETCH 24
#endif
#define DIRECT_NEXT(VW_, NV_)                                                                    \
    brow = bb + koff[k];                                                                         \
    if (IRK_DIRECT_PREFETCH && k + IRK_DIRECT_PREFETCH < kc) {                                   \
        const float *ahead = bb + koff[k + IRK_DIRECT_PREFETCH];                                 \
        _Pragma("clang loop unroll(full)") for (int l = 0; l <= VW_ * NV_; l += 16)              \
            __builtin_prefetch(ahead + l);                                                       \
    }
#define UKERNEL_BODY_DIRECT(VW_, MR_, NV_, FMA_)                                                 \
    const float *brow;                                                                           \
    UKERNEL_BODY_GEN(VW_, MR_, NV_, FMA_, BSRC_DIRECT, DIRECT_NEXT(VW_, NV_), (void)0)

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
#define DIRECT_KERNEL(NAME, ATTR, VW, MR, NV)                                                    \
    ATTR static void NAME(long kc, const float *restrict ap, const float *restrict bb, const long *restrict koff, \
                          float *restrict c, long ldc, long mr, long nr, const float *restrict bias,  \
                          const float *restrict bias_col, int acc) {                              \
        UKERNEL_BODY_DIRECT(VW, MR, NV, FMA_BUILTIN)                                              \
    }
DIRECT_KERNEL(ukdirect_avx512_64, IRK_ATTR_AVX512, 16, 6, 4)
DIRECT_KERNEL(ukdirect_avx512_48, IRK_ATTR_AVX512, 16, 8, 3)
DIRECT_KERNEL(ukdirect_avx512_32, IRK_ATTR_AVX512, 16, 12, 2)
DIRECT_KERNEL(ukdirect_avx2, IRK_ATTR_AVX2, 8, 6, 2)
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

// Floats of workspace that hold all of A packed, when it fits (A is then packed once per call
// instead of once per block of columns: 5% of a 3x3 convolution with 64 output channels).
#define IRK_A_CACHE (256 * 1024)
// Depth of an AVX-512 panel. 1024 (was 256) on Zen 4: fewer loads and stores of the C tile between
// depth blocks; measured +1 to +10% on 3x3 convolutions (64..1280 channels) and up to +17% on
// linear-layer shapes per core, with the A block (120 x 1024) and a B panel (1024 x 64) still in a
// 1 MiB L2 (docs/RUNTIME.md, "GEMM depth blocking"). B blocks of 1024 columns keep the workspace at
// about 6 MB per thread (2048 measured the same).
#ifndef IRK_KC512
#define IRK_KC512 1024
#endif
#ifndef IRK_NC512
#define IRK_NC512 1024
#endif

static gemm_impl impl_for_level(int level) {
    switch (level) {
#if IRK_HAVE_X86
    case IRK_AVX512: return (gemm_impl){6, 64, IRK_KC512, 120, IRK_NC512, ukernel_avx512_64, ukdirect_avx512_64, copy_avx512_64};
    case IRK_AVX2: return (gemm_impl){6, 16, 256, 96, 2048, ukernel_avx2, ukdirect_avx2, copy_avx2_16};
#endif
#if IRK_HAVE_NEON
    case IRK_NEON: return (gemm_impl){8, 12, 256, 128, 2040, ukernel_neon, 0, copy_neon_12};
#endif
    default: return (gemm_impl){4, 8, 256, 64, 1024, ukernel_base, 0, copy_base_8};
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
        if (w48 <= w32) return (gemm_impl){8, 48, 256, 128, 2016, ukernel_avx512_48, ukdirect_avx512_48, copy_avx512_48};
        return (gemm_impl){12, 32, 256, 132, 2016, ukernel_avx512_32, ukdirect_avx512_32, copy_avx512_32};
    }
#endif
    (void)N;
    return im;
}

size_t irk_sgemm_workspace_floats(void) {
    // Enough for every kernel of the level (the AVX-512 ones differ in A block height).
    gemm_impl im = impl_for_level(irk_level());
    long mc = 144;
    long nc = (im.nc + im.nr - 1) / im.nr * im.nr;
    return (size_t)(mc * im.kc + im.kc * nc + IRK_A_CACHE + 128);
}

int irk_sgemm_mr(long N) { return impl_for(irk_level(), N).mr; }
int irk_sgemm_nr(long N) { return impl_for(irk_level(), N).nr; }

// dst[k * ld + i] = src[i * stride + k] for i < rows, k < kc: the transpose a pack does when its
// operand's rows run along k. 4x4 blocks go through registers (4 loads, 8 shuffles, 4 stores for
// 16 values); leftover rows and depth are copied one by one.
static void transpose_rows(const float *src, long stride, long rows, long kc, float *dst, long ld) {
    typedef float f4 __attribute__((ext_vector_type(4)));
    typedef float f4u __attribute__((ext_vector_type(4), aligned(4)));
    long i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *r0 = src + i * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
        long k = 0;
        for (; k + 4 <= kc; k += 4) {
            f4 a = *(const f4u *)(r0 + k), b = *(const f4u *)(r1 + k);
            f4 c = *(const f4u *)(r2 + k), d = *(const f4u *)(r3 + k);
            f4 t0 = __builtin_shufflevector(a, b, 0, 4, 1, 5), t1 = __builtin_shufflevector(a, b, 2, 6, 3, 7);
            f4 t2 = __builtin_shufflevector(c, d, 0, 4, 1, 5), t3 = __builtin_shufflevector(c, d, 2, 6, 3, 7);
            *(f4u *)(dst + (k + 0) * ld + i) = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
            *(f4u *)(dst + (k + 1) * ld + i) = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
            *(f4u *)(dst + (k + 2) * ld + i) = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
            *(f4u *)(dst + (k + 3) * ld + i) = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
        }
        for (; k < kc; k++) {
            dst[k * ld + i] = r0[k];
            dst[k * ld + i + 1] = r1[k];
            dst[k * ld + i + 2] = r2[k];
            dst[k * ld + i + 3] = r3[k];
        }
    }
    for (; i < rows; i++) {
        const float *r = src + i * stride;
        for (long k = 0; k < kc; k++) dst[k * ld + i] = r[k];
    }
}

// Packs A rows [m0, m0+mc) x depth [k0, k0+kc) into MR-row panels: panel p holds, for each k,
// MR consecutive values (rows past M are zero).
static void pack_a(const irk_gemm_args *g, long m0, long mc, long k0, long kc, int MR, float *dst) {
    for (long ip = 0; ip < mc; ip += MR) {
        long rows = IRK_MIN((long)MR, mc - ip);
        if (g->a_cs == 1) {
            transpose_rows(g->a + (m0 + ip) * g->a_rs + k0, g->a_rs, rows, kc, dst, MR);
        } else if (g->a_rs == 1) {
            // A given transposed: each k holds the panel's rows side by side.
            for (long k = 0; k < kc; k++) {
                const float *src = g->a + (k0 + k) * g->a_cs + m0 + ip;
                for (long i = 0; i < rows; i++) dst[k * MR + i] = src[i];
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
    }
}

// A full panel of B columns n .. n+NR that are consecutive floats of one source row, given by
// the per-k offsets table (a stride-1 convolution's tile inside one output row): returns its
// base pointer (B(k, n + j) = base[koff[k] + j]), or NULL.
static const float *direct_panel(const irk_gemm_args *g, long n, long cols, int NR) {
    if (cols != NR || !g->b_koff || g->b_col_stride != 1 || g->b_row_stride < g->b_ncols) return 0;
    long first = (n / g->b_ncols) * g->b_row_stride + n % g->b_ncols;
    long last = ((n + NR - 1) / g->b_ncols) * g->b_row_stride + (n + NR - 1) % g->b_ncols;
    if (last - first != NR - 1) return 0; // the tile wraps onto a padded row
    return g->b + first;
}

// Whether reading B panels in place beats packing them. In place, every micro-kernel of the
// block re-reads the panel's kc rows from the source. That is cheap when consecutive rows are a
// kernel's taps (a few input rows, shared lines), but not when each row is a channel plane of
// its own (a 1x1 convolution): rows one plane apart (64 KiB at 128x128) fall into the same few
// cache sets, so the panel never stays in L1 or L2, and the 1x1 conv 256->256 at 128x128 ran at
// 29% of the AVX2 FMA peak (81% packed). Packing still loses when the rows hold one
// micro-kernel's worth (the copy is not amortised).
static int direct_pays(const irk_gemm_args *g, long k0, long kc, long rows, int MR) {
    if (rows <= MR || kc < 2) return 1;
    long step = g->b_koff[k0 + 1] - g->b_koff[k0];
    return step >= 0 && step < g->b_row_stride;
}

// Packs B depth [k0, k0+kc) x columns [n0, n0+nc) into NR-column panels (columns past N are zero).
// Panels that `direct_panel` accepts are left unpacked when skip_direct is set.
static void pack_b(const irk_gemm_args *g, long k0, long kc, long n0, long nc, int NR, copy_rows_fn copy,
                   int skip_direct, float *dst) {
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
        if (skip_direct && direct_panel(g, n, cols, NR)) {
            // read in place by the direct kernel
        } else if (contiguous && cols == NR) {
            copy(g, k0, kc, noff[0], dst); // the common case
        } else if (contiguous) {
            for (long k = 0; k < kc; k++) {
                const float *src = g->b + b_koff(g, k0 + k) + noff[0];
                float *d = dst + k * NR;
                memcpy(d, src, (size_t)cols * sizeof(float));
                for (long j = cols; j < NR; j++) d[j] = 0.0f;
            }
        } else if (!g->b_koff && g->b_rs == 1 && g->b_row_stride == 0) {
            // Transposed operand (Bᵀ stored with columns along k, e.g. a linear layer's weight).
            transpose_rows(g->b + k0 + noff[0], g->b_col_stride, cols, kc, dst, NR);
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
    }
}

// Block geometry shared by irk_sgemm and the shared A packing.
typedef struct {
    gemm_impl im;
    long mcmax, kblocks, kcb, nqb, ablock;
} a_geometry;

static a_geometry a_geometry_for(long M, long N, long K) {
    a_geometry a;
    a.im = impl_for(irk_level(), N);
    a.mcmax = (a.im.mc + a.im.mr - 1) / a.im.mr * a.im.mr;
    // Depth blocks of equal size (576 = 3 x 192, not 256 + 256 + 64): a short last block would
    // spend its time loading and storing C.
    a.kblocks = K > 0 ? (K + a.im.kc - 1) / a.im.kc : 1;
    a.kcb = K > 0 ? (K + a.kblocks - 1) / a.kblocks : 1;
    a.nqb = (M + a.mcmax - 1) / a.mcmax;
    a.ablock = a.mcmax * a.kcb;
    return a;
}

size_t irk_sgemm_packed_a_floats(long M, long N, long K) {
    a_geometry a = a_geometry_for(M, N, K);
    return (size_t)(a.nqb * a.kblocks * a.ablock);
}

long irk_sgemm_packed_a_blocks(long M, long N, long K) {
    a_geometry a = a_geometry_for(M, N, K);
    return a.nqb * a.kblocks;
}

void irk_sgemm_pack_a(const irk_gemm_args *g, long M, long N, long K, long b0, long b1, float *dst) {
    a_geometry a = a_geometry_for(M, N, K);
    for (long b = b0; b < b1; b++) {
        long q = b / a.kblocks, p = b % a.kblocks;
        long ic = q * a.mcmax, pc = p * a.kcb;
        pack_a(g, ic, IRK_MIN(a.mcmax, M - ic), pc, IRK_MIN(a.kcb, K - pc), a.im.mr, dst + b * a.ablock);
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
    a_geometry geo = a_geometry_for(M, g->n_geometry > 0 ? g->n_geometry : N, K);
    gemm_impl im = geo.im;
    const int MR = im.mr, NR = im.nr;
    long mcmax = geo.mcmax;
    float *apack = workspace;
    float *bpack = workspace + 144 * im.kc;
    bpack = (float *)(((size_t)bpack + 63) & ~(size_t)63);
    float *acache = bpack + im.kc * ((im.nc + NR - 1) / NR * NR);
    acache = (float *)(((size_t)acache + 63) & ~(size_t)63);
    long kblocks = geo.kblocks, kcb = geo.kcb;
    // When all of A fits one block (few output channels), B is used by few micro-kernels after
    // packing: keep its block small enough to stay in L2 instead of round-tripping through L3.
    long ncb = (m1 - m0) <= mcmax ? IRK_MIN(im.nc, 10 * (long)NR) : im.nc;
    // Pack all of A once when it is reused by several column blocks and fits the cache area.
    long nqb = (m1 - m0 + mcmax - 1) / mcmax;
    long ablock = geo.ablock;
    int cache_a = (n1 - n0) > ncb && nqb * kblocks * ablock <= IRK_A_CACHE;
    if (g->packed_a && m0 == 0 && m1 == M) {
        acache = (float *)g->packed_a; // packed once for all threads (read only here)
        cache_a = 1;
    } else if (cache_a) {
        for (long q = 0; q < nqb; q++)
            for (long p = 0; p < kblocks; p++) {
                long ic = m0 + q * mcmax, pc = p * kcb;
                pack_a(g, ic, IRK_MIN(mcmax, m1 - ic), pc, IRK_MIN(kcb, K - pc), MR,
                       acache + (q * kblocks + p) * ablock);
            }
    }
    for (long jc = n0; jc < n1; jc += ncb) {
        long nc = IRK_MIN(ncb, n1 - jc);
        for (long pc = 0; pc < K; pc += kcb) {
            long kc = IRK_MIN(kcb, K - pc);
            int use_direct = im.direct && g->b_koff && g->b_col_stride == 1 && direct_pays(g, pc, kc, m1 - m0, MR);
            pack_b(g, pc, kc, jc, nc, NR, im.copy, use_direct, bpack);
            for (long ic = m0; ic < m1; ic += mcmax) {
                long mc = IRK_MIN(mcmax, m1 - ic);
                const float *ap;
                if (cache_a) {
                    ap = acache + (((ic - m0) / mcmax) * kblocks + pc / kcb) * ablock;
                } else {
                    pack_a(g, ic, mc, pc, kc, MR, apack);
                    ap = apack;
                }
                int acc = pc > 0 || g->accumulate;
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = IRK_MIN((long)NR, nc - jr);
                    const float *bp = bpack + jr * kc;
                    const float *bb = use_direct ? direct_panel(g, jc + jr, nr, NR) : 0;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = IRK_MIN((long)MR, mc - ir);
                        float *c = g->c + (ic + ir) * g->ldc + jc + jr;
                        const float *bias = (pc == 0 && g->bias) ? g->bias + ic + ir : 0;
                        const float *bias_col = (pc == 0 && g->bias_col) ? g->bias_col + jc + jr : 0;
                        if (bb)
                            im.direct(kc, ap + ir * kc, bb, g->b_koff + pc, c, g->ldc, mr, nr, bias, bias_col, acc);
                        else
                            im.kernel(kc, ap + ir * kc, bp, c, g->ldc, mr, nr, bias, bias_col, acc);
                    }
                }
            }
        }
    }
}
