"""onnxruntime's side of the ONNX benchmark (BENCHMARKS.md, "ONNX inference"); not run in CI.

Times onnxruntime on an fp32 export and on onnxruntime's own dynamic int8 quantisation of it
(`quantize_dynamic`, default settings), on the same deterministic window `edge-infer bench`
uses, with a given number of intra-op threads. Prints one JSON object per model.

    python scripts/ort_bench.py --onnx models/distil-3s-fp32.onnx --threads 1 --iters 50

Needs: onnxruntime, onnx, numpy.
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import quantize_dynamic


def test_window(n):
    """Same values as edge_infer::bench::test_window (xorshift noise + 450 Hz tone)."""
    state = 0x2545F4914F6CDD1D
    mask = (1 << 64) - 1
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        state ^= (state << 13) & mask
        state ^= state >> 7
        state ^= (state << 17) & mask
        noise = np.float32(state >> 40) / np.float32(1 << 24) - np.float32(0.5)
        tone = np.sin(np.float32(2 * np.pi * 450.0 * i / 16000.0), dtype=np.float32)
        out[i] = np.float32(0.1) * tone + np.float32(0.05) * noise
    return out


def time_session(path, window, threads, iters, warmup):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    started = time.perf_counter()
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - started
    feed = {session.get_inputs()[0].name: window[None, :]}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        logits = session.run(None, feed)[0]
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()

    def rank(p):
        i = max(1, min(len(times), int(np.ceil(p / 100 * len(times)))))
        return times[i - 1]

    return {
        "load_seconds": load,
        "latency_ms": {
            "min": times[0],
            "p50": rank(50),
            "p95": rank(95),
            "p99": rank(99),
            "max": times[-1],
            "mean": float(np.mean(times)),
        },
        "logits": [float(x) for x in logits.ravel()],
        "bytes": os.path.getsize(path),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", required=True, help="fp32 export from host-train export")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    import onnx

    model = onnx.load(args.onnx)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    window = test_window(dims[1].dim_value)
    with tempfile.TemporaryDirectory() as tmp:
        int8_path = os.path.join(tmp, "ort-int8.onnx")
        quantize_dynamic(args.onnx, int8_path)
        for name, path in [("onnxruntime fp32", args.onnx), ("onnxruntime int8 (quantize_dynamic)", int8_path)]:
            result = time_session(path, window, args.threads, args.iters, args.warmup)
            result.update(
                {
                    "runtime": name,
                    "onnxruntime": ort.__version__,
                    "threads": args.threads,
                    "window_samples": len(window),
                    "machine": platform.processor() or platform.machine(),
                }
            )
            print(json.dumps(result))


if __name__ == "__main__":
    main()
