"""Laplace: build time per structure (cold and warm), the 50-value evidence grid against recomputing
from scratch, and diag/KFAC on a ≥100k-parameter digits MLP with peak memory (own subprocess)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import bayesjax as bj
from benchmarks.common import block, row, timed
from experiments.common.data import load
from experiments.common.models import MLP


def toy_posterior():
    """1-16-16-1 tanh MLP, 64 points of a noisy sine, at its MAP."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (64, 1)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=64)).astype(np.float32)
    post = bj.Posterior(MLP((1, 16, 16, 1), jnp.tanh, nnx.Rngs(0)), bj.likelihoods.Gaussian(0.1),
                        bj.priors.Gaussian(1.0), x, y)
    res = bj.fit_map(jax.random.key(0), post, num_steps=2000, learning_rate=1e-2)
    return post, res.params


def digits_posterior(sizes):
    d = load("digits", scaling="unit", test_fraction=0.0)   # all 1,797 images, pixels / 16
    post = bj.Posterior(MLP(sizes, jnp.tanh, nnx.Rngs(0)), bj.likelihoods.Categorical(),
                        bj.priors.Gaussian(1.0), d.x_train, d.y_train)
    res = bj.fit_map(jax.random.key(0), post, num_steps=300, learning_rate=1e-2)
    return post, res.params


def _build(post, params, structure):
    return lambda: bj.laplace(post, params, structure=structure).theta


def run(quick: bool = False) -> list[dict]:
    rows = []
    for name, (post, params) in [("1-16-16-1 MLP, 64 pts", toy_posterior()),
                                 ("digits 64-32-10 MLP", digits_posterior((64, 32, 10)))]:
        times = {}
        for structure in ("full", "diag", "kfac"):
            cold, warm = timed(_build(post, params, structure), repeats=2)
            times[structure] = warm
            rows.append(row(f"laplace {structure} build, {name}, cold", cold, "s",
                            f"P={post.num_params}"))
            rows.append(row(f"laplace {structure} build, {name}, warm", warm, "s"))
        rows.append(row(f"kfac / full build time (warm), {name}", times["kfac"] / times["full"],
                        "ratio"))

    post, params = toy_posterior()
    cs = jnp.logspace(-3, 3, 50)
    lap = bj.laplace(post, params)
    lap.log_marginal_likelihood_grid(cs).block_until_ready()
    t0 = time.perf_counter()
    block(lap.log_marginal_likelihood_grid(cs))
    grid = time.perf_counter() - t0
    n_re = 5 if quick else 50
    t0 = time.perf_counter()
    for c in cs[:n_re]:
        fresh = bj.laplace(post.replace(prior=bj.priors.Gaussian(float(c) ** -0.5)), params)
        block(fresh.log_marginal_likelihood())
    recompute = (time.perf_counter() - t0) * 50 / n_re
    rows.append(row("50-value evidence grid (full, 1-16-16-1), eigen once", grid, "s"))
    rows.append(row("50 recomputations from scratch", recompute, "s",
                    f"timed {n_re}, scaled to 50" if n_re < 50 else ""))
    rows.append(row("recompute / grid", recompute / grid, "ratio", "speed-up of the grid"))

    for structure in ("diag", "kfac"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_laplace", "big", structure],
                             capture_output=True, text=True, check=True)
        big = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row(f"laplace {structure}, digits 64-400-200-10 MLP, cold", big["seconds"], "s",
                        f"P={big['params']}"))
        rows.append(row(f"laplace {structure}, digits 64-400-200-10 MLP, process peak RSS",
                        big["peak_mib"], "MiB", f"peak − RSS before laplace: {big['increase_mib']:.0f} MiB; "
                        f"one P×P float32 matrix: {big['params'] ** 2 * 4 / 2**20:,.0f} MiB"))
    return rows


def _current_rss_kib() -> float:
    """Resident set size now (Linux /proc), falling back to the peak so far elsewhere."""
    try:
        with open("/proc/self/status") as f:
            return float(next(line.split()[1] for line in f if line.startswith("VmRSS:")))
    except (OSError, StopIteration):
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _big(structure: str) -> None:
    post, params = digits_posterior((64, 400, 200, 10))
    jax.block_until_ready(params)
    before = _current_rss_kib()
    t0 = time.perf_counter()
    lap = bj.laplace(post, params, structure=structure)
    block(lap.log_marginal_likelihood())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "params": post.num_params, "peak_mib": peak / 1024,
                      "increase_mib": (peak - before) / 1024}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "big":
        _big(sys.argv[2])
