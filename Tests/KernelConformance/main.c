// Kernel conformance: every kernel of Sources/IRKernels against a scalar reference, at every SIMD
// level this CPU (or emulator) runs. `make test-kernels` runs it natively, under qemu-x86_64 as a
// Haswell (AVX2 without AVX-512) and as a pre-AVX CPU, and cross-compiled for arm64 under
// qemu-aarch64 (NEON).
//
//   kernel-conformance [--expect-cpu baseline|avx2|avx512|neon] [--only LEVEL] [--list]
//   kernel-conformance --avx512-probe   executes one AVX-512 instruction (must die of SIGILL where
//                                       the CPU has none: shows that a leak would be caught)
#include "IRKernels.h"
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LEVEL_NAMES[] = {"baseline", "avx2", "avx512", "neon"};

static int level_named(const char *s) {
    for (int l = 0; l < 4; l++)
        if (strcmp(s, LEVEL_NAMES[l]) == 0) return l;
    fprintf(stderr, "unknown level '%s' (baseline, avx2, avx512, neon)\n", s);
    exit(2);
}

#if defined(__x86_64__)
__attribute__((target("avx512f"), noinline)) static float avx512_probe(float x) {
    float out;
    __asm__ volatile("vbroadcastss %1, %%zmm0\n\tvaddps %%zmm0, %%zmm0, %%zmm0\n\tvmovss %%xmm0, %0"
                     : "=m"(out) : "m"(x) : "xmm0");
    return out;
}
#endif

int main(int argc, char **argv) {
    int expect = -1, only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect-cpu") == 0 && i + 1 < argc) expect = level_named(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = level_named(argv[++i]);
        else if (strcmp(argv[i], "--list") == 0) {
            for (int k = 0; k < KC_CHECK_COUNT; k++) printf("%-18s %s\n", KC_CHECKS[k].kernel, KC_CHECKS[k].tolerance);
            return 0;
        } else if (strcmp(argv[i], "--avx512-probe") == 0) {
#if defined(__x86_64__)
            printf("avx512 probe: %g\n", avx512_probe(1.5f));
            return 0;
#else
            fprintf(stderr, "--avx512-probe is x86-64 only\n");
            return 2;
#endif
        } else {
            fprintf(stderr, "usage: %s [--expect-cpu LEVEL] [--only LEVEL] [--list] [--avx512-probe]\n", argv[0]);
            return 2;
        }
    }
    int cpu = irk_cpu_level();
    printf("kernel conformance: CPU dispatch picks %s\n", LEVEL_NAMES[cpu]);
    if (expect >= 0 && cpu != expect) {
        printf("FAIL: expected the dispatch to pick %s on this CPU\n", LEVEL_NAMES[expect]);
        return 1;
    }
    long failures = 0;
    int ran = 0;
    char levels_run[64] = "";
    for (int level = 0; level < 4; level++) {
        if (only >= 0 && level != only) continue;
        if (irk_set_level(level) != 0) continue; // a level this CPU cannot run
        ran++;
        strcat(levels_run, levels_run[0] ? ", " : "");
        strcat(levels_run, LEVEL_NAMES[level]);
        for (int k = 0; k < KC_CHECK_COUNT; k++) {
            kc_result r = {KC_CHECKS[k].kernel, 0, 0, 0, 0};
            kc_seed(1000 + (uint64_t)k); // the same inputs at every level
            KC_CHECKS[k].run(&r);
            printf("  %-8s %-18s %s  %8ld values, worst %.2f of tolerance", LEVEL_NAMES[level], r.kernel,
                   r.failures ? "FAIL" : "ok  ", r.compared, r.worst);
            if (r.ambiguous) printf(" (%ld overflowing sums not compared)", r.ambiguous);
            printf("\n");
            if (r.failures) printf("  %-8s %-18s %ld of %ld values outside %s\n", LEVEL_NAMES[level], r.kernel, r.failures,
                                   r.compared, KC_CHECKS[k].tolerance);
            failures += r.failures;
        }
    }
    if (!ran) {
        printf("FAIL: no level ran\n");
        return 1;
    }
    printf("kernel conformance: levels run: %s; %s\n", levels_run, failures ? "FAILED" : "all kernels conform");
    return failures ? 1 : 0;
}
