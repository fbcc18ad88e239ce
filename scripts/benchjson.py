"""Shared reading of simdattn-bench JSON results (Google Benchmark format).

Used by bench_report.py and compare.py.  One result per case: the median
aggregate when the run had repetitions, else the median of the case's
iteration entries (one, without repetitions).
"""
import json
import os
import re
import statistics
import sys


def load(path):
    """Returns (context dict, {name: entry dict}) of one result file."""
    with open(path) as f:
        doc = json.load(f)
    runs, medians = {}, {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
        elif not b.get("error_occurred"):
            runs.setdefault(name, []).append(b)
    cases = {}
    for name, entries in runs.items():
        if name in medians:
            cases[name] = medians[name]
            continue
        merged = dict(entries[0])
        for key in ("GFLOPS", "peak_frac", "GBps", "bw_frac", "bw_pair", "cpu_util", "real_time",
                    "cpu_time"):
            vals = [e[key] for e in entries if key in e]
            if vals:
                merged[key] = statistics.median(vals)
        cases[name] = merged
    return doc.get("context", {}), cases


def split(name):
    """'forward/avx2/P128' -> ('forward/P128', 'avx2'), 'forward/avx2/P128x8/t2'
    -> ('forward/P128x8/t2', 'avx2'); peak/<what>/<isa> (fma, stream,
    stream-f16) -> ('peak/<what>', isa); names without an ISA part
    (peak/read_bw, peak/read_bw/t2) -> (name, None)."""
    parts = name.split("/")
    if parts[0] == "peak":
        isa = len(parts) == 3 and not THREADS.match(parts[2])
        return ("/".join(parts[:2]), parts[2]) if isa else (name, None)
    if len(parts) == 3 or (len(parts) == 4 and THREADS.match(parts[3])):
        return "/".join([parts[0]] + parts[2:]), parts[1]
    return name, None


# A thread-count suffix: forward/<isa>/<workload>/t<n> ran on n threads.
THREADS = re.compile(r"^t(\d+)$")


def threads(key):
    """('forward/P128x8', 2) for 'forward/P128x8/t2'; (key, None) without
    a thread suffix."""
    base, _, last = key.rpartition("/")
    m = THREADS.match(last)
    return (base, int(m.group(1))) if m and base.count("/") else (key, None)


def metric(entry):
    """(value, unit) that says how fast a case ran: GFLOP/s, else GB/s,
    else calls per second."""
    if "GFLOPS" in entry:
        return entry["GFLOPS"], "GFLOP/s"
    if "GBps" in entry:
        return entry["GBps"], "GB/s"
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[entry.get("time_unit", "ns")]
    return 1.0 / (entry["cpu_time"] * unit), "calls/s"


def pyplot():
    """matplotlib.pyplot with a file-only backend, or None.  When this Python
    lacks matplotlib but Debian's does (scripts/deps.sh plot installs it
    there), re-run the script under Debian's Python."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        system = "/usr/bin/python3"
        if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
                and not os.environ.get("SIMDATTN_PLOT_REEXEC")):
            os.environ["SIMDATTN_PLOT_REEXEC"] = "1"
            os.execv(system, [system] + sys.argv)
        return None
