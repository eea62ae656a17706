"""Copy the bundled sample subset `data/samples/` out of the Donate-a-cry corpus.

Four clips per class, every clip from a different recording-app UUID (the first 36
characters of the file name), taken in sorted file-name order so the choice is
reproducible. Run from the repository root:

    python3 scripts/make_samples.py ../shared/data/donateacry-corpus

Needs only the Python standard library; the product and CI never run it.
"""

import shutil
import sys
from pathlib import Path

PER_CLASS = 4


def main() -> None:
    corpus = Path(sys.argv[1])
    out = Path("data/samples")
    used = set()
    for label_dir in sorted(p for p in corpus.iterdir() if p.is_dir()):
        chosen = []
        for wav in sorted(label_dir.glob("*.wav")):
            uuid = wav.name[:36].lower()
            if uuid in used:
                continue
            used.add(uuid)
            chosen.append(wav)
            if len(chosen) == PER_CLASS:
                break
        if len(chosen) < PER_CLASS:
            sys.exit(f"{label_dir.name}: only {len(chosen)} distinct UUIDs")
        (out / label_dir.name).mkdir(parents=True, exist_ok=True)
        for wav in chosen:
            shutil.copy2(wav, out / label_dir.name / wav.name)
        print(label_dir.name, [w.name for w in chosen])


if __name__ == "__main__":
    main()
