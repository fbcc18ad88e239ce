#!/usr/bin/env python3
"""simdattn against other CPU attention implementations, same inputs.

    scripts/peers.py [--quick] [--threads N] [--workloads P64,P128,P128c,D128]
                     [--isa ISA] [--min-time S]

Runs the benchmark workloads (issue 3: fp32, scale 1/sqrt(d); P64, P128,
P128c causal with half the flops counted, D128 GQA decode) through
  simdattn     simdattn_forward, via ctypes on build-bench/libsimdattn.so
  numpy        naive attention: matmul, softmax, matmul (PyPI numpy, which
               bundles OpenBLAS)
  torch        torch.nn.functional.scaled_dot_product_attention (CPU)
  onnxruntime  a MatMul-Softmax-MatMul graph on the CPU provider
with the same thread count for every peer (simdattn: desc.threads), and
prints GFLOP/s side by side, timed the same
way for all: the median of repeated calls after one warm-up, over process
CPU time with one thread (as simdattn-bench) and wall time with more.

It doubles as an external correctness oracle: every output is checked
against a float64 reference with the bound, per element,
    |O - O*| <= 1.05 (2 delta_i + 10 u + 2 gamma_Nk) (W |V|)_ic
where W are the exact softmax weights, u = 2^-24, gamma_n = n u / (1 - n u),
and delta_i = max_j (gamma_d scale sum_k |q_ik k_jk| + 2 u |x_ij|) bounds the
error of row i's logits x (the dot product, then the scale and the max
subtraction): a logit error delta moves each weight by a factor of at most
e^(2 delta) (numerator and normaliser), 10 u covers exp (up to 4 ULP = 8 u,
as vectorized exps in these libraries reach) and the division, and the two
gamma_Nk the softmax sum and the P.V sum.  1.05 absorbs the second-order
terms (delta is below 1e-4 for these inputs).  The table prints the largest
error/bound per peer; above 1 is a disagreement.

First use creates .venv-peers/ and installs numpy, threadpoolctl, onnx,
onnxruntime and torch from PyPI into it (torch's CPU-only index is used
when it is reachable; otherwise PyPI's torch, which is large).  A peer that
cannot be installed or imported is skipped with a message.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this run's
environment: they pin OpenBLAS to older kernels.
"""
import argparse
import ctypes
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-peers")
CORE = ["numpy", "threadpoolctl", "onnx", "onnxruntime"]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# name: (q_heads, kv_heads, nq, nk, d, causal)
WORKLOADS = {
    "P64": (1, 1, 1024, 1024, 64, False),
    "P128": (1, 1, 2048, 2048, 128, False),
    "P128c": (1, 1, 2048, 2048, 128, True),
    "D128": (32, 8, 1, 4096, 128, False),
}
U = 2.0 ** -24


def gamma(n):
    return n * U / (1 - n * U)


# ---------------------------------------------------------------- setup --

def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def venv_python():
    return os.path.join(VENV, "bin", "python")


def importable(module):
    return subprocess.run([venv_python(), "-c", f"import {module}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def reachable(url):
    import urllib.request
    try:
        urllib.request.urlopen(url, timeout=5).close()
        return True
    except Exception:
        return False


def bootstrap():
    """Create the venv and install what is missing, then re-run inside it."""
    if not os.path.exists(venv_python()):
        print(f"peers: creating {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pip = [venv_python(), "-m", "pip", "install", "--quiet"]
    missing = [p for p in CORE if not importable(p)]
    if missing:
        print(f"peers: installing {' '.join(missing)} from PyPI", file=sys.stderr)
        subprocess.run(pip + missing, check=True)
    if not importable("torch"):
        if reachable(TORCH_CPU_INDEX + "/"):
            cmd = pip + ["--index-url", TORCH_CPU_INDEX, "torch"]
        else:
            print("peers: the CPU-only torch index is not reachable; installing "
                  "PyPI's torch (several GB with its CUDA libraries)", file=sys.stderr)
            cmd = pip + ["torch"]
        if subprocess.run(cmd).returncode != 0:
            print("peers: torch could not be installed; its column will be skipped",
                  file=sys.stderr)
    os.execv(venv_python(), [venv_python(), os.path.abspath(__file__)] + sys.argv[1:])


def build_library():
    subprocess.run([os.path.join(ROOT, "scripts", "bench.sh"), "--build-only"], check=True)
    return os.path.join(ROOT, "build-bench", "libsimdattn.so")


# ------------------------------------------------------ simdattn, ctypes --

class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("stride_batch", ctypes.c_size_t),
                ("stride_head", ctypes.c_size_t), ("stride_seq", ctypes.c_size_t)]


class ForwardDesc(ctypes.Structure):
    """simdattn_forward_desc, field for field in include/simdattn.h's order
    (a field added there must be added here: ctypes cannot check)."""
    _fields_ = [("batch", ctypes.c_size_t), ("q_heads", ctypes.c_size_t),
                ("kv_heads", ctypes.c_size_t), ("q_len", ctypes.c_size_t),
                ("kv_len", ctypes.c_size_t), ("head_dim", ctypes.c_size_t),
                ("head_dim_v", ctypes.c_size_t),
                ("scale", ctypes.c_float), ("softcap", ctypes.c_float),
                ("flags", ctypes.c_uint),
                ("q", Tensor), ("k", Tensor), ("v", Tensor), ("kv_dtype", ctypes.c_int),
                ("o", ctypes.c_void_p), ("o_stride_batch", ctypes.c_size_t),
                ("o_stride_head", ctypes.c_size_t), ("o_stride_seq", ctypes.c_size_t),
                ("mask", Tensor), ("key_mask", ctypes.c_void_p),
                ("key_mask_stride_batch", ctypes.c_size_t), ("window", ctypes.c_size_t),
                ("kv_lens", ctypes.c_void_p), ("isa", ctypes.c_int),
                ("threads", ctypes.c_uint)]


SIMDATTN_CAUSAL = 1
ISA_NAMES = ["auto", "scalar", "avx2", "avx512", "neon"]


class Simdattn:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.simdattn_forward.argtypes = [ctypes.POINTER(ForwardDesc)]
        self.lib.simdattn_forward.restype = ctypes.c_int
        self.lib.simdattn_isa_active.restype = ctypes.c_int
        self.lib.simdattn_isa_supported.argtypes = [ctypes.c_int]
        self.lib.simdattn_status_str.argtypes = [ctypes.c_int]
        self.lib.simdattn_status_str.restype = ctypes.c_char_p

    def active(self):
        return ISA_NAMES[self.lib.simdattn_isa_active()]

    def forward(self, q, k, v, o, causal, isa, threads=1):
        """q, o: [hq, nq, d]; k, v: [hk, nk, d]; C-contiguous float32; on
        `threads` OpenMP threads (desc.threads)."""
        hq, nq, d = q.shape
        hk, nk, _ = k.shape
        desc = ForwardDesc(
            batch=1, q_heads=hq, kv_heads=hk, q_len=nq, kv_len=nk, head_dim=d,
            scale=0.0, flags=SIMDATTN_CAUSAL if causal else 0,
            q=Tensor(q.ctypes.data, q.size, nq * d, d),
            k=Tensor(k.ctypes.data, k.size, nk * d, d),
            v=Tensor(v.ctypes.data, v.size, nk * d, d),
            o=o.ctypes.data, o_stride_batch=o.size, o_stride_head=nq * d, o_stride_seq=d,
            mask=Tensor(None, 0, 0, 0), isa=ISA_NAMES.index(isa), threads=threads)
        st = self.lib.simdattn_forward(ctypes.byref(desc))
        if st != 0:
            raise RuntimeError(self.lib.simdattn_status_str(st).decode())
        return o


# ------------------------------------------------------------------ peers --

def numpy_peer(np, q, k, v, causal):
    """Naive attention as people write it in numpy: in-place where it can."""
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    qg = q.reshape(hk, hq // hk * nq, d)  # GQA: a KV head's query heads stacked
    scale = np.float32(1 / math.sqrt(d))
    mask = None
    if causal:
        rows = np.arange(hq // hk * nq) % nq
        mask = np.where(np.arange(nk)[None, :] > rows[:, None] + (nk - nq),
                        np.float32(-np.inf), np.float32(0))

    def run():
        s = np.matmul(qg, k.transpose(0, 2, 1))
        s *= scale
        if mask is not None:
            s += mask
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        return np.matmul(s, v).reshape(hq, nq, d)
    return run


def torch_peer(torch, q, k, v, causal):
    F = torch.nn.functional
    tq, tk, tv = (torch.from_numpy(x).unsqueeze(0) for x in (q, k, v))
    gqa = q.shape[0] != k.shape[0]

    def run():
        with torch.inference_mode():
            return F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal,
                                                  enable_gqa=gqa)[0].numpy()
    return run


def onnx_peer(np, ort, onnx, q, k, v, causal, threads):
    from onnx import TensorProto, helper
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    rows = hq // hk * nq
    nodes = [
        helper.make_node("Transpose", ["K"], ["Kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["Q", "Kt"], ["S"]),
        helper.make_node("Mul", ["S", "scale"], ["X"]),
    ]
    inits = [helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / math.sqrt(d)])]
    logits = "X"
    if causal:
        r = np.arange(rows) % nq
        mask = np.where(np.arange(nk)[None, :] > r[:, None] + (nk - nq), -np.inf, 0).astype(np.float32)
        inits.append(helper.make_tensor("mask", TensorProto.FLOAT, mask.shape, mask.ravel()))
        nodes.append(helper.make_node("Add", ["X", "mask"], ["Xm"]))
        logits = "Xm"
    nodes += [helper.make_node("Softmax", [logits], ["P"], axis=-1),
              helper.make_node("MatMul", ["P", "V"], ["O"])]
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info("Q", TensorProto.FLOAT, [hk, rows, d]),
         helper.make_tensor_value_info("K", TensorProto.FLOAT, [hk, nk, d]),
         helper.make_tensor_value_info("V", TensorProto.FLOAT, [hk, nk, d])],
        [helper.make_tensor_value_info("O", TensorProto.FLOAT, [hk, rows, d])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    feeds = {"Q": q.reshape(hk, rows, d), "K": k, "V": v}

    def run():
        return sess.run(None, feeds)[0].reshape(hq, nq, d)
    return run


# ------------------------------------------------------------- checking --

def reference(np, q, k, v, causal):
    """float64 output and the per-element error bound of the docstring."""
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    hq, nq, d = q.shape
    hk, nk, _ = k.shape
    g = hq // hk
    scale = 1 / math.sqrt(d)
    out = np.empty((hq, nq, d))
    bound = np.empty((hq, nq, d))
    for h in range(hq):
        kh, vh = k64[h // g], v64[h // g]
        x = scale * (q64[h] @ kh.T)
        absdot = np.abs(q64[h]) @ np.abs(kh).T
        if causal:
            hidden = np.arange(nk)[None, :] > np.arange(nq)[:, None] + (nk - nq)
            x = np.where(hidden, -np.inf, x)
            absdot = np.where(hidden, 0, absdot)
        m = x.max(axis=1, keepdims=True)
        w = np.exp(x - m)
        w /= w.sum(axis=1, keepdims=True)
        finite = np.where(np.isfinite(x), np.abs(x), 0)
        delta = (gamma(d) * scale * absdot + 2 * U * finite).max(axis=1, keepdims=True)
        out[h] = w @ vh
        bound[h] = 1.05 * (2 * delta + 10 * U + 2 * gamma(nk)) * (w @ np.abs(vh))
    return out, bound


def timed(run, min_time, clock):
    out = run()  # warm-up (and the output that is checked)
    times, total = [], 0.0
    while len(times) < 3 or total < min_time:
        t = clock()
        run()
        dt = clock() - t
        times.append(dt)
        total += dt
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="time each peer 0.3 s, not 1 s")
    ap.add_argument("--threads", type=int, default=1, help="threads for every peer (default 1)")
    ap.add_argument("--workloads", default="P64,P128,P128c,D128")
    ap.add_argument("--isa", default="auto", choices=ISA_NAMES,
                    help="simdattn ISA (default: simdattn_isa_active, SIMDATTN_ISA honoured)")
    ap.add_argument("--min-time", type=float, help="seconds of timed calls per peer and workload")
    args = ap.parse_args()
    for w in args.workloads.split(","):
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r} ({', '.join(WORKLOADS)})")
    min_time = args.min_time or (0.3 if args.quick else 1.0)
    # One thread: process CPU time, as simdattn-bench uses (steady on a
    # shared machine, and any helper thread's time still counts).  Several
    # threads: wall time, since CPU time would add the threads up.
    clock, clock_name = ((time.process_time, "process CPU time") if args.threads == 1
                         else (time.perf_counter, "wall time"))

    # Before numpy loads OpenBLAS: its environment is read at load time.
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if not in_venv():
        build_library()  # build-bench/ up to date before switching Pythons
        bootstrap()      # re-runs this script inside .venv-peers
    lib_path = os.path.join(ROOT, "build-bench", "libsimdattn.so")
    if not os.path.exists(lib_path):
        build_library()

    import numpy as np
    import threadpoolctl
    peers, notes = {}, []
    sa = Simdattn(lib_path)
    isa = sa.active() if args.isa == "auto" else args.isa
    if not sa.lib.simdattn_isa_supported(ISA_NAMES.index(isa)):
        sys.exit(f"peers: simdattn cannot run ISA {isa} here")
    peers[f"simdattn {isa}"] = "simdattn"
    notes.append(f"simdattn {isa}: fused forward, desc.threads = {args.threads} (OpenMP)")
    threadpoolctl.threadpool_limits(args.threads)
    blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    for b in blas:
        notes.append(f"numpy {np.__version__}: {b['internal_api']} {b.get('version')} "
                     f"({b.get('architecture', '?')} kernels, threads: {b['num_threads']})")
    peers["numpy"] = "numpy"
    try:
        import torch
        torch.set_num_threads(args.threads)
        peers["torch sdpa"] = "torch"
        notes.append(f"torch {torch.__version__}: scaled_dot_product_attention, "
                     f"threads: {torch.get_num_threads()}, CPU capability "
                     f"{torch.backends.cpu.get_cpu_capability()}")
    except Exception as e:  # not installed, or its libraries are missing
        notes.append(f"torch: skipped ({e.__class__.__name__}: {e})")
    try:
        import onnx
        import onnxruntime as ort
        peers["onnxruntime"] = "ort"
        notes.append(f"onnxruntime {ort.__version__}: MatMul-Softmax-MatMul graph, "
                     f"CPUExecutionProvider (MLAS), intra-op threads: {args.threads}")
    except Exception as e:
        notes.append(f"onnxruntime: skipped ({e.__class__.__name__}: {e})")

    rng = np.random.default_rng(2024)
    results = {}
    for w in args.workloads.split(","):
        hq, hk, nq, nk, d, causal = WORKLOADS[w]
        q = rng.uniform(-1, 1, (hq, nq, d)).astype(np.float32)
        k = rng.uniform(-1, 1, (hk, nk, d)).astype(np.float32)
        v = rng.uniform(-1, 1, (hk, nk, d)).astype(np.float32)
        flops = 4.0 * hq * nq * nk * d / (2 if causal else 1)
        ref, bound = reference(np, q, k, v, causal)
        for label, kind in peers.items():
            if kind == "simdattn":
                o = np.empty_like(q)
                run = lambda: sa.forward(q, k, v, o, causal, isa, args.threads)  # noqa: E731
            elif kind == "numpy":
                run = numpy_peer(np, q, k, v, causal)
            elif kind == "torch":
                run = torch_peer(torch, q, k, v, causal)
            else:
                run = onnx_peer(np, ort, onnx, q, k, v, causal, args.threads)
            sec, out = timed(run, min_time, clock)
            ratio = float(np.max(np.abs(out - ref) / bound))
            results[(w, label)] = (flops / sec * 1e-9, ratio)
            print(f"  {w:6} {label:16} {flops / sec * 1e-9:8.2f} GFLOP/s  "
                  f"max err/bound {ratio:.1e}", file=sys.stderr)

    names = list(peers)
    print(f"\nGFLOP/s over {clock_name}, median of calls (P128c counts half the flops), "
          f"{args.threads} thread(s); in brackets: max error / bound (<= 1 agrees)\n")
    print("| workload | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    bad = 0
    for w in args.workloads.split(","):
        cells = []
        for n in names:
            g, r = results[(w, n)]
            bad += r > 1
            cells.append(f"{g:.2f} ({r:.1e}{' DISAGREES' if r > 1 else ''})")
        print(f"| {w} | " + " | ".join(cells) + " |")
    print()
    for n in notes:
        print("- " + n)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
