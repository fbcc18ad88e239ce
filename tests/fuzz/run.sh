#!/bin/sh
# run.sh FUZZER SEED_CORPUS WORK_CORPUS: run a libFuzzer target for
# $SIMDATTN_FUZZ_SECONDS seconds (default 45).  New inputs are written to
# WORK_CORPUS (in the build tree), never to the committed seed corpus;
# crashes land in WORK_CORPUS/../ as crash-<sha1>.  Exit status 1 on any
# finding: libFuzzer's own default (77, for a crash or abort) is the code
# meson reads as "skipped", which hid a failing fuzzer as SKIP.
set -eu
fuzzer=$1 seeds=$2 work=$3
mkdir -p "$work"
exec "$fuzzer" -max_total_time="${SIMDATTN_FUZZ_SECONDS:-45}" -timeout=20 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -max_len=64 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$(dirname "$work")/" \
    "$work" "$seeds"
