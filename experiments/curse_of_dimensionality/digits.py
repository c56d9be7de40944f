r"""Few images per class: error against the number n of training images per class on the
digits (d = 64 pixels, 10 classes), each classifier fitted to S random training sets per n in
one vectorised call.

* full-covariance Gaussian, Inverse-Wishart posterior mode (``GaussianClassifier(prior=IW)``),
  ``jax.vmap`` of ``fit`` over the sets;
* the same with a nearly flat prior (tiny ν and Ψ = ``jitter``·I): the MLE made invertible by a
  numerical fix, not by prior information;
* Gaussian naive Bayes (``GaussianNB``), vmapped the same way;
* softmax regression, MAP with a N(0, s²) prior (the stacked ``fit_map`` of
  ``generative_vs_discriminative.logistic``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj
from experiments.common.logistic import fit_splits, pad_sets, predict_proba


def per_class_sets(rng, y_pool, n: int, num_sets: int, num_classes: int) -> np.ndarray:
    """(num_sets, n·K) indices: n random pool images of each class per set."""
    members = [np.flatnonzero(np.asarray(y_pool) == c) for c in range(num_classes)]
    return np.stack([np.concatenate([rng.choice(m, n, replace=False) for m in members])
                     for _ in range(num_sets)])


def generative_losses(clf, x, y, x_test, y_test) -> np.ndarray:
    """(S, n_test) 0/1 losses of ``clf`` fitted to each set, one ``vmap`` of ``fit``."""
    fits = jax.vmap(clf.fit)(jnp.asarray(x), jnp.asarray(y))
    probs = jax.vmap(clf.predict_proba, in_axes=(0, None))(fits, jnp.asarray(x_test))
    return (np.argmax(np.asarray(probs), -1) != y_test[None]).astype(np.float64)


def error_curves(key, rng, data, sizes, num_sets, *, prior: bj.classifiers.InverseWishart,
                 jitter: float, prior_scale: float, lr_steps: int, lr_learning_rate: float,
                 shared_rows: int = 200) -> tuple[dict, float]:
    """Per model, a list over ``sizes`` of (S, n_test) losses; and the softmax fits' largest
    final gradient norm. Softmax fits of ≤ ``shared_rows`` training images share one padded
    ``fit_map``."""
    k = data.num_classes
    models = {
        "gaussian_iw": bj.classifiers.GaussianClassifier(prior=prior, num_classes=k),
        "gaussian_jitter": bj.classifiers.GaussianClassifier(
            prior=bj.classifiers.InverseWishart(df=1e-3, scale=jitter), num_classes=k),
        "gaussian_nb": bj.classifiers.GaussianNB(num_classes=k),
    }
    sets = []
    for n in sizes:
        idx = per_class_sets(rng, data.y_train, n, num_sets, k)
        sets.append((data.x_train[idx], data.y_train[idx]))
    out = {name: [generative_losses(clf, x, y, data.x_test, data.y_test) for x, y in sets]
           for name, clf in models.items()}
    small = [i for i, n in enumerate(sizes) if n * k <= shared_rows]
    groups = ([small] if small else []) + [[i] for i in range(len(sizes)) if i not in small]
    out["logistic"], grad = [None] * len(sizes), 0.0
    for group in groups:
        x, y, mask = pad_sets([sets[i] for i in group])
        fits = fit_splits(key, x, y, mask=mask, num_classes=k, prior_scale=prior_scale,
                          num_steps=lr_steps, learning_rate=lr_learning_rate)
        losses = (np.argmax(predict_proba(fits, data.x_test), -1)
                  != data.y_test[None]).astype(np.float64)
        grad, start = max(grad, fits.grad_norm), 0
        for i in group:
            stop = start + sets[i][0].shape[0]
            out["logistic"][i], start = losses[start:stop], stop
    return out, grad


def singular_mle(x, y, n: int, d: int) -> dict:
    """What the MLE does on n images per class: the library's error (or None if it fitted), and
    what a bare Cholesky factor of the same MLE covariance holds."""
    try:
        bj.classifiers.GaussianClassifier().fit(x, y)
        message = None
    except ValueError as e:
        message = str(e)
    xs = np.asarray(x[np.asarray(y) == 0], np.float64)
    cov = np.cov(xs.T, bias=True)
    chol = np.asarray(jnp.linalg.cholesky(jnp.asarray(cov, jnp.float32)))
    eig = np.linalg.eigvalsh(cov)
    return {"n": n, "d": d, "error": message, "rank": int(np.sum(eig > 1e-9 * eig.max())),
            "bare_cholesky_has_nan": bool(np.isnan(chol).any())}
