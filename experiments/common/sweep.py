r"""Sweeps over seeds, replicate data sets and random splits, run in parallel on ``jax.devices()``.

``sharded_vmap(fn)`` is ``jax.vmap(fn)`` over the leading axis of the batched arguments, with that
axis split across the devices: the batched arguments are placed with
``NamedSharding(Mesh(devices, ("sweep",)), P("sweep"))``, the others replicated, and each device
runs ``vmap(fn)`` on its own block (``jax.shard_map``: no communication inside ``fn``). A batch of
B items on D devices is padded to a multiple of D by repeating its last item (so the padded items
compute valid numbers, never NaN), and the padding is stripped from the outputs, which come back
replicated on every device (readable with ``np.asarray`` on every host). With one device it is
plain ``jax.jit(jax.vmap(fn))``.

``batch_size=k`` runs each device's block at most k items at a time (``jax.lax.map(fn, ...,
batch_size=...)``: a ``lax.scan`` over equal chunks, each chunk one ``vmap``) instead of all at once, so
the working set of one chunk stays in the core's cache. ``batch_size_for`` picks k from the bytes
of one item. Measured on this project's 2-core CPU (``generative_vs_discriminative``'s simulated
logistic sweeps, 400 Adam steps each, d = 116): with all 60 sets of 512 points at once one device
took 0.44 s and two 0.42 s (the large batched ops are split over XLA's intra-op threads, which on
these small ops costs more than it gains, and both devices share those threads); one set at a time,
0.32 s and 0.16 s. Of chunks of 1–32 sets, those of at most 256 KiB of batched input (the largest
such k) were the fastest, within 5%, for each of that curve's five sweeps on one device and on two;
the whole curve took 1.04 s on one device (2.05 s unchunked) and 0.58 s on two (1.42 s).

The function is compiled once per argument shape: a second call with the same shapes does not
recompile (``cache_size()`` counts the compiled versions). The devices are looked up at the first
call, not at import, so a multi-host run can call ``jax.distributed.initialize()`` first. On a CPU,
two host devices are simulated with ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` set
before JAX starts; unchunked, XLA spreads one CPU device's large batched ops over its intra-op
threads (one per core), so a second device helps only where that leaves cores idle, while chunked
sweeps run one core per device (``benchmarks/bench_sweep.py``). A sweep that factorises a batch of
matrices (Cholesky, eigh, ...) on as many simulated CPU devices as cores runs on one device with a
warning instead: jaxlib's LAPACK kernels can deadlock there (see ``_lapack_deadlock``).

Example::

    fit_all = sharded_vmap(fit_one, in_axes=(None, 0, 0))   # key replicated, data sets batched
    params = fit_all(key, xs, ys)                           # xs (S, m, d), ys (S, m)
"""

from __future__ import annotations

import functools
import numbers
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "sweep"

# LAPACK-backed primitives whose CPU kernels split a batch over XLA's intra-op thread pool
_LAPACK = {"cholesky", "eigh", "eig", "lu", "qr", "geqrf", "geqp3", "householder_product", "svd",
           "schur", "hessenberg", "tridiagonal", "tridiagonal_solve"}


def _check_axes(in_axes, owner="sharded_vmap"):
    ok = (0, None)
    if isinstance(in_axes, tuple | list):
        bad = [a for a in in_axes if isinstance(a, bool) or a not in ok]
        if bad or not in_axes:
            raise ValueError(f"{owner}: in_axes must be 0, None or a non-empty tuple of 0/None "
                             f"(one per positional argument), got {in_axes!r}")
        return tuple(in_axes)
    if isinstance(in_axes, bool) or in_axes not in ok:
        raise ValueError(f"{owner}: in_axes must be 0, None or a tuple of 0/None (the leading "
                         f"axis is the sweep axis), got {in_axes!r}")
    return in_axes


def _check_devices(devices):
    if devices is None:
        return None
    devices = list(devices)
    if not devices:
        raise ValueError("sharded_vmap: devices is empty; pass None for jax.devices() or a list of "
                         "at least one jax.Device")
    bad = [d for d in devices if not isinstance(d, jax.Device)]
    if bad:
        raise TypeError(f"sharded_vmap: devices must be jax.Device objects, got {bad[0]!r}")
    if len(set(devices)) != len(devices):
        raise ValueError(f"sharded_vmap: devices has repeated entries: {devices}")
    return devices


def _batch_size(args, axes, owner="sharded_vmap") -> int:
    """The common leading size of the batched arguments' leaves; ``ValueError`` otherwise."""
    sizes = {}
    for i, (arg, ax) in enumerate(zip(args, axes, strict=True)):
        if ax is None:
            continue
        for path, leaf in jax.tree_util.tree_leaves_with_path(arg):
            shape = np.shape(leaf)
            where = f"argument {i}{jax.tree_util.keystr(path)}"
            if not shape:
                raise ValueError(f"{owner}: {where} is batched (in_axes 0) but is a scalar; "
                                 "give it a leading sweep axis or in_axes None")
            sizes.setdefault(shape[0], where)
    if not sizes:
        raise ValueError(f"{owner}: no batched argument (every in_axes is None, or the batched "
                         "arguments have no array leaves)")
    if len(sizes) > 1:
        raise ValueError(f"{owner}: the batched arguments have different sizes along the sweep "
                         f"axis: {', '.join(f'{w} has {n}' for n, w in sizes.items())}")
    (n,) = sizes
    if n == 0:
        raise ValueError(f"{owner}: the sweep axis is empty ({sizes[0]} has size 0)")
    return n


def _item_bytes(args, axes) -> int:
    """Bytes of one item of the batched arguments (all their leaves, without the sweep axis)."""
    total = 0
    for arg, ax in zip(args, axes, strict=True):
        if ax is not None:
            for leaf in jax.tree_util.tree_leaves(arg):
                dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
                if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
                    leaf = jax.random.key_data(leaf)     # e.g. 2 uint32 per threefry key
                    dtype = leaf.dtype
                shape = np.shape(leaf)
                total += int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
    return total


CHUNK_BYTES = 256 * 1024


def batch_size_for(*args, in_axes=0, target_bytes: int = CHUNK_BYTES) -> int:
    """The ``batch_size`` that keeps one chunk's batched inputs under ``target_bytes`` (at least
    1): ``target_bytes // (bytes of one item)``. ``args``/``in_axes`` as for the sweep's call; the
    default target is the measured best of the module docstring."""
    axes = _check_axes(in_axes, owner="batch_size_for")
    axes = (axes,) * len(args) if not isinstance(axes, tuple) else axes
    if len(axes) != len(args):
        raise ValueError(f"batch_size_for: in_axes has {len(axes)} entries but {len(args)} "
                         "arguments were given")
    if (isinstance(target_bytes, bool) or not isinstance(target_bytes, numbers.Integral)
            or target_bytes < 1):
        raise ValueError(f"batch_size_for: target_bytes must be a positive int, got "
                         f"{target_bytes!r}")
    _batch_size(args, axes, owner="batch_size_for")
    return max(1, int(target_bytes) // max(_item_bytes(args, axes), 1))


def _pad(leaf, pad: int):
    """Repeat the last item ``pad`` times along the leading axis (numpy stays on the host)."""
    if isinstance(leaf, np.ndarray | np.generic):
        return np.concatenate([leaf, np.repeat(leaf[-1:], pad, axis=0)])
    leaf = jnp.asarray(leaf) if not isinstance(leaf, jax.Array) else leaf
    return jnp.concatenate([leaf, jnp.repeat(leaf[-1:], pad, axis=0)])


def _batched_lapack(jaxpr) -> str | None:
    """The name of a LAPACK primitive applied to a batch of matrices anywhere in ``jaxpr``."""
    for eqn in jaxpr.eqns:
        least = 1 if eqn.primitive.name == "tridiagonal_solve" else 2
        if eqn.primitive.name in _LAPACK and any(getattr(v.aval, "ndim", 0) > least
                                                 for v in eqn.invars):
            return eqn.primitive.name
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                found = _batched_lapack(inner) if hasattr(inner, "eqns") else None
                if found:
                    return found
    return None


def _lapack_deadlock(fn, axes, args, devs) -> str | None:
    """Why a CPU sweep over ``devs`` would hang, or None. jaxlib 0.10.2's CPU LAPACK kernels
    split a batch into chunks queued on XLA's intra-op pool (one thread per core) and block until
    they are done; with as many simulated devices as cores, every pool thread is a device's program
    blocked that way and nothing runs the chunks (seen here: a sweep of 256 Cholesky factorisations
    of 100 x 100 on 2 devices and 2 cores never returned)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    local = [d for d in devs if d.process_index == jax.process_index()]   # share this pool
    if devs[0].platform != "cpu" or len(local) < max(cores or 1, 2):
        return None
    name = _batched_lapack(jax.make_jaxpr(jax.vmap(fn, in_axes=axes))(*args).jaxpr)
    if name is None:
        return None
    return (f"sharded_vmap: the sweep applies {name} to a batch of matrices, which on {len(local)} "
            f"simulated CPU devices with {cores} core(s) can deadlock jaxlib's LAPACK kernels "
            "(every intra-op thread blocked in a device's program); running it on one device "
            "instead (same numbers). Simulate fewer devices than cores to shard it.")


def _host_view(x):
    """``x`` as a NumPy array when it is a concrete, strongly typed, non-key jax array on one CPU
    device, else ``x`` (a tracer, or a weak type that NumPy would make strong)."""
    if (isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)
            and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) and not x.weak_type
            and len(x.sharding.device_set) == 1
            and next(iter(x.sharding.device_set)).platform == "cpu"):
        return np.asarray(x)
    return x


def _place(arg, sharding):
    """Put every leaf of ``arg`` on ``sharding``. Across processes (a multi-host run) each process
    holds the whole argument and contributes the blocks of its own devices. A CPU array bound for
    CPU devices goes through a host view: jax's device-to-device reshard of a 1 MB array onto two
    simulated CPU devices took 1–5 ms here (noisy), against ~1 ms from a host array."""
    if sharding.is_fully_addressable:
        if all(d.platform == "cpu" for d in sharding.device_set):
            arg = jax.tree.map(_host_view, arg)
        return jax.device_put(arg, sharding)

    def leaf(x):
        if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
            data = leaf(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_process_local_data(sharding, x, x.shape)

    return jax.tree.map(leaf, arg)


def _chunked(fn, axes, batch_size):
    """``vmap(fn, axes)``, or with ``batch_size`` k a ``lax.map`` over ``c = ceil(n / k)`` equal
    chunks of ``ceil(n / c)`` ≤ k items: the block is padded to whole chunks by repeating its last
    item (fewer than c extra items, stripped again), so ``vmap(fn)`` is compiled once, with no
    second program for a remainder."""
    mapped = jax.vmap(fn, in_axes=axes)
    if batch_size is None:
        return mapped

    def run(*args):
        batched = tuple(i for i, a in enumerate(axes) if a is not None)

        def one(items):
            full = list(args)
            for i, item in zip(batched, items, strict=True):
                full[i] = item
            return fn(*full)

        n = _batch_size(args, axes)
        if batch_size >= n:
            return mapped(*args)
        chunks = -(-n // batch_size)
        size = -(-n // chunks)
        items = tuple(jax.tree.map(functools.partial(_pad, pad=chunks * size - n), args[i])
                      if chunks * size > n else args[i] for i in batched)
        out = jax.lax.map(one, items, batch_size=size)
        return jax.tree.map(lambda o: o[:n], out)

    return run


def sharded_vmap(fn, *, in_axes=0, devices=None, batch_size=None):
    """``jax.vmap(fn, in_axes)`` with the sweep axis sharded over ``devices``, jitted once.

    Args:
      fn: the function of one item of the sweep (positional arguments only; close over static
        settings such as step counts).
      in_axes: 0 (every argument batched along its leading axis), or a tuple with one entry per
        positional argument: 0 batched, ``None`` replicated (passed whole to every item).
      devices: the devices to split the sweep over; default ``jax.devices()`` (looked up at the
        first call). One device: plain ``jax.jit(jax.vmap(fn))``.
      batch_size: ``None`` (each device's items all at once, one ``vmap``) or k ≥ 1: k items at a
        time (``jax.lax.map(..., batch_size=k)``; see the module docstring and
        ``batch_size_for``). The same numbers to float rounding.

    Returns:
      ``f(*args)``: the outputs of ``vmap(fn)`` (leading axis = the batch size B), equal to the
      unsharded ``jax.vmap`` to float rounding. ``f.cache_size()`` is the number of compiled
      versions. ``ValueError`` for an empty sweep axis, batched arguments of different sizes,
      ``devices=[]``.
    """
    if not callable(fn):
        raise TypeError(f"sharded_vmap: fn must be callable, got {fn!r}")
    in_axes = _check_axes(in_axes)
    devices = _check_devices(devices)
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, numbers.Integral) or batch_size < 1):
        raise ValueError(f"sharded_vmap: batch_size must be None or an int >= 1, got "
                         f"{batch_size!r}")
    built = {}

    def build(axes, args):
        devs = devices or list(jax.devices())
        hang = _lapack_deadlock(fn, axes, args, devs) if len(devs) > 1 else None
        if hang:
            warnings.warn(hang, RuntimeWarning, stacklevel=3)
            devs = devs[:1]
        if len(devs) == 1:
            return devs, None, jax.jit(_chunked(fn, axes, batch_size))
        mesh = Mesh(np.asarray(devs), (AXIS,))
        specs = tuple(P() if a is None else P(AXIS) for a in axes)
        # check_vma=False: each device runs vmap(fn) on its block and nothing is exchanged, so
        # there is nothing for the varying-axes types to check; and with them on (jax 0.10.2)
        # a replicated scan carry that fn updates from batched data either raises a type error
        # (plain scan) or, under an inner jit (bj.fit_map), silently returns wrong numbers, the
        # same on every device (tests/experiments/test_sweep.py holds the case)
        local = jax.shard_map(_chunked(fn, axes, batch_size), mesh=mesh, in_specs=specs,
                              out_specs=P(AXIS), check_vma=False)

        def strip(n, *args):
            return jax.tree.map(lambda o: o[:n], local(*args))

        return devs, mesh, jax.jit(strip, static_argnums=0, out_shardings=NamedSharding(mesh, P()))

    def call(*args):
        if not args:
            raise ValueError("sharded_vmap: call with at least one (batched) argument")
        axes = (in_axes,) * len(args) if not isinstance(in_axes, tuple) else in_axes
        if len(axes) != len(args):
            raise ValueError(f"sharded_vmap: in_axes has {len(axes)} entries but the call passes "
                             f"{len(args)} positional arguments")
        n = _batch_size(args, axes)
        if axes not in built:
            built[axes] = build(axes, args)
        devs, mesh, jitted = built[axes]
        if mesh is None:
            if devs[0] != jax.devices()[0]:
                args = jax.device_put(args, devs[0])
            return jitted(*args)
        pad = -n % len(devs)
        placed = []
        for arg, ax in zip(args, axes, strict=True):
            if ax is None:
                placed.append(_place(arg, NamedSharding(mesh, P())))
                continue
            if pad:
                arg = jax.tree.map(functools.partial(_pad, pad=pad), arg)
            placed.append(_place(arg, NamedSharding(mesh, P(AXIS))))
        return jitted(n, *placed)

    def cache_size() -> int:
        return sum(j._cache_size() for _, _, j in built.values())

    call.cache_size = cache_size
    functools.update_wrapper(call, fn, assigned=("__module__", "__name__", "__qualname__",
                                                 "__doc__"))
    return call
