"""The user's side of the claim: logistic regression, the mean minibatch loss with a weighted
prior penalty, the SGD loop that minimises it, and minibatch estimates of the log joint."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from bayesjax import progress


def logits(params, x):
    """Logistic regression: ``f(x) = x·w + b``, the log-odds of label 1."""
    return x @ params["w"] + params["b"]


def mean_loss(params, x_batch, y_batch, prior, prior_weight):
    r"""The loss a deep-learning user writes: mean binary cross-entropy over the minibatch plus a
    weighted prior penalty,

    .. math:: \frac1B \sum_{i\in\text{batch}} \ell_i(\theta) + w\,\mathrm{penalty}(\theta).

    ``prior_weight = 1/N`` is the minibatch estimate of the MAP objective ``-log_joint/N``;
    ``prior_weight = 1`` is the common mistake, the MAP of a prior with precision × N.
    """
    bce = optax.losses.sigmoid_binary_cross_entropy(logits(params, x_batch), y_batch)
    return jnp.mean(bce) + prior_weight * prior.penalty(params)


@functools.partial(jax.jit, static_argnames=("optimizer", "num_steps", "batch_size", "progress_bar"))
def train(keys, params, x, y, prior, prior_weights, targets, optimizer, num_steps, batch_size,
          progress_bar=False):
    """The user's training loop, for every ``prior_weights[w]`` and batch sequence ``keys[r]``.

    Each step draws B indices uniformly with replacement (an unbiased minibatch) and takes one
    optimizer step on ``mean_loss``; the runs for different prior weights share their keys, hence
    their batches. Records the relative distance ``‖θ_t - t_j‖ / ‖t_j‖`` to each row ``t_j`` of
    ``targets`` (flat parameter vectors) after every step.

    Returns ``(final, dist)``: flat final parameters ``(W, R, P)`` and distances ``(W, R, T, J)``.
    ``progress_bar``: one bar of the steps on stderr for all W × R runs (``bayesjax.progress``).
    """
    n = x.shape[0]
    target_norms = jnp.linalg.norm(targets, axis=1)

    def one_run(key, prior_weight):
        def step(carry, k):
            theta, state = carry
            idx = jax.random.randint(k, (batch_size,), 0, n)
            grads = jax.grad(mean_loss)(theta, x[idx], y[idx], prior, prior_weight)
            updates, state = optimizer.update(grads, state, theta)
            theta = optax.apply_updates(theta, updates)
            flat = ravel_pytree(theta)[0]
            return (theta, state), jnp.linalg.norm(flat[None, :] - targets, axis=1) / target_norms

        (theta, _), dist = progress.scan(step, (params, optimizer.init(params)),
                                         jax.random.split(key, num_steps),
                                         label=f"{keys.shape[0] * prior_weights.shape[0]} SGD runs",
                                         enabled=progress_bar)
        return ravel_pytree(theta)[0], dist

    return jax.vmap(jax.vmap(one_run, (0, None)), (None, 0))(keys, prior_weights)


@functools.partial(jax.jit, static_argnames=("batch_size",))
def minibatch_estimates(keys, post, params, batch_size):
    """``post.log_joint_estimate(params, idx)`` for one minibatch of B distinct points per key."""
    def one(k):
        idx = jax.random.choice(k, post.num_data, (batch_size,), replace=False)
        return post.log_joint_estimate(params, idx)

    return jax.vmap(one)(keys)
