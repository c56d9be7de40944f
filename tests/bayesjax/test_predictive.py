"""Predictive distributions: the probit approximation against the integral it approximates, and
the moment / sample constructors on cases with a closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, logit, ndtr, softmax

from bayesjax import likelihoods, predictive

LAM = np.sqrt(np.pi / 8)                      # sigmoid(x) ≈ Φ(λx), λ² = π/8 (MacKay 1992)
MU = np.linspace(-6.0, 6.0, 49)[:, None]
VAR = np.array([0.0, 0.01, 0.3, 1.0, 3.0, 10.0, 100.0])[None, :]


def _gauss_expectation(g, mean, var, nodes=200):
    """E[g(f)], f ~ N(mean, var), by Gauss–Hermite quadrature (probabilists' weights)."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    return np.sum(g(mean[..., None] + np.sqrt(var)[..., None] * z) * w / w.sum(), axis=-1)


def test_probit_is_exact_for_the_probit_link_it_is_derived_from(x64):
    # E[Φ(λf)] = Φ(λμ / sqrt(1 + λ²v)) exactly; probit returns sigmoid(μ / sqrt(1 + λ²v)).
    # v ≤ 10: 200 Gauss–Hermite nodes integrate Φ(λf) to 1e-16 there (at v = 100 only to 1e-6)
    mu, var = MU + 0 * VAR[:, :-1], VAR[:, :-1] + 0 * MU
    p = np.asarray(predictive.probit(likelihoods.Bernoulli(), jnp.asarray(mu), jnp.asarray(var)))
    exact = _gauss_expectation(lambda f: ndtr(LAM * f), mu, var)
    np.testing.assert_allclose(ndtr(LAM * logit(p)), exact, rtol=1e-10, atol=1e-12)


def test_probit_approximates_the_sigmoid_gaussian_integral_within_its_known_bound(x64):
    # |E σ(f) − σ(κμ)| ≤ |E σ(f) − E Φ(λf)| + |Φ(λκμ) − σ(κμ)| ≤ 2 sup|σ(x) − Φ(λx)|
    x = np.linspace(-20, 20, 400_001)
    eps = np.abs(expit(x) - ndtr(LAM * x)).max()
    assert 0.017 < eps < 0.018
    p = np.asarray(predictive.probit(likelihoods.Bernoulli(), jnp.asarray(MU + 0 * VAR),
                                     jnp.asarray(VAR + 0 * MU)))
    exact = _gauss_expectation(expit, MU + 0 * VAR, VAR + 0 * MU)
    err = np.abs(p - exact)
    assert err.max() <= 2 * eps
    np.testing.assert_allclose(p[:, 0], expit(MU[:, 0]), rtol=1e-14)   # v = 0: no approximation
    np.testing.assert_allclose(p[MU[:, 0] == 0], 0.5, rtol=1e-14)       # symmetric at μ = 0


def test_probit_for_classes_scales_each_logit_then_takes_the_softmax(x64):
    mean = jnp.asarray([[1.0, -0.5, 2.0], [0.0, 0.0, 0.0]])
    var = jnp.asarray([[0.5, 2.0, 0.0], [1.0, 3.0, 9.0]])
    p = np.asarray(predictive.probit(likelihoods.Categorical(), mean, var))
    np.testing.assert_allclose(p, softmax(np.asarray(mean) / np.sqrt(1 + np.pi * np.asarray(var) / 8),
                                          axis=-1), rtol=1e-14)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-14)
    # two classes with a certain reference logit 0: the Bernoulli probit of the other
    two = predictive.probit(likelihoods.Categorical(), jnp.asarray([[1.3, 0.0]]),
                            jnp.asarray([[2.0, 0.0]]))
    one = predictive.probit(likelihoods.Bernoulli(), jnp.asarray(1.3), jnp.asarray(2.0))
    np.testing.assert_allclose(two[0, 0], one, rtol=1e-14)


def test_from_moments_regression_shapes_and_total_var():
    mean = jnp.asarray([[0.5], [1.0], [-2.0]], jnp.float32)
    var = jnp.asarray([[0.1], [0.2], [0.0]], jnp.float32)
    pred = predictive.from_moments(likelihoods.Gaussian(0.3), mean, var, (3,))
    assert isinstance(pred, predictive.Predictive)
    assert pred.mean.shape == pred.aleatoric_var.shape == pred.epistemic_var.shape == (3,)
    assert pred.mean.dtype == jnp.float32
    np.testing.assert_allclose(pred.aleatoric_var, 0.09, rtol=1e-6)
    np.testing.assert_allclose(pred.total_var, [0.19, 0.29, 0.09], rtol=1e-6)
    np.testing.assert_array_equal(pred.mean, [0.5, 1.0, -2.0])


def test_from_moments_classification_is_the_probit_of_the_moments():
    mean = jnp.asarray([[0.0], [2.0]], jnp.float32)
    var = jnp.asarray([[4.0], [0.0]], jnp.float32)
    pred = predictive.from_moments(likelihoods.Bernoulli(), mean, var, (2, 1))
    assert isinstance(pred, predictive.ClassPredictive)
    assert pred.probs.shape == pred.epistemic_var.shape == (2, 1)
    np.testing.assert_allclose(pred.probs[:, 0], [0.5, expit(2.0)], rtol=1e-6)
    np.testing.assert_array_equal(pred.epistemic_var, var)


def test_from_samples_regression_moments_and_the_certain_case():
    outs = jnp.asarray(np.random.default_rng(0).normal(size=(50, 4)), jnp.float32)
    pred = predictive.from_samples(likelihoods.Gaussian(0.5), outs)
    # float32 sums of 50 terms: round-off up to ~50 eps |x|max in absolute terms
    atol = 50 * np.finfo(np.float32).eps * float(jnp.abs(outs).max())
    np.testing.assert_allclose(pred.mean, np.asarray(outs).mean(0), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(pred.epistemic_var, np.asarray(outs).var(0), rtol=1e-5)
    np.testing.assert_allclose(pred.total_var, 0.25 + np.asarray(outs).var(0), rtol=1e-5)
    same = predictive.from_samples(likelihoods.Gaussian(0.5), jnp.broadcast_to(outs[0], (7, 4)))
    np.testing.assert_allclose(same.mean, outs[0], rtol=4 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(same.epistemic_var, 0.0, atol=1e-12)   # (a few ulp)² at most
    np.testing.assert_allclose(same.total_var, 0.25)


@pytest.mark.parametrize("lik, shape, link", [
    (likelihoods.Bernoulli(), (30, 5, 1), expit),
    (likelihoods.Categorical(), (30, 5, 3), lambda f: softmax(f, axis=-1)),
])
def test_from_samples_classification_averages_probabilities_not_logits(lik, shape, link):
    outs = np.random.default_rng(1).normal(scale=3.0, size=shape).astype(np.float32)
    pred = predictive.from_samples(lik, jnp.asarray(outs))
    assert pred.probs.shape == pred.epistemic_var.shape == shape[1:]
    np.testing.assert_allclose(pred.probs, link(outs).mean(0), rtol=1e-5)
    np.testing.assert_allclose(pred.epistemic_var, outs.var(0), rtol=1e-5)
    assert not np.allclose(pred.probs, link(outs.mean(0)), atol=1e-2)
    if shape[-1] > 1:
        np.testing.assert_allclose(pred.probs.sum(-1), 1.0, rtol=1e-6)


def test_predictives_are_pytrees():
    pred = predictive.Predictive(jnp.zeros(2), jnp.ones(2), jnp.ones(2))
    doubled = jax.jit(lambda p: jax.tree.map(lambda a: 2 * a, p))(pred)
    assert isinstance(doubled, predictive.Predictive)
    np.testing.assert_array_equal(doubled.total_var, [4.0, 4.0])
