"""Running a sampler's chains on a CPU: one compiled single-chain program called from host threads.

XLA runs calls of a program from different host threads at the same time, each on its own core,
while the calls of one thread, or a ``vmap`` of the chains, run on one core. Measured on this
project's 2-core CPU (``bnn_posteriors`` regression posterior, a 1-16-1 tanh MLP): a loop of 300,000
leapfrog-like gradient steps took 0.57 s; two such calls from one thread 1.14 s, from two threads
0.57 s, and a ``vmap`` of two 2.17 s (the batched small matrix products are slower than two
unbatched ones). ``bj.nuts`` and ``bj.mclmc`` therefore run their chains this way on a CPU
(``chain_method="threaded"``, what ``"auto"`` picks there with more than one chain and core): for
NUTS the same program and keys as one chain after the other, so the same draws.
"""

from __future__ import annotations

import concurrent.futures
import os

import jax
import jax.numpy as jnp

__all__ = ["cpu_cores", "on_threads", "threaded_by_default"]


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threaded_by_default(num_chains: int) -> bool:
    """Whether ``chain_method="auto"`` runs ``num_chains`` chains on host threads: on a CPU
    backend, with more than one chain and more than one core."""
    return jax.default_backend() == "cpu" and num_chains > 1 and cpu_cores() > 1


def on_threads(run, per_chain_args):
    """``run(*args)`` for each chain's ``args``, on ``min(chains, cores)`` host threads, each
    waited for (``jax.block_until_ready``); the outputs stacked along a new leading chain axis.
    An exception in a chain (or a ``KeyboardInterrupt``) is raised here once the chains already
    running have finished (a compiled program cannot be stopped); chains not yet started are
    cancelled."""
    workers = max(1, min(len(per_chain_args), cpu_cores()))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(lambda a: jax.block_until_ready(run(*a)), args)
                   for args in per_chain_args]
        outs = [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return jax.tree.map(lambda *v: jnp.stack(v), *outs)
