#!/usr/bin/env python3
"""Plumbing check of simdattn-bench (run by meson test; speed is not judged).

Runs the binary on a small filter with --benchmark_min_time=0.01 and checks
that its JSON parses and that every case carries the counters scripts/bench.sh
reads: GFLOPS and peak_frac everywhere (peak_frac being GFLOPS over the
calibration recorded in the context, times the thread count of a threaded
case), GBps, bw_frac, bw_pair and a cache note on decode, cpu_util on threaded cases
(<kernel>/<isa>/<workload>/t<n>; run on 2 threads where the build has
OpenMP), and one case per kernel family for every ISA the host runs.
Given simdattn-ab and the library too, runs an A/A of the library on a tiny
decode and checks that both builds' lines and the ratio line carry positive
numbers.
Usage: smoke.py path/to/simdattn-bench [path/to/simdattn-ab path/to/library]
"""
import json
import math
import re
import subprocess
import sys

FILTER = r"^peak/(fma|stream)/|^(qk|softmax|pv)/|^forward/[^/]+/(N128_d128|D128|P64/t2)$"


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def check(doc):
    errors = []
    ctx = doc["context"]
    isas = ctx["isas_runnable"].split()
    if "scalar" not in isas or ctx["isa_active"] not in isas:
        errors.append(f"context ISAs wrong: {ctx['isas_runnable']!r}, "
                      f"active {ctx['isa_active']!r}")
    runs = [b for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    seen = set()
    for b in runs:
        name = b["name"]
        if b.get("error_occurred"):
            errors.append(f"{name}: error {b.get('error_message')!r}")
            continue
        parts = name.split("/")
        threads = 1
        if len(parts) == 4 and re.fullmatch(r"t[1-9][0-9]*", parts[3]):
            threads = int(parts[3][1:])
            if not positive(b.get("cpu_util")):
                errors.append(f"{name}: cpu_util={b.get('cpu_util')}")
        elif len(parts) != 3:
            errors.append(f"{name}: not <kernel>/<isa>/<workload>[/t<n>]")
            continue
        kernel, isa = parts[0], parts[1] if parts[0] != "peak" else parts[2]
        seen.add((kernel, isa))
        gflops, frac = b.get("GFLOPS"), b.get("peak_frac")
        if not positive(gflops) or not positive(frac):
            errors.append(f"{name}: GFLOPS={gflops} peak_frac={frac}")
            continue
        # The context holds the peak with 3 decimals: relative rounding
        # below 0.0005 / peak, under 1e-3 for any peak above 0.5 GFLOP/s.
        peak = threads * float(ctx[f"peak fma/{isa}"].split()[0])
        if abs(gflops / peak - frac) > 1e-3 * frac:
            errors.append(f"{name}: peak_frac {frac} != GFLOPS/peak {gflops / peak}")
        if parts[2].startswith("D"):
            gbps, bw, pair = b.get("GBps"), b.get("bw_frac"), b.get("bw_pair")
            if (not positive(gbps) or not positive(bw) or not positive(pair)
                    or "LLC" not in b.get("label", "")):
                errors.append(f"{name}: GBps={gbps} bw_frac={bw} bw_pair={pair} "
                              f"label={b.get('label')!r}")
    for isa in isas:
        for kernel in ("peak", "qk", "softmax", "pv", "forward"):
            if (kernel, isa) not in seen:
                errors.append(f"no {kernel} case for ISA {isa}")
    return len(runs), errors


def check_ab(ab, lib):
    out = subprocess.run([ab, lib, lib, "256", "f16", "1", "4"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    num = r"([0-9]+\.[0-9]+)"
    pats = [rf"^A .*: median {num} ms, best {num} ms \({num} GB/s\); read/call median {num}$",
            rf"^B .*: median {num} ms, best {num} ms \({num} GB/s\); read/call median {num}$",
            rf"^time A/B: median {num}, quartiles {num} {num}$"]
    errors = []
    for pat in pats:
        m = re.search(pat, out, re.M)
        if not m or not all(positive(float(x)) for x in m.groups()):
            errors.append(f"simdattn-ab: no line like {pat!r} in {out!r}")
    return errors


def main():
    cmd = [sys.argv[1], f"--benchmark_filter={FILTER}", "--sab_threads=2",
           "--benchmark_min_time=0.01", "--benchmark_format=json"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    n, errors = check(json.loads(out))
    if len(sys.argv) > 3:
        errors += check_ab(sys.argv[2], sys.argv[3])
    for e in errors:
        print("bench-smoke:", e)
    print(f"bench-smoke: {n} cases, {len(errors)} problems")
    return 1 if errors or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
