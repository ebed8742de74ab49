// One check per kernel of Sources/IRKernels against a scalar reference in double precision, on
// odd sizes (vector tails, partial register tiles, cache-block edges) and degenerate inputs. The
// table at the end lists them with their tolerance; a new kernel is one function and one line.
//
// Tolerances are per element. U = 2^-24 (float's unit roundoff). Sums use the classic bound for
// any summation order, (terms + 2)·U·Σ|term|, so a kernel may reorder, block and fuse (FMA) as it
// likes but cannot drop, repeat or misplace a term. Transcendentals use bounds a little above
// what the vector polynomials reach. NaN and ±inf must match position for position.
#include "IRKernels.h"
#include "harness.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U 0x1p-24
#define COUNT(a) (long)(sizeof(a) / sizeof((a)[0]))

static float *alloc(long n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

static const fill_kind ALL_FILLS[] = {FILL_RANDOM, FILL_CONSTANT, FILL_ZERO, FILL_SPECIAL, FILL_HUGE};

// ---------------------------------------------------------------------------------------------
// GEMM: C = A·B (+ bias per row, + bias per column, + C), over plain, transposed and convolution
// (implicit im2col) operands, whole or split in row / column ranges at tile multiples as the
// runtime's threads split it, with A packed per call or once up front (irk_sgemm_pack_a).

typedef enum { SPLIT_NONE, SPLIT_COLUMNS, SPLIT_ROWS, SPLIT_PACKED_A } split_mode;

static void run_gemm(const irk_gemm_args *g, long M, long N, long K, split_mode split) {
    float *ws = alloc((long)irk_sgemm_workspace_floats());
    long nr = irk_sgemm_nr(g->n_geometry > 0 ? g->n_geometry : N), mr = irk_sgemm_mr(g->n_geometry > 0 ? g->n_geometry : N);
    irk_gemm_args a = *g;
    float *packed = 0;
    switch (split) {
    case SPLIT_NONE: irk_sgemm(&a, M, N, K, 0, M, 0, N, ws); break;
    case SPLIT_COLUMNS: {
        long mid = (N / 2 + nr - 1) / nr * nr;
        if (mid > N) mid = N;
        irk_sgemm(&a, M, N, K, 0, M, 0, mid, ws);
        irk_sgemm(&a, M, N, K, 0, M, mid, N, ws);
        break;
    }
    case SPLIT_ROWS: {
        long mid = (M / 2 + mr - 1) / mr * mr;
        if (mid > M) mid = M;
        irk_sgemm(&a, M, N, K, 0, mid, 0, N, ws);
        irk_sgemm(&a, M, N, K, mid, M, 0, N, ws);
        break;
    }
    case SPLIT_PACKED_A: {
        long geo = g->n_geometry > 0 ? g->n_geometry : N;
        packed = alloc((long)irk_sgemm_packed_a_floats(M, geo, K));
        long blocks = irk_sgemm_packed_a_blocks(M, geo, K);
        irk_sgemm_pack_a(&a, M, geo, K, blocks / 2, blocks, packed); // any order
        irk_sgemm_pack_a(&a, M, geo, K, 0, blocks / 2, packed);
        a.packed_a = packed;
        long mid = (N / 2 + nr - 1) / nr * nr;
        if (mid > N) mid = N;
        irk_sgemm(&a, M, N, K, 0, M, mid, N, ws);
        irk_sgemm(&a, M, N, K, 0, M, 0, mid, ws);
        break;
    }
    }
    free(packed);
    free(ws);
}

static void gemm_matrices(kc_result *r, long M, long N, long K, fill_kind fa, fill_kind fb, int ta, int tb, int acc,
                          int bias, int bias_col, split_mode split) {
    float *A = alloc(M * K), *B = alloc(K * N), *C = alloc(M * N), *C0 = alloc(M * N);
    float *br = alloc(M), *bc = alloc(N);
    kc_fill(A, (size_t)(M * K), fa);
    kc_fill(B, (size_t)(K * N), fb);
    kc_fill(C0, (size_t)(M * N), acc ? FILL_RANDOM : FILL_ZERO);
    kc_fill(br, (size_t)M, FILL_RANDOM);
    kc_fill(bc, (size_t)N, FILL_RANDOM);
    memcpy(C, C0, (size_t)(M * N) * sizeof(float));
    irk_gemm_args g = {0};
    g.a = A;
    if (ta) { g.a_rs = 1; g.a_cs = M; } else { g.a_rs = K; g.a_cs = 1; }
    g.b = B;
    if (tb) { g.b_rs = 1; g.b_ncols = N; g.b_row_stride = 0; g.b_col_stride = K; }
    else { g.b_rs = N; g.b_ncols = N; g.b_row_stride = 0; g.b_col_stride = 1; }
    g.c = C;
    g.ldc = N;
    g.bias = bias ? br : 0;
    g.bias_col = bias_col ? bc : 0;
    g.accumulate = acc;
    run_gemm(&g, M, N, K, split);
    char label[160];
    snprintf(label, sizeof label, "%ldx%ldx%ld %s·%s%s%s%s%s split %d", M, N, K, FILL_NAMES[fa], FILL_NAMES[fb],
             ta ? " Aᵀ" : "", tb ? " Bᵀ" : "", acc ? " +C" : "", bias ? " +bias" : "", split);
    for (long m = 0; m < M; m++)
        for (long n = 0; n < N; n++) {
            kc_sum s = {0};
            for (long k = 0; k < K; k++) kc_sum_add(&s, ta ? A[k * M + m] : A[m * K + k], tb ? B[n * K + k] : B[k * N + n]);
            if (acc) kc_sum_add(&s, C0[m * N + n], 1);
            if (bias) kc_sum_add(&s, br[m], 1);
            if (bias_col) kc_sum_add(&s, bc[n], 1);
            kc_expect_sum(r, label, m * N + n, C[m * N + n], &s);
        }
    free(A); free(B); free(C); free(C0); free(br); free(bc);
}

// A convolution through the GEMM's implicit im2col: B(k, n) = xp[koff[k] + noff(n)] over a
// zero-padded input, n walking output rows of `wo` columns with strides.
static void gemm_conv(kc_result *r, long ci, long co, long h, long w, long k, long stride, long pad, long dil,
                      fill_kind fx, fill_kind fw, split_mode split) {
    long hp = h + 2 * pad, wp = w + 2 * pad;
    long ho = (hp - dil * (k - 1) - 1) / stride + 1, wo = (wp - dil * (k - 1) - 1) / stride + 1;
    if (ho < 1 || wo < 1) return;
    long K = ci * k * k, N = ho * wo;
    float *x = alloc(ci * h * w), *xp = alloc(ci * hp * wp), *wt = alloc(co * K), *b = alloc(co), *out = alloc(co * N);
    long *koff = malloc((size_t)K * sizeof(long));
    kc_fill(x, (size_t)(ci * h * w), fx);
    kc_fill(wt, (size_t)(co * K), fw);
    kc_fill(b, (size_t)co, FILL_RANDOM);
    memset(xp, 0, (size_t)(ci * hp * wp) * sizeof(float));
    for (long c = 0; c < ci; c++)
        for (long y = 0; y < h; y++) memcpy(xp + (c * hp + y + pad) * wp + pad, x + (c * h + y) * w, (size_t)w * sizeof(float));
    for (long c = 0; c < ci; c++)
        for (long i = 0; i < k; i++)
            for (long j = 0; j < k; j++) koff[(c * k + i) * k + j] = c * hp * wp + i * dil * wp + j * dil;
    irk_gemm_args g = {0};
    g.a = wt; g.a_rs = K; g.a_cs = 1;
    g.b = xp; g.b_koff = koff; g.b_ncols = wo; g.b_row_stride = stride * wp; g.b_col_stride = stride;
    g.c = out; g.ldc = N; g.bias = b;
    run_gemm(&g, co, N, K, split);
    char label[160];
    snprintf(label, sizeof label, "conv %ld->%ld %ldx%ld k%ld s%ld p%ld d%ld %s*%s split %d", ci, co, h, w, k, stride, pad, dil,
             FILL_NAMES[fx], FILL_NAMES[fw], split);
    for (long o = 0; o < co; o++)
        for (long n = 0; n < N; n++) {
            long oy = n / wo, ox = n % wo;
            kc_sum s = {0};
            for (long c = 0; c < ci; c++)
                for (long i = 0; i < k; i++)
                    for (long j = 0; j < k; j++)
                        kc_sum_add(&s, wt[o * K + (c * k + i) * k + j], xp[(c * hp + oy * stride + i * dil) * wp + ox * stride + j * dil]);
            kc_sum_add(&s, b[o], 1);
            kc_expect_sum(r, label, o * N + n, out[o * N + n], &s);
        }
    free(x); free(xp); free(wt); free(b); free(out); free(koff);
}

static void check_sgemm(kc_result *r) {
    static const long sizes[] = {1, 3, 7, 17, 33, 65};
    for (int fi = 0; fi < COUNT(ALL_FILLS); fi++) {
        fill_kind f = ALL_FILLS[fi];
        for (int i = 0; i < COUNT(sizes); i++)
            for (int j = 0; j < COUNT(sizes); j++)
                gemm_matrices(r, sizes[i], sizes[j], sizes[(i + j) % COUNT(sizes)], f, f, (i + j) % 2, (i * j) % 3 == 1,
                              j % 2, i % 2, (i + j) % 3 == 0, (split_mode)((i + 2 * j) % 4));
        // The other operand plain random: special values meet ordinary ones.
        gemm_matrices(r, 17, 65, 33, f, FILL_RANDOM, 0, 0, 0, 1, 0, SPLIT_NONE);
        gemm_matrices(r, 33, 7, 17, FILL_RANDOM, f, 1, 1, 1, 0, 1, SPLIT_ROWS);
    }
    // Depth past one cache block (K > 256, > 1024), columns past one block (N > 1024).
    gemm_matrices(r, 13, 129, 1030, FILL_RANDOM, FILL_RANDOM, 0, 0, 0, 1, 0, SPLIT_COLUMNS);
    gemm_matrices(r, 130, 70, 300, FILL_RANDOM, FILL_SPECIAL, 0, 1, 1, 0, 1, SPLIT_PACKED_A);
    gemm_matrices(r, 5, 1100, 40, FILL_SPECIAL, FILL_RANDOM, 1, 0, 0, 1, 1, SPLIT_NONE);
}

static void check_sgemm_conv(kc_result *r) {
    static const fill_kind fills[] = {FILL_RANDOM, FILL_SPECIAL, FILL_CONSTANT};
    for (int fi = 0; fi < COUNT(fills); fi++) {
        fill_kind f = fills[fi];
        gemm_conv(r, 3, 7, 17, 33, 3, 1, 1, 1, f, FILL_RANDOM, SPLIT_NONE);
        gemm_conv(r, 5, 17, 9, 65, 3, 1, 1, 1, f, f, SPLIT_PACKED_A);
        gemm_conv(r, 4, 6, 13, 11, 3, 2, 1, 1, f, FILL_RANDOM, SPLIT_COLUMNS);
        gemm_conv(r, 2, 5, 12, 19, 3, 1, 2, 2, FILL_RANDOM, f, SPLIT_ROWS);
        gemm_conv(r, 33, 9, 7, 7, 1, 1, 0, 1, f, FILL_RANDOM, SPLIT_NONE);
        gemm_conv(r, 3, 4, 15, 14, 5, 1, 2, 1, f, FILL_RANDOM, SPLIT_PACKED_A);
        gemm_conv(r, 1, 3, 1, 1, 3, 1, 1, 1, f, f, SPLIT_NONE);
        // 1x1 on planes 4 KiB apart: B packed when the rows exceed one micro-kernel, read in
        // place when they do not (gemm.c, direct_pays); both when the rows are split.
        gemm_conv(r, 37, 13, 32, 32, 1, 1, 0, 1, f, FILL_RANDOM, SPLIT_COLUMNS);
        gemm_conv(r, 37, 13, 32, 32, 1, 1, 0, 1, FILL_RANDOM, f, SPLIT_ROWS);
        gemm_conv(r, 19, 5, 9, 31, 1, 1, 0, 1, f, f, SPLIT_PACKED_A);
    }
    gemm_conv(r, 300, 8, 16, 17, 1, 1, 0, 1, FILL_RANDOM, FILL_RANDOM, SPLIT_NONE); // 1x1, K > one depth block
    gemm_conv(r, 30, 7, 10, 70, 3, 1, 1, 1, FILL_RANDOM, FILL_RANDOM, SPLIT_COLUMNS); // K = 270 > one depth block
}

// ---------------------------------------------------------------------------------------------
static void check_gram(kc_result *r) {
    static const long mk[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 6, 17}, {7, 3, 33}, {5, 7, 65}, {9, 13, 100}, {2, 3, 2050}, {8, 8, 4097}};
    for (int fi = 0; fi < COUNT(ALL_FILLS); fi++)
        for (int s = 0; s < COUNT(mk); s++) {
            long M = mk[s][0], N = mk[s][1], K = mk[s][2], lda = K + 3, ldb = K + 1, ldc = N + 2;
            float *a = alloc(M * lda), *b = alloc(N * ldb), *c = alloc(M * ldc), *c0 = alloc(M * ldc);
            kc_fill(a, (size_t)(M * lda), ALL_FILLS[fi]);
            kc_fill(b, (size_t)(N * ldb), s % 2 ? ALL_FILLS[fi] : FILL_RANDOM);
            kc_fill(c0, (size_t)(M * ldc), FILL_RANDOM);
            int acc = s % 2;
            memcpy(c, c0, (size_t)(M * ldc) * sizeof(float));
            irk_gram_nt(a, lda, b, ldb, M, N, K, c, ldc, acc);
            char label[96];
            snprintf(label, sizeof label, "%ldx%ld depth %ld %s%s", M, N, K, FILL_NAMES[ALL_FILLS[fi]], acc ? " +C" : "");
            for (long i = 0; i < M; i++)
                for (long j = 0; j < N; j++) {
                    kc_sum s_ = {0};
                    if (acc) kc_sum_add(&s_, c0[i * ldc + j], 1);
                    for (long k = 0; k < K; k++) kc_sum_add(&s_, a[i * lda + k], b[j * ldb + k]);
                    kc_expect_sum(r, label, i * ldc + j, c[i * ldc + j], &s_);
                }
            free(a); free(b); free(c); free(c0);
        }
}

// ---------------------------------------------------------------------------------------------
// Depthwise, stride 1, zero or replicate padding through the row/column maps.
static void depthwise_case(kc_result *r, long h, long w, long kh, long kw, long dh, long dw, long pad, int replicate,
                           fill_kind fx, fill_kind fw) {
    long hp = h + 2 * pad, wp = w + 2 * pad;
    long ho = hp - (kh - 1) * dh, wo = wp - (kw - 1) * dw;
    if (ho < 1 || wo < 1) return;
    float *x = alloc(h * w), *wt = alloc(kh * kw), *out = alloc(ho * wo), *ring = alloc(((kh - 1) * dh + 1) * wp);
    long *rowmap = malloc((size_t)hp * sizeof(long)), *colmap = malloc((size_t)wp * sizeof(long));
    kc_fill(x, (size_t)(h * w), fx);
    kc_fill(wt, (size_t)(kh * kw), fw);
    float bias = kc_uniform(-1, 1);
    for (long i = 0; i < hp; i++) {
        long s = i - pad;
        rowmap[i] = replicate ? (s < 0 ? 0 : s >= h ? h - 1 : s) : (s < 0 || s >= h ? -1 : s);
    }
    for (long i = 0; i < wp; i++) {
        long s = i - pad;
        colmap[i] = replicate ? (s < 0 ? 0 : s >= w ? w - 1 : s) : (s < 0 || s >= w ? -1 : s);
    }
    irk_depthwise_plane_ring(x, w, out, ho, wo, wt, kh, kw, dh, dw, bias, rowmap, colmap, wp, ring);
    char label[128];
    snprintf(label, sizeof label, "%ldx%ld k%ldx%ld d%ld,%ld p%ld%s %s*%s", h, w, kh, kw, dh, dw, pad, replicate ? " replicate" : "",
             FILL_NAMES[fx], FILL_NAMES[fw]);
    for (long y = 0; y < ho; y++)
        for (long xo = 0; xo < wo; xo++) {
            kc_sum s = {0};
            kc_sum_add(&s, bias, 1);
            for (long i = 0; i < kh; i++)
                for (long j = 0; j < kw; j++) {
                    long ry = rowmap[y + i * dh], cx = colmap[xo + j * dw];
                    kc_sum_add(&s, wt[i * kw + j], (ry < 0 || cx < 0) ? 0.0f : x[ry * w + cx]);
                }
            kc_expect_sum(r, label, y * wo + xo, out[y * wo + xo], &s);
        }
    free(x); free(wt); free(out); free(ring); free(rowmap); free(colmap);
}

static void check_depthwise(kc_result *r) {
    static const long sides[] = {1, 3, 7, 17, 33, 65};
    for (int fi = 0; fi < COUNT(ALL_FILLS); fi++) {
        fill_kind f = ALL_FILLS[fi];
        for (int i = 0; i < COUNT(sides); i++) {
            long h = sides[(i + 2) % COUNT(sides)], w = sides[i];
            depthwise_case(r, h, w, 3, 3, 1, 1, 1, 0, f, FILL_RANDOM);
            depthwise_case(r, h, w, 3, 3, 1, 1, 1, 1, FILL_RANDOM, f);
            depthwise_case(r, h, w, 5, 5, 1, 1, 2, i % 2, f, f);
            depthwise_case(r, h, w, 3, 3, 2, 2, 2, 0, f, FILL_RANDOM);
            depthwise_case(r, h, w, 7, 7, 1, 1, 3, 0, f, FILL_RANDOM);
            depthwise_case(r, h, w, 3, 1, 1, 1, 1, 0, f, FILL_RANDOM);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Element-wise activations, as torch defines them (ReLU keeps NaN; GELU(+inf) = +inf as torch's
// float64 and ATen paths give; x·σ(x) at -inf is NaN, as torch's SiLU).
static double act_ref(int kind, double x) {
    switch (kind) {
    case IRK_ACT_RELU: return x < 0 ? 0.0 : x;
    case IRK_ACT_GELU_ERF: return x * 0.5 * (1.0 + erf(x * M_SQRT1_2));
    case IRK_ACT_GELU_TANH: {
        double inner = sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
        return 0.5 * x * (1.0 + tanh(inner));
    }
    case IRK_ACT_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    case IRK_ACT_SILU: return x / (1.0 + exp(-x));
    case IRK_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case IRK_ACT_TANH: return tanh(x);
    default: return exp(x);
    }
}

// |err| allowed for an activation's result. exp: 8 ulp relative (and the smallest normal, below
// which results are denormal); the others: 2e-7 + 1e-7·|x| absolute plus 4e-7 relative (the A&S
// erf and the tanh form 1 − 2/(e^2x + 1) are accurate to about 1.5e-7 absolute).
static double act_tol(int kind, float x, double want) {
    double a = fabs(kc_to_float_range(want));
    if (kind == IRK_ACT_EXP) return 4 * 2 * U * a + FLT_MIN;
    return 2e-7 + 1e-7 * fmin(fabs(x), 1e4) + 4e-7 * a; // GELU: x/2 times erf's error
}

static const char *const ACT_NAMES[] = {"relu", "gelu", "gelu_tanh", "quick_gelu", "silu", "sigmoid", "tanh", "exp"};

// x·σ(x)-type products in float: x = -inf meets σ = 0 (NaN, as torch), x = ±FLT_MAX-ish overflow.
static double act_ref_float(int kind, float x) {
    switch (kind) {
    case IRK_ACT_SILU: case IRK_ACT_QUICK_GELU: case IRK_ACT_GELU_ERF: case IRK_ACT_GELU_TANH:
        if (isinf(x)) return x < 0 ? NAN : INFINITY;
        return act_ref(kind, x);
    default: return act_ref(kind, x);
    }
}

// Edge values: around exp's overflow and underflow, huge, tiny, the float range, inf, NaN.
static const float EDGES[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f, 88.7f, -88.7f, 88.72f, 89.0f,
                              -89.0f, 100.0f, -100.0f, -103.0f, -104.5f, -87.5f, 20.0f, -20.0f, 9.1f, -9.1f, 1e-40f, -1e-40f,
                              0.0f, -0.0f, 1e-7f, 0.5f, -0.5f, 3.0f, -3.0f, 15.0f, -15.0f, 1e4f, -1e4f};

static void activation_case(kc_result *r, int kind, const float *x, long n, const char *what) {
    float *y = alloc(n), *b = alloc(n), *g = alloc(n);
    irk_activation(kind, x, y, n);
    kc_fill(b, (size_t)n, FILL_RANDOM);
    irk_gated_activation(kind, x, b, g, n);
    char label[96];
    snprintf(label, sizeof label, "%s n=%ld %s", ACT_NAMES[kind], n, what);
    char glabel[104];
    snprintf(glabel, sizeof glabel, "gated %s", label);
    for (long i = 0; i < n; i++) {
        double want = act_ref_float(kind, x[i]);
        kc_expect(r, label, i, y[i], want, act_tol(kind, x[i], want));
        // The gate multiplies the float activation by b: reference from the float the kernel made.
        double wg = kc_product((float)kc_to_float_range(want), b[i]);
        kc_expect(r, glabel, i, g[i], wg, act_tol(kind, x[i], want) * fabs(b[i]) + 2 * U * fabs(wg));
    }
    // In place (out == in) gives the same.
    float *z = alloc(n);
    memcpy(z, x, (size_t)n * sizeof(float));
    irk_activation(kind, z, z, n);
    for (long i = 0; i < n; i++)
        if (memcmp(&z[i], &y[i], sizeof(float)) != 0 && !(isnan(z[i]) && isnan(y[i]))) kc_expect(r, "in place differs", i, z[i], y[i], 0);
    free(y); free(b); free(g); free(z);
}

static void check_activations(kc_result *r) {
    static const long lengths[] = {1, 3, 7, 17, 33, 65, 1000};
    for (int kind = IRK_ACT_RELU; kind <= IRK_ACT_EXP; kind++) {
        // Every edge value at every lane position: the edges rotated through a vector's lanes.
        long n = COUNT(EDGES) * 17;
        float *x = alloc(n);
        for (long i = 0; i < n; i++) x[i] = EDGES[(i * 7 + i / COUNT(EDGES)) % COUNT(EDGES)];
        activation_case(r, kind, x, n, "edges");
        free(x);
        for (int li = 0; li < COUNT(lengths); li++) {
            long m = lengths[li];
            float *v = alloc(m);
            for (long i = 0; i < m; i++) v[i] = kc_uniform(-12, 12);
            activation_case(r, kind, v, m, "uniform ±12");
            kc_fill(v, (size_t)m, FILL_SPECIAL);
            activation_case(r, kind, v, m, "special");
            free(v);
        }
    }
    // LeakyReLU: x > 0 ? x : slope·x (NaN stays NaN through the product).
    long n = COUNT(EDGES);
    float y[COUNT(EDGES)];
    irk_leaky_relu(EDGES, y, n, 0.1f);
    for (long i = 0; i < n; i++) {
        float x = EDGES[i];
        kc_expect(r, "leaky_relu edges", i, y[i], x > 0 ? (double)x : (double)(x * 0.1f), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax of x·scale (+ add) per row, torch's semantics: a row holding NaN or +inf is all NaN
// (inf − inf), a row of only -inf is all NaN (0/0), -inf elsewhere gives 0.
// Also gives, per element, |v − max| (the exponent's argument, rounded once in float by the kernel).
static void softmax_ref(const float *x, const float *add, long n, float scale, double *out, double *arg) {
    double m = -INFINITY;
    int nan = 0;
    for (long i = 0; i < n; i++) {
        float v = x[i] * scale;
        if (add) v = v + add[i];
        out[i] = v;
        if (isnan(v)) nan = 1;
        if (v > m) m = v;
    }
    for (long i = 0; i < n; i++) arg[i] = 0;
    if (nan || isinf(m)) { for (long i = 0; i < n; i++) out[i] = NAN; return; }
    double s = 0;
    for (long i = 0; i < n; i++) { arg[i] = isfinite(out[i]) ? fabs(out[i] - m) : 0; out[i] = exp(out[i] - m); s += out[i]; }
    for (long i = 0; i < n; i++) out[i] /= s;
}

static void check_softmax(kc_result *r) {
    static const long lengths[] = {1, 2, 3, 7, 17, 33, 65, 257};
    static const float scales[] = {1.0f, 0.125f, 3.0f};
    for (int li = 0; li < COUNT(lengths); li++)
        for (int fi = 0; fi < COUNT(ALL_FILLS); fi++)
            for (int with_add = 0; with_add < 2; with_add++) {
                long n = lengths[li], rows = 5;
                float *x = alloc(rows * n), *add = alloc(rows * n), *y = alloc(rows * n);
                double *want = malloc((size_t)n * sizeof(double)), *arg = malloc((size_t)n * sizeof(double));
                kc_fill(x, (size_t)(rows * n), ALL_FILLS[fi]);
                for (long i = 0; i < rows * n; i++) x[i] *= ALL_FILLS[fi] == FILL_RANDOM ? 30.0f : 1.0f;
                kc_fill(add, (size_t)(rows * n), FILL_RANDOM);
                // Row 1 masked like attention (-inf past the diagonal), row 2 fully masked.
                for (long i = 0; i < n; i++) {
                    if (i > 0) add[n + i] = -INFINITY;
                    add[2 * n + i] = -INFINITY;
                }
                float scale = scales[(li + fi) % COUNT(scales)];
                if (with_add) irk_softmax_rows_add(x, add, y, rows, n, scale);
                else irk_softmax_rows(x, y, rows, n, scale);
                char label[96];
                snprintf(label, sizeof label, "%s rows of %ld %s scale %g", with_add ? "softmax+add" : "softmax", n,
                         FILL_NAMES[ALL_FILLS[fi]], scale);
                for (long row = 0; row < rows; row++) {
                    softmax_ref(x + row * n, with_add ? add + row * n : 0, n, scale, want, arg);
                    // exp's 4 ulp, the sum's rounding, and the float argument's rounding (|arg|·U, relative).
                    for (long i = 0; i < n; i++)
                        kc_expect(r, label, row * n + i, y[row * n + i], want[i], (8 + n + 2 * arg[i]) * U * fabs(want[i]) + 1e-30);
                }
                free(x); free(add); free(y); free(want); free(arg);
            }
    // Edge rows (torch: [1, inf] and [-inf, -inf] → NaN, [3e38, -3e38] → [1, 0]).
    static const float edge_rows[][4] = {{1, INFINITY, 0, 2}, {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, {1, NAN, 2, 3},
                                         {3e38f, -3e38f, 0, 1}, {88, 89, -1e30f, 0}, {-INFINITY, 5, -INFINITY, 5}};
    for (int row = 0; row < COUNT(edge_rows); row++)
        for (int n = 1; n <= 4; n++) {
            float y[4];
            double want[4], arg[4];
            irk_softmax_rows(edge_rows[row], y, 1, n, 1);
            softmax_ref(edge_rows[row], 0, n, 1, want, arg);
            for (int i = 0; i < n; i++)
                kc_expect(r, "softmax edge row", row * 4 + i, y[i], want[i], (12 + 2 * arg[i]) * U * fabs(want[i]) + 1e-30);
        }
}

// ---------------------------------------------------------------------------------------------
// Channel LayerNorm of [C][HW] per pixel: mode 0 (x − μ)/√(σ² + ε)·w + b, mode 1 x/√(σ² + ε)·w.
static void check_channel_layernorm(kc_result *r) {
    static const long cs[] = {1, 3, 7, 17, 48, 65};
    static const long hws[] = {1, 3, 7, 17, 33, 65};
    for (int ci = 0; ci < COUNT(cs); ci++)
        for (int hi = 0; hi < COUNT(hws); hi++)
            for (int fi = 0; fi < COUNT(ALL_FILLS); fi++)
                for (int mode = 0; mode < 2; mode++) {
                    long C = cs[ci], HW = hws[hi];
                    if (ALL_FILLS[fi] == FILL_HUGE) continue; // σ² of 1e20-sized values overflows by design
                    float *x = alloc(C * HW), *y = alloc(C * HW), *w = alloc(C), *b = alloc(C);
                    kc_fill(x, (size_t)(C * HW), ALL_FILLS[fi]);
                    kc_fill(w, (size_t)C, FILL_RANDOM);
                    kc_fill(b, (size_t)C, FILL_RANDOM);
                    long p0 = HW > 2 ? 1 : 0, p1 = HW; // a range that does not start at 0
                    const float eps = 1e-5f;
                    irk_channel_layernorm(x, y, C, HW, p0, p1, w, b, eps, mode);
                    char label[96];
                    snprintf(label, sizeof label, "C=%ld HW=%ld %s %s", C, HW, FILL_NAMES[ALL_FILLS[fi]], mode ? "biasfree" : "withbias");
                    for (long p = p0; p < p1; p++) {
                        // Exact statistics (as torch's double-accumulated var), the variance then
                        // rounded to float: inf past the float range (the pixel is then 0·w + b).
                        double mean = 0, var = 0, amax = 0;
                        for (long c = 0; c < C; c++) { mean += x[c * HW + p]; amax = fmax(amax, fabs(x[c * HW + p])); }
                        mean /= C;
                        for (long c = 0; c < C; c++) { double d = x[c * HW + p] - mean; var += d * d; }
                        var = kc_to_float_range(var / C);
                        double rstd = 1.0 / sqrt(var + eps);
                        for (long c = 0; c < C; c++) {
                            double v = x[c * HW + p];
                            double want = mode == 0 ? (v - mean) * rstd * w[c] + b[c] : v * rstd * w[c];
                            // Float statistics: the mean's rounding (C·U·max|x|) amplified by 1/σ.
                            double tol = (2 * C + 8) * U * (amax * rstd * fabs(w[c]) + fabs(want)) + 1e-6;
                            kc_expect(r, label, c * HW + p, y[c * HW + p], want, tol);
                        }
                    }
                    free(x); free(y); free(w); free(b);
                }
}

// Channels equal within each pixel, at magnitudes where a float sum of the channels would round
// or overflow: the variance must still be exactly 0 (Restormer's BiasFree LayerNorm on constant
// weights: x/√ε·w, the case that grows a published Restormer past the float range).
static void check_channel_layernorm_equal_channels(kc_result *r) {
    static const long cs[] = {3, 48, 192, 385};
    static const float mags[] = {0.37f, 3e4f, 1e20f, 1e36f, 3e38f};
    for (int ci = 0; ci < COUNT(cs); ci++)
        for (int mi = 0; mi < COUNT(mags); mi++)
            for (int mode = 0; mode < 2; mode++) {
                long C = cs[ci], HW = 19;
                float *x = alloc(C * HW), *y = alloc(C * HW), *w = alloc(C), *b = alloc(C);
                for (long c = 0; c < C; c++)
                    for (long p = 0; p < HW; p++) x[c * HW + p] = mags[mi] * (p % 2 ? -1.0f : 1.0f) * (1.0f - 0.03f * (float)p);
                for (long c = 0; c < C; c++) { w[c] = 0.01f; b[c] = kc_uniform(-1, 1); }
                irk_channel_layernorm(x, y, C, HW, 0, HW, w, b, 1e-5f, mode);
                char label[80];
                snprintf(label, sizeof label, "C=%ld equal channels %g %s", C, mags[mi], mode ? "biasfree" : "withbias");
                double rstd = 1.0 / sqrt(1e-5);
                for (long c = 0; c < C; c++)
                    for (long p = 0; p < HW; p++) {
                        double want = mode ? (double)x[c * HW + p] * rstd * w[c] : b[c];
                        kc_expect(r, label, c * HW + p, y[c * HW + p], want, 8 * U * fabs(want));
                    }
                free(x); free(y); free(w); free(b);
            }
}

// LayerNorm over contiguous rows (w, b optional).
static void check_layernorm_rows(kc_result *r) {
    static const long ns[] = {1, 3, 7, 17, 33, 65, 1030};
    for (int ni = 0; ni < COUNT(ns); ni++)
        for (int fi = 0; fi < COUNT(ALL_FILLS); fi++) {
            if (ALL_FILLS[fi] == FILL_HUGE) continue;
            long n = ns[ni], rows = 3;
            float *x = alloc(rows * n), *y = alloc(rows * n), *w = alloc(n), *b = alloc(n);
            kc_fill(x, (size_t)(rows * n), ALL_FILLS[fi]);
            kc_fill(w, (size_t)n, FILL_RANDOM);
            kc_fill(b, (size_t)n, FILL_RANDOM);
            int affine = ni % 2 == 0;
            irk_layernorm_rows(x, y, rows, n, affine ? w : 0, affine ? b : 0, 1e-5f);
            char label[80];
            snprintf(label, sizeof label, "rows of %ld %s%s", n, FILL_NAMES[ALL_FILLS[fi]], affine ? " affine" : "");
            for (long row = 0; row < rows; row++) {
                const float *xr = x + row * n;
                double mean = 0, var = 0;
                for (long i = 0; i < n; i++) mean += xr[i];
                mean /= n;
                for (long i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
                var = kc_to_float_range(var / n); // double statistics, the variance then rounded to float
                double rstd = 1.0 / sqrt(var + 1e-5);
                for (long i = 0; i < n; i++) {
                    double want = (xr[i] - mean) * rstd;
                    if (affine) want = want * w[i] + b[i];
                    kc_expect(r, label, row * n + i, y[row * n + i], want, 8 * U * (fabs(want) + fabs(xr[i] * rstd)) + 1e-6);
                }
            }
            free(x); free(y); free(w); free(b);
        }
}

// Sums of squares of rows (float within blocks of 1024, double across).
static void check_sumsq(kc_result *r) {
    static const long ns[] = {1, 3, 7, 17, 33, 65, 1023, 1025, 5000};
    for (int ni = 0; ni < COUNT(ns); ni++)
        for (int fi = 0; fi < COUNT(ALL_FILLS); fi++) {
            long n = ns[ni], rows = 3, ld = n + 5;
            float *x = alloc(rows * ld);
            double out[3];
            kc_fill(x, (size_t)(rows * ld), ALL_FILLS[fi]);
            irk_sumsq_rows(x, ld, rows, n, out);
            char label[64];
            snprintf(label, sizeof label, "rows of %ld %s", n, FILL_NAMES[ALL_FILLS[fi]]);
            for (long row = 0; row < rows; row++) {
                double s = 0;
                for (long i = 0; i < n; i++) s += kc_product(x[row * ld + i], x[row * ld + i]);
                long block = n < 1024 ? n : 1024;
                // The result is a double; compare it as the float the callers turn it into.
                kc_expect(r, label, row, (float)out[row], s, (block + 4) * U * s + 1e-37);
            }
            free(x);
        }
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (zip): the folded prefix continued bitwise must equal the bitwise CRC of everything.
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void check_crc32(kc_result *r) {
    static const size_t lengths[] = {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4099};
    unsigned char *buf = malloc(4200);
    for (size_t i = 0; i < 4200; i++) buf[i] = (unsigned char)(kc_uniform(0, 256));
    for (int li = 0; li < COUNT(lengths); li++)
        for (size_t offset = 0; offset < 3; offset++) {
            size_t n = lengths[li];
            uint32_t start = offset == 2 ? 0x12345678u : 0, crc = start;
            size_t used = irk_crc32_prefix(&crc, buf + offset, n);
            r->compared++;
            int shape_ok = used <= n && (used == 0 || (used >= 64 && used % 16 == 0));
            uint32_t got = crc_bitwise(crc, buf + offset + used, n - used), want = crc_bitwise(start, buf + offset, n);
            if (!shape_ok || got != want) {
                if (r->failures++ < 8)
                    printf("    FAIL crc32 length %zu offset %zu: consumed %zu, crc %08x, want %08x\n", n, offset, used, got, want);
            }
        }
    free(buf);
}

// ---------------------------------------------------------------------------------------------
// The worker pool: every chunk runs exactly once, also for a call nested inside a chunk.
static int hits[70];
static void count_chunk(void *ctx, int chunk) { (void)ctx; __atomic_fetch_add(&hits[chunk], 1, __ATOMIC_RELAXED); }
static void nested_chunk(void *ctx, int chunk) {
    (void)ctx;
    __atomic_fetch_add(&hits[chunk], 1, __ATOMIC_RELAXED);
    irk_parallel(3, count_chunk, 0); // runs serially on this thread
}

static void check_thread_pool(kc_result *r) {
    static const int counts[] = {1, 2, 3, 7, 64};
    for (int ci = 0; ci < COUNT(counts); ci++)
        for (int nested = 0; nested < 2; nested++) {
            memset(hits, 0, sizeof hits);
            int n = counts[ci];
            irk_parallel(n, nested ? nested_chunk : count_chunk, 0);
            for (int i = 0; i < 70; i++) {
                int want = i < n ? 1 : 0;
                if (nested && i < 3) want += n; // each chunk's inner call runs chunks 0..2
                r->compared++;
                if (hits[i] != want && r->failures++ < 8)
                    printf("    FAIL thread pool %d chunks%s: chunk %d ran %d times, want %d\n", n, nested ? " nested" : "", i, hits[i], want);
            }
        }
}

// ---------------------------------------------------------------------------------------------
const kc_check KC_CHECKS[] = {
    {"sgemm", "(K+4)·U·Σ|a·b| (+|C|, |bias|)", check_sgemm},
    {"sgemm_conv", "(K+4)·U·Σ|w·x| + |bias|; implicit im2col, direct and packed panels", check_sgemm_conv},
    {"gram_nt", "(K+4)·U·Σ|a·b|", check_gram},
    {"depthwise", "(kh·kw+4)·U·Σ|w·x| + |bias|", check_depthwise},
    {"activations", "exp 8U·|y|; others 2e-7 + 1e-7·|x| + 4e-7·|y|; gated: that·|b|", check_activations},
    {"softmax", "(n+8+2|x−max|)·U·|y|", check_softmax},
    {"channel_layernorm", "(2C+8)·U·(max|x|·|w|/σ + |y|) + 1e-6", check_channel_layernorm},
    {"chln_equal_channels", "8U·|y| (σ² exactly 0)", check_channel_layernorm_equal_channels},
    {"layernorm_rows", "8U·(|y| + |x|/σ) + 1e-6", check_layernorm_rows},
    {"sumsq_rows", "(min(n,1024)+4)·U·Σx²", check_sumsq},
    {"crc32", "exact", check_crc32},
    {"thread_pool", "exact", check_thread_pool},
};
const int KC_CHECK_COUNT = COUNT(KC_CHECKS);
