#ifndef IRK_INTERNAL_H
#define IRK_INTERNAL_H
// Shared by the kernel files; not part of the public header.
enum { IRK_BASE = 0, IRK_AVX2 = 1, IRK_AVX512 = 2, IRK_NEON = 3 };
int irk_level(void);

// Target attributes for the per-CPU variants of one function. On other architectures the
// x86 variants are not compiled and dispatch falls back to the portable one.
#if defined(__x86_64__)
#define IRK_HAVE_X86 1
#define IRK_ATTR_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,f16c")))
#define IRK_ATTR_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define IRK_HAVE_X86 0
#endif
#if defined(__aarch64__)
#define IRK_HAVE_NEON 1
#else
#define IRK_HAVE_NEON 0
#endif

#define IRK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define IRK_MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
