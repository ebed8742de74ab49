// The machine's fp32 FMA peak, measured: `make bench-ops` prints it first and each op's share of it.
// Each thread runs 12 independent chains of vector FMAs (enough to cover the FMA latency on two
// pipes), at the vector width of the SIMD level the runtime uses (IRZOO_SIMD, as the kernels read
// it: avx512 = 16 floats, avx2 = 8, NEON = 4; baseline x86 has no FMA, so multiply then add).
// Usage: fma_peak THREADS  -> prints {"threads": T, "level": "...", "gflops": G, "gflops_cpu": C}, best
// of 5 runs: G by wall time, C by the threads' own CPU time (what G would be with no other load; on a
// machine shared with other work, G drops and C does not).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// What a thread returns: its checksum (so the loop is not dead code) and the CPU time it ran.
typedef struct {
    float sink;
    double cpu_seconds;
} result;

#define CHAINS 12
#define STEPS 4000000L

#define DEFINE_LOOP(NAME, ATTR, VW, STEP)                                                        \
    ATTR static void *NAME(void *out) {                                                          \
        typedef float v_t __attribute__((ext_vector_type(VW)));                                  \
        v_t acc[CHAINS], m = (v_t)0.9999999f, a = (v_t)1e-7f;                                    \
        for (int i = 0; i < CHAINS; i++) acc[i] = (v_t)(float)i;                                 \
        for (long s = 0; s < STEPS; s++) {                                                       \
            for (int i = 0; i < CHAINS; i++) acc[i] = STEP(acc[i], m, a);                        \
            __asm__ volatile("" : "+x"(acc[0])); /* keeps the loop from being folded */          \
        }                                                                                        \
        float sum = 0;                                                                           \
        for (int i = 0; i < CHAINS; i++) sum += acc[i][0];                                       \
        struct timespec c;                                                                       \
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);                                              \
        ((result *)out)->sink = sum;                                                             \
        ((result *)out)->cpu_seconds = (double)c.tv_sec + (double)c.tv_nsec * 1e-9;              \
        return 0;                                                                                \
    }
#define FMA(x, m, a) __builtin_elementwise_fma(x, m, a)
#define MUL_ADD(x, m, a) ((x) * (m) + (a))

#if defined(__x86_64__)
DEFINE_LOOP(loop_avx512, __attribute__((target("avx512f"))), 16, FMA)
DEFINE_LOOP(loop_avx2, __attribute__((target("avx2,fma"))), 8, FMA)
DEFINE_LOOP(loop_base, , 4, MUL_ADD)
#elif defined(__aarch64__)
DEFINE_LOOP(loop_neon, , 4, FMA)
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: fma_peak THREADS (1..256)\n");
        return 2;
    }
    const char *want = getenv("IRZOO_SIMD");
    void *(*loop)(void *);
    const char *level;
    int width, flops_per_fma = 2;
#if defined(__x86_64__)
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    // As cpu.c reads IRZOO_SIMD: baseline, or avx2 where the CPU has it; anything else is the CPU's best.
    int base = want && strcmp(want, "baseline") == 0, avx2 = want && strcmp(want, "avx2") == 0;
    if (has512 && !base && !avx2) loop = loop_avx512, level = "avx512", width = 16;
    else if (has2 && !base) loop = loop_avx2, level = "avx2", width = 8;
    else loop = loop_base, level = "baseline", width = 4;
#elif defined(__aarch64__)
    (void)want;
    loop = loop_neon, level = "neon", width = 4;
#else
#error "fma_peak: x86-64 or aarch64 only"
#endif
    double best = 0, best_cpu = 0;
    for (int run = 0; run < 5; run++) {
        pthread_t tid[256];
        result res[256];
        double t = now();
        for (int i = 0; i < threads; i++) pthread_create(&tid[i], 0, loop, &res[i]);
        for (int i = 0; i < threads; i++) pthread_join(tid[i], 0);
        t = now() - t;
        double flops = (double)threads * STEPS * CHAINS * width * flops_per_fma, cpu = 0;
        for (int i = 0; i < threads; i++) cpu += res[i].cpu_seconds;
        if (flops / t / 1e9 > best) best = flops / t / 1e9;
        if (flops / (cpu / threads) / 1e9 > best_cpu) best_cpu = flops / (cpu / threads) / 1e9;
    }
    printf("{\"threads\": %d, \"level\": \"%s\", \"gflops\": %.1f, \"gflops_cpu\": %.1f}\n", threads, level, best, best_cpu);
    return 0;
}
