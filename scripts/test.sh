#!/usr/bin/env bash
# Build and run every test suite simdattn has; exits non-zero on any failure.
#   ./scripts/test.sh            everything (native, aarch64 under qemu, ...)
#   ./scripts/test.sh native     only the named parts: native cross
#   ./scripts/test.sh --write-baseline [parts]
#                                first re-record each part's figures in
#                                tests/accuracy/baseline.json (its own
#                                architecture and ISAs only), then test;
#                                review and commit the diff by hand
# Installs missing Debian packages first (scripts/deps.sh).  Each part builds
# in its own tree (build-test-<part>) with -Werror, prints every Check
# suite's own summary line, and the script ends with one line totalling
# every suite it ran: 'N passed, M failed'.
set -uo pipefail
cd "$(dirname "$0")/.."

parts=()
write_baseline=0
for arg in "$@"; do
    case "$arg" in
    --write-baseline) write_baseline=1 ;;
    *) parts+=("$arg") ;;
    esac
done
[ ${#parts[@]} -eq 0 ] && parts=(native cross)

jobs=$(nproc 2>/dev/null || echo 2)
trees=()
status=0

run_meson_tests() { # build-dir [meson test args...]
    local dir=$1; shift
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { cat "$dir.ninja.log"; return 1; }
    if [ "$write_baseline" = 1 ]; then
        meson test -C "$dir" --no-rebuild "$@" accuracy --test-args=--write-baseline \
            >/dev/null 2>&1
        grep -hE '^accuracy:' "$dir/meson-logs/testlog.txt"
    fi
    # --verbose shows each suite's output; keep Check's summary and failure
    # lines, the tests' own notes, and meson's per-test results.
    meson test -C "$dir" --verbose --num-processes "$jobs" "$@" 2>&1 |
        grep -E '[0-9]+%: Checks:|:[FE]:|^testing ISAs|^accuracy:|^ *[0-9]+/[0-9]+ .*(OK|FAIL|TIMEOUT|SKIP|ERROR)|^(Ok|Fail|Timeout):'
    return "${PIPESTATUS[0]}"
}

setup() { # dir [meson setup args...]
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Dwerror=true -Db_ndebug=false "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; return 1; }
    fi
}

for part in "${parts[@]}"; do
    echo "=== simdattn tests: $part"
    case "$part" in
    native)
        scripts/deps.sh native || exit 1
        setup build-test-native && run_meson_tests build-test-native || status=1
        trees+=(build-test-native)
        ;;
    cross)
        scripts/deps.sh native cross || exit 1
        # Check's fork mode hangs under qemu-user; no-fork runs in ms.
        setup build-test-aarch64 --cross-file scripts/cross/aarch64-linux-gnu.txt &&
            CK_FORK=no run_meson_tests build-test-aarch64 --timeout-multiplier 4 || status=1
        trees+=(build-test-aarch64)
        ;;
    *) echo "test.sh: unknown part '$part' (native, cross)" >&2; exit 2 ;;
    esac
done

scripts/tally.py "${trees[@]}" || status=1
exit $status
