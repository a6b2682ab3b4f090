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

    def run_rounds(self, jobs, progress):
        """Samples every job once per round, in the same order each round, so that whatever else the
        machine does in the meantime falls on every kernel alike (a contended CPU slows them all, not
        just the ones timed while it was busy). A slow job is sampled in fewer rounds, spread over all."""
        prepared = []
        for i, (entry, fn, use_graph) in enumerate(jobs):
            progress("prepare %d/%d: %s" % (i + 1, len(jobs), describe(entry)))
            run, how, inner, samples = self._prepare(fn, use_graph)
            prepared.append((entry, run, how, inner, samples, []))
        rounds = max(p[4] for p in prepared) if prepared else 0
        for r in range(rounds):
            progress("round %d/%d" % (r + 1, rounds))
            for entry, run, how, inner, samples, values in prepared:
                stride = max(1, rounds // samples)
                if r % stride == 0 and len(values) < samples:
                    values.append(self._sample(run, inner))
        out = []
        for entry, run, how, inner, samples, values in prepared:
            stats, how = self._stats(values, inner, how)
            entry.update(stats)
            entry["timing"] = how
            out.append(entry)
        return out


def describe(entry):
    shape = ", ".join("%s=%s" % (k, entry[k]) for k in ("m", "k", "n", "rows", "width", "elements", "variant", "impl") if k in entry)
    return "%s %s%s" % (entry["kind"], entry.get("name", entry.get("site", "")), " (" + shape + ")" if shape else "")


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

    jobs = []
    skipped = []
    has_rms, has_sdpa = hasattr(F, "rms_norm"), hasattr(F, "scaled_dot_product_attention")

    def job(entry, fn, use_graph=False):
        jobs.append((entry, fn, use_graph))

    # launch: the cost of starting one tiny kernel
    one = gen(1)
    job({"kind": "launch", "name": "vector (1-element multiply)", "engine": "vector"}, lambda: one.mul(one))
    w11, x11 = gen(1, 1), gen(1, 1)
    job({"kind": "launch", "name": "matrix (1x1x1 linear)", "engine": "matrix"}, lambda: F.linear(x11, w11))

    # stream: a copy at each size the plan names (activations and weights)
    for size in PLAN["streams"]:
        src = gen(size)
        dst = torch.empty_like(src)
        job({"kind": "stream", "name": "copy", "elements": size, "bytes": 2 * size * elem}, lambda src=src, dst=dst: dst.copy_(src), True)

    # gemm: y = x W^T at every M of the plan
    for g in PLAN["gemms"]:
        w = gen(g["n"], g["k"])
        for m in g["ms"]:
            x = gen(m, g["k"])
            job({"kind": "gemm", "name": g["name"], "m": m, "k": g["k"], "n": g["n"]}, lambda x=x, w=w: F.linear(x, w), True)

    # norm: the eager chain as the baseline runs it, and the fused kernel where torch has one
    for nrm in PLAN["norms"]:
        rows, width, eps = nrm["rows"], nrm["width"], nrm["eps"]
        x, gamma, beta = gen(rows, width), gen(width), gen(width)
        shape = {"kind": "norm", "name": nrm["name"], "norm": nrm["kind"], "rows": rows, "width": width}
        if nrm["kind"] == "rmsnorm":
            def eager(x=x, gamma=gamma, eps=eps):
                h = x.to(torch.float32)
                var = h.pow(2).mean(-1, keepdim=True)
                h = h * torch.rsqrt(var + eps)
                return gamma * h.to(dtype)
            job(dict(shape, impl="eager"), eager)
            if has_rms:
                job(dict(shape, impl="fused"), lambda x=x, gamma=gamma, eps=eps, width=width: F.rms_norm(x, (width,), gamma, eps), True)
            else:
                skipped.append({"what": "norm %s fused (F.rms_norm)" % nrm["name"], "why": "torch %s has no F.rms_norm (added in torch 2.4): only the eager chain is timed" % torch.__version__})
        else:
            job(dict(shape, impl="fused"), lambda x=x, gamma=gamma, beta=beta, eps=eps, width=width: F.layer_norm(x, (width,), gamma, beta, eps), True)
            def eager_ln(x=x, gamma=gamma, beta=beta, eps=eps):
                h = x.to(torch.float32)
                mu = h.mean(-1, keepdim=True)
                var = (h - mu).pow(2).mean(-1, keepdim=True)
                return gamma * ((h - mu) * torch.rsqrt(var + eps)).to(dtype) + beta
            job(dict(shape, impl="eager"), eager_ln)

    # attention: SDPA against eager, one layer's heads at the workload's queries and keys
    att = PLAN.get("attention")
    if att:
        b, h, hkv, d, q_len, k_len = att["batch"], att["heads"], att["kvHeads"], att["headDim"], att["queries"], att["keys"]
        q, k, v = gen(b, h, q_len, d), gen(b, h, k_len, d), gen(b, h, k_len, d)
        scale = d ** -0.5
        def eager_att():
            p = torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1)
            return p @ v
        shape = {"kind": "attention", "name": "attention", "batch": b, "heads": h, "kvHeads": hkv, "headDim": d, "queries": q_len, "keys": k_len}
        job(dict(shape, impl="eager"), eager_att)
        if has_sdpa:
            job(dict(shape, impl="sdpa"), lambda: F.scaled_dot_product_attention(q, k, v), True)
        else:
            skipped.append({"what": "attention sdpa (F.scaled_dot_product_attention)", "why": "torch %s has no F.scaled_dot_product_attention (added in torch 2.0): only eager attention is timed" % torch.__version__})

    skipped.append({"what": "allreduce", "why": "all-reduce at the model's message sizes is not measured by this harness version (one process, one device); the profile keeps the base's interChip numbers"})

    # block: standard norm -> projections against the deferred form (the held-back test)
    for blk in PLAN["blocks"]:
        rows, width, eps = blk["rows"], blk["width"], blk["eps"]
        x = gen(rows, width)
        gamma = gen(width)
        ws = [gen(c["n"], width) for c in blk["consumers"]]
        # W' = W diag(gamma): gamma folded into the weights (FlashNorm)
        wfold = [w * gamma for w in ws]
        side = torch.cuda.Stream() if device == "cuda" else None

        def standard(x=x, gamma=gamma, ws=ws, eps=eps):
            h = x.to(torch.float32)
            var = h.pow(2).mean(-1, keepdim=True)
            h = h * torch.rsqrt(var + eps)
            h = gamma * h.to(dtype)
            return [F.linear(h, w) for w in ws]

        def deferred(x=x, wfold=wfold, eps=eps, side=side):
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
        worst = max(float((p.float() - q2.float()).abs().max() / (p.float().abs().max() + 1e-12)) for p, q2 in zip(standard(), deferred()))
        tol = 1e-4 if dtype == torch.float32 else 3e-2
        if not worst < tol:
            print("deferred-norm harness: the deferred block differs from the standard one by %.3g (relative), more than %.g" % (worst, tol), file=sys.stderr)
            return 1
        base = {"kind": "block", "site": blk["site"], "layerKind": blk["layerKind"], "norm": blk["norm"], "rows": rows, "width": width, "consumers": [c["name"] for c in blk["consumers"]]}
        job(dict(base, variant="standard"), standard)
        job(dict(base, variant="deferred"), deferred)

    entries = timer.run_rounds(jobs, log)

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
