#!/usr/bin/env python3
"""Compact human report of one simdattn-bench JSON result, and its plot.

    scripts/bench_report.py RESULT.json [--plot OUT.png]

Prints the CPU and its SIMD flags, the runnable and the chosen ISA, the
peaks measured in the run, then one table: a row per workload, per ISA its
GFLOP/s, fraction of that ISA's FMA peak and speed-up over scalar; decode
rows are followed by their bandwidth and the cache note.  The plot shows
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


def row_order(key):
    """peaks, stage kernels, named workloads, head_dim sweep, sequence sweep."""
    kernel, _, work = key.partition("/")
    m = re.match(r"N(\d+)_d(\d+)$", work)
    if kernel == "peak":
        return (0, 0, 0, key)
    if kernel in ("qk", "softmax", "pv"):
        return (1, ("qk", "softmax", "pv").index(kernel), 0, key)
    if not m:  # a named workload, its -fastexp variant right below it
        named = ["P64", "P128", "P128c", "D128"]
        base, _, variant = work.partition("-")
        return (2, named.index(base) if base in named else 9, 1 if variant else 0, key)
    n, d = int(m.group(1)), int(m.group(2))
    return (3, 0, d, key) if n == 1024 else (4, 0, n, key)


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
    for key in rows:
        if "GBps" not in next(iter(grid[key].values())):
            continue
        bw = ", ".join(f"{isa} {e['GBps']:.2f} GB/s ({e.get('bw_frac', 0):.2f} of read_bw)"
                       for isa, e in grid[key].items() if "GBps" in e)
        lines.append(f"{key}: {bw}")
        if key in labels:
            lines.append(f"  note: {labels[key]}")
    return "\n".join(lines)


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
    req = ctx.get("threads_requested", "1")
    print(f"threads    {ctx.get('threads', '1')}" +
          (f" (requested {req}: simdattn has no threading yet)" if req != ctx.get("threads", "1") else ""))
    peaks = [f"{k[5:]} {v}" for k, v in sorted(ctx.items()) if k.startswith("peak ")]
    print(f"peaks      {';  '.join(peaks) or '(none measured)'}")
    print()
    print(table(ctx, cases))
    if args.plot:
        if plt is None:
            print("\nno plot: matplotlib is missing (scripts/deps.sh plot)", file=sys.stderr)
        elif not plot(ctx, cases, args.plot, plt):
            print("\nno plot: the run has no forward/<isa>/N<n>_d128 case", file=sys.stderr)


if __name__ == "__main__":
    main()
