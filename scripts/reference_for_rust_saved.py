"""Check that transformers loads a checkpoint directory written by the Rust side, and record
transformers' outputs on it, so the Rust tests can prove the round trip Rust -> transformers.

The directory is made by

    cargo run -p host-train -- init --config host-train/tests/fixtures/hubert/cls_weighted/config.json \
        --labels hungry,tired,belly_pain --seed 11 --out host-train/tests/fixtures/hubert/rust_saved

and this script (same venv as make_hubert_fixtures.py) then loads it with
`HubertForSequenceClassification.from_pretrained` - failing on any missing, unexpected or
mismatched key - and writes reference.safetensors / reference.json beside it, with the same
tensors and audio as the other fixtures:

    /tmp/venv-ref/bin/python scripts/reference_for_rust_saved.py host-train/tests/fixtures/hubert/rust_saved

Not needed by the product or CI.
"""

import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import HubertForSequenceClassification, Wav2Vec2FeatureExtractor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_hubert_fixtures import CLIP_LEN, SAMPLE_RATE, SHORT_LEN, make_audio, run_forward  # noqa: E402


def main() -> None:
    out_dir = sys.argv[1]
    model, info = HubertForSequenceClassification.from_pretrained(out_dir, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert not info.get(key), f"{key} = {info.get(key)}"
    model.eval()
    fe = Wav2Vec2FeatureExtractor.from_pretrained(out_dir)
    audio = make_audio()
    lengths = [CLIP_LEN, SHORT_LEN]
    feats = fe(
        [audio[0], audio[1, :SHORT_LEN]],
        sampling_rate=SAMPLE_RATE,
        padding=True,
        return_tensors="pt",
        return_attention_mask=True,
    )
    tensors = {
        "audio": torch.from_numpy(audio).to(torch.float32),
        "lengths": torch.tensor(lengths, dtype=torch.int64),
        "input_values": feats["input_values"].to(torch.float32),
        "attention_mask": feats["attention_mask"].to(torch.int64),
    }
    with torch.no_grad():
        batched, _ = run_forward(model, tensors["input_values"], tensors["attention_mask"])
        single, _ = run_forward(model, tensors["input_values"][:1], None)
    tensors.update(batched)
    tensors["single_last_hidden_state"] = single["last_hidden_state"]
    tensors["single_logits"] = single["logits"]
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"), metadata={"format": "pt"})
    meta = {
        "case": "rust_saved",
        "made_by": "host-train init, then loaded by transformers",
        "id2label": model.config.id2label,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
