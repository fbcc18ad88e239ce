/*
 * A C interface to Google Benchmark, so that simdattn's benchmarks are
 * written in C.  The shim (shim.cc) owns main(): every Google Benchmark
 * flag works (--benchmark_filter, --benchmark_format=json,
 * --benchmark_out=, --benchmark_repetitions, --benchmark_min_time=<seconds>
 * in 1.7.1), plus two of its own:
 *   --sab_context=KEY=VALUE   add KEY to the JSON "context" stanza;
 *   --sab_threads=N           the most threads a case may use (default:
 *                             the CPUs this process may run on); the suite
 *                             registers no case that needs more.
 *
 * A case is a name and three callbacks.  setup() builds the inputs outside
 * the timed region; run() is one timed call; teardown() frees.  The shim
 * keeps one case's context alive across Google Benchmark's iteration-count
 * probes and repetitions, and tears it down when the next case starts.
 *
 * Counters, all rates over the process CPU time of the timed loop for a
 * single-threaded case (it leaves out time the process was not scheduled,
 * which keeps figures steadier on a shared machine, and equals wall time
 * for single-threaded code that has a core), and over wall time for a case
 * with `threads` set (process CPU time would add up every thread's time):
 *   GFLOPS     flops per run() / time, when flops > 0
 *   peak_frac  GFLOPS / the rate of the calibration named by flop_peak,
 *              times `threads` when set (a calibration is one thread's)
 *   GBps       bytes per run() / time, when bytes > 0
 *   bw_frac    GBps / the rate of the calibration named by byte_peak
 *   bw_pair    the same fraction taken side by side: the median over 7
 *              pairs of one chunk (>= 20 ms) of that calibration, then one
 *              of this case, of case GB/s / calibration GB/s, measured once
 *              after setup.  Both rates of a pair are ~50 ms apart, so
 *              bandwidth taken by other tenants that drifts over seconds
 *              cancels out (bw_frac divides a rate timed now by one timed
 *              at the start of the run)
 *   cpu_util   threaded cases: process CPU time / wall time, the number of
 *              threads busy on average (below `threads` when the threads
 *              waited for each other or for a core)
 * Google Benchmark's own real_time (wall) and cpu_time (the main thread's
 * CPU time) are in the JSON of every case as usual.  Its UseRealTime would
 * also time threaded cases in wall time, but appends "/real_time" to their
 * names; its iteration count, chosen over the main thread's CPU time, only
 * decides how long a case runs.
 * A calibration is a case with `calibrates` set (e.g. "fma/avx2").  Before
 * any case runs, the shim measures every calibration that a selected case
 * (one matching --benchmark_filter) names, with its own fixed procedure
 * (independent of --benchmark_min_time), keeps the rates for the whole
 * process, prints them on stderr and adds them to the context stanza.
 * A calibration case also runs as an ordinary case, so its peak_frac is a
 * check of measurement noise (about 1).
 */
#ifndef SAB_SHIM_H
#define SAB_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sab_case {
    const char *name; /* "<kernel>/<isa>/<workload>" */
    /* Builds inputs from arg; returns the context for run/teardown, or
     * NULL on failure (the case is then reported with an error). */
    void *(*setup)(const void *arg);
    /* One timed call: NULL on success, else a message (reported, and the
     * case stops). */
    const char *(*run)(void *ctx);
    void (*teardown)(void *ctx);
    const void *arg;       /* handed to setup; must outlive the process run */
    double flops;          /* floating-point operations per run(); 0: none */
    double bytes;          /* bytes per run() that must come from memory */
    const char *calibrates; /* this case measures the peak of that name */
    const char *flop_peak;  /* calibration dividing GFLOPS into peak_frac */
    const char *byte_peak;  /* calibration dividing GBps into bw_frac */
    const char *label;      /* a note shown next to the result ("label") */
    unsigned threads;       /* 0: single-threaded, timed in CPU time; else
                               the threads run() uses, timed in wall time */
} sab_case;

/* Register a case; the strings and *c are copied.  Cases run in the order
 * they are registered. */
void sab_add(const sab_case *c);

/* Add a key/value pair to the JSON "context" stanza. */
void sab_context(const char *key, const char *value);

/* The most threads a case may use: --sab_threads, else the CPUs this
 * process may run on (at least 1).  Valid from sab_register() on. */
unsigned sab_max_threads(void);

/* Defined by the benchmark program: registers every case.  The shim calls
 * it once, before parsing flags. */
void sab_register(void);

#ifdef __cplusplus
}
#endif
#endif
