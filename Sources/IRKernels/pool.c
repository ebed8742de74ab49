// A small fixed pool of worker threads for the runtime's parallel loops.
//
// Why not a fresh dispatch per op: a forward pass runs hundreds of ops back to back. Workers that
// wait briefly for the next job (spin, then yield, then sleep) start it within a microsecond and
// keep their core, where a sleeping thread woken per op is often placed on the caller's (busy) core
// by the scheduler, and the op then runs no faster than on one thread (measured on the shared
// 2-core machine: 3x3 conv 110 -> 199 GFLOP/s, matmul 150 -> 211). OpenMP runtimes do the same.
#include "IRKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63
// Waiting for work (a worker) or for helpers (the caller): first spin with pause instructions
// (tens of microseconds, longer than the gap between two ops of a forward pass), then yield the
// core for a while (so a busy machine's other threads, ours included, can run), then sleep.
#define SPIN_LIMIT 4000
#define YIELD_LIMIT 300

// Each worker has its own job slot, written by the caller only while that worker is idle (the
// caller waits for every helper of a job before it returns), so a worker never reads a job that
// is being replaced.
typedef struct {
    atomic_long generation; // bumped for each job given to this worker
    irk_task_fn fn;
    void *ctx;
    int chunk;
} slot_t;

typedef struct {
    pthread_mutex_t lock;   // guards the sleeping counts and the condition variables
    pthread_cond_t wake;    // idle workers wait here
    pthread_cond_t done;    // the caller waits here for remaining == 0
    atomic_int remaining;   // helper chunks not finished yet
    atomic_int busy;        // a caller owns the pool
    int sleeping_workers;
    int caller_sleeping;
    int workers;            // threads started
    slot_t slots[MAX_WORKERS];
} pool_t;

static pool_t pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};
static _Thread_local int in_worker = 0;

static void *worker_main(void *p) {
    slot_t *slot = p;
    in_worker = 1;
    long seen = 0;
    for (;;) {
        long gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&slot->generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_LIMIT) { CPU_RELAX(); continue; }
            if (spins < SPIN_LIMIT + YIELD_LIMIT) { sched_yield(); continue; }
            pthread_mutex_lock(&pool.lock);
            pool.sleeping_workers++;
            while (atomic_load_explicit(&slot->generation, memory_order_acquire) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleeping_workers--;
            pthread_mutex_unlock(&pool.lock);
            spins = 0;
        }
        seen = gen;
        slot->fn(slot->ctx, slot->chunk);
        if (atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.lock);
            if (pool.caller_sleeping) pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return 0;
}

// Starts workers up to `count` (called with the pool owned).
static void ensure_workers(int count) {
    while (pool.workers < count && pool.workers < MAX_WORKERS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, &pool.slots[pool.workers]);
        pthread_attr_destroy(&attr);
        if (rc != 0) return;
        pool.workers++;
    }
}

void irk_parallel(int chunks, irk_task_fn fn, void *ctx) {
    if (chunks <= 0) return;
    int expected = 0;
    // One caller at a time; a nested call (from inside a chunk) or a second caller runs serially.
    if (chunks == 1 || in_worker ||
        !atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
        for (int i = 0; i < chunks; i++) fn(ctx, i);
        return;
    }
    ensure_workers(chunks - 1);
    int helpers = chunks - 1 < pool.workers ? chunks - 1 : pool.workers;
    atomic_store_explicit(&pool.remaining, helpers, memory_order_relaxed);
    for (int i = 0; i < helpers; i++) {
        pool.slots[i].fn = fn;
        pool.slots[i].ctx = ctx;
        pool.slots[i].chunk = i + 1;
        atomic_fetch_add_explicit(&pool.slots[i].generation, 1, memory_order_release);
    }
    pthread_mutex_lock(&pool.lock);
    if (pool.sleeping_workers > 0) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    // The caller takes chunk 0, and any chunks beyond the workers it could start.
    in_worker = 1;
    fn(ctx, 0);
    for (int i = helpers + 1; i < chunks; i++) fn(ctx, i);
    in_worker = 0;
    int spins = 0;
    while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0) {
        if (++spins < SPIN_LIMIT) { CPU_RELAX(); continue; }
        if (spins < SPIN_LIMIT + YIELD_LIMIT) { sched_yield(); continue; }
        pthread_mutex_lock(&pool.lock);
        pool.caller_sleeping = 1;
        while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0)
            pthread_cond_wait(&pool.done, &pool.lock);
        pool.caller_sleeping = 0;
        pthread_mutex_unlock(&pool.lock);
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
