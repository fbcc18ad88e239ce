#!/usr/bin/env python3
"""Compact human report of one simdattn-bench JSON result, and its plot.

    scripts/bench_report.py RESULT.json [--plot OUT.png]

Prints the CPU and its SIMD flags, the runnable and the chosen ISA, the
peaks measured in the run, then one table: a row per workload, per ISA its
GFLOP/s, fraction of that ISA's FMA peak and speed-up over scalar; decode
rows are followed by their bandwidth (GB/s, fraction of read_bw and, on
one thread, of that ISA's decode ceiling peak/stream, same run; "paired":
bw_frac with read_bw timed beside the case, shim.h) and the cache note.  Then, from the
same run: the thread scaling of every workload measured on 1 and on N
threads (efficiency = GFLOP/s(tN) / (N · GFLOP/s(t1)), over wall time),
and the time of every variant (<workload>-<variant>: -det, -fastexp,
-kv8, -w512) relative to its workload.  The plot shows
the forward's sequence sweep (d = 128): GFLOP/s and fraction of peak
against N, one line per ISA.  scripts/bench.sh runs this after the suite.
"""
import argparse
import re
import sys

import benchjson

# Flags worth showing: the SIMD extensions simdattn can use or that say
# what the core is (x86 /proc/cpuinfo "flags", Arm "Features").
SIMD_FLAG = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512\w*|amx\w*|asimd\w*|fphp|sve\w*|sme(?!p)\w*|bf16|i8mm)$")
SEQ = re.compile(r"^forward/N(\d+)_d128$")


# Named workloads in report order; each one's thread counts and variants
# (-det, -fastexp, ...) follow it.
NAMED = ["P64", "P128", "P128c", "P128x8", "H32", "N4096c", "D128"]
# What the time ratio of a variant to its workload measures.
VARIANT = {
    "det": "SIMDATTN_DETERMINISTIC / default: the cost of deterministic mode (goal < 1.10)",
    "fastexp": "SIMDATTN_FAST_EXP / default",
    "kv8": "GQA (8 KV heads) / MHA, per query head: same query heads and flops",
    "w512": "sliding window 512 / full causal (visible keys: 0.23 of them at N = 4096)",
}


def row_order(key):
    """peaks, stage kernels, named workloads, head_dim sweep, sequence sweep."""
    kernel, _, work = key.partition("/")
    m = re.match(r"N(\d+)_d(\d+)$", work)
    if kernel == "peak":
        return (0, 0, 0, "", 0, key)
    if kernel in ("qk", "softmax", "pv"):
        return (1, ("qk", "softmax", "pv").index(kernel), 0, "", 0, key)
    if not m:  # a named workload; its thread counts, then its variants
        _, nthreads = benchjson.threads(key)
        base, _, variant = work.split("/")[0].partition("-")
        return (2, NAMED.index(base) if base in NAMED else 99, 1 if variant else 0, variant,
                nthreads or 0, key)
    n, d = int(m.group(1)), int(m.group(2))
    return (3, 0, d, "", 0, key) if n == 1024 else (4, 0, n, "", 0, key)


def seconds(e, key):
    """e's time per call in seconds: key "real_time" (wall) or "cpu_time"."""
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[e.get("time_unit", "ns")]
    return e[key] * unit


def scaling(ctx, grid):
    """Thread scaling: each workload measured on N > 1 threads against the
    same workload on one (its /t1, else the plain case), same run."""
    isas = ctx.get("isas_runnable", "scalar").split()
    lines = []
    for key in sorted(grid, key=row_order):
        base, n = benchjson.threads(key)
        if not n or n < 2:
            continue
        one = grid.get(f"{base}/t1") or grid.get(base)
        if not one:
            continue
        line = f"{key:<22}"
        for isa in isas:
            e, e1 = grid[key].get(isa), one.get(isa)
            if not e or not e1 or "real_time" not in e or "real_time" not in e1:
                line += " | " + " " * 30
                continue
            speedup = seconds(e1, "real_time") / seconds(e, "real_time")
            cpu, cpu1 = process_cpu(e), process_cpu(e1)
            work = cpu1 / cpu if cpu and cpu1 else None
            line += (f" | {speedup:6.2f} {speedup / n:5.2f} {fmt(work, '7.2f')}"
                     f" {fmt(e.get('cpu_util'), '8.2f')}")
        lines.append(line)
    if not lines:
        return ""
    head1 = " " * 22 + "".join(f" | {isa:^30}" for isa in isas)
    head2 = f"{'threads':<22}" + " | ×1thr   eff cpu-eff cpu/wall" * len(isas)
    return "\n".join(
        ["thread scaling, wall time, same run: ×1thr = time on 1 thread / time on N,",
         "eff = ×1thr / N = GFLOP/s(tN) / (N · GFLOP/s(t1));  cpu-eff = process CPU time per",
         "call on 1 thread / on N (1: threading added no work, OpenMP's spin-waiting",
         "included; time without a core is not counted, so a busy machine changes it less);",
         "cpu/wall = process CPU time / wall time on N threads: about N when every thread",
         "had a core throughout",
         "", head1, head2, "-" * len(head2)] + lines)


def process_cpu(e):
    """Process CPU seconds per call: cpu_util × wall time for a threaded
    case; a single-threaded case's cpu_time (its only thread's)."""
    if "cpu_util" in e and "real_time" in e:
        return e["cpu_util"] * seconds(e, "real_time")
    return seconds(e, "cpu_time") if "cpu_time" in e else None


def variants(ctx, grid):
    """Time per call of each <workload>-<variant> over its workload's, per
    ISA: both single-threaded, CPU time, same run."""
    isas = ctx.get("isas_runnable", "scalar").split()
    lines, seen = [], []
    width = max([len(k) for k in grid] + [22])
    for key in sorted(grid, key=row_order):
        kernel, _, work = key.partition("/")
        base, dash, variant = work.partition("-")
        if kernel == "peak" or not dash or "/" in work or f"{kernel}/{base}" not in grid:
            continue
        ref = grid[f"{kernel}/{base}"]
        line = f"{key:<{width}}"
        for isa in isas:
            e, e0 = grid[key].get(isa), ref.get(isa)
            r = seconds(e, "cpu_time") / seconds(e0, "cpu_time") if e and e0 else None
            line += f" | {fmt(r, '8.3f')}"
        lines.append(line)
        if variant not in seen:
            seen.append(variant)
    if not lines:
        return ""
    head = f"{'variant / workload':<{width}}" + "".join(f" | {isa:>8}" for isa in isas)
    notes = [f"  -{v}: {VARIANT.get(v, 'variant / workload')}" for v in seen]
    return "\n".join(["time per call of each variant over its workload's (CPU time, one "
                      "thread, same run):"] + notes + ["", head, "-" * len(head)] + lines)


def stream_of(key):
    """The one-core decode ceiling a one-thread decode row is held against
    (peak/stream for fp32 K/V, peak/stream-f16 for 16-bit ones), or None:
    the ceiling streams one core, so /t<n> rows have none."""
    if not key.startswith("forward/D") or benchjson.threads(key)[1]:
        return None
    return "peak/stream-f16" if re.search(r"-b?f16", key) else "peak/stream"


def fmt(x, spec):
    """x formatted by spec, or a dash as wide as spec's field."""
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0]))


def table(ctx, cases):
    isas = ctx.get("isas_runnable", "scalar").split()
    active = ctx.get("isa_active", "")
    grid, labels = {}, {}
    for name, e in cases.items():
        key, isa = benchjson.split(name)
        if isa is None:
            continue
        grid.setdefault(key, {})[isa] = e
        if e.get("label") and key.endswith("D128"):
            labels[key] = e["label"]
    rows = sorted(grid, key=row_order)
    width = max([len(r) for r in rows] + [8])
    head1 = " " * width + "".join(f" | {isa + ('*' if isa == active else ''):^22}" for isa in isas)
    head2 = f"{'workload':<{width}}" + " | GFLOP/s  peak ×scalar" * len(isas)
    lines = [head1, head2, "-" * len(head2)]
    for key in rows:
        line = f"{key:<{width}}"
        base = grid[key].get("scalar", {}).get("GFLOPS")
        for isa in isas:
            e = grid[key].get(isa)
            g = e.get("GFLOPS") if e else None
            p = e.get("peak_frac") if e else None
            up = g / base if g and base else None
            line += f" | {fmt(g, '7.2f')} {fmt(p, '5.2f')} {fmt(up, '6.1f')}"
        lines.append(line)
    lines.append("* = chosen ISA (simdattn_isa_active).  peak = GFLOP/s / that ISA's "
                 "peak/fma of this run.")
    lines.append("softmax counts 5 flop per logit (exp as one): its peak is a "
                 "throughput index.  Causal rows count half the flops.")
    lines.append(".../t<n> rows ran on n threads: for n > 1, GFLOP/s over wall time, "
                 "peak = n × the one-core peak.")
    for key in rows:
        if "GBps" not in next(iter(grid[key].values())):
            continue
        ceiling = grid.get(stream_of(key), {})
        bw = []
        for isa, e in grid[key].items():
            if "GBps" not in e:
                continue
            part = f"{isa} {e['GBps']:.2f} GB/s ({e.get('bw_frac', 0):.2f} of read_bw"
            if "bw_pair" in e:
                part += f", paired {e['bw_pair']:.2f}"
            top = ceiling.get(isa, {}).get("GBps")
            bw.append(part + (f", {e['GBps'] / top:.2f} of {stream_of(key)})" if top else ")"))
        lines.append(f"{key}: {', '.join(bw)}")
        if key in labels:
            lines.append(f"  note: {labels[key]}")
    return "\n".join(lines), grid


def plot(ctx, cases, path, plt):
    """Returns False, drawing nothing, when the run has no sweep point."""
    isas = ctx.get("isas_runnable", "scalar").split()
    if not any(SEQ.match(benchjson.split(n)[0]) for n in cases):
        return False
    fig, (ax_g, ax_f) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, isa in enumerate(isas):
        pts = []
        for name, e in cases.items():
            key, who = benchjson.split(name)
            m = SEQ.match(key)
            if m and who == isa and "GFLOPS" in e:
                pts.append((int(m.group(1)), e["GFLOPS"], e.get("peak_frac")))
        if not pts:
            continue
        pts.sort()
        c = colors[i % len(colors)]
        ns = [p[0] for p in pts]
        ax_g.plot(ns, [p[1] for p in pts], "o-", color=c, label=isa)
        peak = ctx.get(f"peak fma/{isa}")
        if peak:
            ax_g.axhline(float(peak.split()[0]), color=c, ls="--", lw=1,
                         label=f"{isa} FMA peak")
        if all(p[2] is not None for p in pts):
            ax_f.plot(ns, [p[2] for p in pts], "o-", color=c, label=isa)
    ticks = sorted({int(SEQ.match(benchjson.split(n)[0]).group(1))
                    for n in cases if SEQ.match(benchjson.split(n)[0])})
    for ax in (ax_g, ax_f):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("sequence length N (Nq = Nk)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    lo, hi = ax_g.get_ylim()
    if hi / max(lo, 1e-9) > 20:  # ISAs 10-100x apart: only a log axis shows all
        ax_g.set_yscale("log")
        ax_g.yaxis.set_major_formatter(plt.matplotlib.ticker.FormatStrFormatter("%g"))
        ax_g.set_ylabel("GFLOP/s (log scale)")
    else:
        ax_g.set_ylim(0, hi * 1.05)
        ax_g.set_ylabel("GFLOP/s")
    ax_g.set_title("fused forward, 1 head, d = 128, fp32, 1 thread")
    ax_f.set_ylim(0, 1.05)
    ax_f.set_ylabel("fraction of the ISA's FMA peak")
    ax_f.set_title("fraction of peak")
    fig.suptitle(f"simdattn on {ctx.get('cpu_model', 'unknown CPU')} "
                 f"({ctx.get('date', '')[:10]})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--plot", metavar="PNG", help="write the plot there")
    args = ap.parse_args()
    plt = benchjson.pyplot() if args.plot else None  # may re-exec: first
    ctx, cases = benchjson.load(args.json)
    flags = [f for f in ctx.get("cpu_flags", "").split() if SIMD_FLAG.match(f)]
    print(f"CPU        {ctx.get('cpu_model', 'unknown')}  ({ctx.get('num_cpus', '?')} CPUs, "
          f"LLC {int(ctx.get('llc_bytes', 0)) >> 20} MiB)")
    print(f"SIMD flags {' '.join(flags) or '(none found)'}")
    print(f"ISAs       runnable: {ctx.get('isas_runnable', '?')};  chosen: "
          f"{ctx.get('isa_active', '?')} (best {ctx.get('isa_best', '?')})")
    print(f"threads    at most {ctx.get('threads', '1')} per case (forward/<isa>/<workload>/t<n>)")
    peaks = [f"{k[5:]} {v}" for k, v in sorted(ctx.items()) if k.startswith("peak ")]
    print(f"peaks      {';  '.join(peaks) or '(none measured)'}")
    print()
    text, grid = table(ctx, cases)
    print(text)
    for section in (scaling(ctx, grid), variants(ctx, grid)):
        if section:
            print()
            print(section)
    if args.plot:
        if plt is None:
            print("\nno plot: matplotlib is missing (scripts/deps.sh plot)", file=sys.stderr)
        elif not plot(ctx, cases, args.plot, plt):
            print("\nno plot: the run has no forward/<isa>/N<n>_d128 case", file=sys.stderr)


if __name__ == "__main__":
    main()
