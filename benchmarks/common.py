"""Timing helpers: every benchmark reports a ratio against a baseline run in the same process,
because these machines are shared and noisy; absolute seconds are printed for context only."""

from __future__ import annotations

import time

import jax


def block(x):
    return jax.tree.map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a,
                        x)


def timed(fn, *, repeats: int = 3) -> tuple[float, float]:
    """(cold seconds incl. compilation, best warm seconds over ``repeats``)."""
    t0 = time.perf_counter()
    block(fn())
    cold = time.perf_counter() - t0
    warm = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(fn())
        warm = min(warm, time.perf_counter() - t0)
    return cold, warm


def row(name: str, value: float, unit: str, note: str = "") -> dict:
    return {"benchmark": name, "value": float(value), "unit": unit, "note": note}
