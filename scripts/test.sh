#!/usr/bin/env bash
# Build and run every test suite simdattn has; exits non-zero on any failure.
#   ./scripts/test.sh            everything: native cross sanitize fuzz tsan
#   ./scripts/test.sh native     only the named parts
#   ./scripts/test.sh --write-baseline [parts]
#                                first re-record each part's figures in
#                                tests/accuracy/baseline.json (its own
#                                architecture and ISAs only; parts native
#                                and cross), then test; review and commit
#                                the diff by hand
# Parts:
#   native    the Check suites, release build, this machine's ISAs
#   cross     the same for aarch64 under qemu-user (NEON)
#   sanitize  the whole suite built with AddressSanitizer + UBSan (gcc,
#             -fno-sanitize-recover: any UB aborts its test)
#   fuzz      the libFuzzer target tests/fuzz for SIMDATTN_FUZZ_SECONDS
#             (default 45) from the committed seed corpus (clang, ASan +
#             UBSan); scripts/fuzz.sh SECONDS runs this part alone
#   tsan      the concurrency suite (tests/test_threads.c) under
#             ThreadSanitizer (gcc)
# Installs missing Debian packages first (scripts/deps.sh).  Each part builds
# in its own tree (build-test-<part>, logs inside it) with -Werror, prints
# every Check suite's own summary line and each part's duration, and the
# script ends with one line totalling every suite it ran: 'N passed, M failed'.
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
[ ${#parts[@]} -eq 0 ] && parts=(native cross sanitize fuzz tsan)

jobs=$(nproc 2>/dev/null || echo 2)
trees=()
status=0
wrap=()  # command prefix for `meson test` (tsan: setarch)
record=0 # re-record the accuracy baseline in this part (native, cross)

run_meson_tests() { # build-dir [meson test args...]
    local dir=$1; shift
    # a failed build replaces the last run's test log with one failed
    # "build" entry, so the final tally cannot count stale results
    ninja -C "$dir" >"$dir/test-build.log" 2>&1 || {
        cat "$dir/test-build.log"
        mkdir -p "$dir/meson-logs"
        echo '{"name": "build", "result": "FAIL"}' >"$dir/meson-logs/testlog.json"
        return 1
    }
    if [ "$record" = 1 ]; then
        meson test -C "$dir" --no-rebuild "$@" accuracy --test-args=--write-baseline \
            >/dev/null 2>&1
        grep -hE '^accuracy:' "$dir/meson-logs/testlog.txt"
    fi
    # --verbose shows each suite's output; keep Check's summary and failure
    # lines, sanitizer and fuzzer verdicts, the tests' own notes, and meson's
    # per-test results.
    "${wrap[@]}" meson test -C "$dir" --verbose --num-processes "$jobs" "$@" 2>&1 |
        grep -E '[0-9]+%: Checks:|:[FE]:|^testing ISAs|^accuracy:|^ *[0-9]+/[0-9]+ .*(OK|FAIL|TIMEOUT|SKIP|ERROR)|^(Ok|Fail|Timeout):|^(SUMMARY|ERROR|WARNING): [A-Za-z]*Sanitizer|runtime error:|^==[0-9]+== ?ERROR|^Done [0-9]+ runs|^stat::number_of_executed_units|^fuzz_forward:'
    return "${PIPESTATUS[0]}"
}

setup() { # dir [meson setup args...]; CC in the environment picks the compiler
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        mkdir -p "$dir"
        meson setup "$dir" -Dwerror=true -Db_ndebug=false "$@" >"$dir/test-setup.log" 2>&1 ||
            { cat "$dir/test-setup.log"; rm -rf "$dir"; return 1; }
    fi
}

# Sanitizer runtime options.  meson test would set its own ASAN_OPTIONS and
# UBSAN_OPTIONS only when these are unset; ours add the full report.
# (test_api asks, in-binary, for allocator_may_return_null: its 256 TiB
# request must fail like malloc, not abort.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:print_summary=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

for part in "${parts[@]}"; do
    echo "=== simdattn tests: $part"
    start=$SECONDS
    case "$part" in
    native)
        scripts/deps.sh native || exit 1
        record=$write_baseline
        setup build-test-native && run_meson_tests build-test-native || status=1
        record=0
        trees+=(build-test-native)
        ;;
    cross)
        scripts/deps.sh native cross || exit 1
        # Check's fork mode hangs under qemu-user; no-fork runs in ms.  The
        # guard-page suite still runs (a fault then ends the whole suite).
        record=$write_baseline
        setup build-test-aarch64 --cross-file scripts/cross/aarch64-linux-gnu.txt &&
            CK_FORK=no run_meson_tests build-test-aarch64 --timeout-multiplier 4 || status=1
        record=0
        trees+=(build-test-aarch64)
        ;;
    sanitize)
        scripts/deps.sh native || exit 1
        setup build-test-sanitize -Db_sanitize=address,undefined -Dbenchmarks=false \
            -Dc_args=-fno-sanitize-recover=all &&
            run_meson_tests build-test-sanitize --timeout-multiplier 3 || status=1
        trees+=(build-test-sanitize)
        ;;
    fuzz)
        scripts/deps.sh native fuzz || exit 1
        # clang builds the whole tree (so the library is also checked
        # warning-free under clang); only the fuzz suite runs here, as the
        # Check suites already ran under ASan/UBSan in `sanitize`.  The
        # shared library leaves ASan's symbols to the executables, hence
        # b_lundef=false.  The test's timeout is 240 s; longer runs
        # (scripts/fuzz.sh) lift it with a multiplier of 0.
        # The minutes clang spent on the unrolled micro-kernels came from
        # UBSan, not ASan or -O3: kernels/meson.build leaves UBSan out of the
        # SIMD sets in this tree (all of it: 21 s; -O1 built in 26 s and
        # ran 21% fewer inputs per second).
        CC=clang setup build-test-fuzz -Db_sanitize=address,undefined -Db_lundef=false \
            -Dbenchmarks=false -Dfuzz=true -Dc_args=-fno-sanitize-recover=all &&
            run_meson_tests build-test-fuzz --suite fuzz \
                --timeout-multiplier "${SIMDATTN_FUZZ_TIMEOUT_MULTIPLIER:-1}" || status=1
        trees+=(build-test-fuzz)
        ;;
    tsan)
        scripts/deps.sh native || exit 1
        # ThreadSanitizer maps its shadow memory at fixed addresses; with
        # more ASLR entropy than it expects (vm.mmap_rnd_bits > 28, the
        # default of recent Ubuntu kernels) gcc 12's runtime dies with
        # "unexpected memory mapping".  Here (Debian 12, mmap_rnd_bits =
        # 28) it runs as is; where setarch can turn address randomisation
        # off for the test run (personality ADDR_NO_RANDOMIZE, no
        # privileges needed) we do so anyway, which sidesteps the problem
        # without touching the system's sysctl.
        setarch "$(uname -m)" -R true 2>/dev/null && wrap=(setarch "$(uname -m)" -R)
        setup build-test-tsan -Db_sanitize=thread -Dbenchmarks=false &&
            run_meson_tests build-test-tsan threads --timeout-multiplier 3 || status=1
        wrap=()
        trees+=(build-test-tsan)
        ;;
    *) echo "test.sh: unknown part '$part' (native, cross, sanitize, fuzz, tsan)" >&2; exit 2 ;;
    esac
    echo "--- $part: $((SECONDS - start)) s"
done

scripts/tally.py "${trees[@]}" || status=1
exit $status
