"""The bundled data sets under one protocol: a seeded (stratified) split, then standardisation by
the training statistics only.

Every experiment that uses scikit-learn's bundled data (``digits``, ``diabetes``,
``breast_cancer``, ``wine``) loads it here, so a test set never leaks into a scaling and two
experiments that say "digits" mean the same images. Nothing is downloaded: these ship inside
scikit-learn.

* **Split.** Classification: within each class a permutation drawn by
  ``np.random.default_rng(seed)`` sends the first ``round(test_fraction · n_c)`` points to the test
  set, so each class keeps its share (``stratified_split``). Regression: the first
  ``round(test_fraction · N)`` points of one permutation. ``test_fraction = 0`` keeps all points
  for training (empty test arrays).
* **Scaling** (``scaling=``): ``"standardize"`` — subtract the training mean, divide by the training
  standard deviation (a feature constant on the training set is only centred: its scale is 1);
  ``"unit"`` — digits only: pixels / 16, the fixed 0–16 range of the data, no statistics at all;
  ``"none"``. Regression targets are standardised the same way with ``standardize_target=True``.
* **Types.** Inputs float32; labels int32 in 0..K−1; regression targets float32.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DATASETS = ("digits", "diabetes", "breast_cancer", "wine")
_REGRESSION = ("diabetes",)


class Dataset(NamedTuple):
    """A split data set. ``num_classes`` is 0 for regression. ``mean``/``scale`` are the training
    statistics the inputs were standardised with (zeros/ones when ``scaling`` was not
    ``"standardize"``)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    num_classes: int
    mean: np.ndarray
    scale: np.ndarray


def stratified_split(y, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, test)`` index arrays: within each class c, a permutation drawn by
    ``np.random.default_rng(seed)`` sends the first ``round(f·n_c)`` points to test."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng, y = np.random.default_rng(seed), np.asarray(y)
    test = np.zeros(y.shape[0], bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[:round(test_fraction * idx.size)]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def random_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, test)`` index arrays: the first ``round(f·n)`` of one permutation drawn by
    ``np.random.default_rng(seed)`` are the test set."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    k = round(test_fraction * n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def standardize(x_train, *others):
    """``(x_train, *others)`` centred and scaled by the training mean and standard deviation
    (float64 statistics; a constant training feature keeps scale 1), plus ``(mean, scale)``."""
    x_train = np.asarray(x_train, np.float64)
    mean = x_train.mean(0)
    scale = x_train.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    out = tuple((np.asarray(x, np.float64) - mean) / scale for x in (x_train, *others))
    return out, (mean, scale)


def _raw(name: str):
    import sklearn.datasets as skd

    loader = {"digits": skd.load_digits, "diabetes": skd.load_diabetes,
              "breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine}[name]
    data = loader()
    names = tuple(str(n) for n in getattr(data, "feature_names", [])) or tuple(
        f"x{i}" for i in range(data.data.shape[1]))
    return np.asarray(data.data, np.float64), np.asarray(data.target), names


def load(name: str, *, test_fraction: float = 0.25, seed: int = 0, scaling: str = "standardize",
         classes: tuple[int, ...] | None = None, standardize_target: bool = True) -> Dataset:
    """Load a bundled data set under the suite's protocol (see the module docstring).

    Args:
      name: one of ``DATASETS``.
      test_fraction: share of the points (of each class) held out, in [0, 1).
      seed: the split's seed.
      scaling: ``"standardize"`` (training statistics), ``"unit"`` (digits: pixels / 16) or
        ``"none"``.
      classes: classification only — keep these original labels, relabelled 0..k−1 in the given
        order (e.g. ``(3, 8)``: 3 → 0, 8 → 1).
      standardize_target: regression only — standardise y by the training mean and sd.

    Example::

        d = load("digits", classes=(3, 8), test_fraction=0.3, seed=1)
        d.x_train.shape, d.y_train[:5]
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")
    if scaling not in ("standardize", "unit", "none"):
        raise ValueError(f"unknown scaling {scaling!r}; valid: standardize, unit, none")
    if scaling == "unit" and name != "digits":
        raise ValueError(f"scaling='unit' (pixels / 16) is for digits only, not {name!r}")
    x, y, names = _raw(name)
    regression = name in _REGRESSION
    if regression:
        if classes is not None:
            raise ValueError(f"classes= selects labels; {name!r} is a regression data set")
        tr, te = random_split(y.shape[0], test_fraction, seed)
    else:
        if classes is not None:
            classes = tuple(int(c) for c in classes)
            unknown = sorted(set(classes) - set(np.unique(y).tolist()))
            if unknown or len(set(classes)) != len(classes) or len(classes) < 2:
                raise ValueError(f"classes={classes}: need at least two distinct labels of "
                                 f"{name!r} (labels {np.unique(y).tolist()})")
            keep = np.isin(y, classes)
            x, y = x[keep], np.searchsorted(np.array(sorted(classes)), y[keep])
            order = np.argsort(np.argsort(classes))  # sorted position -> requested position
            y = order[y]
        tr, te = stratified_split(y, test_fraction, seed)
    d = x.shape[1]
    mean, scale = np.zeros(d), np.ones(d)
    x_tr, x_te = x[tr], x[te]
    if scaling == "standardize":
        (x_tr, x_te), (mean, scale) = standardize(x_tr, x_te)
    elif scaling == "unit":
        x_tr, x_te = x_tr / 16.0, x_te / 16.0
    if regression:
        y_tr, y_te = y[tr].astype(np.float64), y[te].astype(np.float64)
        if standardize_target:
            (y_tr, y_te), _ = standardize(y_tr[:, None], y_te[:, None])
            y_tr, y_te = y_tr[:, 0], y_te[:, 0]
        y_tr, y_te, k = y_tr.astype(np.float32), y_te.astype(np.float32), 0
    else:
        y_tr, y_te = y[tr].astype(np.int32), y[te].astype(np.int32)
        k = int(np.unique(y).size)
    return Dataset(x_tr.astype(np.float32), y_tr, x_te.astype(np.float32), y_te, names, k,
                   mean, scale)
