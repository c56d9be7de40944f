"""``make bench``: run every benchmark, print a table, write ``results/bench.json``.

``python -m benchmarks [--quick] [NAME ...]`` with NAME among the modules below.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks import BENCHMARKS
from experiments.common import compile_cache


def main(argv: list[str]) -> int:
    cache = compile_cache.enable()  # "cold" rows then skip XLA compiles cached by an earlier run
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; valid: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    import jax

    rows = []
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        for r in importlib.import_module(f"benchmarks.{name}").run(quick=quick):
            r["suite"] = name
            rows.append(r)
            print(f"  {r['benchmark']:<62} {r['value']:>10.4g} {r['unit']:<6} {r['note']}",
                  flush=True)
        print(f"   ({time.perf_counter() - t0:.0f} s)")
    out = Path("results") / "bench.json"
    out.parent.mkdir(exist_ok=True)
    meta = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
            "machine": platform.machine(), "python": platform.python_version(),
            "compile_cache": None if cache is None else str(cache)}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


raise SystemExit(main(sys.argv[1:]))
