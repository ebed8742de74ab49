#include "IRKernels.h"
#include "internal.h"
#include <stdlib.h>
#include <string.h>

int irk_cpu_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return IRK_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return IRK_AVX2;
    return IRK_BASE;
#elif defined(__aarch64__)
    return IRK_NEON;
#else
    return IRK_BASE;
#endif
}

// -1 until first use; then the level every kernel dispatches on.
static int active_level = -1;

// IRZOO_SIMD=baseline|avx2|avx512|neon lowers the level at start-up (for comparisons and for
// working around a misbehaving CPU); a level the CPU lacks is ignored.
static int env_level(int cpu) {
    const char *v = getenv("IRZOO_SIMD");
    if (!v) return cpu;
    int want = strcmp(v, "baseline") == 0 ? IRK_BASE : strcmp(v, "avx2") == 0 ? IRK_AVX2
             : strcmp(v, "avx512") == 0 ? IRK_AVX512 : strcmp(v, "neon") == 0 ? IRK_NEON : -1;
    if (want == IRK_BASE) return IRK_BASE;
    if (want == IRK_AVX2 && (cpu == IRK_AVX2 || cpu == IRK_AVX512)) return IRK_AVX2;
    if (want == cpu) return cpu;
    return cpu;
}

int irk_level(void) {
    int l = __atomic_load_n(&active_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = env_level(irk_cpu_level());
        __atomic_store_n(&active_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int irk_get_level(void) { return irk_level(); }

int irk_set_level(int level) {
    int cpu = irk_cpu_level();
    int ok;
    switch (level) {
    case IRK_BASE: ok = 1; break;
    case IRK_AVX2: ok = cpu == IRK_AVX2 || cpu == IRK_AVX512; break;
    case IRK_AVX512: ok = cpu == IRK_AVX512; break;
    case IRK_NEON: ok = cpu == IRK_NEON; break;
    default: ok = 0;
    }
    if (!ok) return -1;
    __atomic_store_n(&active_level, level, __ATOMIC_RELAXED);
    return 0;
}
