"""The bayes_rule experiment: each worked example's closed form against an independent route, a
wrong answer failing the claim's criterion, and bad config values rejected."""

import dataclasses
import itertools
import math

import jax
import numpy as np
import pytest
from scipy.stats import laplace, norm

from experiments.bayes_rule import Config, beta, channel, classifier, map_of_mean, probe
from experiments.common import stats


def test_config_rejects_invalid_values():
    for bad in (dict(probe_error=1.0), dict(probe_prior0=0.0), dict(beta_a=0.0),
                dict(mc_draws=0), dict(ones=-1), dict(mean_ns=()), dict(mean_ns=(0, 4))):
        with pytest.raises(ValueError):
            dataclasses.replace(Config(), **bad)


def test_probe_closed_form_is_bayes_rule_over_every_reception_sequence():
    """P(X=0 | first k receptions 0) by summing the joint over all sequences of the remaining
    receptions (brute force) equals the two-row formula, 0.9994 at k = 2."""
    pi0, e, kmax = 0.95, 0.1, 4
    for k in range(kmax + 1):
        joint = {0: 0.0, 1: 0.0}
        for rest in itertools.product((0, 1), repeat=kmax - k):
            r = (0,) * k + rest
            for x, px in ((0, pi0), (1, 1 - pi0)):
                joint[x] += px * math.prod(e if ri != x else 1 - e for ri in r)
        assert probe.posterior_x0(k, pi0, e) == pytest.approx(joint[0] / (joint[0] + joint[1]),
                                                              rel=1e-13)
    assert round(float(probe.posterior_x0(2, pi0, e)), 4) == probe.TEXT_VALUE


def test_probe_simulation_detects_a_wrong_channel(x64):
    """The simulation agrees with the closed form within Z s.e.; a channel simulated with twice
    the bit-error rate fails the same criterion."""
    key = jax.random.key(0)
    ok = probe.simulate(key, prior0=0.95, error=0.1, max_receptions=3, num_draws=200_000)
    assert all(c["passed"] for c in probe.claims(ok))
    bad = probe.simulate(key, prior0=0.95, error=0.2, max_receptions=3, num_draws=200_000)
    bad = bad._replace(exact=ok.exact, se=stats.binomial_se(ok.exact, bad.counts))
    assert not probe.claims(bad)[1]["passed"]


def test_classifier_bayes_error_by_quadrature_equals_the_cdf_closed_form(x64):
    """∫ min(π₁f₁, π₂f₂) by bj.quadrature = the error of the rule from the two CDFs at its
    boundaries; the simulated error passes, that of a rule ignoring the priors (decide by the
    likelihood alone) fails the claim's criterion."""
    r = classifier.solve(jax.random.key(0), grid_points=4001, num_draws=200_000)
    assert len(r.class1_region) == 2
    lo, hi = r.class1_region
    p1, p2 = classifier.PRIORS
    exact = (p1 * (1 - (norm.cdf(hi, -1) - norm.cdf(lo, -1)))
             + p2 * (laplace.cdf(hi, 1) - laplace.cdf(lo, 1)))
    assert r.bayes_error == pytest.approx(exact, rel=1e-6)
    at_roots = classifier.weighted(np.array([lo, hi]))          # π₁f₁ = π₂f₂ at both roots
    np.testing.assert_allclose(at_roots[0], at_roots[1], rtol=1e-9)
    assert all(c["passed"] for c in classifier.claims(r))
    # likelihood-only rule: class 1 where f₁ > f₂ (a wider interval)
    grid = np.linspace(-8, 8, 160_001)
    f1, f2 = norm.pdf(grid, -1), laplace.pdf(grid, 1)
    inside = f1 > f2
    wrong = (p1 * np.trapezoid(np.where(inside, 0, f1), grid)
             + p2 * np.trapezoid(np.where(inside, f2, 0), grid))
    assert not classifier.claims(r._replace(mc_error=wrong))[2]["passed"]


def test_beta_closed_form_and_quadrature_and_a_wrong_prior(x64):
    r = beta.update(a=2.0, b=2.0, ones=70, zeros=30, grid_points=4001)
    assert r.posterior == (72.0, 32.0) and round(r.mean, 3) == 0.692
    assert r.var == pytest.approx(72 * 32 / (104**2 * 105), rel=1e-12)
    assert all(c["passed"] for c in beta.claims(r))
    flat = beta.update(a=1.0, b=1.0, ones=70, zeros=30, grid_points=4001)   # prior forgotten
    assert not beta.claims(r._replace(q_mean=flat.q_mean))[1]["passed"]


def test_channel_closed_form_evidence_equals_the_dense_gaussian(x64):
    """The conjugate evidence equals log N(y; 0, σn²I + σh²xxᵀ) by a dense slogdet; fit_map and
    quadrature agree with the closed form; a posterior variance without the prior term fails."""
    r = channel.estimate(jax.random.key(3), sigma_h=1.0, sigma_n=0.5, pilots=8,
                         grid_points=4001, fit_steps=500)
    kh, kx, kn = jax.random.split(jax.random.key(3), 3)
    x = np.where(np.asarray(jax.random.bernoulli(kx, 0.5, (8,))), 1.0, -1.0)
    y = r.h_true * x + 0.5 * np.asarray(jax.random.normal(kn, (8,)))
    cov = 0.25 * np.eye(8) + np.outer(x, x)
    _, logdet = np.linalg.slogdet(cov)
    dense = -0.5 * (y @ np.linalg.solve(cov, y) + logdet + 8 * math.log(2 * math.pi))
    assert r.log_evidence == pytest.approx(dense, rel=1e-12)
    assert r.var == pytest.approx(1 / (1 + x @ x / 0.25), rel=1e-12)
    assert all(c["passed"] for c in channel.claims(r))
    assert not channel.claims(r._replace(var=0.25 / (x @ x)))[0]["passed"]


def test_map_of_a_mean_is_shrunk_and_fit_map_finds_it(x64):
    rows = map_of_mean.estimate(jax.random.key(1), sigma=2.0, true_mean=1.0, ns=(1, 4, 16),
                                fit_steps=500)
    for r in rows:
        assert r.map_closed_form == pytest.approx(r.n * r.sample_mean / (r.n + 4.0), rel=1e-12)
    assert all(c["passed"] for c in map_of_mean.claims(rows))
    # calling the sample mean the MAP fails the first claim
    wrong = [r._replace(map_fit=r.sample_mean) for r in rows]
    assert not map_of_mean.claims(wrong)[0]["passed"]
