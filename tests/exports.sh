#!/bin/sh
# The shared library must export simdattn_* symbols and nothing else.
set -eu
nm_tool=${NM:-nm}
bad=$($nm_tool -D --defined-only "$1" | awk '{print $3}' | grep -v '^simdattn_' || true)
count=$($nm_tool -D --defined-only "$1" | awk '{print $3}' | grep -c '^simdattn_' || true)
echo "exported simdattn_* symbols: $count"
[ "$count" -ge 10 ] || { echo "too few exports"; exit 1; }
[ -z "$bad" ] || { echo "unexpected exports:"; echo "$bad"; exit 1; }
