#include "harness.h"
#include <float.h>
#include <math.h>
#include <stdio.h>

const char *const FILL_NAMES[FILL_COUNT] = {"random", "constant", "zero", "special", "huge"};

static uint64_t state = 1;

void kc_seed(uint64_t seed) { state = seed * 0x9E3779B97F4A7C15ull + 1; }

static uint64_t next(void) { // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float kc_uniform(float lo, float hi) { return lo + (hi - lo) * (float)((next() >> 40) * 0x1p-24); }

void kc_fill(float *x, size_t n, fill_kind kind) {
    static const float specials[] = {NAN, INFINITY, -INFINITY, 1e-40f, -0.0f, 1e30f, -1e30f, 3e-39f};
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case FILL_RANDOM: x[i] = kc_uniform(-1, 1); break;
        case FILL_CONSTANT: x[i] = 0.37f; break;
        case FILL_ZERO: x[i] = 0.0f; break;
        case FILL_SPECIAL:
            x[i] = (next() % 5 == 0) ? specials[next() % (sizeof specials / sizeof *specials)] : kc_uniform(-1, 1);
            break;
        case FILL_HUGE: x[i] = kc_uniform(0.5f, 1) * 1e20f; break;
        default: x[i] = 0.0f;
        }
    }
}

double kc_to_float_range(double v) {
    if (fabs(v) > FLT_MAX) return copysign(INFINITY, v);
    return v;
}

double kc_product(float a, float b) { return kc_to_float_range((double)a * (double)b); }

int kc_close(float got, double want, double tol) {
    want = kc_to_float_range(want);
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == (float)want;
    if (!isfinite(got)) return 0;
    return fabs((double)got - want) <= tol;
}

void kc_expect(kc_result *r, const char *label, long index, float got, double want, double tol) {
    r->compared++;
    if (kc_close(got, want, tol)) {
        double w = kc_to_float_range(want);
        if (isfinite(w) && tol > 0) {
            double e = fabs((double)got - w) / tol;
            if (e > r->worst) r->worst = e;
        }
        return;
    }
    if (r->failures++ < 8)
        printf("    FAIL %s %s [%ld]: got %.9g, want %.9g (tolerance %.3g)\n", r->kernel, label, index, got, want, tol);
}

void kc_sum_add(kc_sum *s, float a, float b) {
    double p = (double)a * (double)b; // exact: floats' products fit a double's range and precision
    s->terms++;
    if (isnan(p)) s->nan = 1;
    else if (isinf(p)) { if (p > 0) s->pinf = 1; else s->ninf = 1; }
    else {
        s->sum += p;
        s->mag += fabs(p);
        if (p > 0) s->pos += p; else s->neg -= p;
    }
}

int kc_sum_result(const kc_sum *s, double *want, double *tol) {
    const double limit = FLT_MAX * (1 - 1e-3); // partial sums stay below this with rounding margin
    *tol = (s->terms + 4) * 0x1p-24 * s->mag;
    if (s->nan || (s->pinf && s->ninf)) { *want = NAN; return 1; }
    if (s->pinf) { *want = INFINITY; return s->neg <= limit; }
    if (s->ninf) { *want = -INFINITY; return s->pos <= limit; }
    *want = s->sum;
    if (s->pos <= limit && s->neg <= limit) return 1;
    // Terms of one sign past the range, the others within it: the sum overflows whatever the
    // order when the exact total is past the range too.
    if (s->neg <= limit && s->sum > FLT_MAX * (1 + 1e-3)) { *want = INFINITY; return 1; }
    if (s->pos <= limit && s->sum < -FLT_MAX * (1 + 1e-3)) { *want = -INFINITY; return 1; }
    return 0;
}

void kc_expect_sum(kc_result *r, const char *label, long index, float got, const kc_sum *s) {
    double want, tol;
    if (!kc_sum_result(s, &want, &tol)) { r->ambiguous++; return; }
    kc_expect(r, label, index, got, want, tol);
}
