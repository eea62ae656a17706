"""Make scikit-learn reference numbers for the classification metrics.

Writes host-train/tests/fixtures/sklearn_metrics.json: for a handful of
(y_true, y_pred) cases, sklearn's accuracy, balanced accuracy, macro and
weighted precision/recall/F1, per-class scores and the confusion matrix.
The Rust tests compare their own metrics against these numbers.

Run (from the repository root):

    python3 -m venv /tmp/venv-sk && /tmp/venv-sk/bin/pip install scikit-learn \
        && /tmp/venv-sk/bin/python scripts/sklearn_metrics_reference.py

Not needed by the product or CI; the JSON it writes is committed.
"""

import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(REPO_ROOT, "host-train", "tests", "fixtures", "sklearn_metrics.json")


def make_cases():
    cases = []

    y = [0, 1, 2, 2, 1, 0, 1, 2, 0, 1]
    cases.append(("perfect", 3, y, list(y)))

    y = [0, 1, 2, 2, 1, 0, 1, 2, 0, 1]
    cases.append(("all_wrong", 3, y, [(v + 1) % 3 for v in y]))

    y = [1] * 28 + [0] * 3 + [2] * 4 + [3] * 3 + [4] * 2
    cases.append(("majority_constant", 5, y, [1] * len(y)))

    cases.append((
        "predicted_class_absent_from_truth", 4,
        [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 1, 2, 1],
        [0, 3, 0, 1, 1, 3, 2, 2, 3, 2, 1, 1, 0, 1],
    ))

    cases.append((
        "class_absent_everywhere", 5,
        [0, 0, 1, 1, 1, 3, 3, 3, 0, 1, 3, 1],
        [0, 1, 1, 1, 3, 3, 0, 3, 0, 1, 1, 1],
    ))

    cases.append((
        "single_class_truth", 3,
        [2] * 10,
        [2, 0, 2, 1, 2, 2, 0, 2, 1, 2],
    ))

    rng = np.random.default_rng(7)
    yt = rng.choice(5, size=200, p=[0.05, 0.6, 0.15, 0.1, 0.1])
    yp = rng.integers(0, 5, size=200)
    cases.append(("random_200", 5, yt.tolist(), yp.tolist()))

    # Cry-fold-like: class 1 ("hungry") dominates; predictions mostly say
    # hungry, are right on most hungry items and on a few minority items.
    rng = np.random.default_rng(11)
    yt = rng.choice(5, size=90, p=[0.08, 0.62, 0.12, 0.1, 0.08])
    yp = np.empty_like(yt)
    for i, t in enumerate(yt):
        r = rng.random()
        if t == 1:
            yp[i] = 1 if r < 0.85 else rng.integers(0, 5)
        else:
            if r < 0.35:
                yp[i] = t
            elif r < 0.85:
                yp[i] = 1
            else:
                yp[i] = rng.integers(0, 5)
    cases.append(("imbalanced_realistic", 5, yt.tolist(), yp.tolist()))

    return cases


def floats(a):
    return [float(x) for x in a]


def compute(name, n_labels, y_true, y_pred):
    labels = list(range(n_labels))
    pm, rm, fm, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0)
    pw, rw, fw, _ = precision_recall_fscore_support(
        y_true, y_pred, average="weighted", zero_division=0)
    pc, rc, fc, sc = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "name": name,
        "n_labels": n_labels,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "precision_macro": float(pm),
        "recall_macro": float(rm),
        "f1_macro": float(fm),
        "precision_weighted": float(pw),
        "recall_weighted": float(rw),
        "f1_weighted": float(fw),
        "per_class": {
            "precision": floats(pc),
            "recall": floats(rc),
            "f1": floats(fc),
            "support": [int(x) for x in sc],
        },
        "confusion": [[int(x) for x in row]
                      for row in confusion_matrix(y_true, y_pred, labels=labels)],
    }


def main():
    warnings.filterwarnings("ignore")
    for _, n, yt, yp in make_cases():
        assert len(yt) == len(yp) and all(0 <= v < n for v in yt + yp)
    out = {
        "generator": "scripts/sklearn_metrics_reference.py",
        "sklearn_version": sklearn.__version__,
        "cases": [compute(*c) for c in make_cases()],
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
