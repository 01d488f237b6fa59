"""Runs the index consumer from the built asset: `python3.13 -I -S -B index_probe.py SPEC`.

Only the standard library is imported before the asset goes on sys.path (as Lambda gives
/var/task), so every module the consumer needs must come from it. Prints one JSON document: the
handler's answer and any module loaded from elsewhere.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = [spec["asset"]]
    import collector.index_handler as entry

    answer = entry.handler(spec["event"], None)
    roots = (spec["asset"], sys.base_prefix)
    outside = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin and not origin.startswith(roots) and not origin.endswith("index_probe.py"):
            outside.append(f"{name}: {origin}")
    print(json.dumps({"answer": answer, "outside": outside, "version": list(sys.version_info[:2])}))


if __name__ == "__main__":
    main()
