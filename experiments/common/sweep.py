r"""Sweeps over seeds, replicate data sets and random splits, run in parallel on ``jax.devices()``.

``sharded_vmap(fn)`` is ``jax.vmap(fn)`` over the leading axis of the batched arguments, with that
axis split across the devices: the batched arguments are placed with
``NamedSharding(Mesh(devices, ("sweep",)), P("sweep"))``, the others replicated, and each device
runs ``vmap(fn)`` on its own block (``jax.shard_map``: no communication inside ``fn``). A batch of
B items on D devices is padded to a multiple of D by repeating its last item (so the padded items
compute valid numbers, never NaN), and the padding is stripped from the outputs, which come back
replicated on every device (readable with ``np.asarray`` on every host). With one device it is
plain ``jax.jit(jax.vmap(fn))``.

The function is compiled once per argument shape: a second call with the same shapes does not
recompile (``cache_size()`` counts the compiled versions). The devices are looked up at the first
call, not at import, so a multi-host run can call ``jax.distributed.initialize()`` first. On a CPU,
two host devices are simulated with ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` set
before JAX starts. XLA already spreads one CPU device's large batched loops over its intra-op
threads (one per core), so there a second device helps only the sweeps whose one-device run leaves
cores idle (``benchmarks/bench_sweep.py`` measures both kinds). A sweep that factorises a batch of
matrices (Cholesky, eigh, ...) on as many simulated CPU devices as cores runs on one device with a
warning instead: jaxlib's LAPACK kernels can deadlock there (see ``_lapack_deadlock``).

Example::

    fit_all = sharded_vmap(fit_one, in_axes=(None, 0, 0))   # key replicated, data sets batched
    params = fit_all(key, xs, ys)                           # xs (S, m, d), ys (S, m)
"""

from __future__ import annotations

import functools
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


def _check_axes(in_axes):
    ok = (0, None)
    if isinstance(in_axes, tuple | list):
        bad = [a for a in in_axes if isinstance(a, bool) or a not in ok]
        if bad or not in_axes:
            raise ValueError(f"sharded_vmap: in_axes must be 0, None or a non-empty tuple of 0/None "
                             f"(one per positional argument), got {in_axes!r}")
        return tuple(in_axes)
    if isinstance(in_axes, bool) or in_axes not in ok:
        raise ValueError(f"sharded_vmap: in_axes must be 0, None or a tuple of 0/None (the leading "
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


def _batch_size(args, axes) -> int:
    """The common leading size of the batched arguments' leaves; ``ValueError`` otherwise."""
    sizes = {}
    for i, (arg, ax) in enumerate(zip(args, axes, strict=True)):
        if ax is None:
            continue
        for path, leaf in jax.tree_util.tree_leaves_with_path(arg):
            shape = np.shape(leaf)
            where = f"argument {i}{jax.tree_util.keystr(path)}"
            if not shape:
                raise ValueError(f"sharded_vmap: {where} is batched (in_axes 0) but is a scalar; "
                                 "give it a leading sweep axis or in_axes None")
            sizes.setdefault(shape[0], where)
    if not sizes:
        raise ValueError("sharded_vmap: no batched argument (every in_axes is None, or the batched "
                         "arguments have no array leaves)")
    if len(sizes) > 1:
        raise ValueError("sharded_vmap: the batched arguments have different sizes along the sweep "
                         f"axis: {', '.join(f'{w} has {n}' for n, w in sizes.items())}")
    (n,) = sizes
    if n == 0:
        raise ValueError(f"sharded_vmap: the sweep axis is empty ({sizes[0]} has size 0)")
    return n


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


def _place(arg, sharding):
    """Put every leaf of ``arg`` on ``sharding``. Across processes (a multi-host run) each process
    holds the whole argument and contributes the blocks of its own devices."""
    if sharding.is_fully_addressable:
        return jax.device_put(arg, sharding)

    def leaf(x):
        if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
            data = leaf(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        x = np.asarray(x)
        return jax.make_array_from_process_local_data(sharding, x, x.shape)

    return jax.tree.map(leaf, arg)


def sharded_vmap(fn, *, in_axes=0, devices=None):
    """``jax.vmap(fn, in_axes)`` with the sweep axis sharded over ``devices``, jitted once.

    Args:
      fn: the function of one item of the sweep (positional arguments only; close over static
        settings such as step counts).
      in_axes: 0 (every argument batched along its leading axis), or a tuple with one entry per
        positional argument: 0 batched, ``None`` replicated (passed whole to every item).
      devices: the devices to split the sweep over; default ``jax.devices()`` (looked up at the
        first call). One device: plain ``jax.jit(jax.vmap(fn))``.

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
    built = {}

    def build(axes, args):
        devs = devices or list(jax.devices())
        hang = _lapack_deadlock(fn, axes, args, devs) if len(devs) > 1 else None
        if hang:
            warnings.warn(hang, RuntimeWarning, stacklevel=3)
            devs = devs[:1]
        if len(devs) == 1:
            return devs, None, jax.jit(jax.vmap(fn, in_axes=axes))
        mesh = Mesh(np.asarray(devs), (AXIS,))
        specs = tuple(P() if a is None else P(AXIS) for a in axes)
        # check_vma=False: each device runs vmap(fn) on its block and nothing is exchanged, so
        # there is nothing for the varying-axes types to check; and with them on (jax 0.10.2)
        # a replicated scan carry that fn updates from batched data either raises a type error
        # (plain scan) or, under an inner jit (bj.fit_map), silently returns wrong numbers, the
        # same on every device (tests/experiments/test_sweep.py holds the case)
        local = jax.shard_map(jax.vmap(fn, in_axes=axes), mesh=mesh, in_specs=specs,
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
