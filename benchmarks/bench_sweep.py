"""Sweeps split over two devices against the same sweeps on one (warm, same process): all the
MAP logistic fits of ``generative_vs_discriminative``'s simulated learning curve and of its digits
curve (its config: S training sets per size, the sizes <= 32 padded into one sweep, each larger
size its own; every sweep one ``common.sweep.sharded_vmap`` of ``bj.fit_map`` through
``common.logistic.fit_splits``, which runs each device's sets in chunks of at most
``common.sweep.CHUNK_BYTES`` of data). "cores busy" is CPU time over wall time: a chunked sweep
keeps one core per device busy; the unchunked one (``batch_size=None``) let XLA split its large
batched ops over both cores on one device, which was slower on one device and left a second device
little to add.

On a CPU the two devices are simulated (``XLA_FLAGS=--xla_force_host_platform_device_count=2``,
which must be set before JAX starts): when ``make bench`` runs with fewer than two devices, this
benchmark measures in a subprocess started with that flag, so the other rows keep one device (with
two devices ``bj.nuts``'s ``chain_method="auto"`` would switch to parallel chains).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks.common import block, row
from experiments.common.data import load
from experiments.common.logistic import fit_splits, pad_sets
from experiments.generative_vs_discriminative import Config
from experiments.generative_vs_discriminative.curves import stratified_subsets
from experiments.generative_vs_discriminative.simulate import balanced_labels, make_problem, sample

FLAG = "--xla_force_host_platform_device_count=2"


def _padded(groups):
    """One padded sweep for the sizes <= 32, one per larger size (``curves.learning_curves``)."""
    small = [g for g in groups if g[0].shape[1] <= 32]
    return ([pad_sets(small)] if small else []) + [pad_sets([g]) for g in groups
                                                   if g[0].shape[1] > 32]


def _simulated(cfg: Config):
    """The logistic sweeps of the simulated curve, drawn as ``run`` draws them."""
    problem = make_problem(num_unique=cfg.num_unique, num_duplicated=cfg.num_duplicated,
                           copies=cfg.copies, base_min=cfg.base_min, base_max=cfg.base_max,
                           effect_min=cfg.effect_min, effect_max=cfg.effect_max)
    rng = np.random.default_rng(cfg.seed)
    groups = []
    for m in cfg.sizes:
        y = balanced_labels(rng, cfg.num_sets if m < cfg.large_from else cfg.num_sets_large, m)
        groups.append((sample(rng, problem, y), y))
    return _padded(groups)


def _digits(cfg: Config):
    """The logistic sweeps of the digits (3 vs 8, binarised) curve."""
    data = load("digits", classes=(3, 8), scaling="unit", test_fraction=cfg.real_test_fraction,
                seed=cfg.seed)
    pool, rng = (data.x_train > 0.5).astype(np.float32), np.random.default_rng(cfg.seed)
    idx = [stratified_subsets(rng, data.y_train, m, cfg.num_sets_real) for m in cfg.real_sizes]
    return _padded([(pool[i], data.y_train[i]) for i in idx])


def _pair(name, sweeps, cfg, devices) -> list[dict]:
    """Rows: the sweeps on one device, on two, and the ratio (medians of 3, interleaved)."""
    kw = dict(num_classes=2, prior_scale=cfg.prior_scale, num_steps=cfg.lr_steps,
              learning_rate=cfg.lr_learning_rate)

    def on(devs):
        return lambda: [fit_splits(jax.random.key(0), x, y, mask=mask, devices=devs, **kw).w
                        for x, y, mask in sweeps]

    one, two = on(devices[:1]), on(devices)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(one(), two(), strict=True))  # compiles
    warm, cores = {"1": [], "2": []}, {"1": [], "2": []}
    for _ in range(3):                          # interleaved, so a busy moment hits both
        for k, f in (("1", one), ("2", two)):
            t0, c0 = time.perf_counter(), time.process_time()
            block(f())
            warm[k].append(time.perf_counter() - t0)
            cores[k].append((time.process_time() - c0) / warm[k][-1])
    t1, t2 = float(np.median(warm["1"])), float(np.median(warm["2"]))
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in warm.items()}
    busy = {k: float(np.median(v)) for k, v in cores.items()}
    shapes = ", ".join(f"{x.shape[0]}x{x.shape[1]}" for x, _, _ in sweeps)
    what = (f"{len(sweeps)} sweeps of fit_map (sets x points: {shapes}; d = "
            f"{sweeps[0][0].shape[-1]}, {cfg.lr_steps} steps)")
    return [
        row(f"{name} logistic sweeps, 1 device, warm", t1, "s",
            f"{what}; median of 3 ({spread['1']} s); {busy['1']:.1f} cores busy"),
        row(f"{name} logistic sweeps, 2 devices, warm", t2, "s",
            f"median of 3 ({spread['2']} s); {busy['2']:.1f} cores busy; max |w diff| {gap:.1e}"),
        row(f"{name} sweep speed-up, 2 devices / 1", t1 / t2, "ratio",
            f"{devices[0].platform}, {os.cpu_count()} cores: 2 = perfect; goal >= 1.6"),
    ]


def _measure(quick: bool) -> list[dict]:
    devices = jax.devices()[:2]
    cfg = Config.smoke() if quick else Config()
    return (_pair("simulated-curve", _simulated(cfg), cfg, devices)
            + _pair("digits-curve", _digits(cfg), cfg, devices))


def run(quick: bool = False) -> list[dict]:
    if len(jax.devices()) >= 2:
        return _measure(quick)
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {FLAG}".strip()}
    args = [sys.executable, "-m", "benchmarks.bench_sweep"] + (["--quick"] if quick else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        raise RuntimeError(f"bench_sweep: the 2-device subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    from experiments.common import compile_cache

    compile_cache.enable()
    if len(jax.devices()) < 2:
        raise SystemExit(f"bench_sweep: needs 2 devices; start with XLA_FLAGS={FLAG}")
    print(json.dumps(_measure("--quick" in sys.argv[1:])))
