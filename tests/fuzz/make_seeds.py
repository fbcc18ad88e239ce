#!/usr/bin/env python3
"""Write the hand-made seeds of tests/fuzz/corpus (fuzz_forward.c's input
format, one byte per field unless noted): every mask mode, flag pair and
data magnitude on small shapes, long sequences (several query tiles and KV
blocks), and each invalid-descriptor mutation.  The committed corpus is
these seeds merged with what fuzzing found, one input per new coverage
edge (libFuzzer -merge=1 -use_counters=0; see scripts/fuzz.sh)."""
import hashlib
import os
import struct
import sys


def program(valid=True, big=False, batch=1, kv_heads=1, group=1, nq=4, nk=9,
            dim=8, bshd=0, o_bshd=0, pads=(1, 0, 2, 3), gaps=(0, 1, 0, 1),
            flags=0, scale=(0,), mag=0, mask=0, dense=0, mpad=1, seed=1,
            tail=b""):
    b = bytearray()
    b.append(1 if valid else 0)              # take(4): 0 = invalid path
    b.append(7 if big else 0)                # take(8): 7 = one long head
    if not big:
        b += bytes([batch - 1, kv_heads - 1, group - 1])
    b.append(nq - 1)
    if big:
        b += struct.pack(">H", nk - 1)       # take(300): two bytes
    else:
        b.append(nk - 1)
    b.append(dim - 1)
    b += bytes([bshd, o_bshd])
    for p, g in zip(pads, gaps):
        b += bytes([p, g])
    b.append(flags)
    b += bytes(scale)                        # (0,) default, (1, n) n+1/64, (2, e) 2^e
    b += bytes([mag, mask, dense, mpad])
    b += struct.pack(">Q", seed)
    return bytes(b + tail)


def seeds():
    for mask in range(4):
        for flags in range(4):
            yield program(batch=2, kv_heads=2, group=2, nq=7, nk=13, dim=5 + 4 * mask,
                          flags=flags, mask=mask, dense=mask, seed=mask * 4 + flags)
    for mag in range(4):
        yield program(nq=3, nk=17, dim=33, mag=mag, scale=(2, 8), flags=mag & 1, seed=50 + mag)
    yield program(nq=20, nk=40, dim=72, bshd=1, o_bshd=1, scale=(1, 40), seed=60)
    yield program(nq=1, nk=1, dim=1, pads=(0, 0, 0, 0), gaps=(0, 0, 0, 0), seed=61)
    for mask in range(4):
        yield program(big=True, nq=96, nk=300, dim=17 + mask, flags=mask & 1, mask=mask,
                      dense=3 if mask == 1 else 1, seed=70 + mask)
    yield program(big=True, nq=85, nk=129, dim=40, flags=3, seed=80)
    # invalid descriptors: isa AUTO, then each mutation with a parameter byte
    for case in range(22):
        for arg in (0, 5):
            yield program(valid=False, batch=2, group=2, nq=3, nk=5, dim=6, mask=1,
                          seed=90 + case, tail=bytes([1, case, arg, arg, arg]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    os.makedirs(out, exist_ok=True)
    for s in seeds():
        with open(os.path.join(out, hashlib.sha1(s).hexdigest()), "wb") as f:
            f.write(s)


if __name__ == "__main__":
    main()
