"""The bayesjax side of ``make bench-peers``: one (net, structure) case per fresh process.

``python -m benchmarks.peers.bayesjax_side NET.npz STRUCTURE [--grid] [--repeats 5] [--budget 20]
[--no-float64]`` imports the exported net (``benchmarks/peers/nets.py``) and times
``lap = bj.laplace(post, params, structure=s)`` followed by ``block_until_ready`` on
``lap.log_marginal_likelihood()``: the first call (cold, compilation included) and the best of up
to ``--repeats`` more (warm; the cold call is the warm-up; the repeats stop early once ``--budget``
seconds are spent). With ``--grid``, the same for ``lap.log_marginal_likelihood_grid(cs)`` on the
50 values ``cs = logspace(-3, 3, 50)`` (the grid's first call is its cold one). Then the values
again in float64 (``jax.enable_x64``, the weights and data cast to float64), and for ``kfac``,
when ``bj.laplace`` has it, with ``kfac_bias="separate"`` (laplace-torch's convention: weight and
bias in separate Kronecker blocks). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj
from benchmarks.peers import nets
from benchmarks.peers.torch_side import GRID, best_of


def has_separate_bias() -> bool:
    """Whether ``bj.laplace`` takes ``kfac_bias=`` (laplace-torch's separate bias blocks)."""
    return "kfac_bias" in inspect.signature(bj.laplace).parameters


def _call(post, params, structure, **kw):
    lap = bj.laplace(post, params, structure=structure, **kw)
    return lap, float(lap.log_marginal_likelihood().block_until_ready())


def _grid(lap, cs):
    return [float(v) for v in lap.log_marginal_likelihood_grid(cs).block_until_ready()]


def run_case(npz: str, structure: str, grid: bool, repeats: int, budget: float,
             float64: bool) -> dict:
    """Timings and evidences of one (net, structure); see the module docstring."""
    post, params = nets.import_net(npz)
    jax.block_until_ready(params)
    out: dict = {"structure": structure, "P": post.num_params}
    t0 = time.perf_counter()
    lap, out["logml32"] = _call(post, params, structure)
    out["cold_s"] = time.perf_counter() - t0
    out["warm_s"], out["repeats"] = best_of(lambda: _call(post, params, structure), repeats, budget)
    cs = jnp.asarray(GRID, jnp.float32)
    if grid:
        t0 = time.perf_counter()
        out["grid32"] = _grid(lap, cs)
        out["grid_cold_s"] = time.perf_counter() - t0
        out["grid_warm_s"], _ = best_of(lambda: _grid(lap, cs), repeats, budget)
    if float64:
        with jax.enable_x64(True):
            post64, params64 = nets.import_net(npz, np.float64)
            lap64, out["logml64"] = _call(post64, params64, structure)
            if grid:
                out["grid64"] = _grid(lap64, jnp.asarray(GRID, jnp.float64))
            if structure == "kfac" and has_separate_bias():
                lap_sep, out["logml64_separate_bias"] = _call(post64, params64, structure,
                                                              kfac_bias="separate")
                if grid:
                    out["grid64_separate_bias"] = _grid(lap_sep, jnp.asarray(GRID, jnp.float64))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("structure", choices=("full", "diag", "kfac"))
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--no-float64", action="store_true")
    a = ap.parse_args(argv)
    print(json.dumps(run_case(a.npz, a.structure, a.grid, a.repeats, a.budget,
                              not a.no_float64)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
