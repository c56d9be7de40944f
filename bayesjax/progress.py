"""A progress bar for long ``lax.scan`` loops: ``progress.scan`` is ``jax.lax.scan`` plus a tqdm bar.

Enabled, a loop of ``length`` steps runs as ``length = rest + chunks * every`` with
``every ≈ length / 100``: a plain ``lax.scan`` over the first ``rest`` steps (none when a divisor
of ``length`` gives 50-100 chunks), then an outer ``lax.scan`` over the chunks, each an inner
``lax.scan`` of the caller's body. A host callback (``jax.experimental.io_callback``, unordered)
reports the count at the start of each chunk and once after the loop, so the bar is updated at
most ~101 times per run; the steps themselves carry no callback, condition or modulo, and the
results are bitwise those of ``lax.scan`` (``tests/bayesjax/test_progress.py``). The callback
hands the count back, and the loop carries that: an ordinary counter's final value XLA computes
without running the loop, and would report the end before the loop starts.

The callback's arguments are that count and a flag, which no ``vmap`` batches: under ``jax.vmap``
(chains, data sets, settings) and over sharded batches there is one bar per run, not one per
batch element. (With a batched argument, ``jax.debug.callback``'s batching rule unrolls one call
per element at trace time, ``jax/_src/debugging.py``; ``io_callback`` loops over the elements.)
Inside ``shard_map``/``pmap`` each device runs the loop and calls back; the flag keeps only the
first device's reports (``lax.axis_index`` over the manual axes; a ``lax.cond`` cannot choose
the device, since JAX refuses IO callbacks in a ``vmap`` of ``cond``). The bar opens at the first
report and closes at ``length``; it writes to stderr, with the label and the total.

Disabled (``enabled=False``, or the environment variable ``CI`` set non-empty when the loop is
traced) it is exactly ``lax.scan``: no callback in the traced program, which is then the one a
plain ``lax.scan`` compiles. That matters beyond the callbacks' cost: JAX's persistent
compilation cache does not write programs with host callbacks (jax 0.10: ``_cache_write`` in
``jax/_src/compiler.py`` logs "Not writing persistent cache entry ... because it uses host
callbacks"; lifted upstream later, jax-ml/jax#38405), so a run with a bar recompiles its loop on
every start. tqdm's own ``TQDM_DISABLE=1`` also silences the bar (the callbacks stay).

Example::

    carry, ys = progress.scan(step, carry, keys, label="sgld", enabled=True)
"""

from __future__ import annotations

import math
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from bayesjax._checks import positive_int

__all__ = ["active", "scan"]

MAX_UPDATES = 100


def active(progress_bar, *, owner: str) -> bool:
    """``progress_bar`` validated as a ``bool`` (``TypeError`` naming ``owner`` otherwise), and
    ``False`` when the environment variable ``CI`` is set non-empty. Call it outside ``jit`` and
    pass the result as a static argument, so that setting ``CI`` later retraces."""
    if not isinstance(progress_bar, bool):
        raise TypeError(f"{owner}: progress_bar must be a bool (True or False), "
                        f"got {type(progress_bar).__name__} {progress_bar!r}")
    return progress_bar and not os.environ.get("CI")


def _grid(n: int) -> tuple[int, int, int]:
    """``(every, chunks, rest)`` with ``n = chunks * every + rest`` and at most ~``MAX_UPDATES``
    chunks; ``rest = 0`` when a divisor of n gives 50 to 100 chunks (then the loop body is
    compiled once, not twice)."""
    every = math.ceil(n / MAX_UPDATES)
    for d in range(every, min(2 * every, n) + 1):
        if n % d == 0:
            return d, n // d, 0
    return every, n // every, n % every


class _Bar:
    """Host side of one traced loop: a tqdm bar opened at the first report, closed at ``total``;
    returns the count it was given. One object serves every execution of the compiled program
    (a new bar each time)."""

    def __init__(self, label: str, total: int, scale: int):
        self.label, self.total, self.scale, self.bar = label, total, scale, None

    def __call__(self, done, lead=True) -> np.int32:
        from tqdm import tqdm

        count = int(done)
        done = count * self.scale
        if not lead:
            return np.int32(count)
        if self.bar is not None and done < self.bar.n:  # a previous execution did not finish
            self.bar.close()
            self.bar = None
        if self.bar is None:
            self.bar = tqdm(total=self.total, initial=done, desc=self.label, unit="step",
                            file=sys.stderr)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        if done >= self.total:
            self.bar.close()
            self.bar = None
        return np.int32(count)


def scan(f, init, xs=None, length=None, *, label: str, enabled: bool = True, scale: int = 1,
         reverse: bool = False, unroll: int | bool = 1, lead=None):
    """``jax.lax.scan(f, init, xs, length, reverse=reverse, unroll=unroll)``, with a progress bar.

    Args:
      f, init, xs, length, reverse, unroll: as in ``jax.lax.scan`` (same results, same errors).
      label: the bar's description, e.g. ``"sgld"``.
      enabled: ``False`` (or ``CI`` set in the environment at trace time) gives plain
        ``lax.scan``, with no callback in the program.
      scale: steps each iteration of ``f`` stands for on the bar (e.g. ``thin`` when ``f`` runs
        ``thin`` sampler steps); the bar's total is ``length * scale``.
      lead: ``None``, or a (traced) boolean scalar: only runs where it is true report, e.g. the
        first of several chains that one compiled program runs at once from host threads.

    Returns:
      ``(carry, ys)`` as ``lax.scan``.
    """
    positive_int("scale", scale, owner="progress.scan")
    leaves = jax.tree.leaves(xs)
    n = length if length is not None else (leaves[0].shape[0] if leaves else None)
    plain = (not enabled or os.environ.get("CI") or not isinstance(n, int | np.integer)
             or n < 1 or any(jnp.ndim(x) == 0 or x.shape[0] != n for x in leaves))
    if plain:  # lax.scan itself reports malformed xs / length
        return jax.lax.scan(f, init, xs, length, reverse=reverse, unroll=unroll)
    n = int(n)
    every, chunks, rest = _grid(n)
    tick = _Bar(str(label), n * int(scale), int(scale))
    count = jax.ShapeDtypeStruct((), jnp.int32)
    # the `rest` steps processed first (the last ones when reversed) run unreported
    cut = n - rest if reverse else rest
    head = jax.tree.map(lambda x: x[cut:] if reverse else x[:cut], xs)
    main = jax.tree.map(lambda x: (x[:cut] if reverse else x[cut:]).reshape(chunks, every, *x.shape[1:]),
                        xs)
    carry, ys_head = (jax.lax.scan(f, init, head, rest, reverse=reverse, unroll=unroll) if rest
                      else (init, None))

    # inside shard_map / pmap every device runs the loop: only the first one's reports count
    lead = jnp.asarray(True) if lead is None else jnp.asarray(lead, bool)
    if lead.ndim != 0:
        raise ValueError(f"progress.scan: lead must be a boolean scalar, got shape {lead.shape}")
    for axis in jax.sharding.get_abstract_mesh().manual_axes:
        lead = lead & (jax.lax.axis_index(axis) == 0)

    def report(done):
        return io_callback(tick, count, done, lead, ordered=False)

    def outer(state, xs_chunk):
        carry, done = state
        done = report(done)
        carry, ys = jax.lax.scan(f, carry, xs_chunk, every, reverse=reverse, unroll=unroll)
        return (carry, done + every), ys

    (carry, done), ys = jax.lax.scan(outer, (carry, jnp.asarray(rest, jnp.int32)), main, chunks,
                                     reverse=reverse)
    report(done)
    ys = jax.tree.map(lambda y: y.reshape(chunks * every, *y.shape[2:]), ys)
    if rest:
        parts = (ys, ys_head) if reverse else (ys_head, ys)
        ys = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), *parts)
    return carry, ys
