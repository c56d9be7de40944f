r"""Logistic (K = 2) and softmax (K > 2) regression on many training sets at once: one
``common.sweep.sharded_vmap`` of ``bj.fit_map`` over the sets (a ``jax.vmap`` split over
``jax.devices()``), on a linear model with a Gaussian prior N(0, s²) on every weight
and bias — the library's MAP, not a second optimiser. Shared by the experiments that compare a
generative classifier with its discriminative twin over many random training sets.

Sets of different sizes share one fit by padding to the largest: a padded point's output is
pinned (``jnp.where``) to a logit of +30 for its label, so it adds ≈ −e⁻³⁰ to the log-likelihood
and exactly nothing to the gradient. ``fit_map`` divides the objective by the padded length; that
rescales it but does not move its maximiser.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

import bayesjax as bj
from experiments.common import sweep

_PINNED_LOGIT = 30.0


class LinearFits(NamedTuple):
    """S fitted linear models: ``w`` (S, d, C), ``b`` (S, C) with C = 1 (binary: the logit of
    class 1) or K; ``grad_norm``: the largest over the S sets of the norm of the (per padded
    datum) objective's gradient at the end."""

    w: np.ndarray
    b: np.ndarray
    grad_norm: float


def _logits(params, x):
    """``x`` (m, d + 1): inputs and the real-point mask in the last column; (m, C) logits."""
    f = x[:, :-1] @ params["w"] + params["b"][None]
    c = f.shape[-1]
    pinned = jnp.full((c,), _PINNED_LOGIT, f.dtype) if c == 1 else \
        jnp.zeros((c,), f.dtype).at[0].set(_PINNED_LOGIT)
    return jnp.where(x[:, -1:] > 0, f, pinned[None])


def _binary_logits(params, x):
    return _logits(params, x)[:, 0]


def pad_sets(groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate groups of training sets ``[(x (S_i, m_i, d), y (S_i, m_i)), ...]`` into
    ``x`` (ΣS_i, max m, d), ``y`` and a ``mask`` of the real points (padded points are zeros)."""
    m = max(x.shape[1] for x, _ in groups)
    xs, ys, masks = [], [], []
    for x, y in groups:
        pad = m - x.shape[1]
        xs.append(np.pad(np.asarray(x, np.float32), ((0, 0), (0, pad), (0, 0))))
        ys.append(np.pad(np.asarray(y), ((0, 0), (0, pad))))
        masks.append(np.pad(np.ones(y.shape, bool), ((0, 0), (0, pad))))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(masks)


@functools.cache
def _fitter(num_steps: int, learning_rate: float, devices: tuple | None, batch_size: int):
    """``fit_map`` on each training set: a ``common.sweep.sharded_vmap`` over the sets (the key
    and the template posterior replicated), ``batch_size`` sets at a time on each device (chunks
    of at most ``sweep.CHUNK_BYTES`` of data: twice as fast as all sets at once, on one device
    and on two, in ``benchmarks/bench_sweep.py``), compiled once per shape."""

    def fit(key, post, xs, ys):
        res = bj.fit_map(key, post.replace(x=xs, y=ys), num_steps=num_steps,
                         learning_rate=learning_rate)
        return res.params, res.grad_norm

    return sweep.sharded_vmap(fit, in_axes=(None, None, 0, 0), devices=devices,
                              batch_size=batch_size)


def fit_splits(key, x, y, *, num_classes: int, prior_scale: float, num_steps: int,
               learning_rate: float, mask=None, devices=None) -> LinearFits:
    """MAP logistic (K = 2) or softmax (K > 2) regression on each of S training sets.

    Args:
      key: ``jax.random`` key (passed to ``fit_map``; full-batch Adam draws nothing).
      x: (S, m, d) inputs; y: (S, m) integer labels in 0..K−1.
      num_classes: K.
      prior_scale: s of the N(0, s²) prior on every weight and bias.
      num_steps, learning_rate: of ``fit_map``'s default optimiser (Adam, cosine decay).
      mask: (S, m) bool, the real points (default all); see ``pad_sets``.
      devices: the devices the S fits are split over (default ``jax.devices()``).
    """
    x = np.asarray(x, np.float32)
    s, m, d = x.shape
    mask = np.ones((s, m), bool) if mask is None else np.asarray(mask, bool)
    y = np.where(mask, np.asarray(y), 1 if num_classes == 2 else 0)
    c = 1 if num_classes == 2 else num_classes
    params = {"w": jnp.zeros((d, c), jnp.float32), "b": jnp.zeros((c,), jnp.float32)}
    if num_classes == 2:
        apply_fn, lik, targets = _binary_logits, bj.likelihoods.Bernoulli(), y.astype(np.float32)
    else:
        apply_fn, lik, targets = _logits, bj.likelihoods.Categorical(), y.astype(np.int32)
    inputs = np.concatenate([x, mask[..., None].astype(np.float32)], -1)
    post = bj.Posterior.from_apply(apply_fn, params, lik, bj.priors.Gaussian(prior_scale),
                                   inputs[0], targets[0])
    chunk = sweep.batch_size_for(inputs, targets)
    fit = _fitter(num_steps, learning_rate, None if devices is None else tuple(devices), chunk)
    fitted, grad = fit(key, post, inputs, targets)
    return LinearFits(np.asarray(fitted["w"]), np.asarray(fitted["b"]), float(jnp.max(grad)))


def predict_proba(fits: LinearFits, x) -> np.ndarray:
    """(S, n, K) class probabilities of each fitted model on the common inputs ``x`` (n, d)."""
    f = np.einsum("nd,sdc->snc", np.asarray(x, np.float64), fits.w) + fits.b[:, None]
    if f.shape[-1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-f[..., 0]))
        return np.stack([1.0 - p1, p1], -1)
    f = f - f.max(-1, keepdims=True)
    e = np.exp(f)
    return e / e.sum(-1, keepdims=True)
