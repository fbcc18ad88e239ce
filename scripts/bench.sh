#!/usr/bin/env bash
# Benchmark simdattn on this machine and print a compact report.
#   ./scripts/bench.sh [--quick] [--json PATH] [--filter REGEX] [--threads N]
#                      [-- GOOGLE-BENCHMARK-FLAGS...]
#   --quick        short run (about a minute with the build): min time 0.05 s
#                  per case, the named workloads (with their -fastexp, -det
#                  and threaded variants), stage kernels and a few
#                  sequence lengths
#   --json PATH    where the raw JSON goes (default
#                  bench-results/<cpu-model>-<date>.json); the PNG plot and
#                  the console log go next to it
#   --filter REGEX only cases whose name matches (Google Benchmark regex,
#                  names are <kernel>/<isa>/<workload>); peaks are measured
#                  for whatever the selected cases need
#   --threads N    the most threads a case may use (default: the CPUs this
#                  process may run on); threaded cases (.../t<n>, n = 1, 2,
#                  4, 8, 16) above N are left out, and the report prints
#                  the scaling of the rest
#   --build-only   install and build, run nothing (scripts/peers.py uses it)
# SIMDATTN_ISA=<isa> picks the ISA the report calls chosen (every runnable
# ISA is measured either way).  Installs missing Debian packages first
# (scripts/deps.sh native plot) and builds a release tree in build-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

quick=0 json="" filter="" threads="" build_only=0 extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --build-only) build_only=1 ;;
    --json) json=${2:?--json needs a path}; shift ;;
    --json=*) json=${1#*=} ;;
    --filter) filter=${2:?--filter needs a regex}; shift ;;
    --filter=*) filter=${1#*=} ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --threads=*) threads=${1#*=} ;;
    -h | --help) usage 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
    esac
    shift
done
case "$threads" in *[!0-9]* | 0) echo "bench.sh: --threads wants a positive integer" >&2; exit 2 ;; esac

scripts/deps.sh native plot

# Release build: -O3 and NDEBUG whatever the default options become.
build=build-bench
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release -Db_ndebug=true -Dtests=false \
        -Dbenchmarks=true >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
fi
ninja -C "$build" >"$build.ninja.log" 2>&1 || { cat "$build.ninja.log"; exit 1; }
bin=$build/bench/simdattn-bench
[ "$build_only" = 0 ] || exit 0

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)
[ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
cpu=$(printf '%s' "${cpu:-unknown-cpu}" | tr -cs 'A-Za-z0-9._' '-' | sed 's/^-*//; s/-*$//')
[ -n "$json" ] || json=bench-results/$cpu-$(date +%Y%m%d-%H%M%S).json
mkdir -p "$(dirname "$json")"
stem=${json%.json}

min_time=()
if [ "$quick" = 1 ]; then
    min_time=(--benchmark_min_time=0.05)
    [ -n "$filter" ] ||
        filter='^peak/|^(qk|softmax|pv)/|^forward/[^/]+/((P64|P128|P128c)(-fastexp|-det|/t[0-9]+)?|P128x8/t[0-9]+|D128|N(256|1024|4096|8192)_d128)$'
fi
select_flags=()
[ -z "$filter" ] || select_flags=(--benchmark_filter="$filter")
[ -z "$threads" ] || select_flags+=(--sab_threads="$threads")

total=$("$bin" "${select_flags[@]}" --benchmark_list_tests | wc -l)
[ "$total" -gt 0 ] || { echo "bench.sh: no case matches --filter '$filter'" >&2; exit 1; }
echo "running $total cases (every runnable ISA) -> $json" >&2
# Google Benchmark's console table goes to the log; on a terminal, show
# which case is running.
done_=0
if ! "$bin" "${select_flags[@]}" "${min_time[@]}" --benchmark_out="$json" \
    --benchmark_out_format=json "${extra[@]}" 2>&1 | tee "$stem.log" | while IFS= read -r line; do
    case "$line" in
    */*\ ns* | */*ERROR*)
        done_=$((done_ + 1))
        if [ -t 2 ]; then printf '\r\033[K  [%d/%d] %s' "$done_" "$total" "${line%% *}" >&2; fi
        ;;
    esac
done; then
    echo "bench.sh: the suite failed, see $stem.log" >&2
    exit 1
fi
if [ -t 2 ]; then printf '\r\033[K' >&2; fi

# The report needs a Python with matplotlib for the plot: Debian's, which
# deps.sh installs, if the one on PATH lacks it.
py=python3
python3 -c 'import matplotlib' 2>/dev/null || { [ -x /usr/bin/python3 ] && py=/usr/bin/python3; }
echo
"$py" scripts/bench_report.py "$json" --plot "$stem.png"
echo
echo "raw JSON: $json"
if [ -f "$stem.png" ]; then echo "plot:     $stem.png"; fi
echo "log:      $stem.log"
