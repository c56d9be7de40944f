"""The laplace-torch side of ``make bench-peers``: one case per process, run by ``.venv-peers``'s
Python (torch + laplace-torch, no JAX, no bayesjax).

``torch_side.py NET.npz STRUCTURE [--grid] [--repeats 5] [--budget 20] [--mem-gb 16]
[--no-float64]`` loads the exported net (``benchmarks/peers/nets.py`` describes the file: flax
kernels are (in, out), so ``nn.Linear.weight`` gets the transpose), times
``la = Laplace(...); la.fit(loader); la.log_marginal_likelihood()`` — the first call (cold: a fresh
process) and the best of up to ``--repeats`` more (warm; the cold call is the warm-up; repeats stop
early once ``--budget`` seconds are spent) — and, with ``--grid``, the 50 values
``la.log_marginal_likelihood(prior_precision=c)`` for c in logspace(-3, 3, 50). Then the same in
float64 (values only). Prints one JSON line; an allocation that fails under the address-space
limit ``--mem-gb`` is reported as ``"error": "out of memory"``.

Batch size: the full data set is one batch for ``full`` and ``kron`` (curvlinops loops over the
data, so one batch is fastest); ``diag`` uses batches of 32 (``BATCH``): laplace-torch's GGN diag
takes the Jacobian of the whole batch's (B, K) outputs with ``torch.func.jacrev``, B·K backward
passes through all B points, so its time and memory grow as B² (the 2,410-parameter net at B = 1,797: 40 s
in float32, and in float64 an 8 GB allocation that failed under the 16 GB limit; 2–3 s at B = 32,
the fastest of 8, 16, 32, 64, 128, 512 in one noisy sweep).

float64 runs set ``torch.set_default_dtype(torch.float64)``: laplace-torch's Curvlinops ``full``
multiplies the GGN operator onto ``torch.eye(P)``, which has the default dtype, so without it a
float64 model's GGN is accumulated in float32 (7e-4 absolute error on entries of 1.3e4 on the toy
net, 2.8e-4 nats in its evidence).

``torch_side.py --reference IN.json OUT.json`` fills in laplace-torch's float64 evidence (and a
few grid points) for the nets of the shared reference file (``python -m benchmarks.peers
--write-reference``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

GRID = np.logspace(-3, 3, 50)
THREADS = 2
BATCH = {"full": None, "kfac": None, "diag": 32}    # None: all N points in one batch


def limit_memory(gb: float) -> None:
    """Cap this process's address space, so a too-large allocation fails here, not the machine."""
    cap = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def sequential(layers, dtype):
    """``nn.Sequential`` of ``nn.Linear`` + ``nn.Tanh`` with the given flax-layout weights."""
    import torch
    from torch import nn

    mods = []
    for i, (kernel, bias) in enumerate(layers):
        kernel, bias = np.asarray(kernel), np.asarray(bias)
        lin = nn.Linear(kernel.shape[0], kernel.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(kernel.T.copy()))   # flax (in, out) -> torch (out, in)
            lin.bias.copy_(torch.as_tensor(bias))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(nn.Tanh())
    return nn.Sequential(*mods).to(dtype)


def loader(x, y, likelihood: str, dtype, batch_size: int | None = None):
    """Batches of ``batch_size`` points (default: all N in one); regression targets as (N, 1) to
    match the (N, 1) output."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    xt = torch.as_tensor(np.asarray(x), dtype=dtype)
    if likelihood == "regression":
        yt = torch.as_tensor(np.asarray(y), dtype=dtype).reshape(-1, 1)
    else:
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    return DataLoader(TensorDataset(xt, yt), batch_size=batch_size or xt.shape[0])


def build_laplace(model, data, settings: dict, structure: str):
    """``Laplace(...)`` fitted on ``data``, laplace-torch's defaults otherwise (backend and all)."""
    from laplace import Laplace

    kw = {"sigma_noise": float(settings["noise"])} if settings["likelihood"] == "regression" else {}
    la = Laplace(model, settings["likelihood"], subset_of_weights="all",
                 hessian_structure={"kfac": "kron"}.get(structure, structure),
                 prior_precision=float(settings["prior_precision"]), **kw)
    la.fit(data)
    return la


def _call(model, data, settings, structure):
    la = build_laplace(model, data, settings, structure)
    return la, float(la.log_marginal_likelihood())


def _grid(la, cs):
    return [float(la.log_marginal_likelihood(prior_precision=float(c))) for c in cs]


def run_case(npz: str, structure: str, grid: bool, repeats: int, budget: float,
             float64: bool) -> dict:
    """Timings and evidences of one (net, structure); see the module docstring."""
    import torch

    with np.load(npz) as f:
        d = {k: f[k] for k in f.files}
    n = sum(1 for k in d if k.startswith("kernel_"))
    layers = [(d[f"kernel_{i}"], d[f"bias_{i}"]) for i in range(n)]
    settings = {k: d[k].item() for k in ("likelihood", "noise", "prior_precision")}
    out: dict = {"structure": structure, "batch_size": BATCH[structure] or int(d["x"].shape[0])}
    try:
        model = sequential(layers, torch.float32)
        data = loader(d["x"], d["y"], settings["likelihood"], torch.float32, BATCH[structure])
        t0 = time.perf_counter()
        la, out["logml32"] = _call(model, data, settings, structure)
        out["cold_s"] = time.perf_counter() - t0
        out["warm_s"], out["repeats"] = best_of(lambda: _call(model, data, settings, structure),
                                              repeats, budget)
        if grid:
            t0 = time.perf_counter()
            out["grid32"] = _grid(la, GRID)
            out["grid_cold_s"] = time.perf_counter() - t0
            out["grid_warm_s"], _ = best_of(lambda: _grid(la, GRID), repeats, budget)
        if float64:
            torch.set_default_dtype(torch.float64)    # see the module docstring
            model64 = sequential(layers, torch.float64)
            data64 = loader(d["x"], d["y"], settings["likelihood"], torch.float64, BATCH[structure])
            la64, out["logml64"] = _call(model64, data64, settings, structure)
            if grid:
                out["grid64"] = _grid(la64, GRID)
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and "alloc" not in str(e).lower():
            raise
        out["error"] = "out of memory"
        out["detail"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return out


def best_of(fn, repeats: int, budget: float) -> tuple[float, int]:
    """(best seconds, number of calls) of up to ``repeats`` calls of ``fn``, stopping once
    ``budget`` seconds are spent (at least one call). Shared with ``bayesjax_side``: this module
    imports nothing of JAX's, so that side can import it."""
    best, spent, done = float("inf"), 0.0, 0
    while done < repeats and (done == 0 or spent < budget):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent, done = min(best, dt), spent + dt, done + 1
    return best, done


def reference(path_in: str, path_out: str) -> None:
    """laplace-torch's float64 evidences for every net of the reference file (see docstring)."""
    import torch

    torch.set_default_dtype(torch.float64)    # see the module docstring
    ref = json.loads(open(path_in).read())
    for net in ref["nets"]:
        layers = [(np.asarray(layer["kernel"]), np.asarray(layer["bias"])) for layer in net["layers"]]
        model = sequential(layers, torch.float64)
        data = loader(net["x"], net["y"], net["likelihood"], torch.float64)
        net["laplace_torch"] = {}
        for structure in net["structures"]:
            la = build_laplace(model, data, net, structure)
            net["laplace_torch"][structure] = {
                "log_marginal_likelihood": float(la.log_marginal_likelihood()),
                "grid": _grid(la, net["grid"])}
    open(path_out, "w").write(json.dumps(ref))


def versions() -> dict:
    """The versions of the torch side's packages, its thread count and laplace-torch's default
    backend."""
    import importlib.metadata as md

    import torch
    from laplace import baselaplace

    src = open(baselaplace.__file__).read()
    backend = "CurvlinopsGGN" if "backend = CurvlinopsGGN" in src else "unknown (see laplace-torch)"
    return {"torch": torch.__version__, "laplace-torch": md.version("laplace-torch"),
            "curvlinops": md.version("curvlinops-for-pytorch"),
            "torch_threads": torch.get_num_threads(), "laplace_torch_default_backend": backend}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz", nargs="?")
    ap.add_argument("structure", nargs="?", choices=("full", "diag", "kfac"))
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--mem-gb", type=float, default=16.0)
    ap.add_argument("--no-float64", action="store_true")
    ap.add_argument("--reference", nargs=2, metavar=("IN", "OUT"))
    ap.add_argument("--versions", action="store_true")
    a = ap.parse_args(argv)
    limit_memory(a.mem_gb)
    import torch

    torch.set_num_threads(THREADS)
    if a.versions:
        print(json.dumps(versions()))
    elif a.reference:
        reference(*a.reference)
    elif a.npz and a.structure:
        print(json.dumps(run_case(a.npz, a.structure, a.grid, a.repeats, a.budget,
                                  not a.no_float64)))
    else:
        ap.error("give NET.npz STRUCTURE, --reference IN OUT or --versions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
