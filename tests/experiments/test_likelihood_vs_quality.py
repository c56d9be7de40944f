"""likelihood_vs_quality: the mixture bound on closed-form densities, the kernel density against
its formula and the mixture sampler's share. (A bad config value is rejected by the CLI:
test_runner.py.)"""

import math

import jax
import numpy as np
from scipy.stats import multivariate_normal, norm

from experiments.likelihood_vs_quality import densities as dens


def test_mixture_loses_at_most_ln100_and_attains_it_where_q_is_negligible():
    x = np.linspace(-8, 8, 401)
    log_p, log_q = norm.logpdf(x, 0, 0.5), norm.logpdf(x, 20.0, 1.0)
    loss = log_p - dens.mixed_log_prob(log_p, log_q, 0.01)
    assert np.all(loss <= math.log(100) + 1e-12)
    # at x = 0: loss = ln 100 − ln(1 + 99 q/p), closed form
    np.testing.assert_allclose(loss[200], math.log(100) - math.log1p(99 * math.exp(
        log_q[200] - log_p[200])), rtol=1e-12)
    assert loss[200] > math.log(100) - 1e-12 and loss.min() < 0   # negative where q ≫ p


def test_kde_log_prob_and_noise_log_prob_match_their_formulas():
    r = np.random.default_rng(0)
    train, x = r.uniform(size=(30, 4)), r.uniform(size=(7, 4))
    h = 0.3
    by_hand = np.log(np.mean([multivariate_normal.pdf(x, t, h * h * np.eye(4)) for t in train], 0))
    np.testing.assert_allclose(dens.kde_log_prob(x, train, h), by_hand, rtol=1e-5)
    np.testing.assert_allclose(dens.noise_log_prob(x, centre=0.5, scale=1.0),
                               multivariate_normal.logpdf(x, 0.5 * np.ones(4), np.eye(4)),
                               rtol=1e-10)


def test_mixed_sample_takes_p_with_the_given_weight():
    p, q = np.zeros((20_000, 2)), np.ones((20_000, 2))
    s, from_p = dens.mixed_sample(jax.random.key(0), p, q, 0.01)
    assert abs(from_p.mean() - 0.01) < 4.56 * math.sqrt(0.01 * 0.99 / 20_000)
    np.testing.assert_array_equal(s[from_p], 0.0)
    np.testing.assert_array_equal(s[~from_p], 1.0)
