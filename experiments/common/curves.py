r"""Learning curves over many random training sets: per size m, each set's test error and each test
point's loss averaged over the sets, and the standard error of a difference of two curves.

The uncertainty of a difference ``Δ(m) = err_a − err_b`` measured on one fixed test set has two
parts: which training sets were drawn (the s.e. of the S per-set differences) and which test points
(the s.e. over the n test points of the set-averaged loss difference). ``difference`` adds the two
variances.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from experiments.common import stats


class Curve(NamedTuple):
    """Per size: ``set_error`` a tuple of (S_m,) arrays, each training set's test error (S_m sets
    of size m); ``point_loss`` (sizes, n_test) each test point's 0/1 loss averaged over the
    sets."""

    sizes: np.ndarray
    set_error: tuple
    point_loss: np.ndarray


def summarise(sizes, losses) -> Curve:
    """Stack the per-size (S, n_test) loss matrices into a ``Curve``."""
    return Curve(np.asarray(sizes), tuple(lo.mean(1) for lo in losses),
                 np.stack([lo.mean(0) for lo in losses]))


def mean_se(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    """Mean test error per size and its s.e. over the training sets (test set fixed)."""
    pairs = [stats.mean_se(e) for e in curve.set_error]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def difference(a: Curve, b: Curve) -> tuple[np.ndarray, np.ndarray]:
    """``err_a − err_b`` per size and its s.e. (training-set and test-point parts added)."""
    d_set = [ea - eb for ea, eb in zip(a.set_error, b.set_error, strict=True)]
    d_point = a.point_loss - b.point_loss
    mean = np.array([d.mean() for d in d_set])
    var_set = np.array([d.var(ddof=1) / d.size for d in d_set])
    return mean, np.sqrt(var_set + d_point.var(1, ddof=1) / d_point.shape[1])
