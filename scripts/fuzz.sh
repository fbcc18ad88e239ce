#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS: build the fuzz tree (clang, ASan + UBSan) and
# run the libFuzzer target tests/fuzz/fuzz_forward for SECONDS, starting
# from the committed seed corpus tests/fuzz/corpus.  This is part `fuzz` of
# scripts/test.sh with another duration and no meson timeout.  New inputs
# go to build-test-fuzz/tests/fuzz/corpus, findings to
# build-test-fuzz/tests/fuzz/crash-* (replay: fuzz_forward FILE).
# To grow the committed corpus after a long run (one input per new
# coverage edge, so it stays small):
#   build-test-fuzz/tests/fuzz/fuzz_forward -merge=1 -use_counters=0 \
#       tests/fuzz/corpus build-test-fuzz/tests/fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh SECONDS" >&2
    exit 2
fi
SIMDATTN_FUZZ_SECONDS=$1 SIMDATTN_FUZZ_TIMEOUT_MULTIPLIER=0 exec scripts/test.sh fuzz
