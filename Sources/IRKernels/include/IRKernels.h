#ifndef IRKERNELS_H
#define IRKERNELS_H
#include <stddef.h>
/// Returns the widest SIMD level this CPU supports: 0 baseline, 1 AVX2+FMA, 2 AVX-512F, 3 NEON.
int irk_cpu_level(void);
#endif
