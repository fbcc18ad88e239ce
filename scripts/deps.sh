#!/usr/bin/env bash
# Install what simdattn needs from Debian, only what is missing.
#   scripts/deps.sh native   build + tests + benchmarks on this machine
#   scripts/deps.sh cross    aarch64 cross build run under qemu-user
#   scripts/deps.sh plot     python3 + matplotlib for the bench report plot
#   scripts/deps.sh fuzz     clang + sanitizer runtimes
# Several groups may be given at once.  Runs apt-get as root, or via sudo.
set -euo pipefail

native=(meson ninja-build pkg-config gcc g++ libsleef-dev check libsubunit-dev
        libbenchmark-dev)
cross=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user libsleef-dev:arm64
       check:arm64 libsubunit-dev:arm64 libbenchmark-dev:arm64)
plot=(python3 python3-matplotlib)
fuzz=(clang libclang-rt-14-dev)

want=()
for group in "$@"; do
    case "$group" in
        native) want+=("${native[@]}") ;;
        cross) want+=("${cross[@]}") ;;
        plot) want+=("${plot[@]}") ;;
        fuzz) want+=("${fuzz[@]}") ;;
        *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps.sh: installing ${missing[*]}" >&2
if printf '%s\n' "${missing[@]}" | grep -q ':arm64$'; then
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
