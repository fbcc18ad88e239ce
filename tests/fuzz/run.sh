#!/bin/sh
# run.sh FUZZER SEED_CORPUS WORK_CORPUS: run a libFuzzer target for
# $SIMDATTN_FUZZ_SECONDS seconds (default 45).  New inputs are written to
# WORK_CORPUS (in the build tree), never to the committed seed corpus;
# crashes land in WORK_CORPUS/../ as crash-<sha1>.  Exit status is the
# fuzzer's: non-zero on any finding.
set -eu
fuzzer=$1 seeds=$2 work=$3
mkdir -p "$work"
exec "$fuzzer" -max_total_time="${SIMDATTN_FUZZ_SECONDS:-45}" -timeout=20 \
    -max_len=64 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$(dirname "$work")/" \
    "$work" "$seeds"
