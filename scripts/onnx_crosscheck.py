"""Cross-check an exported ONNX against onnxruntime and transformers (not run in CI).

For every window (the scoring windows of the WAVs under --data, 3 s every 1 s, or as given by
--window-seconds) it runs:
  - onnxruntime on the exported file,
  - transformers' HubertForSequenceClassification on the checkpoint directory,
and reports the max |logit difference|, top-1 agreement and the ONNX checker's verdict. It also
prints the file's metadata_props.

    python scripts/onnx_crosscheck.py --model DIR --onnx FILE.onnx --data data/samples

Needs: torch, transformers, onnx, onnxruntime, numpy, soundfile-free WAV reading via the stdlib.
"""

import argparse
import json
import pathlib
import wave

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import HubertForSequenceClassification


def read_wav_16k(path):
    with wave.open(str(path)) as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        return None
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32767.0
    x = x.reshape(-1, ch).mean(axis=1)
    if rate != 16000:
        # Linear interpolation is enough to compare two implementations on the same input.
        t = np.arange(0, len(x) * 16000 / rate) * rate / 16000
        x = np.interp(t, np.arange(len(x)), x).astype(np.float32)
    return x


def windows(data, n):
    for path in sorted(pathlib.Path(data).rglob("*.wav")):
        x = read_wav_16k(path)
        if x is None:
            continue
        starts = list(range(0, max(len(x) - n, 0) + 1, 16000))
        if len(x) > n and starts[-1] != len(x) - n:
            starts.append(len(x) - n)
        for s in starts:
            w = np.zeros(n, dtype=np.float32)
            chunk = x[s : s + n]
            w[: len(chunk)] = chunk
            yield w


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--onnx", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--max-windows", type=int, default=64)
    a = p.parse_args()

    proto = onnx.load(a.onnx)
    onnx.checker.check_model(proto)
    meta = {m.key: m.value for m in proto.metadata_props}
    n = int(meta["cry.window_samples"])
    normalize = meta["cry.normalize"] == "true"
    sess = ort.InferenceSession(a.onnx, providers=["CPUExecutionProvider"])
    hf = HubertForSequenceClassification.from_pretrained(a.model).eval()

    diffs, agree, count = [], 0, 0
    for w in windows(a.data, n):
        got = sess.run(["logits"], {"audio": w[None, :]})[0][0]
        x = w.copy()
        if normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        with torch.no_grad():
            want = hf(torch.from_numpy(x)[None, :]).logits[0].numpy()
        diffs.append(float(np.abs(got - want).max()))
        agree += int(got.argmax() == want.argmax())
        count += 1
        if count == a.max_windows:
            break
    print(json.dumps({
        "onnx_checker": "passed",
        "metadata": meta,
        "windows": count,
        "max_abs_diff_vs_transformers": max(diffs),
        "top1_agreement": agree / count,
        "onnxruntime": ort.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
