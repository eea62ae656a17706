"""PyTorch reference timings for BENCHMARKS.md: the same measurements as `host-train bench`.

A random-init DistilHuBERT-architecture HubertForSequenceClassification (5 labels): forward
latency for 1, 3 and 7 s clips (batch 1, no grad, eval mode), and one fine-tuning step
(batch 8 x 7 s, feature encoder frozen, AdamW, cross-entropy, train mode). Median and min of
N timed runs after one warm-up, on the CPU, with torch's default thread count.

    python3 -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install torch==2.9.0 transformers \
        && /tmp/venv-ref/bin/python scripts/bench_reference.py --iters 5

Not needed by the product or CI.
"""

import argparse
import json
import platform
import statistics
import time

import torch
from transformers import HubertConfig, HubertForSequenceClassification

# ntu-spml/distilhubert's architecture (the same values as host-train's built-in preset).
DISTILHUBERT = dict(
    conv_bias=False,
    conv_dim=[512] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],
    do_stable_layer_norm=False,
    feat_extract_norm="group",
    feat_proj_layer_norm=False,
    hidden_size=768,
    intermediate_size=3072,
    num_attention_heads=12,
    num_conv_pos_embedding_groups=16,
    num_conv_pos_embeddings=128,
    num_hidden_layers=2,
    layerdrop=0.0,
    apply_spec_augment=False,
    num_labels=5,
)


def timed(fn, iters):
    fn()
    runs = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), min(runs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--seconds", default="1,3,7")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-seconds", type=float, default=7.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = HubertForSequenceClassification(HubertConfig(**DISTILHUBERT))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    results = []
    model.eval()
    for seconds in [float(s) for s in args.seconds.split(",")]:
        x = torch.randn(1, int(seconds * 16000)) * 0.1
        with torch.no_grad():
            med, best = timed(lambda: model(x).logits, args.iters)
        results.append((f"forward {seconds:g} s", med, best))
    model.train()
    model.freeze_feature_encoder()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5,
                              weight_decay=0.01)
    x = torch.randn(args.train_batch, int(args.train_seconds * 16000)) * 0.1
    y = torch.arange(args.train_batch) % 5

    def step():
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x).logits, y)
        loss.backward()
        optim.step()

    med, best = timed(step, args.iters)
    results.append((f"train step {args.train_batch} x {args.train_seconds:g} s", med, best))
    for name, med, best in results:
        print(f"{name:<40} median {med:8.3f} s  min {best:8.3f} s")
    print(json.dumps([{"name": n, "median_s": m, "min_s": b} for n, m, b in results]))


if __name__ == "__main__":
    main()
