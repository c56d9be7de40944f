r"""Noisy gradient dynamics as posterior samplers.

**SGLD** (Welling & Teh 2011): with step ε and an unbiased minibatch estimate of the log joint,

.. math::

    \theta_{t+1} = \theta_t + \frac{\varepsilon}{2}\nabla\widehat{\log p}(\theta_t \mid D)
        + \sqrt{\varepsilon}\,\xi_t, \qquad \xi_t \sim N(0, I),

whose stationary law tends to ``p(θ|D)`` as ε → 0 (with ``batch_size=None`` it is the unadjusted
Langevin algorithm, exact up to O(ε) discretisation bias).

**Constant-rate SGD** (Mandt, Hoffman & Blei 2017): ``θ ← θ − ε ∇L̂(θ)`` on the per-datum objective
``L = −log_joint / N`` with minibatch gradients; its iterates fluctuate around the mode with a
stationary covariance set by ε, B and the gradient noise — an approximate posterior sampler.

Both run one ``jax.jit`` around a ``lax.scan``; ``thin`` keeps every thin-th state. A progress bar
(``bayesjax.progress``, on stderr) follows the steps unless ``progress_bar=False`` or ``CI`` is set.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bayesjax import progress
from bayesjax._checks import positive_int, positive_scalar
from bayesjax.posterior import Posterior

__all__ = ["SamplerResult", "sgld", "sgd_iterates"]


class SamplerResult(NamedTuple):
    """``samples``: parameter pytree with a leading axis of ``num_steps / thin`` kept states;
    ``log_joint``: the full-data ``log_joint`` of each kept state (nats)."""

    samples: Any
    log_joint: jax.Array


def _batch(key, n, batch_size, with_replacement):
    if batch_size is None:
        return None
    if with_replacement:
        return jax.random.randint(key, (batch_size,), 0, n)
    return jax.random.permutation(key, n)[:batch_size]


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "thin", "kind",
                                             "with_replacement", "bar"))
def _run(key, post, params, step_size, num_steps, batch_size, thin, kind, with_replacement, bar):
    n = post.num_data

    def log_joint_hat(theta, idx):
        return post.log_joint(theta) if idx is None else post.log_joint_estimate(theta, idx)

    def step(theta, k):
        kb, kn = jax.random.split(k)
        g = jax.grad(log_joint_hat)(theta, _batch(kb, n, batch_size, with_replacement))
        if kind == "sgld":
            leaves, treedef = jax.tree.flatten(theta)
            noise = jax.random.split(kn, len(leaves))
            new = [w + 0.5 * step_size * gw + jnp.sqrt(step_size)
                   * jax.random.normal(kk, w.shape, w.dtype)
                   for w, gw, kk in zip(leaves, jax.tree.leaves(g), noise, strict=True)]
            return jax.tree.unflatten(treedef, new), None
        return jax.tree.map(lambda w, gw: w + step_size * gw / n, theta, g), None

    def block(theta, keys):
        theta, _ = jax.lax.scan(step, theta, keys)
        return theta, (theta, post.log_joint(theta))

    keys = jax.random.split(key, (num_steps // thin, thin))
    label = "sgld" if kind == "sgld" else "sgd_iterates"
    _, (samples, lj) = progress.scan(block, params, keys, label=label, enabled=bar, scale=thin)
    return samples, lj


def _check(name, post, rate_name, rate, num_steps, batch_size, thin, init_params):
    """Validate the arguments of ``name`` (reporting its own argument names); return the start."""
    if not isinstance(post, Posterior):
        raise TypeError(f"{name}: post must be a bayesjax.Posterior, got {type(post).__name__}")
    positive_scalar(rate_name, rate, owner=name)
    positive_int("num_steps", num_steps, owner=name)
    positive_int("thin", thin, owner=name)
    positive_int("batch_size", batch_size, owner=name, allow_none=True)
    if batch_size is not None and batch_size > post.num_data:
        raise ValueError(f"{name}: batch_size={batch_size} exceeds the {post.num_data} data points")
    if thin > num_steps:
        raise ValueError(f"{name}: thin={thin} exceeds num_steps={num_steps}")
    if num_steps % thin:
        raise ValueError(f"{name}: num_steps={num_steps} is not a multiple of thin={thin}; "
                         f"the last {num_steps % thin} step(s) would not be kept")
    return post.check_params(init_params, owner=name)


def sgld(key, post: Posterior, *, step_size: float, num_steps: int, batch_size: int | None = None,
         thin: int = 1, init_params=None, with_replacement: bool = True,
         progress_bar: bool = True) -> SamplerResult:
    """Stochastic gradient Langevin dynamics on ``post.log_joint`` (step ``step_size`` = ε in
    parameter units², the variance of the injected noise per step). Minibatches are drawn with
    replacement by default (O(B) per step; ``with_replacement=False`` costs a permutation of N).
    ``num_steps`` must be a multiple of ``thin``; ``init_params`` (default ``post.params``) must
    have the structure and shapes of ``post.params``. ``progress_bar``: a tqdm bar of the steps on
    stderr (one per call, also under ``vmap``; none when the environment variable ``CI`` is set);
    the samples are the same either way. The bar's host callbacks keep the compiled loop out of
    JAX's persistent compilation cache."""
    params = _check("sgld", post, "step_size", step_size, num_steps, batch_size, thin, init_params)
    bar = progress.active(progress_bar, owner="sgld")
    return SamplerResult(*_run(key, post, params, float(step_size), int(num_steps), batch_size,
                               int(thin), "sgld", bool(with_replacement), bar))


def sgd_iterates(key, post: Posterior, *, learning_rate: float, num_steps: int,
                 batch_size: int | None, thin: int = 1, init_params=None,
                 with_replacement: bool = True, progress_bar: bool = True) -> SamplerResult:
    """Iterates of constant-rate minibatch SGD on ``L = −log_joint/N`` (rate ε = ``learning_rate``),
    as a sampler (Mandt et al. 2017). Batches are drawn with replacement by default, the
    assumption of that paper's stationary-variance formula. Arguments (``progress_bar`` too) are
    checked as in ``sgld``."""
    params = _check("sgd_iterates", post, "learning_rate", learning_rate, num_steps, batch_size,
                    thin, init_params)
    bar = progress.active(progress_bar, owner="sgd_iterates")
    return SamplerResult(*_run(key, post, params, float(learning_rate), int(num_steps),
                               batch_size, int(thin), "sgd", bool(with_replacement), bar))
