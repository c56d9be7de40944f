r"""Learning curves: test error of naive Bayes and logistic regression at each training-set size m,
over S random training sets per size, every set of a size fitted in one vectorised call: a
``common.sweep.sharded_vmap`` (``jax.vmap`` with the S sets split over ``jax.devices()``) of the
classifier's ``fit``, and of ``bj.fit_map`` for logistic regression (``common/logistic.py``).

The uncertainty of the error difference ``Δ(m) = err_NB − err_LR`` has two parts: which training
sets were drawn (the s.e. of the S per-set differences, test set fixed) and which test points
(the s.e. over the n test points of the set-averaged loss difference). ``difference`` adds the two
variances; the claims compare Δ with it under the suite policy.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import sweep
from experiments.common.curves import Curve, summarise
from experiments.common.logistic import fit_splits, pad_sets, predict_proba


def stratified_subsets(rng, y_pool, m: int, num_sets: int) -> np.ndarray:
    """(num_sets, m) indices into the pool: each set keeps the pool's class shares (at least one
    point of each class), drawn without replacement."""
    y_pool = np.asarray(y_pool)
    classes = np.unique(y_pool)
    counts = np.maximum(1, np.round(m * np.bincount(y_pool)[classes] / y_pool.size)).astype(int)
    counts[np.argmax(counts)] += m - counts.sum()
    members = [np.flatnonzero(y_pool == c) for c in classes]
    if m > y_pool.size or any(k > idx.size for k, idx in zip(counts, members, strict=True)):
        raise ValueError(f"training-set size m = {m} exceeds the pool of {y_pool.size} points")
    return np.stack([np.concatenate([rng.choice(idx, k, replace=False)
                                     for k, idx in zip(counts, members, strict=True)])
                     for _ in range(num_sets)])


def _losses(probs, y_test):
    return (np.argmax(np.asarray(probs), -1) != np.asarray(y_test)[None]).astype(np.float64)


@functools.cache
def _nb_fit(clf):
    """``clf.fit`` over a stack of training sets, split over ``jax.devices()`` (compiled once per
    classifier and shape)."""
    return sweep.sharded_vmap(clf.fit)


def naive_bayes_losses(clf, x, y, x_test, y_test) -> np.ndarray:
    """(S, n_test) 0/1 losses of ``clf`` (a ``bj.classifiers`` naive Bayes with ``num_classes``)
    fitted to each of the S sets ``x`` (S, m, d), ``y`` (S, m): one sweep of ``clf.fit``."""
    fits = _nb_fit(clf)(jnp.asarray(x), jnp.asarray(y))
    probs = jax.vmap(clf.predict_proba, in_axes=(0, None))(fits, jnp.asarray(x_test))
    return _losses(probs, y_test)


def crossover(sizes, delta) -> float:
    """The m at which ``delta`` = err_NB − err_LR last changes sign from ≤ 0 to > 0, linear in
    log m between the two grid points; NaN when it does not (naive Bayes never ahead at the
    smallest m, or not behind at the largest)."""
    sizes, delta = np.asarray(sizes, np.float64), np.asarray(delta, np.float64)
    if not (delta[0] < 0 and delta[-1] > 0):
        return float("nan")
    i = int(np.flatnonzero(delta <= 0)[-1])
    t = delta[i] / (delta[i] - delta[i + 1])
    return float(np.exp(np.log(sizes[i]) + t * (np.log(sizes[i + 1]) - np.log(sizes[i]))))


def bootstrap_crossover(rng, a: Curve, b: Curve, num_boot: int) -> np.ndarray:
    """Crossovers of ``num_boot`` bootstrap curves: at each size the S training sets are
    resampled with replacement (sizes independently, as they were drawn)."""
    boot = np.stack([(ea - eb)[rng.integers(0, ea.size, size=(num_boot, ea.size))].mean(1)
                     for ea, eb in zip(a.set_error, b.set_error, strict=True)], 1)
    return np.array([crossover(a.sizes, row) for row in boot])


def learning_curves(key, draw, sizes, nb_clf, x_test, y_test, *, prior_scale, num_steps,
                    learning_rate, shared_fit_max: int = 32) -> tuple[Curve, Curve, float]:
    """Naive Bayes and logistic-regression curves; ``draw(m)`` returns the S_m training sets of
    size m as ``(x (S_m, m, d), y (S_m, m))``. Naive Bayes: one sweep of ``fit`` per size.
    Logistic regression: all sizes ≤ ``shared_fit_max`` in one padded ``fit_map`` (one compile),
    each larger size in its own. Also returns the largest final gradient norm of the logistic
    fits (their convergence)."""
    sets = [draw(int(m)) for m in sizes]
    nb = [naive_bayes_losses(nb_clf, x, y, x_test, y_test) for x, y in sets]
    small = [i for i, m in enumerate(sizes) if m <= shared_fit_max]
    groups = ([small] if small else []) + [[i] for i in range(len(sizes)) if i not in small]
    lr, grad = [None] * len(sizes), 0.0
    for group in groups:
        x, y, mask = pad_sets([sets[i] for i in group])
        fits = fit_splits(key, x, y, mask=mask, num_classes=2, prior_scale=prior_scale,
                          num_steps=num_steps, learning_rate=learning_rate)
        losses = _losses(predict_proba(fits, x_test), y_test)
        grad = max(grad, fits.grad_norm)
        start = 0
        for i in group:
            stop = start + sets[i][0].shape[0]
            lr[i], start = losses[start:stop], stop
    return summarise(sizes, nb), summarise(sizes, lr), grad


def pooled_difference(a: Curve, b: Curve, idx) -> tuple[float, float]:
    """``err_a − err_b`` averaged over the sizes ``idx`` and its s.e.: the training-set parts
    are independent across sizes (fresh sets), the test-point part is shared (one test set), so
    it is taken from the per-point loss difference averaged over those sizes."""
    idx = list(idx)
    d_set = [a.set_error[i] - b.set_error[i] for i in idx]
    mean = float(np.mean([d.mean() for d in d_set]))
    var_set = sum(d.var(ddof=1) / d.size for d in d_set) / len(idx) ** 2
    d_point = (a.point_loss[idx] - b.point_loss[idx]).mean(0)
    return mean, float(np.sqrt(var_set + d_point.var(ddof=1) / d_point.size))
