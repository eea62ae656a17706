"""Make tiny random-init HuBERT checkpoints and reference outputs for the Rust port.

Writes host-train/tests/fixtures/hubert/<case>/ for four cases. Each folder is a
checkpoint exactly as Hugging Face transformers lays it out (config.json, the
weights file, preprocessor_config.json) plus

  reference.safetensors  input audio, feature-extractor output, conv features,
                         hidden states, logits (and, in cls_weighted, gradients)
                         computed by transformers on the RELOADED checkpoint
  reference.json         what the case is and how it was made

The Rust tests load the checkpoint with the product's own loader and compare
against reference.safetensors.

Cases:
  distil_group  HubertModel, DistilHuBERT-shaped (group norm, post-norm encoder,
                no feature-projection LayerNorm, no conv bias); model.safetensors
                with the OLD weight-norm key names (...conv.weight_g / weight_v),
                as in the real ntu-spml/distilhubert checkpoint.
  layer_stable  HubertModel, layer-norm feature encoder, stable (pre-norm)
                encoder, projection LayerNorm, conv bias; pytorch_model.bin with
                the NEW names (...conv.parametrizations.weight.original0/1).
  cls_weighted  HubertForSequenceClassification, group norm, post-norm,
                projection LayerNorm, conv bias, use_weighted_layer_sum;
                model.safetensors, new names; also gradients of a CE loss.
  cls_plain     HubertForSequenceClassification, DistilHuBERT-shaped body,
                last hidden state; pytorch_model.bin with OLD names.

Run (from the repository root):

    python3 -m venv /tmp/venv-ref && /tmp/venv-ref/bin/pip install torch==2.9.0 transformers safetensors numpy \
        && /tmp/venv-ref/bin/python scripts/make_hubert_fixtures.py

Generated with torch 2.9.0 (CPU), transformers 5.23.0, safetensors 0.8.0,
numpy 2.4.6 (the versions are also recorded in every reference.json).
The output is deterministic for a given set of library versions
(torch.manual_seed per case, numpy default_rng). Loading these folders with
transformers 4.57.6 reproduces every reference tensor to ~2e-6 except
layer_stable's hidden_states[-1] (see that case's notes: transformers 5 returns
the last layer's output before the final encoder LayerNorm, 4.x the normed one).

Not needed by the product; CI never runs this script -- the files it writes are
committed.
"""

import collections
import json
import os
import shutil

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import (
    HubertConfig,
    HubertForSequenceClassification,
    HubertModel,
    Wav2Vec2FeatureExtractor,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO_ROOT, "host-train", "tests", "fixtures", "hubert")

SAMPLE_RATE = 16000
CLIP_LEN = 4000  # clip 0, and the padded batch length
SHORT_LEN = 2600  # clip 1's real length; the rest of its row is padding
ATOL_RELOAD = 1e-6

OLD_G = "encoder.pos_conv_embed.conv.weight_g"
OLD_V = "encoder.pos_conv_embed.conv.weight_v"
NEW_G = "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
NEW_V = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"

BASE_CONFIG = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=(32, 32, 32),
    conv_kernel=(10, 3, 3),
    conv_stride=(5, 2, 2),
    num_feat_extract_layers=3,
    # even kernel: HubertSamePadLayer drops the last frame of the pos-conv output
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    hidden_act="gelu",
    feat_extract_activation="gelu",
    layer_norm_eps=1e-5,
    hidden_dropout=0.1,
    activation_dropout=0.1,
    attention_dropout=0.1,
    feat_proj_dropout=0.1,
    final_dropout=0.1,
    layerdrop=0.1,
    apply_spec_augment=False,
    vocab_size=32,
)

GRAD_PARAMS = [
    "classifier.weight",
    "projector.weight",
    "layer_weights",
    "hubert.encoder.layers.1.feed_forward.output_dense.weight",
    "hubert.encoder.layers.0.attention.q_proj.weight",
    "hubert.feature_projection.projection.weight",
    "hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original1",
    "hubert.feature_extractor.conv_layers.2.conv.weight",
]

CASES = [
    dict(
        case="distil_group",
        seed=1001,
        model_class="HubertModel",
        config=dict(
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            feat_proj_layer_norm=False,
            conv_bias=False,
        ),
        weights_file="model.safetensors",
        weight_norm_names="old",
        do_normalize=False,
        return_attention_mask=False,
        labels=None,
        notes=(
            "DistilHuBERT-shaped (group norm, post-norm, no projection LayerNorm, no conv bias). "
            "model.safetensors written by save_pretrained, then rewritten with the pos-conv weight-norm "
            "keys renamed to the old weight_g/weight_v names (metadata {'format': 'pt'} kept), as in the "
            "real ntu-spml/distilhubert checkpoint. Preprocessor as distilhubert's: do_normalize=false, "
            "return_attention_mask=false; the references still pass the attention mask explicitly."
        ),
    ),
    dict(
        case="layer_stable",
        seed=2002,
        model_class="HubertModel",
        config=dict(
            feat_extract_norm="layer",
            do_stable_layer_norm=True,
            feat_proj_layer_norm=True,
            conv_bias=True,
        ),
        weights_file="pytorch_model.bin",
        weight_norm_names="new",
        do_normalize=True,
        return_attention_mask=True,
        labels=None,
        notes=(
            "Layer-norm feature encoder, stable (pre-norm) encoder, projection LayerNorm, conv bias. "
            "pytorch_model.bin = torch.save of a plain OrderedDict state dict (new parametrization names). "
            "hidden_states comes from transformers 5's output capture: entry L is the last layer's output "
            "BEFORE encoder.layer_norm, so hidden_states[-1] != last_hidden_state here (transformers 4.x "
            "returned the normed last_hidden_state as the final entry)."
        ),
    ),
    dict(
        case="cls_weighted",
        seed=3003,
        model_class="HubertForSequenceClassification",
        config=dict(
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            feat_proj_layer_norm=True,
            conv_bias=True,
            use_weighted_layer_sum=True,
            classifier_proj_size=16,
            num_labels=3,
            id2label={0: "hungry", 1: "tired", 2: "belly_pain"},
            label2id={"hungry": 0, "tired": 1, "belly_pain": 2},
        ),
        weights_file="model.safetensors",
        weight_norm_names="new",
        do_normalize=True,
        return_attention_mask=True,
        labels=[2, 0],
        notes=(
            "Sequence classification with softmax-weighted sum over all L+1 hidden states, group norm, "
            "post-norm, projection LayerNorm, conv bias; layer_weights perturbed away from uniform. "
            "Gradients: model.eval() (no dropout), loss = cross_entropy(logits, labels) (mean over the "
            "batch) on the batched forward with the attention mask; grad.<state_dict name> tensors."
        ),
    ),
    dict(
        case="cls_plain",
        seed=4004,
        model_class="HubertForSequenceClassification",
        config=dict(
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            feat_proj_layer_norm=False,
            conv_bias=False,
            use_weighted_layer_sum=False,
            classifier_proj_size=16,
            num_labels=5,
        ),
        weights_file="pytorch_model.bin",
        weight_norm_names="old",
        do_normalize=False,
        return_attention_mask=True,
        labels=None,
        notes=(
            "Sequence classification on a DistilHuBERT-shaped body (group norm, post-norm, no projection "
            "LayerNorm, no conv bias), pooled last hidden state. pytorch_model.bin = torch.save of a plain "
            "OrderedDict state dict with the pos-conv keys renamed to the old weight_g/weight_v names."
        ),
    ),
]


# --------------------------------------------------------------------------- audio


def make_audio():
    """Two deterministic cry-like clips: harmonic stack + vibrato + envelope + noise."""
    rng = np.random.default_rng(20240611)
    t = np.arange(CLIP_LEN, dtype=np.float64) / SAMPLE_RATE
    clips = []
    for i, (f0, vib_hz, vib_depth, n) in enumerate([(430.0, 5.5, 35.0, CLIP_LEN), (520.0, 7.0, 50.0, SHORT_LEN)]):
        tt = t[:n]
        inst_f = f0 + vib_depth * np.sin(2 * np.pi * vib_hz * tt + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(inst_f) / SAMPLE_RATE
        amps = [1.0, 0.6, 0.35, 0.2] if i == 0 else [1.0, 0.45, 0.5, 0.15]
        sig = sum(a * np.sin((k + 1) * phase + rng.uniform(0, 2 * np.pi)) for k, a in enumerate(amps))
        env = np.minimum(1.0, tt / 0.02) * np.minimum(1.0, (tt[-1] - tt + 1e-3) / 0.03)
        sig = 0.3 * sig * env / np.max(np.abs(sig))
        sig = sig + 0.05 * rng.standard_normal(n)
        row = np.zeros(CLIP_LEN, dtype=np.float32)
        row[:n] = sig.astype(np.float32)
        clips.append(row)
    return np.stack(clips)  # [2, 4000] float32, clip 1 zero-padded after SHORT_LEN


# --------------------------------------------------------------------------- model


def build_model(spec):
    torch.manual_seed(spec["seed"])
    config = HubertConfig(**BASE_CONFIG, **spec["config"])
    cls = HubertModel if spec["model_class"] == "HubertModel" else HubertForSequenceClassification
    model = cls(config)  # transformers' own random init (post_init / _init_weights)
    perturb(model, spec["seed"])
    model.eval()
    return model


@torch.no_grad()
def perturb(model, seed):
    """Move every parameter off its init value so norms/biases are not trivially 1/0."""
    g = torch.Generator().manual_seed(seed + 7)
    norm_modules = {
        name
        for name, mod in model.named_modules()
        if isinstance(mod, (torch.nn.LayerNorm, torch.nn.GroupNorm))
    }
    for name, p in model.named_parameters():
        owner = name.rsplit(".", 1)[0]
        noise = torch.randn(p.shape, generator=g)
        if owner in norm_modules:  # LayerNorm / GroupNorm weight and bias
            p.add_(0.1 * noise)
        elif name.endswith("layer_weights"):
            p.add_(0.3 * noise)
        elif name.endswith("original0"):  # weight-norm magnitude g
            p.mul_(1.0 + 0.1 * noise)
        elif name.endswith("bias"):
            p.add_(0.05 * noise)
        elif p.dim() == 2:  # Linear weights (init std 0.02): make attention non-uniform
            p.add_(0.1 * noise)
        else:  # conv weights, weight_v, masked_spec_embed
            p.add_(0.02 * noise)


def state_dict_for_disk(model, names):
    sd = collections.OrderedDict()
    for k, v in model.state_dict().items():
        if names == "old":
            k = k.replace(NEW_G, OLD_G).replace(NEW_V, OLD_V)
        sd[k] = v.detach().clone().contiguous()
    return sd


def save_checkpoint(model, spec, out_dir, fe):
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir)  # config.json + model.safetensors (new names)
    fe.save_pretrained(out_dir)  # preprocessor_config.json
    st_path = os.path.join(out_dir, "model.safetensors")
    with safe_open(st_path, "pt") as f:
        keys = set(f.keys())
        metadata = f.metadata()
    assert any(k.endswith(NEW_G) for k in keys), f"expected new weight-norm names, got {sorted(keys)}"

    if spec["weights_file"] == "model.safetensors":
        if spec["weight_norm_names"] == "old":
            tensors = load_file(st_path)
            renamed = {}
            for k, v in tensors.items():
                renamed[k.replace(NEW_G, OLD_G).replace(NEW_V, OLD_V)] = v
            assert len(renamed) == len(tensors)
            assert any(k.endswith(OLD_G) for k in renamed) and any(k.endswith(OLD_V) for k in renamed)
            assert metadata == {"format": "pt"}, metadata
            save_file(renamed, st_path, metadata=metadata)
    else:
        os.remove(st_path)
        sd = state_dict_for_disk(model, spec["weight_norm_names"])
        torch.save(sd, os.path.join(out_dir, "pytorch_model.bin"))

    files = sorted(os.listdir(out_dir))
    assert files == sorted(["config.json", "preprocessor_config.json", spec["weights_file"]]), files


def check_weight_names(out_dir, spec):
    path = os.path.join(out_dir, spec["weights_file"])
    if path.endswith(".safetensors"):
        with safe_open(path, "pt") as f:
            keys = list(f.keys())
    else:
        keys = list(torch.load(path, map_location="cpu", weights_only=True).keys())
    has_old = any(k.endswith(OLD_G) for k in keys) and any(k.endswith(OLD_V) for k in keys)
    has_new = any(k.endswith(NEW_G) for k in keys) and any(k.endswith(NEW_V) for k in keys)
    assert has_old == (spec["weight_norm_names"] == "old") and has_new == (spec["weight_norm_names"] == "new"), keys


def reload(spec, out_dir):
    cls = HubertModel if spec["model_class"] == "HubertModel" else HubertForSequenceClassification
    model, info = cls.from_pretrained(out_dir, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert not info.get(key), f"{spec['case']}: {key} = {info.get(key)}"
    model.eval()
    return model


# --------------------------------------------------------------------------- forward passes


def hubert_of(model):
    return model if isinstance(model, HubertModel) else model.hubert


def run_forward(model, input_values, attention_mask):
    """One forward; returns conv features, hidden states, the hubert last hidden state, logits."""
    captured = {}
    h1 = hubert_of(model).feature_extractor.register_forward_hook(
        lambda m, a, o: captured.__setitem__("conv", o.detach().clone())
    )
    h2 = hubert_of(model).register_forward_hook(
        lambda m, a, o: captured.__setitem__("last", o.last_hidden_state.detach().clone())
    )
    try:
        out = model(input_values, attention_mask=attention_mask, output_hidden_states=True)
    finally:
        h1.remove()
        h2.remove()
    res = {
        "conv_features": captured["conv"],
        "hidden_states": torch.stack([h.detach() for h in out.hidden_states]),
        "last_hidden_state": captured["last"],
    }
    if isinstance(model, HubertModel):
        assert torch.equal(res["last_hidden_state"], out.last_hidden_state)
    else:
        res["logits"] = out.logits.detach()
    return res, out


def max_abs(a, b):
    return float((a - b).abs().max())


def compare_models(a, b, input_values, attention_mask):
    with torch.no_grad():
        ra, _ = run_forward(a, input_values, attention_mask)
        rb, _ = run_forward(b, input_values, attention_mask)
    worst = max(max_abs(ra[k], rb[k]) for k in ra)
    assert worst <= ATOL_RELOAD, f"reloaded model differs from in-memory model by {worst}"
    return worst


# --------------------------------------------------------------------------- main


def make_case(spec, audio, lengths):
    case = spec["case"]
    out_dir = os.path.join(OUT_ROOT, case)
    fe = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=spec["do_normalize"],
        return_attention_mask=spec["return_attention_mask"],
    )
    feats = fe(
        [audio[0], audio[1, : lengths[1]]],
        sampling_rate=SAMPLE_RATE,
        padding=True,
        return_tensors="pt",
        return_attention_mask=True,
    )
    input_values = feats["input_values"].to(torch.float32)
    attention_mask = feats["attention_mask"].to(torch.int64)
    assert input_values.shape == (2, CLIP_LEN) and attention_mask.shape == (2, CLIP_LEN)
    assert attention_mask.sum(-1).tolist() == list(lengths)

    model = build_model(spec)
    save_checkpoint(model, spec, out_dir, fe)
    check_weight_names(out_dir, spec)
    fe_reloaded = Wav2Vec2FeatureExtractor.from_pretrained(out_dir)
    assert fe_reloaded.do_normalize == spec["do_normalize"]
    assert fe_reloaded.return_attention_mask == spec["return_attention_mask"]

    reloaded = reload(spec, out_dir)
    reload_diff = compare_models(model, reloaded, input_values, attention_mask)
    sd_mem, sd_new = model.state_dict(), reloaded.state_dict()
    assert sd_mem.keys() == sd_new.keys()
    assert all(torch.equal(sd_mem[k], sd_new[k]) for k in sd_mem)
    model = reloaded  # references come from the reloaded checkpoint

    tensors = {
        "audio": torch.from_numpy(audio).to(torch.float32),
        "lengths": torch.tensor(lengths, dtype=torch.int64),
        "input_values": input_values,
        "attention_mask": attention_mask,
    }
    with torch.no_grad():
        batched, _ = run_forward(model, input_values, attention_mask)
        single, single_out = run_forward(model, input_values[:1], None)
    tensors.update(batched)
    tensors["single_last_hidden_state"] = single["last_hidden_state"]
    if "logits" in single:
        tensors["single_logits"] = single["logits"]

    stats = {"reload_max_abs_diff": reload_diff}
    stats["single_vs_batched_row0_max_abs_diff"] = max_abs(
        single["last_hidden_state"][0], batched["last_hidden_state"][0]
    )
    stats["hidden_states_last_vs_last_hidden_state_max_abs_diff"] = max_abs(
        batched["hidden_states"][-1], batched["last_hidden_state"]
    )
    # clip 1 alone (no padding) vs its row in the padded+masked batch
    with torch.no_grad():
        alone, _ = run_forward(model, input_values[1:2, : lengths[1]], None)
    t1 = alone["last_hidden_state"].shape[1]
    stats["clip1_alone_vs_batched_valid_frames_max_abs_diff"] = max_abs(
        alone["last_hidden_state"][0], batched["last_hidden_state"][1, :t1]
    )
    # eager attention must agree with the default (sdpa) path
    eager = type(model).from_pretrained(out_dir, attn_implementation="eager").eval()
    with torch.no_grad():
        ref_eager, _ = run_forward(eager, input_values, attention_mask)
    stats["eager_vs_default_attention_max_abs_diff"] = max_abs(
        ref_eager["last_hidden_state"], batched["last_hidden_state"]
    )

    grad_params = []
    if spec["labels"] is not None:
        labels = torch.tensor(spec["labels"], dtype=torch.int64)
        model.eval()
        model.zero_grad(set_to_none=True)
        out = model(input_values, attention_mask=attention_mask, output_hidden_states=True)
        loss = F.cross_entropy(out.logits, labels)
        loss.backward()
        named = dict(model.named_parameters())
        sd_keys = set(model.state_dict().keys())
        for name in GRAD_PARAMS:
            assert name in sd_keys and name in named, name
            grad = named[name].grad
            assert grad is not None and float(grad.abs().max()) > 0, name
            tensors[f"grad.{name}"] = grad.detach().clone()
        tensors["loss"] = loss.detach().reshape(1)
        assert max_abs(out.logits.detach(), batched["logits"]) <= 1e-6
        grad_params = list(GRAD_PARAMS)
        model.zero_grad(set_to_none=True)

    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        assert v.dtype == (torch.int64 if k in ("lengths", "attention_mask") else torch.float32), (k, v.dtype)
        assert torch.isfinite(v.to(torch.float64)).all(), k
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"), metadata={"format": "pt"})

    meta = {
        "case": case,
        "model_class": spec["model_class"],
        "weights_file": spec["weights_file"],
        "weight_norm_names": spec["weight_norm_names"],
        "do_normalize": spec["do_normalize"],
        "return_attention_mask": spec["return_attention_mask"],
        "labels": spec["labels"],
        "grad_params": grad_params,
        "seed": spec["seed"],
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "attn_implementation": model.config._attn_implementation,
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "stats": stats,
        "notes": spec["notes"],
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_ROOT, exist_ok=True)
    audio = make_audio()
    lengths = [CLIP_LEN, SHORT_LEN]
    assert np.all(audio[1, SHORT_LEN:] == 0.0)
    for spec in CASES:
        meta = make_case(spec, audio, lengths)
        print(f"{meta['case']}: {json.dumps(meta['stats'])}")
        for k, shape in meta["tensors"].items():
            print(f"    {k}: {shape}")
    total = 0
    for root, _, files in os.walk(OUT_ROOT):
        for name in sorted(files):
            size = os.path.getsize(os.path.join(root, name))
            total += size
            print(f"{os.path.relpath(os.path.join(root, name), REPO_ROOT)}  {size}")
            os.chmod(os.path.join(root, name), 0o644)
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
