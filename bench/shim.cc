// The C shim over Google Benchmark (contract in shim.h).  It owns main():
// the C side registers cases through sab_add() from sab_register(); the
// shim turns each into a Google Benchmark, measures the calibrations the
// selected cases need, then runs them.
#include "shim.h"

#include <benchmark/benchmark.h>

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Case {
    sab_case c;  // string members point into the std::strings below
    std::string name, calibrates, flop_peak, byte_peak, label;
};

std::deque<Case> cases;  // deque: registered lambdas hold stable pointers
std::vector<std::pair<std::string, std::string>> context;

// Calibration name -> rate (GFLOP/s or GB/s); 0 when it failed.
std::map<std::string, double> peaks;

// The one case whose context is alive (see shim.h).
const Case *live_case = nullptr;
void *live_ctx = nullptr;
bool live_ok = false;
double live_pair = 0.0; // its bw_pair, measured once after setup (0: none)

void release_live() {
    if (live_case && live_ok && live_case->c.teardown)
        live_case->c.teardown(live_ctx);
    live_case = nullptr;
    live_ctx = nullptr;
    live_ok = false;
}

// Process CPU time: calibrations and single-threaded cases are rates over
// the same kind of time.
double seconds_of(clockid_t clock) {
    timespec ts;
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double cpu_seconds() { return seconds_of(CLOCK_PROCESS_CPUTIME_ID); }
double wall_seconds() { return seconds_of(CLOCK_MONOTONIC); }

unsigned max_threads = 0;  // --sab_threads; 0: the CPUs of the affinity mask

unsigned cpus_available() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? static_cast<unsigned>(n) : 1;
}

// Calibration procedure, fixed so that every run measures peaks the same
// way whatever the benchmark flags: one warm-up call, then chunks of calls
// lasting >= 20 ms each, at least 3 chunks and 0.25 s in all; the rate is
// the best chunk's (a peak is the best the machine sustains; slower chunks
// are interference from elsewhere).  Returns 0 on failure.
const double chunk_s = 0.02, calib_s = 0.25;

// Seconds on the clock case c is timed by: CPU time, or wall time for a
// case on several threads (process CPU time would add their seconds up).
double case_seconds(const sab_case &c) { return c.threads ? wall_seconds() : cpu_seconds(); }

// One chunk of calls of c on ctx, whole calls lasting >= chunk_s: work per
// second over it (0 on failure), its length in *seconds.
double chunk_rate(const sab_case &c, void *ctx, double work, double *seconds) {
    long calls = 0;
    double s = case_seconds(c), dt = 0.0;
    *seconds = 0.0;
    do {
        if (c.run(ctx))
            return 0.0;
        calls++;
        dt = case_seconds(c) - s;
    } while (dt < chunk_s);
    *seconds = dt;
    return work * static_cast<double>(calls) / dt;
}

double measure(const Case &k) {
    const sab_case &c = k.c;
    double work = c.flops > 0 ? c.flops : c.bytes;
    void *ctx = c.setup ? c.setup(c.arg) : nullptr;
    if (c.setup && !ctx)
        return 0.0;
    bool ok = !c.run(ctx) && work > 0; // the warm-up call
    double rate = 0.0, total = 0.0;
    for (int n = 0; ok && (n < 3 || total < calib_s); n++) {
        double dt, r = chunk_rate(c, ctx, work, &dt);
        ok = r > 0;
        total += dt;
        rate = r > rate ? r : rate;
    }
    if (c.teardown)
        c.teardown(ctx);
    return ok ? rate * 1e-9 : 0.0;
}

// Paired byte rate.  A shared host's memory bandwidth drifts over seconds
// with the other tenants' load, so a case timed minutes after read_bw was
// calibrated can read a fraction that says more about the neighbours than
// about the kernel.  bw_pair takes both rates side by side instead: PAIRS
// times a chunk (>= chunk_s, whole calls) of the calibration, then one of
// the case, each pair giving case rate / calibration rate; the median of
// those ratios.  Calibration contexts stay alive for the whole process
// (set up on first use), so a pair costs no setup.
const int PAIRS = 7;
std::map<std::string, std::pair<const Case *, void *>> pair_ctx;

const Case *calibration_case(const std::string &name) {
    for (const Case &k : cases)
        if (k.calibrates == name)
            return &k;
    return nullptr;
}

// bw_pair of case k on its live context ctx (see PAIRS); 0 when the
// calibration cannot run.
double paired_fraction(const Case &k, void *ctx) {
    auto it = pair_ctx.find(k.byte_peak);
    if (it == pair_ctx.end()) {
        const Case *cal = calibration_case(k.byte_peak);
        void *cctx = cal && cal->c.setup ? cal->c.setup(cal->c.arg) : nullptr;
        if (!cal || (cal->c.setup && !cctx))
            return 0.0;
        it = pair_ctx.emplace(k.byte_peak, std::make_pair(cal, cctx)).first;
    }
    const Case *cal = it->second.first;
    std::vector<double> ratios;
    for (int i = 0; i < PAIRS; i++) {
        double dt, r_cal = chunk_rate(cal->c, it->second.second, cal->c.bytes, &dt);
        double r_case = chunk_rate(k.c, ctx, k.c.bytes, &dt);
        if (r_cal <= 0 || r_case <= 0)
            return 0.0;
        ratios.push_back(r_case / r_cal);
    }
    std::sort(ratios.begin(), ratios.end());
    return ratios[PAIRS / 2];
}

// Rate of calibration `name`, measured on first use.  The caller must have
// no live case context (measure() needs the memory and the caches).
double peak(const std::string &name) {
    if (name.empty())
        return 0.0;
    auto it = peaks.find(name);
    if (it != peaks.end())
        return it->second;
    const Case *k = calibration_case(name);
    double r = k ? measure(*k) : 0.0;
    peaks[name] = r;
    if (r > 0)
        std::fprintf(stderr, "calibration %-12s %8.2f %s\n", name.c_str(), r,
                     k->c.flops > 0 ? "GFLOP/s" : "GB/s");
    else
        std::fprintf(stderr, "calibration %s failed: its fractions are left out\n",
                     name.c_str());
    return r;
}

// Which cases --benchmark_filter selects, matched as Google Benchmark 1.7
// does: empty or "all" selects everything, a leading '-' negates, and the
// rest is an extended regex searched in the name.
bool selected(const std::string &filter, const std::string &name) {
    std::string spec = filter;
    bool negate = false;
    if (spec.empty() || spec == "all")
        spec = ".";
    else if (spec[0] == '-') {
        spec.erase(0, 1);
        negate = true;
    }
    try {
        bool hit = std::regex_search(name, std::regex(spec, std::regex::extended));
        return hit != negate;
    } catch (const std::regex_error &) {
        return true;  // Google Benchmark reports the bad regex itself
    }
}

void run_case(benchmark::State &st, const Case *k) {
    const sab_case &c = k->c;
    if (live_case != k) {
        release_live();
        // Calibrate before the case allocates, so they never share memory.
        peak(k->flop_peak);
        peak(k->byte_peak);
        live_case = k;
        live_ctx = c.setup ? c.setup(c.arg) : nullptr;
        live_ok = !c.setup || live_ctx;
        live_pair = live_ok && c.bytes > 0 && !k->byte_peak.empty() && k->calibrates.empty()
                        ? paired_fraction(*k, live_ctx)
                        : 0.0;
    }
    if (!live_ok)
        st.SkipWithError("setup failed (out of memory?)");
    double t0 = cpu_seconds(), w0 = wall_seconds();
    for (auto _ : st) {
        const char *err = c.run(live_ctx);
        if (err) {
            st.SkipWithError(err);
            break;
        }
    }
    double cpu = cpu_seconds() - t0, wall = wall_seconds() - w0;
    double seconds = c.threads ? wall : cpu;
    if (st.error_occurred() || seconds <= 0)
        return;
    // Plain counters over our own clock readings (CPU time, or wall time
    // for threaded cases): Google Benchmark's rate counters would print as
    // "peak_frac=0.9/s".
    const double it = static_cast<double>(st.iterations());
    if (c.threads)
        st.counters["cpu_util"] = cpu / wall;
    if (c.flops > 0) {
        double gflops = c.flops * it * 1e-9 / seconds;
        st.counters["GFLOPS"] = gflops;
        double p = peak(k->flop_peak) * (c.threads ? c.threads : 1);
        if (p > 0)
            st.counters["peak_frac"] = gflops / p;
    }
    if (c.bytes > 0) {
        double gbps = c.bytes * it * 1e-9 / seconds;
        st.counters["GBps"] = gbps;
        double p = peak(k->byte_peak);
        if (p > 0)
            st.counters["bw_frac"] = gbps / p;
        if (live_pair > 0)
            st.counters["bw_pair"] = live_pair;
    }
    if (!k->label.empty())
        st.SetLabel(k->label);
}

void release_pairs() {
    for (auto &kv : pair_ctx)
        if (kv.second.first->c.teardown && kv.second.second)
            kv.second.first->c.teardown(kv.second.second);
    pair_ctx.clear();
}

std::string str(const char *s) { return s ? s : ""; }

bool flag_set(int argc, char **argv, const char *flag) {
    size_t n = std::strlen(flag);
    for (int i = 1; i < argc; i++)
        if (std::strncmp(argv[i], flag, n) == 0 &&
            (argv[i][n] == '\0' || std::strcmp(argv[i] + n, "=true") == 0 ||
             std::strcmp(argv[i] + n, "=1") == 0))
            return true;
    return false;
}

}  // namespace

extern "C" void sab_add(const sab_case *c) {
    cases.emplace_back();
    Case &k = cases.back();
    k.c = *c;
    k.name = str(c->name);
    k.calibrates = str(c->calibrates);
    k.flop_peak = str(c->flop_peak);
    k.byte_peak = str(c->byte_peak);
    k.label = str(c->label);
    k.c.name = k.name.c_str();
    k.c.calibrates = k.calibrates.c_str();
    k.c.flop_peak = k.flop_peak.c_str();
    k.c.byte_peak = k.byte_peak.c_str();
    k.c.label = k.label.c_str();
}

extern "C" unsigned sab_max_threads(void) { return max_threads ? max_threads : cpus_available(); }

extern "C" void sab_context(const char *key, const char *value) {
    context.emplace_back(str(key), str(value));
}

int main(int argc, char **argv) {
    // Take out our own flags; Google Benchmark rejects flags it does not know.
    const char *own = "--sab_context=", *threads = "--sab_threads=";
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (std::strncmp(a, threads, std::strlen(threads)) == 0) {
            char *end;
            unsigned long n = std::strtoul(a + std::strlen(threads), &end, 10);
            if (*end || n == 0 || n > 4096) {
                std::fprintf(stderr, "%s: %s wants a thread count from 1 to 4096\n", argv[0],
                             threads);
                return 2;
            }
            max_threads = static_cast<unsigned>(n);
        } else if (std::strncmp(a, own, std::strlen(own)) == 0) {
            const char *kv = a + std::strlen(own);
            const char *eq = std::strchr(kv, '=');
            if (!eq) {
                std::fprintf(stderr, "%s: %s needs KEY=VALUE\n", argv[0], own);
                return 2;
            }
            context.emplace_back(std::string(kv, eq), std::string(eq + 1));
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    argv[argc] = nullptr;

    sab_register();
    for (const Case &k : cases)
        benchmark::RegisterBenchmark(k.name.c_str(), [p = &k](benchmark::State &st) { run_case(st, p); });

    bool listing = flag_set(argc, argv, "--benchmark_list_tests");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;

    if (!listing) {
        // Measure up front every peak a selected case divides by, so all of
        // them reach the context stanza (printed before the first result).
        std::string filter = benchmark::GetBenchmarkFilter();
        std::set<std::string> needed;
        for (const Case &k : cases)
            if (selected(filter, k.name))
                for (const std::string *p : {&k.flop_peak, &k.byte_peak, &k.calibrates})
                    if (!p->empty())
                        needed.insert(*p);
        for (const std::string &name : needed) {
            double r = peak(name);
            const Case *cal = calibration_case(name);
            if (r > 0 && cal) {
                char v[64];
                std::snprintf(v, sizeof v, "%.3f %s", r,
                              cal->c.flops > 0 ? "GFLOP/s" : "GB/s");
                benchmark::AddCustomContext("peak " + name, v);
            }
        }
    }
    for (const auto &kv : context)
        benchmark::AddCustomContext(kv.first, kv.second);

    benchmark::RunSpecifiedBenchmarks();
    release_live();
    release_pairs();
    benchmark::Shutdown();
    return 0;
}
