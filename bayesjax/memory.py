"""Memory guard: a Laplace structure's bytes, estimated before anything is allocated, against what
the device has free.

``structure="full"`` keeps P × P matrices (the posterior precision, its Cholesky factor, and one
working copy while factorising), so it needs about ``3 P² · itemsize`` bytes: 140 GB in float32 for
a 108k-parameter MLP. Built anyway it fails deep inside XLA after allocating (laplace-torch #81:
a 47 GB out-of-memory error); ``bj.laplace`` instead refuses at once with the bytes it would need and
the structures that fit.

Free memory: an accelerator's ``memory_stats()`` (``bytes_limit − bytes_in_use``); on the CPU the
smaller of Linux's ``MemAvailable`` and the cgroup limit left (``memory.max − memory.current``), or
the physical memory where neither is readable.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["available_bytes", "check_fits", "structure_bytes"]

FULL_COPIES = 3          # precision, Cholesky factor, one working copy
SAFETY = 0.8             # use at most this share of the free memory


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cpu_available() -> int:
    free = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        free.append(max(0, limit - used))
    if not free:
        free.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return min(free)


def available_bytes(device=None) -> int:
    """Bytes free on ``device`` (default: JAX's first device)."""
    device = device or jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return _cpu_available()


def structure_bytes(structure: str, num_params: int, itemsize: int, kfac_dims=()) -> int:
    """Estimated bytes of a Laplace structure's curvature: ``full`` 3 P² (see the module docstring),
    ``diag`` a few P-vectors, ``kfac`` 3 Σ (a² + g²) over the layers' factor sizes ``kfac_dims``."""
    if structure == "full":
        return FULL_COPIES * num_params * num_params * itemsize
    if structure == "kfac" and kfac_dims:
        return FULL_COPIES * sum(a * a + g * g for a, g in kfac_dims) * itemsize
    return 4 * num_params * itemsize


def _fmt(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def check_fits(structure: str, num_params: int, itemsize: int, *, owner: str = "laplace",
               kfac_dims=()) -> None:
    """``MemoryError`` (before any allocation) when ``structure`` would not fit in ``SAFETY`` of
    the free memory, naming the bytes it needs, the bytes free, and the structures that fit."""
    need = structure_bytes(structure, num_params, itemsize, kfac_dims)
    free = available_bytes()
    if need <= SAFETY * free:
        return
    others = {s: structure_bytes(s, num_params, itemsize, kfac_dims)
              for s in ("diag", "kfac") if s != structure}
    fits = [f"structure={s!r} (~{_fmt(b)})" for s, b in others.items() if b <= SAFETY * free]
    raise MemoryError(
        f"{owner}: structure={structure!r} for P = {num_params:,} parameters needs ~{_fmt(need)} "
        f"({FULL_COPIES} P×P matrices of {itemsize}-byte floats) but {_fmt(free)} is free; "
        + (f"use {' or '.join(fits)}, or subset='last_layer' (or the k parameters of "
           "bj.subnetwork_indices)" if fits else
           "use subset='last_layer' (or the k parameters of bj.subnetwork_indices)"))
