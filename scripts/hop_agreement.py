"""How often two `edge-infer classify` runs over the same files decide alike (issue 16: the 2 s
hop against the 1 s hop it replaced). Not run in CI; standard library only.

    python3 scripts/hop_agreement.py BEFORE.jsonl AFTER.jsonl [--group-depth N]

For each file in both (matched by path; failed files are counted, not compared): the label,
the clip-level cry decision (`cry`, at the threshold) and whether a stream of the file alone
raises a cry alert (`cry_alerts` > 0). Prints one JSON object: counts and agreement shares,
overall and per group (the path component `--group-depth` levels under the common root).
"""

import argparse
import json
import os


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            rows[row["file"]] = row
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--group-depth", type=int, default=1)
    args = parser.parse_args()
    before, after = load(args.before), load(args.after)
    files = sorted(set(before) & set(after))
    root = os.path.commonpath(files) if len(files) > 1 else ""
    groups = {}
    failed = 0
    for f in files:
        b, a = before[f], after[f]
        if "error" in b or "error" in a:
            failed += 1
            continue
        rel = os.path.relpath(f, root).split(os.sep)
        group = os.sep.join(rel[: args.group_depth]) if len(rel) > args.group_depth else "."
        for key in ("all", group):
            g = groups.setdefault(key, {"files": 0, "label": 0, "cry": 0, "alert": 0,
                                        "alerted_before": 0, "alerted_after": 0})
            g["files"] += 1
            g["label"] += b["label"] == a["label"]
            g["cry"] += b.get("cry") == a.get("cry")
            alert_b, alert_a = b.get("cry_alerts", 0) > 0, a.get("cry_alerts", 0) > 0
            g["alert"] += alert_b == alert_a
            g["alerted_before"] += alert_b
            g["alerted_after"] += alert_a
    for g in groups.values():
        for key in ("label", "cry", "alert"):
            g[key + "_agreement"] = round(g[key] / g["files"], 4)
    print(json.dumps({"before": args.before, "after": args.after, "failed": failed,
                      "only_in_one": len(set(before) ^ set(after)), "groups": groups}, indent=1))


if __name__ == "__main__":
    main()
