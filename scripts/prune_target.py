"""Deletes test and binary executables of this workspace that the current builds no longer use.

Each fresh clone builds its own copies (the hash in a file name covers the source path), so a
target directory shared between CI runs grows by about 5 GB per run without this. Reads cargo's
`--message-format=json` output of the builds to keep, and only ever deletes `deps/NAME-HASH`
files whose NAME is a target those builds produced and that are not one of the executables they
reported (a binary is reported at its uplifted path, a hard link to its `deps/` file, so files are
compared by inode).

Usage: python3 scripts/prune_target.py TARGET_DIR/debug/deps MESSAGES.json...
"""

import json
import os
import re
import sys


def main() -> None:
    deps, messages = sys.argv[1], sys.argv[2:]
    keep, names = set(), set()
    for path in messages:
        with open(path) as f:
            for line in f:
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    continue
                exe = msg.get("executable") if msg.get("reason") == "compiler-artifact" else None
                if exe:
                    st = os.stat(exe)
                    keep.add((st.st_dev, st.st_ino))
                    names.add(msg["target"]["name"].replace("-", "_"))
    if not keep:
        sys.exit("prune_target: no executables in the cargo messages; deleting nothing")
    freed = 0
    pattern = re.compile(r"^(?P<name>.+)-[0-9a-f]{16}$")
    for entry in os.scandir(deps):
        m = pattern.match(entry.name)
        if not m or m["name"] not in names or not entry.is_file(follow_symlinks=False):
            continue
        st = entry.stat(follow_symlinks=False)
        if (st.st_dev, st.st_ino) in keep:
            continue
        for stale in (entry.path, entry.path + ".d"):
            if os.path.exists(stale):
                freed += os.path.getsize(stale)
                os.remove(stale)
    print(f"prune_target: kept {len(keep)} executables, freed {freed / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
