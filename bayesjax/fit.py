r"""Point estimates: MAP (maximise ``log_joint``) and MLE (maximise ``log_likelihood``).

The objective handed to the optimizer is the negative log posterior **per data point**,

.. math::

    L(\theta) = -\frac{1}{N}\Big[\frac{\log p(D\mid\theta)}{T} + \log p(\theta)\Big],

which has the same minimiser as ``-log_joint`` but learning rates on the familiar per-datum scale.
Note the prior term is divided by N too: a user who trains on a *mean* loss must add
``prior.penalty(params) / N``, not ``prior.penalty(params)`` (see the ``minibatch_scaling``
experiment). With ``batch_size=B`` the likelihood term is the Posterior's own unbiased minibatch
estimate, ``Posterior.log_likelihood_estimate / N = (1/B) Σ_batch``.

Non-smooth priors (``priors.Laplace``, L1) are handled by **proximal gradient**: the optimizer
steps on the smooth part, then the prior's proximal operator (soft thresholding at
``learning_rate / (N b)``) puts weights at exactly zero. With the default optimizer for such
priors, ``optax.sgd(learning_rate)``, this is ISTA and converges to the exact MAP for a convex
objective when ``learning_rate <= 1/L`` (L the Lipschitz constant of ∇L). With another optimizer
the prox step still uses ``learning_rate``; that is a heuristic, not ISTA.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bayesjax import priors as _priors
from bayesjax import progress
from bayesjax._checks import positive_int, positive_scalar
from bayesjax.posterior import Posterior

__all__ = ["FitResult", "fit_map", "fit_mle"]


class FitResult(NamedTuple):
    """Result of ``fit_map`` / ``fit_mle``.

    Attributes:
      params: the final parameter pytree.
      losses: ``(num_steps,)`` the per-datum objective ``L`` before each step (the minibatch
        estimate of it when ``batch_size`` is set), including the non-smooth prior term.
      log_joint: ``log p(D|θ)/T + log p(θ)`` at ``params`` on the full data, in nats
        (for ``fit_mle``: the log-likelihood).
      grad_norm: Euclidean norm of the full-batch (proximal) gradient mapping of ``L`` at
        ``params``; zero at an exact stationary point.
    """

    params: Any
    losses: jax.Array
    log_joint: jax.Array
    grad_norm: jax.Array


@functools.lru_cache(maxsize=64)
def _default_optimizer(learning_rate: float, num_steps: int, smooth: bool):
    if smooth:
        schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)
        return optax.adam(schedule)
    return optax.sgd(learning_rate)


def _split_prior(prior, params):
    """Per-leaf priors, split into the smooth part (differentiated) and the non-smooth part
    (handled by its proximal operator)."""
    leaf_priors = [p for _, p in prior.leaf_priors(params)]
    smooth = [p.smooth for p in leaf_priors]

    def smooth_log_prior(theta):
        leaves = jax.tree.leaves(theta)
        total = jnp.zeros((), jnp.result_type(float))
        for p, s, w in zip(leaf_priors, smooth, leaves, strict=True):
            if s:
                total = total + p._leaf_log_norm(w.size, w.dtype) - p._leaf_penalty(w)
        return total

    def nonsmooth_penalty(theta):
        leaves = jax.tree.leaves(theta)
        total = jnp.zeros((), jnp.result_type(float))
        for p, s, w in zip(leaf_priors, smooth, leaves, strict=True):
            if not s:
                total = total + p._leaf_penalty(w)
        return total

    def prox(theta, step):
        leaves, treedef = jax.tree.flatten(theta)
        new = [w if s else p._leaf_prox(w, step)
               for p, s, w in zip(leaf_priors, smooth, leaves, strict=True)]
        return jax.tree.unflatten(treedef, new)

    return smooth_log_prior, nonsmooth_penalty, prox, not all(smooth)


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps", "batch_size", "bar", "label"))
def _fit(key, post: Posterior, params, learning_rate, optimizer, num_steps, batch_size, bar=False,
         label="fit_map"):
    n = post.num_data
    smooth_log_prior, nonsmooth_penalty, prox, has_prox = _split_prior(post.prior, params)

    def smooth_loss(theta, idx):
        ll = post.log_likelihood(theta) if idx is None else post.log_likelihood_estimate(theta, idx)
        return -((1.0 / n) * ll / post.temperature + smooth_log_prior(theta) / n)

    def prox_step(theta):
        return prox(theta, learning_rate / n) if has_prox else theta

    def step(carry, k):
        theta, opt_state = carry
        idx = None if batch_size is None else jax.random.randint(k, (batch_size,), 0, n)
        loss, grads = jax.value_and_grad(smooth_loss)(theta, idx)
        with jax.numpy_dtype_promotion("standard"):  # optax's adam raises a float to its int count
            updates, opt_state = optimizer.update(grads, opt_state, theta)
        new = prox_step(optax.apply_updates(theta, updates))
        return (new, opt_state), loss + nonsmooth_penalty(theta) / n

    keys = jax.random.split(key, num_steps)
    (params, _), losses = progress.scan(step, (params, optimizer.init(params)), keys, label=label,
                                        enabled=bar)

    g = jax.grad(smooth_loss)(params, None)
    if has_prox:
        moved = prox(jax.tree.map(lambda w, gw: w - learning_rate * gw, params, g),
                     learning_rate / n)
        g = jax.tree.map(lambda w, m: (w - m) / learning_rate, params, moved)
    grad_norm = jnp.sqrt(sum(jnp.sum(jnp.square(gl)) for gl in jax.tree.leaves(g)))
    return params, losses, post.log_joint(params), grad_norm


def fit_map(key, post: Posterior, optimizer: optax.GradientTransformation | None = None,
            num_steps: int = 1000, batch_size: int | None = None, *,
            learning_rate: float = 1e-2, init_params=None, progress_bar: bool = False) -> FitResult:
    """Maximum a posteriori estimate: ``argmax_θ log p(D|θ)/T + log p(θ)``.

    One ``jax.jit`` around a ``lax.scan`` over the steps; a second call with the same shapes, the
    same ``optimizer`` object (or the default) and the same ``num_steps``/``batch_size`` does not
    recompile.

    Args:
      key: ``jax.random`` key (minibatch sampling).
      post: the ``Posterior``.
      optimizer: an ``optax.GradientTransformation`` applied to the per-datum objective (see the
        module docstring). Default: ``adam`` with a cosine decay from ``learning_rate`` for smooth
        priors; ``sgd(learning_rate)`` + proximal step (ISTA) when the prior has a Laplace part.
      num_steps: number of optimizer steps.
      batch_size: ``None`` for full batch, else B points drawn uniformly (with replacement, which
        keeps the step O(B) for any N) each step.
      learning_rate: step size of the default optimizer, and the proximal step for L1 priors.
      init_params: starting parameters (default ``post.params``); must have their structure.
      progress_bar: a tqdm bar of the steps on stderr (``bayesjax.progress``; none when the
        environment variable ``CI`` is set). Off by default: a fit of the default 1000 steps
        takes well under a second, and sweeps call ``fit_map`` many times (a bar each); the
        bar's host callbacks also keep the compiled loop out of JAX's persistent cache.

    Returns:
      ``FitResult(params, losses, log_joint, grad_norm)``.

    Example::

        res = bj.fit_map(jax.random.key(0), post, optax.adam(1e-2), num_steps=2000)
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"fit_map: post must be a bayesjax.Posterior, got {type(post).__name__}")
    num_steps = positive_int("num_steps", num_steps, owner="fit_map")
    batch_size = positive_int("batch_size", batch_size, owner="fit_map", allow_none=True)
    if batch_size is not None and batch_size > post.num_data:
        raise ValueError(f"fit_map: batch_size={batch_size} exceeds the {post.num_data} data points")
    learning_rate = float(positive_scalar("learning_rate", learning_rate, owner="fit_map"))
    if optimizer is None:
        optimizer = _default_optimizer(learning_rate, num_steps, post.prior.smooth)
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"fit_map: optimizer must be an optax.GradientTransformation, "
                        f"got {type(optimizer).__name__}")
    params = post.check_params(init_params, owner="fit_map")
    bar = progress.active(progress_bar, owner="fit_map")
    label = "fit_mle" if isinstance(post.prior, _priors.Flat) else "fit_map"
    params, losses, log_joint, grad_norm = _fit(key, post, params, learning_rate, optimizer,
                                                num_steps, batch_size, bar, label)
    if not isinstance(log_joint, jax.core.Tracer) and not bool(jnp.isfinite(log_joint)):
        bad = int(jnp.argmax(~jnp.isfinite(losses))) if not bool(jnp.all(jnp.isfinite(losses))) \
            else num_steps
        warnings.warn(f"fit_map: the optimisation diverged (objective non-finite from step {bad}); "
                      "lower the learning rate", RuntimeWarning, stacklevel=2)
    return FitResult(params, losses, log_joint, grad_norm)


def fit_mle(key, post: Posterior, optimizer: optax.GradientTransformation | None = None,
            num_steps: int = 1000, batch_size: int | None = None, *,
            learning_rate: float = 1e-2, init_params=None, progress_bar: bool = False) -> FitResult:
    """Maximum likelihood: ``fit_map`` with the prior replaced by ``priors.Flat()``.

    ``FitResult.log_joint`` is then the log-likelihood (divided by the temperature).
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"fit_mle: post must be a bayesjax.Posterior, got {type(post).__name__}")
    return fit_map(key, post.replace(prior=_priors.Flat()), optimizer, num_steps, batch_size,
                   learning_rate=learning_rate, init_params=init_params,
                   progress_bar=progress_bar)
