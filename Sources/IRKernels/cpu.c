#include "IRKernels.h"
#include "internal.h"

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

int irk_level(void) {
    int l = __atomic_load_n(&active_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = irk_cpu_level();
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
