r"""Label shift by Bayes' rule, and its standard error.

If only the base rate moves, ``p_test(x | y) = p_train(x | y)``, Bayes' rule gives the test
posterior from the training one, ``p_test(k | x) ∝ p_train(k | x) π'_k / π_k``
(``bj.classifiers.adapt_prior``); a generative classifier gets the same by replacing its p(y)
(``predict_proba(..., class_prior=)``). With π' unknown, ``bj.classifiers.em_prior`` finds the
maximum-likelihood π' of the unlabelled test inputs under the mixture Σ_k π'_k p(x | k).

Its standard error from the n test inputs is that of a mixing weight's MLE: with
``r_k(x) = p_train(k | x) / π_k ∝ p(x | k)``, the Fisher information per input is
``I = E[((r_1 − r_0) / (π'_0 r_0 + π'_1 r_1))²]`` and ``se = 1 / √(n I)`` — larger than the
binomial ``√(π'(1 − π')/n)`` of known labels, because the labels are inferred.
"""

from __future__ import annotations

import numpy as np

import bayesjax as bj


def errors(probs_unadjusted, y, train_prior, true_prior) -> dict:
    """Per-point 0/1 losses (n,) of the unadjusted, true-prior and EM-adjusted predictions, the EM
    estimate and its s.e."""
    true_prior = np.array([1 - true_prior, true_prior])
    adjusted = np.asarray(bj.classifiers.adapt_prior(probs_unadjusted, train_prior, true_prior))
    em, em_probs = bj.classifiers.em_prior(probs_unadjusted, train_prior, num_steps=200)
    em = np.asarray(em, np.float64)
    return {"unadjusted": _loss(probs_unadjusted, y), "true_prior": _loss(adjusted, y),
            "em": _loss(em_probs, y), "em_prior": float(em[1]),
            "em_se": em_standard_error(probs_unadjusted, train_prior, em)}


def generative_errors(clf, fitted, x, y, train_prior, true_prior) -> dict:
    """As ``errors``, but the true-prior prediction replaces the generative model's p(y)
    (``predict_proba(class_prior=)``) instead of adapting its posteriors."""
    probs = np.asarray(clf.predict_proba(fitted, x))
    out = errors(probs, y, train_prior, true_prior)
    replaced = clf.predict_proba(fitted, x, class_prior=np.array([1 - true_prior, true_prior]))
    out["true_prior"] = _loss(np.asarray(replaced), y)
    return out


def em_standard_error(probs, train_prior, prior) -> float:
    """``1 / √(n I)`` at the mixing weight ``prior`` (see the module docstring)."""
    r = np.asarray(probs, np.float64) / np.asarray(train_prior, np.float64)[None]
    score = (r[:, 1] - r[:, 0]) / (r @ np.asarray(prior, np.float64))
    return float(1.0 / np.sqrt(probs.shape[0] * np.mean(score ** 2)))


def _loss(probs, y) -> np.ndarray:
    return (np.argmax(np.asarray(probs), 1) != np.asarray(y)).astype(np.float64)
