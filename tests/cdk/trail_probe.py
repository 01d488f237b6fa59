"""Runs the trail exporter from the built asset and layer: `python3.13 -I -S -B trail_probe.py SPEC`.

Only the standard library is imported before the asset and the layer's `python/` go on sys.path
(the order Lambda gives /var/task and /opt/python), so every module the export needs must come
from them. Prints one JSON document: the handler's answer and any module loaded from elsewhere.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = [spec["asset"], spec["layer"]]
    import collector.trail_handler as entry

    answer = entry.handler(spec["event"], None)
    roots = (spec["asset"], spec["layer"], sys.base_prefix)
    outside = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin and not origin.startswith(roots) and not origin.endswith("trail_probe.py"):
            outside.append(f"{name}: {origin}")
    print(json.dumps({"answer": answer, "outside": outside, "version": list(sys.version_info[:2])}))


if __name__ == "__main__":
    main()
