r"""Scores of predictions against held-out targets: **per-example means** (in nats where a log).

Unlike log-likelihoods and evidences elsewhere in the library (sums over the data), every score
here is averaged over the n examples, as the literature reports them.

Conventions: ``probs`` of shape (n,) is ``P(y = 1)`` of a binary problem with labels in {0, 1};
``probs`` of shape (n, K) holds the K class probabilities of each example (rows must sum to 1) with
integer labels in [0, K). The predicted class is ``p > 0.5`` (binary; a tie predicts 0) or the
argmax (K-class; ties to the first class). Shapes are checked exactly: (n,) against (n, 1) is an
error, never a broadcast. Results are 0-d arrays in the inputs' floating dtype (float32 by
default, float64 when x64 is enabled).

**Sample quality** (generative models): ``precision_recall``, ``frechet_distance`` and
``energy_distance`` compare two *sets of samples* (n, d) and (m, d) — the data and a model's —
instead of predictions with targets; each is a property of the two sets, not a per-example mean.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from bayesjax._checks import _is_concrete, finite_array, positive_int
from bayesjax.conjugate import _float, _widest

__all__ = ["accuracy", "brier", "coverage", "ece", "gaussian_nll", "nll", "tv_distance",
           "PrecisionRecall", "precision_recall", "frechet_distance", "energy_distance"]




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


# ----------------------------------------------------------------------- sample quality
# Two sets of samples, ``real`` / ``a`` (n, d) and ``generated`` / ``b`` (m, d), compared as sets.
# Pairwise distances are computed by row blocks (``lax.map``) of at most ``_BLOCK_ENTRIES``
# entries, so n × m never sits in memory at once (10⁴ × 10⁴ pairs use 16 MiB blocks, not 400 MB).
_BLOCK_ENTRIES = 1 << 22


class PrecisionRecall(NamedTuple):
    """``precision``: fraction of generated samples inside the real manifold; ``recall``: fraction
    of real samples inside the generated manifold (0-d arrays in [0, 1])."""

    precision: jax.Array
    recall: jax.Array


def _sample_sets(owner: str, a, b, *, min_n: int = 1, names=("a", "b")):
    dt = _widest(a, b)
    a, b = _float(f"{owner}: {names[0]}", a, dt), _float(f"{owner}: {names[1]}", b, dt)
    for name, x in zip(names, (a, b), strict=True):
        if x.ndim != 2:
            raise ValueError(f"{owner}: {name} must have shape (num_samples, d), got {x.shape}")
        if x.shape[0] < min_n:
            raise ValueError(f"{owner}: {name} needs at least {min_n} sample(s), got {x.shape[0]}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{owner}: {names[0]} and {names[1]} must have the same dimension d, got "
                         f"{a.shape[1]} and {b.shape[1]}")
    return a, b


def _block_rows(n_cols: int) -> int:
    return max(1, min(_BLOCK_ENTRIES // max(n_cols, 1), 4096))


def _by_row_blocks(fn, rows, block: int):
    """``fn(row_block, row_index)`` over row blocks of ``rows`` (padded), results concatenated."""
    n, d = rows.shape
    num = -(-n // block)
    padded = jnp.concatenate([rows, jnp.zeros((num * block - n, d), rows.dtype)])
    idx = jnp.arange(num * block).reshape(num, block)
    out = lax.map(lambda a: fn(*a), (padded.reshape(num, block, d), idx))
    return out.reshape(num * block, *out.shape[2:])[:n]


def _sq_dists(rows, cols, cols_sq):
    """``‖r − c‖²`` for a row block by ``|r|² + |c|² − 2 r·c`` (clipped at 0): the matrix product
    is fast; its rounding (≈ eps·|x|²) does not move a k-NN radius of distinct points."""
    rows_sq = jnp.sum(jnp.square(rows), 1)
    return jnp.maximum(rows_sq[:, None] + cols_sq[None] - 2.0 * rows @ cols.T, 0.0)


def _kth_smallest(d2, k: int):
    """Per row, the value at index k of the sorted row (ties counted): k rounds of removing one
    minimum (``lax.top_k`` is far slower on CPU for the small k used here)."""
    cols = jnp.arange(d2.shape[1])[None]

    def drop_min(_, d):
        return jnp.where(cols == jnp.argmin(d, 1)[:, None], jnp.inf, d)

    return jnp.min(lax.fori_loop(0, k, drop_min, d2), 1)


@partial(jax.jit, static_argnames=("k",))
def _precision_recall(real, gen, k: int):
    def radii2(x):                     # squared distance to the k-th nearest *other* point
        sq = jnp.sum(jnp.square(x), 1)
        return _by_row_blocks(lambda r, _: _kth_smallest(_sq_dists(r, x, sq), k), x,
                              _block_rows(x.shape[0]))

    def inside(points, centres, r2):   # fraction of points within some centre's ball
        sq = jnp.sum(jnp.square(centres), 1)
        hit = _by_row_blocks(lambda r, _: jnp.any(_sq_dists(r, centres, sq) <= r2[None], 1),
                             points, _block_rows(centres.shape[0]))
        return jnp.mean(hit.astype(points.dtype))

    return PrecisionRecall(inside(gen, real, radii2(real)), inside(real, gen, radii2(gen)))


def precision_recall(real, generated, k: int = 3) -> PrecisionRecall:
    r"""Improved precision and recall (Kynkäänniemi et al. 2019), ``(precision, recall)``.

    Each set's *manifold* is the union of balls around its samples, each of radius the distance to
    that sample's k-th nearest neighbour in the same set. Precision is the fraction of
    ``generated`` samples inside the manifold of ``real`` (are the samples realistic?), recall the
    fraction of ``real`` samples inside the manifold of ``generated`` (is all of the data
    covered?). A generator that drops modes keeps its precision and loses recall; one that spreads
    mass off the data keeps recall and loses precision. Identical sets of distinct points give
    (1, 1). Euclidean distances in the given space (the paper uses VGG features of images).

    Args:
      real: (n, d) samples of the data, n > k.
      generated: (m, d) model samples, m > k.
      k: the neighbour that sets the radii, 1 ≤ k < min(n, m) (the paper's default is 3).

    Memory: distances are computed in row blocks, never all n·m at once.

    Example:
      >>> x = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
      >>> p, r = precision_recall(x, x, k=1)
      >>> float(p), float(r)
      (1.0, 1.0)
    """
    real, gen = _sample_sets("precision_recall", real, generated, names=("real", "generated"))
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"precision_recall: k must be an integer >= 1, got {k!r}")
    for name, x in (("real", real), ("generated", gen)):
        if k >= x.shape[0]:
            raise ValueError(f"precision_recall: k = {k} needs more than k samples in {name}, "
                             f"got {x.shape[0]} (the k-th neighbour excludes the point itself)")
    return _precision_recall(real, gen, k)


def frechet_distance(a, b) -> jax.Array:
    r"""Fréchet (2-Wasserstein²) distance of the Gaussians fitted to two sample sets (FID's formula
    without the Inception features):

    .. math:: ‖μ_a − μ_b‖² + \operatorname{tr}\big(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}\big)

    with sample means and covariances (ddof = 1). The matrix square roots are by symmetric
    eigendecompositions (eigenvalues clipped at 0). Needs ≥ 2 samples per set.

    Example:
      >>> a = jnp.array([[0.0], [2.0]]); b = a + 3.0      # same spread, means 3 apart
      >>> float(frechet_distance(a, b))
      9.0
    """
    a, b = _sample_sets("frechet_distance", a, b, min_n=2)
    mu_a, mu_b = jnp.mean(a, 0), jnp.mean(b, 0)
    cov_a, cov_b = (jnp.atleast_2d(jnp.cov(x, rowvar=False)) for x in (a, b))
    w, v = jnp.linalg.eigh(cov_a)
    root_a = (v * jnp.sqrt(jnp.maximum(w, 0.0))[None]) @ v.T
    m = root_a @ cov_b @ root_a
    tr_root = jnp.sum(jnp.sqrt(jnp.maximum(jnp.linalg.eigvalsh(0.5 * (m + m.T)), 0.0)))
    return jnp.sum(jnp.square(mu_a - mu_b)) + jnp.trace(cov_a) + jnp.trace(cov_b) - 2.0 * tr_root


@partial(jax.jit, static_argnames=("exclude_diagonal",))
def _mean_distance(a, b, exclude_diagonal: bool):
    """Mean ``‖a_i − b_j‖`` over all pairs (or over i ≠ j when a is b)."""
    sq = jnp.sum(jnp.square(b), 1)

    def row_sums(r, idx):
        dist = jnp.sqrt(_sq_dists(r, b, sq))
        if exclude_diagonal:
            dist = jnp.where(idx[:, None] == jnp.arange(b.shape[0])[None], 0.0, dist)
        return jnp.sum(dist, 1)

    n, m = a.shape[0], b.shape[0]
    pairs = n * (m - 1) if exclude_diagonal else n * m
    return jnp.sum(_by_row_blocks(row_sums, a, _block_rows(m))) / pairs


def energy_distance(a, b) -> jax.Array:
    r"""Energy distance (Székely & Rizzo), ``D² = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖`` with X ~ a,
    Y ~ b; 0 iff the two laws are equal.

    **Estimator: the unbiased U-statistic** — the within-set means run over pairs i ≠ j
    (``n(n−1)`` of them), the cross mean over all ``n·m`` pairs. Its expectation is D² exactly,
    so for two samples of one law it is 0 on average and can be slightly negative. Needs ≥ 2
    samples per set. Distances by row blocks (no n × m matrix in memory).

    Example:
      >>> a = jnp.array([[0.0], [1.0]]); b = jnp.array([[0.0], [3.0]])
      >>> float(energy_distance(a, b))    # 2·(0 + 3 + 1 + 2)/4 − 1 − 3
      -1.0
    """
    a, b = _sample_sets("energy_distance", a, b, min_n=2)
    return (2.0 * _mean_distance(a, b, False) - _mean_distance(a, a, True)
            - _mean_distance(b, b, True))
