#!/usr/bin/env python3
"""Compare simdattn-bench results: a markdown table of ratios, and a plot.

    scripts/compare.py BASE.json OTHER.json [MORE.json ...]
        [--metric auto|GFLOPS|peak_frac|GBps|bw_frac] [--filter REGEX]
        [--active] [--threshold PCT] [--plot PNG | --no-plot]

The first file is the baseline; every other file gets a column of
OTHER/BASE ratios of the metric (all metrics are higher-is-better).  auto
takes GFLOP/s where a case has it, else GB/s, else calls per second.  Use
peak_frac to compare CPUs by how close each gets to its own peak.
--active compares each file's chosen ISA (isa_active in its context) as
rows '<kernel>/*/<workload>': best against best across CPUs with different
ISAs.  --threshold PCT marks every ratio below 1 - PCT/100 as a regression
and then exits 1, so CI can hold a change against a stored baseline (use
--benchmark_repetitions for steadier medians).  The plot (default: next to
the last file) shows the ratios as bars.
"""
import argparse
import os
import re
import sys

import benchjson


def rows_of(ctx, cases, active, metric, pattern):
    out = {}
    for name, e in cases.items():
        if pattern and not re.search(pattern, name):
            continue
        key = name
        if active:
            base, isa = benchjson.split(name)
            if isa is not None:  # cases without an ISA (peak/read_bw) stay
                if isa != ctx.get("isa_active"):
                    continue
                kernel, _, work = base.partition("/")
                key = f"{kernel}/*/{work}" if kernel != "peak" else f"{base}/*"
        if metric == "auto":
            value, unit = benchjson.metric(e)
        elif metric in e:
            value, unit = e[metric], metric
        else:
            continue
        out[key] = (value, unit)
    return out


def plot(path, names, keys, ratios, threshold, plt):
    """Bars grow from 1.0 (no change) to each ratio, so small changes show;
    red where a ratio falls below the threshold."""
    n_other = len(names) - 1
    height = 0.8 / n_other
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.3 * len(keys) * max(1.0, n_other * 0.7)))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    limit = 1 - threshold / 100 if threshold is not None else None
    for j in range(n_other):
        ys = [i + j * height for i in range(len(keys))]
        vals = [ratios[k][j] if ratios[k][j] is not None else 1.0 for k in keys]
        bar_colors = ["tab:red" if limit is not None and v < limit else colors[j % len(colors)]
                      for v in vals]
        ax.barh(ys, [v - 1 for v in vals], left=1.0, height=height, color=bar_colors,
                label=f"{names[j + 1]} / {names[0]}")
        for y, v, k in zip(ys, vals, keys):
            if ratios[k][j] is not None:
                ax.annotate(f"{v:.3f}", (v, y), xytext=(3 if v >= 1 else -3, 0),
                            textcoords="offset points", va="center",
                            ha="left" if v >= 1 else "right", fontsize=7)
    ax.axvline(1.0, color="black", lw=1)
    if limit is not None:
        ax.axvline(limit, color="red", ls="--", lw=1, label=f"regression threshold (-{threshold:g}%)")
    every = [r for k in keys for r in ratios[k] if r is not None] + [1.0]
    lo, hi = min(every + ([limit] if limit else [])), max(every)
    pad = max(0.02, 0.15 * (hi - lo))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_yticks([i + (n_other - 1) * height / 2 for i in range(len(keys))], keys, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to baseline (higher is faster)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 2.0 / (len(keys) + 8)),
              ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="result files; the first is the baseline")
    ap.add_argument("--metric", default="auto",
                    choices=["auto", "GFLOPS", "peak_frac", "GBps", "bw_frac"])
    ap.add_argument("--filter", metavar="REGEX", help="only cases whose name matches")
    ap.add_argument("--active", action="store_true",
                    help="compare each file's chosen ISA, rows without the ISA")
    ap.add_argument("--threshold", type=float, metavar="PCT",
                    help="flag ratios below 1 - PCT/100 and exit 1 if any")
    ap.add_argument("--plot", metavar="PNG", help="plot path (default: next to the last file)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    if len(args.json) < 2:
        ap.error("give at least two result files")
    plt = None if args.no_plot else benchjson.pyplot()  # may re-exec: first

    names = [os.path.splitext(os.path.basename(p))[0] for p in args.json]
    loaded = [benchjson.load(p) for p in args.json]
    results = [rows_of(c, cases, args.active, args.metric, args.filter) for c, cases in loaded]
    keys = [k for k in results[0] if any(k in r for r in results[1:])]
    missing = sorted(set().union(*results) - set(keys))

    print("| file | CPU | chosen ISA | date |")
    print("|---|---|---|---|")
    for name, (ctx, _) in zip(names, loaded):
        print(f"| {name} | {ctx.get('cpu_model', '?')} | {ctx.get('isa_active', '?')} "
              f"| {ctx.get('date', '?')} |")
    print()
    head = f"| case | unit | {names[0]} |" + "".join(f" {n} | ratio |" for n in names[1:])
    print(head)
    print("|---|---|---:|" + "---:|---:|" * (len(names) - 1))
    ratios, regressions = {}, []
    for k in keys:
        base, unit = results[0][k]
        line = f"| {k} | {unit} | {base:.3g} |"
        ratios[k] = []
        for name, r in zip(names[1:], results[1:]):
            if k not in r or base <= 0:
                line += " - | - |"
                ratios[k].append(None)
                continue
            ratio = r[k][0] / base
            ratios[k].append(ratio)
            bad = args.threshold is not None and ratio < 1 - args.threshold / 100
            if bad:
                regressions.append(f"{k}: {name} at {ratio:.3f}x of {names[0]}")
            line += f" {r[k][0]:.3g} | {ratio:.3f}{' **REGRESSION**' if bad else ''} |"
        print(line)
    if missing:
        print(f"\nIn only some files (not compared): {', '.join(missing)}")
    valid = [r for k in keys for r in ratios[k] if r]
    if valid:
        import statistics
        print(f"\ngeometric mean of ratios: {statistics.geometric_mean(valid):.3f} "
              f"over {len(valid)} comparisons")
    if args.threshold is not None:
        print(f"\n{len(regressions)} regression(s) beyond {args.threshold:g}%"
              + "".join(f"\n  {r}" for r in regressions))

    if not args.no_plot and keys:
        path = args.plot or os.path.join(
            os.path.dirname(args.json[-1]) or ".", f"compare-{names[-1]}-vs-{names[0]}.png")
        if plt is None:
            print("no plot: matplotlib is missing (scripts/deps.sh plot)", file=sys.stderr)
        else:
            plot(path, names, keys, ratios, args.threshold, plt)
            print(f"\nplot: {path}")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
