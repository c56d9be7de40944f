"""``make bench-peers``: bayesjax's Laplace against laplace-torch, same nets, same weights.

``python -m benchmarks.peers [--nets SUBSTR,...] [--repeats 5] [--budget 20] [--no-float64]``
builds the nets of ``benchmarks/peers/nets.py`` at their MAP with ``bj.fit_map``, exports their
weights and data to ``.npz`` files in a temporary folder, and runs every (net, structure) case in
its own fresh process on each side — ``benchmarks/peers/bayesjax_side.py`` with this Python,
``benchmarks/peers/torch_side.py`` with ``.venv-peers/bin/python`` (torch + laplace-torch, no JAX),
so a cold time is a first call and an out-of-memory kills one case only. It measures this machine's
float32 matmul rate in this process (best of 5 of a 2048² ``jnp`` matmul, ``2n³/t``) for the
arithmetic limit of each row (``benchmarks/peers/table.py``), prints the table and writes
``results/bench_peers.json`` (rows + meta) and ``results/bench_peers.md``.

``python -m benchmarks.peers --write-reference`` writes ``tests/data/laplace_torch_reference.json``
instead (``benchmarks/peers/reference.py``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
TORCH_SCRIPT = Path(__file__).resolve().with_name("torch_side.py")
TIMEOUT_S = 400


def run_worker(cmd: list[str], timeout: float = TIMEOUT_S) -> dict:
    """Run one case's process and return its last stdout line as JSON; a failure becomes
    ``{"error": ...}``: ``"out of memory"`` (an allocation failed or the process was killed),
    ``"timeout"``, or the last line of its stderr."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                              os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout ({timeout:.0f} s)"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    err = proc.stderr.strip().splitlines()
    last = err[-1] if err else f"exit status {proc.returncode}"
    if proc.returncode < 0 or "MemoryError" in last or "alloc" in last.lower():
        return {"error": "out of memory", "detail": last[:300]}
    return {"error": f"failed: {last[:300]}"}


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matmul rate in FLOP/s: best of ``repeats`` ``n × n`` products."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        mm(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def _err(res: dict, k32: str, k64: str):
    from benchmarks.peers.table import describe_diff

    return describe_diff(res.get(k32), res.get(k64))


def make_row(net: str, structure: str, n: int, k: int, layers, bj: dict, th: dict,
             rate: float, grid_on: str | None = None) -> dict:
    """One result row from the two sides' outputs. ``grid_on`` set: the prior-grid row on that
    structure's approximation (``structure`` is then ``"grid"``)."""
    from benchmarks.peers.table import describe_diff, flops, num_params

    grid = grid_on is not None
    key = "grid_" if grid else ""
    v32, v64 = ("grid32", "grid64") if grid else ("logml32", "logml64")
    base = grid_on or structure
    row = {"net": net, "P": num_params(layers), "N": n, "K": k,
           "structure": f"grid of 50 ({grid_on})" if grid else structure,
           "flops": flops("grid" if grid else structure, n, k, layers),
           "bayesjax_warm_s": bj.get(f"{key}warm_s"), "bayesjax_cold_s": bj.get(f"{key}cold_s"),
           "torch_warm_s": th.get(f"{key}warm_s"), "torch_cold_s": th.get(f"{key}cold_s"),
           "bayesjax_repeats": bj.get("repeats"), "torch_repeats": th.get("repeats"),
           "torch_batch_size": th.get("batch_size"),
           "bayesjax_f32_err": _err(bj, v32, v64), "torch_f32_err": _err(th, v32, v64),
           "bayesjax_value64": bj.get(v64), "torch_value64": th.get(v64),
           "bayesjax_value32": bj.get(v32), "torch_value32": th.get(v32)}
    row["limit_s"] = row["flops"] / rate
    for side, res in (("bayesjax", bj), ("torch", th)):
        if "error" in res:
            row[f"{side}_error"] = res["error"]
            if res.get("detail"):
                row[f"{side}_error_detail"] = res["detail"]
    if row.get("torch_error") and row["torch_warm_s"] is not None:
        row["torch_f32_err"] = f"f64: {row.pop('torch_error')}"   # timed in f32, failed in f64
    if base == "kfac":
        sep = bj.get("grid64_separate_bias" if grid else "logml64_separate_bias")
        row["f64_agreement"] = ("n/a (convention)" if sep is None
                                else describe_diff(sep, th.get(v64)))
    else:
        row["f64_agreement"] = describe_diff(bj.get(v64), th.get(v64))
    return row


def _versions(rate: float, threads: dict) -> dict:
    import flax
    import jax

    import bayesjax as bj
    from benchmarks.peers.bayesjax_side import has_separate_bias

    return {"date": datetime.date.today().isoformat(), "jax": jax.__version__,
            "flax": flax.__version__, "bayesjax": bj.__version__,
            "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "matmul_float32_flops": rate, "bayesjax_kfac_bias_separate": has_separate_bias(),
            **threads}


def run(names: list[str] | None, repeats: int, budget: float, float64: bool,
        out_dir: Path) -> list[dict]:
    """Every case of the selected nets; prints the table, writes the json and md files."""
    from benchmarks.peers import nets
    from benchmarks.peers.table import HEADER, markdown, table_row

    if not PEERS_PY.exists():
        raise SystemExit(f"error: {PEERS_PY} not found; `make bench-peers` creates it")
    specs = [s for s in nets.NETS if not names or any(n in s.name for n in names)]
    peers_meta = run_worker([str(PEERS_PY), str(TORCH_SCRIPT), "--versions"])
    rate = matmul_rate()
    print(f"float32 matmul: {rate / 1e9:.1f} GFLOP/s; laplace-torch {peers_meta}", flush=True)
    rows = []
    flags = ["--repeats", str(repeats), "--budget", str(budget)] + ([] if float64
                                                                     else ["--no-float64"])
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            t0 = time.perf_counter()
            post, params = nets.build(spec)
            path = nets.export_net(Path(tmp) / f"net{len(rows)}.npz", post, params)
            n, layers = post.num_data, list(zip(spec.sizes[:-1], spec.sizes[1:], strict=True))
            k = spec.sizes[-1]
            print(f"== {spec.name}: P={post.num_params:,}, N={n} (MAP in "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)
            for structure in spec.structures:
                grid = ["--grid"] if structure == spec.grid_on else []
                bj = run_worker([sys.executable, "-m", "benchmarks.peers.bayesjax_side",
                                 str(path), structure, *grid, *flags])
                th = run_worker([str(PEERS_PY), str(TORCH_SCRIPT), str(path), structure,
                                 *grid, *flags])
                new = [make_row(spec.name, structure, n, k, layers, bj, th, rate)]
                if grid:
                    new.append(make_row(spec.name, "grid", n, k, layers, bj, th, rate,
                                        grid_on=structure))
                for r in new:
                    rows.append(r)
                    print("  " + ", ".join(f"{h}: {c}" for h, c in
                                           zip(HEADER[2:], table_row(r)[2:], strict=True)),
                          flush=True)
    meta = _versions(rate, peers_meta)
    meta["timing"] = (f"warm: best of up to {repeats} calls after the cold one in the same "
                      f"process (fewer once {budget:g} s are spent); cold: the first call in a "
                      "fresh process, compilation included, imports and net setup excluded")
    meta["torch_batch"] = ("full and kron: all N points in one batch; diag: 32 "
                           "(see benchmarks/peers/torch_side.py)")
    table = markdown(rows)
    print("\n" + table)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("bench_peers.json", json.dumps({"meta": meta, "rows": rows}, indent=2,
                                                       default=_json_default) + "\n"),
                       ("bench_peers.md", _md(meta, table))):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out_dir / name)
    print(f"wrote {out_dir / 'bench_peers.json'} and {out_dir / 'bench_peers.md'}")
    return rows


def _json_default(v):
    return float(v)


def _md(meta: dict, table: str) -> str:
    return (f"# bayesjax against laplace-torch ({meta['date']})\n\n"
            f"laplace-torch {meta.get('laplace-torch')} (backend "
            f"{meta.get('laplace_torch_default_backend')}, torch {meta.get('torch')}, "
            f"{meta.get('torch_threads')} threads), jax {meta['jax']} on {meta['cpu_count']} "
            f"CPU cores; float32 matmul {meta['matmul_float32_flops'] / 1e9:.1f} GFLOP/s. "
            f"{meta['timing']}. laplace-torch batches: {meta['torch_batch']}.\n\n{table}\n")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="", help="comma-separated substrings of net names")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds of warm repeats per case after which repeating stops")
    ap.add_argument("--no-float64", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--write-reference", action="store_true")
    a = ap.parse_args(argv)
    if a.write_reference:
        from benchmarks.peers.reference import write_reference

        write_reference(PEERS_PY, TORCH_SCRIPT)
        return 0
    names = [s for s in a.nets.split(",") if s]
    run(names, a.repeats, a.budget, not a.no_float64, Path(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
