#ifndef IRKERNELS_H
#define IRKERNELS_H
// Hot loops of the irzoo runtime. Every entry point dispatches at run time to the widest SIMD
// family this CPU has (AVX-512F, AVX2+FMA, NEON, or portable C), so one binary runs anywhere.
#include <stddef.h>
#include <stdint.h>

/// Returns the widest SIMD level this CPU supports: 0 baseline, 1 AVX2+FMA, 2 AVX-512F, 3 NEON.
int irk_cpu_level(void);
/// The level the kernels use now (the detected one unless lowered with irk_set_level).
int irk_get_level(void);
/// Uses `level` from now on; returns 0, or -1 when this CPU cannot run it.
int irk_set_level(int level);

// ---------------------------------------------------------------------------------------------
// Threads: runs fn(ctx, i) for i in [0, chunks) on a fixed pool of workers (started on first use,
// one per extra chunk) plus the calling thread, and returns when all are done. Workers spin for a
// few milliseconds after a job before sleeping, so back-to-back ops start at once. Nested or
// concurrent calls run their chunks serially on the caller.
typedef void (*irk_task_fn)(void *ctx, int chunk);
void irk_parallel(int chunks, irk_task_fn fn, void *ctx);

// ---------------------------------------------------------------------------------------------
// GEMM: C(m, n) = sum_k A(m, k) * B(k, n) (+ bias[m]) (+ C(m, n) when accumulate),
// fp32, over the rectangle [m0, m1) x [n0, n1) of C, so that callers split the work over threads.
//   A(m, k) = a[m * a_rs + k * a_cs]
//   B(k, n) = b[koff(k) + noff(n)]   with koff(k) = b_koff ? b_koff[k] : k * b_rs
//                                    and  noff(n) = (n / b_ncols) * b_row_stride + (n % b_ncols) * b_col_stride
//   C(m, n) = c[m * ldc + n]
// The B addressing covers a plain row-major matrix (b_ncols = N, b_col_stride = 1), a transposed
// one (b_rs = 1, b_col_stride = ld), and a convolution's implicit im2col over a padded input
// (koff = channel/kernel-tap offsets, n -> output row/column with strides).
typedef struct {
    const float *a;
    long a_rs, a_cs;
    const float *b;
    const long *b_koff;
    long b_rs;
    long b_ncols, b_row_stride, b_col_stride;
    float *c;
    long ldc;
    const float *bias;     // per row m (a conv's output channel), or NULL
    const float *bias_col; // per column n (a linear layer's output feature), or NULL
    int accumulate;
    const float *packed_a; // all of A already packed by irk_sgemm_pack_a (then m0 = 0, m1 = M), or NULL
    long n_geometry;       // column count that picks the kernel and blocking (0: N); lets calls with
                           // different N (bands of one convolution) share one packed A
} irk_gemm_args;

/// Floats of scratch one irk_sgemm call needs (packing buffers), at the active level.
size_t irk_sgemm_workspace_floats(void);
/// Register-tile sizes the active level uses for a product with N columns (callers split work
/// in these units).
int irk_sgemm_mr(long N);
int irk_sgemm_nr(long N);
void irk_sgemm(const irk_gemm_args *g, long M, long N, long K,
               long m0, long m1, long n0, long n1, float *workspace);
/// Packing all of A once, shared by the threads that split N (so none packs it again): the
/// floats it takes, the number of blocks, and packing blocks [b0, b1) into dst (any thread order).
/// N here is the geometry column count (args.n_geometry when set).
size_t irk_sgemm_packed_a_floats(long M, long N, long K);
long irk_sgemm_packed_a_blocks(long M, long N, long K);
void irk_sgemm_pack_a(const irk_gemm_args *g, long M, long N, long K, long b0, long b1, float *dst);

/// Gram-type product for tiny M, N and a long depth K (Restormer's channel attention q·kᵀ over
/// all pixels): C[i][j] (= or +=) sum_k A[i*lda + k] * B[j*ldb + k]. Both operands are read in place
/// along their contiguous rows (no packing, which would cost as much as the arithmetic here).
void irk_gram_nt(const float *a, long lda, const float *b, long ldb, long M, long N, long K,
                 float *c, long ldc, int accumulate);

// ---------------------------------------------------------------------------------------------
// Depthwise 2-D convolution of one channel plane, stride 1: out[y][x] = bias + sum_{i,j}
// w[i*kw + j] * padded[y + i*dh][x + j*dw], for y < ho, x < wo.
/// The input is the unpadded plane (row length w), padded row by row into a small ring of `ring_rows`
/// = (kh-1)*dh+1 rows of wp floats (`ring`, per thread): padded row r is input row rowmap[r]
/// (-1: zeros) with column c taken from input column colmap[c] (-1: zero). Each input row is read
/// once and the taps run on rows that sit in L1.
void irk_depthwise_plane_ring(const float *in, long w, float *out, long ho, long wo,
                              const float *wt, long kh, long kw, long dh, long dw, float bias,
                              const long *rowmap, const long *colmap, long wp, float *ring);

// ---------------------------------------------------------------------------------------------
// Element-wise maps, in place allowed (out == in).
enum {
    IRK_ACT_RELU = 0, IRK_ACT_GELU_ERF = 1, IRK_ACT_GELU_TANH = 2, IRK_ACT_QUICK_GELU = 3,
    IRK_ACT_SILU = 4, IRK_ACT_SIGMOID = 5, IRK_ACT_TANH = 6, IRK_ACT_EXP = 7,
};
void irk_activation(int kind, const float *in, float *out, long n);
/// out = act(a) * b, the gated form used by GDFN/GEGLU-style feed-forwards.
void irk_gated_activation(int kind, const float *a, const float *b, float *out, long n);
/// out = a > 0 ? a : slope * a
void irk_leaky_relu(const float *in, float *out, long n, float slope);

/// Softmax over `rows` rows of `n` contiguous elements each, in place allowed.
/// `scale` multiplies the inputs first (1 for a plain softmax).
void irk_softmax_rows(const float *in, float *out, long rows, long n, float scale);
/// Softmax of in·scale + add over rows (attention scores plus a bias/mask matrix `add`, rows x n).
void irk_softmax_rows_add(const float *in, const float *add, float *out, long rows, long n, float scale);

/// Channel LayerNorm of a [C][HW] image (one sample), per pixel over C, for pixels [p0, p1):
/// mode 0: (x - mean) / sqrt(var + eps) * w + b   (WithBias; b may be NULL)
/// mode 1: x / sqrt(var + eps) * w                 (Restormer BiasFree: variance about the mean, x not centred)
void irk_channel_layernorm(const float *x, float *y, long C, long HW, long p0, long p1,
                           const float *w, const float *b, float eps, int mode);

/// Sum of squares of each of `rows` rows of n floats (row i at x + i*ld), accumulated in float
/// vectors over blocks of 1024 and in double across blocks.
void irk_sumsq_rows(const float *x, long ld, long rows, long n, double *out);

/// LayerNorm over contiguous rows of n: (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL).
void irk_layernorm_rows(const float *x, float *y, long rows, long n, const float *w, const float *b, float eps);

/// CRC-32 (zip) of the longest prefix of `data` this CPU folds fast (PCLMULQDQ, a multiple of
/// 16 bytes, 64 at least), continuing the running CRC in *crc (zlib's convention: 0 to start).
/// Returns the bytes consumed: 0 where the CPU lacks the instructions; the caller finishes the
/// rest (e.g. with zlib's crc32_z).
size_t irk_crc32_prefix(uint32_t *crc, const void *data, size_t len);

#endif
