"""Label shift by Bayes' rule: adapt_prior is exactly the reweighting, em_prior finds a shifted
prior (Saerens et al. 2002)."""

import numpy as np

from bayesjax import label_shift as C


def test_adapt_prior_is_exactly_bayes_rule(x64):
    p = np.array([[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]])
    train, new = np.array([0.5, 0.25, 0.25]), np.array([0.2, 0.2, 0.6])
    w = p * new / train
    np.testing.assert_allclose(C.adapt_prior(p, train, new), w / w.sum(1, keepdims=True),
                               rtol=1e-14)
    np.testing.assert_allclose(C.adapt_prior(p, train, train), p, rtol=1e-14)


def test_em_prior_recovers_a_shifted_prior():
    """Two well-separated Gaussian classes trained balanced; a test set with 90% class 1."""
    rng = np.random.default_rng(6)
    n = 20_000
    y = (rng.uniform(size=n) < 0.9).astype(int)
    x = rng.normal(size=(n, 1)) + 2.0 * y[:, None]
    # exact posterior under the balanced training prior: logistic in x
    logit = 2.0 * x[:, 0] - 2.0
    p1 = 1 / (1 + np.exp(-logit))
    probs = np.stack([1 - p1, p1], 1).astype(np.float32)
    prior, adapted = C.em_prior(probs, np.array([0.5, 0.5]), num_steps=200)
    # EM converges to the MLE of the mixing weight; its s.e. from the Fisher information
    # I = E[((f1 − f0) / f)²] of the two-component mixture f = 0.1 f0 + 0.9 f1
    f0, f1 = np.exp(-0.5 * x[:, 0] ** 2), np.exp(-0.5 * (x[:, 0] - 2.0) ** 2)
    se = 1.0 / np.sqrt(n * np.mean(((f1 - f0) / (0.1 * f0 + 0.9 * f1)) ** 2))
    assert abs(float(prior[1]) - 0.9) < 5 * se
    assert adapted.shape == probs.shape and np.allclose(adapted.sum(1), 1, atol=1e-5)
