#!/usr/bin/env python3
"""Deferred Norm Profiler: measurement harness (written by `deferred-norm harness`).

Times, on the device it runs on, the kernels a model's layers are made of, at the shapes of one
workload, and writes one JSON file of measurements (schemas/measurements.schema.json) that
`deferred-norm calibrate` fits a hardware profile to:

  launch     the cost of starting one tiny kernel (a 1-element multiply; a 1x1x1 linear)
  stream     a copy at the model's activation and weight sizes (memory bandwidth)
  gemm       every linear of the model's layer kinds at the workload's M, and M+-1 around tile sizes
  norm       the norm as the baseline runs it: PyTorch's eager chain, and the fused kernel where torch has one
  attention  SDPA against eager attention, where torch has SDPA
  allreduce  not measured by this harness (it says so in `skipped`)
  block      the standard norm -> projection block against the deferred one,
             y = (x W'^T) * rsqrt(mean(x^2) + eps): never used for fitting, the held-back test

Needs only torch >= 1.13. Timing: CUDA events (and CUDA graphs where capture works) on a GPU,
time.perf_counter on a CPU; warm-up first, then the median and the 10th/90th percentiles of
repeated samples. The plan (shapes, dtype) is the JSON literal below, written by the CLI.
"""
import argparse
import json
import os
import platform
import sys
import time

PLAN = json.loads(r'''__PLAN__''')

SCHEMA = "deferred-norm-measurements/1"


def log(msg):
    print("[harness] " + msg, file=sys.stderr, flush=True)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = (len(sorted_values) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (i - lo)


class Timer:
    """Times a callable: warm-up, then `samples` samples of `inner` back-to-back calls each."""

    def __init__(self, torch, device, quick):
        self.torch = torch
        self.device = device
        self.quick = quick
        self.samples = 7 if quick else 25
        self.warmup = 3 if quick else 10
        # A sample lasts at least this long, so that the clock's resolution does not matter.
        self.min_sample_s = 0.002 if quick else 0.01
        self.graphs_ok = device == "cuda" and hasattr(torch.cuda, "CUDAGraph")

    def _sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def _once(self, fn):
        t0 = time.perf_counter()
        fn()
        self._sync()
        return max(time.perf_counter() - t0, 1e-7)

    def _prepare(self, fn, use_graph):
        """Warms fn up and returns (what to call, how it is timed, calls per sample, samples)."""
        torch = self.torch
        first = self._once(fn)
        # A slow kernel (a large GEMM on a CPU) needs few calls to be warm and few samples to be sure.
        slow = first > 0.02
        for _ in range(1 if slow else self.warmup):
            fn()
        self._sync()
        how = "perf_counter"
        run = fn
        if self.device == "cuda":
            how = "cuda-events"
            if use_graph and self.graphs_ok:
                try:
                    stream = torch.cuda.Stream()
                    stream.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(stream):
                        fn()
                    torch.cuda.current_stream().wait_stream(stream)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        fn()
                    run = graph.replay
                    how = "cuda-graph"
                except Exception as err:  # capture is not possible for every kernel: time it eagerly
                    log("CUDA graph capture failed (%s): timing eagerly" % type(err).__name__)
                    run = fn
        once = self._once(run)
        inner = max(1, min(10000, int(self.min_sample_s / once)))
        samples = max(3, self.samples // 3) if slow else self.samples
        return run, how, inner, samples

    def _sample(self, run, inner):
        torch = self.torch
        if self.device == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                run()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) * 1000.0 / inner
        t0 = time.perf_counter()
        for _ in range(inner):
            run()
        return (time.perf_counter() - t0) * 1e6 / inner

    @staticmethod
    def _stats(values, inner, how):
        values = sorted(values)
        return {
            "medianUs": percentile(values, 0.5),
            "p10Us": percentile(values, 0.1),
            "p90Us": percentile(values, 0.9),
            "samples": len(values),
            "inner": inner,
        }, how

    def time(self, fn, use_graph=False):
        """Returns (stats dict, how it was timed)."""
        run, how, inner, samples = self._prepare(fn, use_graph)
        return self._stats([self._sample(run, inner) for _ in range(samples)], inner, how)

    def time_pair(self, fa, fb):
        """Times two callables with their samples interleaved (a, b, a, b, ...), so that anything
        else the machine does in the meantime slows both alike; returns their two (stats, how)."""
        ra, how_a, ia, na = self._prepare(fa, False)
        rb, how_b, ib, nb = self._prepare(fb, False)
        n = max(na, nb) * 2
        va, vb = [], []
        for _ in range(n):
            va.append(self._sample(ra, ia))
            vb.append(self._sample(rb, ib))
        return self._stats(va, ia, how_a), self._stats(vb, ib, how_b)


def provenance(torch, device, dtype, threads):
    info = {
        "device": device,
        "deviceName": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dtype": dtype,
        "threads": threads,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if device == "cpu":
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        info["deviceName"] = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        try:
            with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq") as f:
                info["clockMHz"] = int(f.read().strip()) / 1000.0
        except (OSError, ValueError):
            info["clockNote"] = "the CPU clock is not readable here (/sys/devices/system/cpu/cpu0/cpufreq)"
    else:
        props = torch.cuda.get_device_properties(0)
        info["deviceName"] = props.name
        info["multiprocessors"] = props.multi_processor_count
        info["cuda"] = torch.version.cuda
        info["gpus"] = torch.cuda.device_count()
        try:
            import subprocess
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version,clocks.sm,clocks.mem", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip().split(",")
            info["driver"] = out[0].strip()
            info["clockMHz"] = float(out[1])
            info["memoryClockMHz"] = float(out[2])
        except Exception:
            info["clockNote"] = "driver and clocks not readable (nvidia-smi failed)"
    return info


def main():
    parser = argparse.ArgumentParser(description="Deferred Norm Profiler measurement harness")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=PLAN.get("device", "cpu"))
    parser.add_argument("--quick", action="store_true", default=bool(PLAN.get("quick", False)))
    parser.add_argument("--threads", type=int, default=0, help="torch threads on a CPU (0: torch's default)")
    parser.add_argument("--out", required=True, help="where to write the measurements JSON")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    if args.device == "cuda" and not torch.cuda.is_available():
        print("deferred-norm harness: --device cuda, but torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = args.device
    dtype_name = PLAN["dtype"] if device == "cuda" else "fp32"
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    elem = torch.tensor([], dtype=dtype).element_size()
    threads = torch.get_num_threads()
    timer = Timer(torch, device, args.quick)
    torch.manual_seed(0)
    gen = lambda *shape: torch.randn(*shape, device=device, dtype=dtype)

    entries = []
    skipped = []
    done = [0]
    att = PLAN.get("attention")
    has_rms, has_sdpa = hasattr(F, "rms_norm"), hasattr(F, "scaled_dot_product_attention")
    total = (2 + len(PLAN["streams"]) + sum(len(g["ms"]) for g in PLAN["gemms"])
             + sum(2 if (n["kind"] == "layernorm" or has_rms) else 1 for n in PLAN["norms"])
             + ((2 if has_sdpa else 1) if att else 0) + len(PLAN["blocks"]))

    def step(what):
        done[0] += 1
        log("%d/%d %s" % (done[0], total, what))

    def record(entry, fn, use_graph=False):
        stats, how = timer.time(fn, use_graph)
        entry.update(stats)
        entry["timing"] = how
        entries.append(entry)

    # launch: the cost of starting one tiny kernel
    step("launch cost")
    one = gen(1)
    record({"kind": "launch", "name": "vector (1-element multiply)", "engine": "vector"}, lambda: one.mul(one))
    w11 = gen(1, 1)
    x11 = gen(1, 1)
    record({"kind": "launch", "name": "matrix (1x1x1 linear)", "engine": "matrix"}, lambda: F.linear(x11, w11))

    # stream: a copy at each size the plan names (activations and weights)
    for size in PLAN["streams"]:
        step("stream %d elements" % size)
        src = gen(size)
        dst = torch.empty_like(src)
        record({"kind": "stream", "name": "copy", "elements": size, "bytes": 2 * size * elem}, lambda: dst.copy_(src), True)
        del src, dst

    # gemm: y = x W^T at every M of the plan
    for g in PLAN["gemms"]:
        w = gen(g["n"], g["k"])
        for m in g["ms"]:
            step("gemm %s m=%d k=%d n=%d" % (g["name"], m, g["k"], g["n"]))
            x = gen(m, g["k"])
            record({"kind": "gemm", "name": g["name"], "m": m, "k": g["k"], "n": g["n"]}, lambda: F.linear(x, w), True)
        del w

    # norm: the eager chain as the baseline runs it, and the fused kernel where torch has one
    for nrm in PLAN["norms"]:
        rows, width, eps = nrm["rows"], nrm["width"], nrm["eps"]
        x = gen(rows, width)
        gamma = gen(width)
        beta = gen(width)
        step("norm %s eager" % nrm["name"])
        if nrm["kind"] == "rmsnorm":
            def eager(x=x, gamma=gamma, eps=eps):
                h = x.to(torch.float32)
                var = h.pow(2).mean(-1, keepdim=True)
                h = h * torch.rsqrt(var + eps)
                return gamma * h.to(dtype)
            record({"kind": "norm", "name": nrm["name"], "norm": "rmsnorm", "impl": "eager", "rows": rows, "width": width}, eager)
            if has_rms:
                step("norm %s fused" % nrm["name"])
                record({"kind": "norm", "name": nrm["name"], "norm": "rmsnorm", "impl": "fused", "rows": rows, "width": width},
                       lambda: F.rms_norm(x, (width,), gamma, eps), True)
            else:
                skipped.append({"what": "norm %s fused (F.rms_norm)" % nrm["name"], "why": "torch %s has no F.rms_norm (added in torch 2.4): only the eager chain is timed" % torch.__version__})
        else:
            record({"kind": "norm", "name": nrm["name"], "norm": "layernorm", "impl": "fused", "rows": rows, "width": width},
                   lambda: F.layer_norm(x, (width,), gamma, beta, eps), True)
            def eager_ln(x=x, gamma=gamma, beta=beta, eps=eps):
                h = x.to(torch.float32)
                mu = h.mean(-1, keepdim=True)
                var = (h - mu).pow(2).mean(-1, keepdim=True)
                return gamma * ((h - mu) * torch.rsqrt(var + eps)).to(dtype) + beta
            step("norm %s eager" % nrm["name"])
            record({"kind": "norm", "name": nrm["name"], "norm": "layernorm", "impl": "eager", "rows": rows, "width": width}, eager_ln)
        del x

    # attention: SDPA against eager, one layer's heads at the workload's queries and keys
    if att:
        b, h, hkv, d, q_len, k_len = att["batch"], att["heads"], att["kvHeads"], att["headDim"], att["queries"], att["keys"]
        q = gen(b, h, q_len, d)
        k = gen(b, h, k_len, d)
        v = gen(b, h, k_len, d)
        scale = d ** -0.5
        step("attention eager")
        def eager_att():
            p = torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1)
            return p @ v
        shape = {"batch": b, "heads": h, "kvHeads": hkv, "headDim": d, "queries": q_len, "keys": k_len}
        record(dict({"kind": "attention", "name": "attention", "impl": "eager"}, **shape), eager_att)
        if has_sdpa:
            step("attention sdpa")
            record(dict({"kind": "attention", "name": "attention", "impl": "sdpa"}, **shape),
                   lambda: F.scaled_dot_product_attention(q, k, v), True)
        else:
            skipped.append({"what": "attention sdpa (F.scaled_dot_product_attention)", "why": "torch %s has no F.scaled_dot_product_attention (added in torch 2.0): only eager attention is timed" % torch.__version__})
        del q, k, v

    skipped.append({"what": "allreduce", "why": "all-reduce at the model's message sizes is not measured by this harness version (one process, one device); the profile keeps the base's interChip numbers"})

    # block: standard norm -> projections against the deferred form (the held-back test)
    for blk in PLAN["blocks"]:
        rows, width, eps = blk["rows"], blk["width"], blk["eps"]
        x = gen(rows, width)
        gamma = gen(width)
        ws = [gen(c["n"], width) for c in blk["consumers"]]
        # W' = W diag(gamma): gamma folded into the weights (FlashNorm)
        wfold = [w * gamma for w in ws]
        names = [c["name"] for c in blk["consumers"]]

        def standard():
            h = x.to(torch.float32)
            var = h.pow(2).mean(-1, keepdim=True)
            h = h * torch.rsqrt(var + eps)
            h = gamma * h.to(dtype)
            return [F.linear(h, w) for w in ws]

        side = torch.cuda.Stream() if device == "cuda" else None

        def deferred():
            if side is not None:
                # the statistic beside the GEMMs, on a second stream
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    r = torch.rsqrt(x.to(torch.float32).pow(2).mean(-1, keepdim=True) + eps).to(dtype)
                ys = [F.linear(x, w) for w in wfold]
                torch.cuda.current_stream().wait_stream(side)
            else:
                ys = [F.linear(x, w) for w in wfold]
                r = torch.rsqrt(x.to(torch.float32).pow(2).mean(-1, keepdim=True) + eps).to(dtype)
            return [y * r for y in ys]

        # the two forms agree (the timing would mean nothing otherwise)
        a, d2 = standard(), deferred()
        worst = max(float((p.float() - q2.float()).abs().max() / (p.float().abs().max() + 1e-12)) for p, q2 in zip(a, d2))
        tol = 1e-4 if dtype == torch.float32 else 3e-2
        if not worst < tol:
            print("deferred-norm harness: the deferred block differs from the standard one by %.3g (relative), more than %.g" % (worst, tol), file=sys.stderr)
            return 1
        base = {"kind": "block", "site": blk["site"], "layerKind": blk["layerKind"], "norm": blk["norm"], "rows": rows, "width": width, "consumers": names}
        step("block %s standard and deferred (interleaved)" % blk["site"])
        (sa, how_a), (sb, how_b) = timer.time_pair(standard, deferred)
        entries.append(dict(base, variant="standard", timing=how_a, **sa))
        entries.append(dict(base, variant="deferred", timing=how_b, **sb))

    out = {
        "schema": SCHEMA,
        "provenance": provenance(torch, device, dtype_name, threads),
        "model": PLAN["model"],
        "workload": PLAN["workload"],
        "quick": args.quick,
        "entries": entries,
        "skipped": skipped,
    }
    tmp = args.out + ".part"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, args.out)
    log("wrote %s (%d measurements)" % (args.out, len(entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
