r"""Scores of predictions against held-out targets: **per-example means** (in nats where a log).

Unlike log-likelihoods and evidences elsewhere in the library (sums over the data), every score
here is averaged over the n examples, as the literature reports them.

Conventions: ``probs`` of shape (n,) is ``P(y = 1)`` of a binary problem with labels in {0, 1};
``probs`` of shape (n, K) holds the K class probabilities of each example (rows must sum to 1) with
integer labels in [0, K). The predicted class is ``p > 0.5`` (binary; a tie predicts 0) or the
argmax (K-class; ties to the first class). Shapes are checked exactly: (n,) against (n, 1) is an
error, never a broadcast. Results are 0-d arrays in the inputs' floating dtype (float32 by
default, float64 when x64 is enabled).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayesjax._checks import _is_concrete, finite_array, positive_int
from bayesjax.conjugate import _float, _widest

__all__ = ["accuracy", "brier", "coverage", "ece", "gaussian_nll", "nll", "tv_distance"]




def _same_shape(owner: str, **arrays):
    shapes = {k: v.shape for k, v in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"{owner}: shapes must match exactly, got "
                         + ", ".join(f"{k} {s}" for k, s in shapes.items()))


def _classification(owner: str, probs, y, *, rows_sum_to_one: bool = True):
    """Checked ``(probs, y, binary)``; y is float 0/1 for a binary problem, integers otherwise."""
    p = _float(f"{owner}: probs", probs, _widest(probs))
    y = finite_array(f"{owner}: y", y)
    if p.ndim == 2 and p.shape[1] == 1:
        raise ValueError(f"{owner}: probs has shape {p.shape}; a binary problem takes P(y=1) of shape "
                         f"({p.shape[0]},), not (n, 1)")
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise ValueError(f"{owner}: probs must have shape (n,) (P(y=1)) or (n, K), got {p.shape}")
    if y.shape != p.shape[:1]:
        raise ValueError(f"{owner}: y must have shape {p.shape[:1]} to match probs {p.shape}, "
                         f"got {y.shape}")
    concrete = _is_concrete(p) and _is_concrete(y)
    if concrete and not bool(jnp.all((p >= 0) & (p <= 1))):
        raise ValueError(f"{owner}: probs must lie in [0, 1]")
    binary = p.ndim == 1
    if binary:
        if concrete and not bool(jnp.all((y == 0) | (y == 1))):
            raise ValueError(f"{owner}: binary labels y must be 0 or 1")
        return p, y.astype(p.dtype), True
    k = p.shape[1]
    if concrete:
        if not bool(jnp.all((y == jnp.round(y)) & (y >= 0) & (y < k))):
            raise ValueError(f"{owner}: y must be integer labels in [0, {k})")
        if rows_sum_to_one:
            err = float(jnp.max(jnp.abs(jnp.sum(p, axis=1) - 1.0)))
            tol = 1e-4 if p.dtype == jnp.float32 else 1e-8
            if err > tol:
                raise ValueError(f"{owner}: each row of probs must sum to 1 (largest error {err:.2e})")
    return p, y.astype(jnp.int32), False


def gaussian_nll(y, mean, var) -> jax.Array:
    r"""``(1/n) Σ_i −log N(y_i; m_i, v_i) = (1/n) Σ_i [½ log(2π v_i) + (y_i − m_i)²/(2 v_i)]`` nats.

    ``y`` and ``mean`` have one shape; ``var`` (> 0) the same shape or a scalar (one variance for
    all, e.g. σ²). Use the *total* predictive variance ``aleatoric_var + epistemic_var``.

    Example:
      >>> round(float(gaussian_nll(jnp.zeros(3), jnp.zeros(3), 1.0)), 4)  # ½ log 2π
      0.9189
    """
    dt = _widest(y, mean, var)
    y, mean, var = (_float(f"gaussian_nll: {k}", v, dt) for k, v in (("y", y), ("mean", mean), ("var", var)))
    _same_shape("gaussian_nll", y=y, mean=mean)
    if var.shape != ():
        _same_shape("gaussian_nll", y=y, var=var)
    if _is_concrete(var) and not bool(jnp.all(var > 0)):
        raise ValueError("gaussian_nll: var must be > 0 everywhere")
    return jnp.mean(0.5 * jnp.log(2.0 * jnp.pi * var) + 0.5 * jnp.square(y - mean) / var)


def nll(probs, y, *, eps: float = 1e-7) -> jax.Array:
    r"""Mean negative log probability of the labels, ``(1/n) Σ_i −log p(y_i)`` in nats.

    Binary: ``−y log p − (1−y) log(1−p)`` with ``p`` clipped to ``[eps, 1−eps]`` (float32 rounds
    probabilities within 6e-8 of 1 to 1; sklearn's ``log_loss`` clips the same way). It is computed
    as ``−log clip(q, eps, 1−eps)`` with ``q = p`` or ``1 − p`` the probability of the observed
    label, the same number in exact arithmetic, so that float32 does not round ``1 − eps``.
    K-class: ``−log max(p_{y_i}, eps)``.

    Example:
      >>> round(float(nll(jnp.array([0.8, 0.4]), jnp.array([1, 0]))), 4)  # −½ (log 0.8 + log 0.6)
      0.367
    """
    p, y, binary = _classification("nll", probs, y)
    if binary:
        q = jnp.where(y == 1, p, 1.0 - p)
        return jnp.mean(-jnp.log(jnp.clip(q, eps, 1.0 - eps)))
    py = jnp.take_along_axis(p, y[:, None], axis=1)[:, 0]
    return jnp.mean(-jnp.log(jnp.maximum(py, eps)))


def _predicted_correct(p, y, binary):
    """``(confidence, correct)``: the probability of the predicted class and whether it is right."""
    if binary:
        return jnp.maximum(p, 1.0 - p), ((p > 0.5) == (y > 0.5)).astype(p.dtype)
    return jnp.max(p, axis=1), (jnp.argmax(p, axis=1).astype(y.dtype) == y).astype(p.dtype)


def accuracy(probs, y) -> jax.Array:
    """Fraction of examples whose predicted class (``p > 0.5``, or the argmax) equals ``y``.

    Example:
      >>> round(float(accuracy(jnp.array([0.9, 0.2, 0.6]), jnp.array([1, 0, 0]))), 4)
      0.6667
    """
    p, y, binary = _classification("accuracy", probs, y, rows_sum_to_one=False)
    return jnp.mean(_predicted_correct(p, y, binary)[1])


def brier(probs, y) -> jax.Array:
    r"""Brier score, mean squared error of the probabilities.

    Binary (probs (n,)): ``(1/n) Σ (p_i − y_i)²``, sklearn's ``brier_score_loss``. K-class
    (probs (n, K)): Brier's original ``(1/n) Σ_i Σ_k (p_ik − [y_i = k])²``, which for K = 2 is
    twice the binary score.

    Example:
      >>> round(float(brier(jnp.array([0.8, 0.4]), jnp.array([1, 0]))), 4)  # (0.04 + 0.16)/2
      0.1
    """
    p, y, binary = _classification("brier", probs, y)
    if binary:
        return jnp.mean(jnp.square(p - y))
    onehot = jax.nn.one_hot(y, p.shape[1], dtype=p.dtype)
    return jnp.mean(jnp.sum(jnp.square(p - onehot), axis=1))


def ece(probs, y, num_bins: int = 10) -> jax.Array:
    r"""Expected calibration error (Guo et al. 2017), ``Σ_b (n_b/n) |acc_b − conf_b|``.

    The confidence ``c_i`` is the probability of the predicted class (``max(p, 1−p)`` for a binary
    problem, ``max_k p_ik`` otherwise), binned into ``num_bins`` equal-width bins of [0, 1]
    (bin ``min(⌊c·B⌋, B−1)``); ``acc_b`` and ``conf_b`` are the accuracy and mean confidence of the
    ``n_b`` examples in bin b. (A confidence on a bin edge can fall on either side in float32 and
    float64.)

    Example:
      >>> # bins [0.6, 0.7): {0.6, 0.6}, one right; [0.9, 1]: {0.9, 0.9}, both right: ½·0.1 + ½·0.1
      >>> round(float(ece(jnp.array([0.6, 0.4, 0.9, 0.1]), jnp.array([1, 1, 1, 0]))), 4)
      0.1
    """
    num_bins = positive_int("num_bins", num_bins, owner="ece")
    p, y, binary = _classification("ece", probs, y, rows_sum_to_one=False)
    conf, correct = _predicted_correct(p, y, binary)
    idx = jnp.minimum((conf * num_bins).astype(jnp.int32), num_bins - 1)
    gap = jax.ops.segment_sum(correct - conf, idx, num_segments=num_bins)
    return jnp.sum(jnp.abs(gap)) / conf.shape[0]


def coverage(y, lower, upper) -> jax.Array:
    """Fraction of the targets inside their interval, ``(1/n) Σ [lower_i ≤ y_i ≤ upper_i]``.

    Example:
      >>> float(coverage(jnp.array([0.0, 2.0]), jnp.array([-1.0, -1.0]), jnp.array([1.0, 1.0])))
      0.5
    """
    dt = _widest(y, lower, upper)
    y, lower, upper = (_float(f"coverage: {k}", v, dt)
                       for k, v in (("y", y), ("lower", lower), ("upper", upper)))
    _same_shape("coverage", y=y, lower=lower, upper=upper)
    if _is_concrete(lower) and _is_concrete(upper) and not bool(jnp.all(lower <= upper)):
        raise ValueError("coverage: need lower <= upper everywhere")
    return jnp.mean(((lower <= y) & (y <= upper)).astype(y.dtype))


def tv_distance(p, q) -> jax.Array:
    r"""Total variation ``½ Σ_k |p_k − q_k|`` over the last axis (leading axes kept).

    For two probability vectors it lies in [0, 1]; the inputs are not renormalised (a histogram
    missing an "outside" bin gives the distance between the sub-probability vectors).

    Example:
      >>> float(tv_distance(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])))
      0.5
    """
    dt = _widest(p, q)
    p, q = _float("tv_distance: p", p, dt), _float("tv_distance: q", q, dt)
    _same_shape("tv_distance", p=p, q=q)
    if p.ndim < 1:
        raise ValueError(f"tv_distance: p and q must have at least one axis, got shape {p.shape}")
    if _is_concrete(p) and _is_concrete(q) and not bool(jnp.all((p >= 0) & (q >= 0))):
        raise ValueError("tv_distance: p and q must be non-negative")
    return 0.5 * jnp.sum(jnp.abs(p - q), axis=-1)
