#ifndef KC_HARNESS_H
#define KC_HARNESS_H
// The kernel conformance program's shared pieces: deterministic inputs (including the degenerate
// values every kernel must handle), the element-wise comparison against a scalar reference, and
// the failure report. See main.c for what runs and kernels.c for the table of checks.
#include <stddef.h>
#include <stdint.h>

// Input fills. Each check runs its shapes with several of these.
typedef enum {
    FILL_RANDOM,   // uniform in [-1, 1)
    FILL_CONSTANT, // every value 0.37 (zero variance, equal rows)
    FILL_ZERO,
    FILL_SPECIAL,  // random, with NaN, +inf, -inf, denormals, -0 and huge values (±1e30) sprinkled in
    FILL_HUGE,     // [0.5, 1)·1e20: every product of two such values overflows to +inf
    FILL_COUNT
} fill_kind;
extern const char *const FILL_NAMES[FILL_COUNT];

void kc_seed(uint64_t seed);
float kc_uniform(float lo, float hi);
void kc_fill(float *x, size_t n, fill_kind kind);

// One output compared with its reference. NaN must meet NaN and ±inf the same infinity, position
// for position; finite values must agree within `tol` (absolute, per element, from the check's
// stated rule). Returns 1 when the element passes.
int kc_close(float got, double want, double tol);

// Collects a check's outcome: the first few failures are printed with the case label.
typedef struct {
    const char *kernel;
    long compared;
    long failures;
    double worst;   // largest |got − want| / tol among finite comparisons
    long ambiguous; // sums whose float result depends on the order (not compared)
} kc_result;
void kc_expect(kc_result *r, const char *label, long index, float got, double want, double tol);

// A dot product's reference: the exact sum of the products (in double), what float arithmetic
// must give for it, and whether the order of summation decides it. Products of finite floats are
// exact in double; a float kernel (fused or not) can only overflow when the positive or the
// negative terms add up past the float range, and then +inf, -inf or NaN all come from some order
// (PyTorch's own GEMMs are no different), so such an element is not compared. Infinite operands
// give order-independent infinities; NaN operands, inf·0 and +inf meeting -inf give NaN.
typedef struct {
    double sum, pos, neg, mag;
    int nan, pinf, ninf;
    long terms;
} kc_sum;
void kc_sum_add(kc_sum *s, float a, float b);
// Returns 1 and sets *want and *tol ((terms + 4)·U·Σ|term|) when the result does not depend on
// the order of summation; 0 when it does.
int kc_sum_result(const kc_sum *s, double *want, double *tol);
// kc_expect for a sum: skipped (counted in `ambiguous`) when the order decides it.
void kc_expect_sum(kc_result *r, const char *label, long index, float got, const kc_sum *s);

// The float value of a double result, with the overflow a float computation has.
double kc_to_float_range(double v);
// A product as fp32 code forms it: exact, but ±inf beyond the float range (FMA or not, a product
// that large cannot be brought back by the terms around it in our inputs).
double kc_product(float a, float b);

// The table of checks (kernels.c): one line per kernel, with its tolerance in words.
typedef struct {
    const char *kernel;
    const char *tolerance;
    void (*run)(kc_result *r);
} kc_check;
extern const kc_check KC_CHECKS[];
extern const int KC_CHECK_COUNT;

#endif
