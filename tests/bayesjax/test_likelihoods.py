import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

import bayesjax as bj

rng = np.random.default_rng(0)


def test_gaussian_matches_scipy_and_is_a_sum(x64):
    f, y = rng.normal(size=20), rng.normal(size=20)
    lik = bj.likelihoods.Gaussian(noise=0.3)
    expected = scipy.stats.norm(f, 0.3).logpdf(y).sum()
    np.testing.assert_allclose(lik.log_prob(jnp.asarray(f), jnp.asarray(y)), expected, rtol=1e-12)
    # a one-unit output layer (N, 1) against targets (N,)
    np.testing.assert_allclose(lik.log_prob(jnp.asarray(f)[:, None], jnp.asarray(y)), expected,
                               rtol=1e-12)


def test_bernoulli_matches_scipy(x64):
    logits, y = rng.normal(size=30) * 3, rng.integers(0, 2, size=30).astype(float)
    expected = scipy.stats.bernoulli(scipy.special.expit(logits)).logpmf(y).sum()
    got = bj.likelihoods.Bernoulli().log_prob(jnp.asarray(logits), jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_categorical_matches_scipy(x64):
    logits, y = rng.normal(size=(25, 4)), rng.integers(0, 4, size=25)
    p = scipy.special.softmax(logits, axis=1)
    expected = sum(scipy.stats.multinomial(1, p[i]).logpmf(np.eye(4)[y[i]]) for i in range(25))
    got = bj.likelihoods.Categorical().log_prob(jnp.asarray(logits), jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"outputs of shape \(5, 2\) do not match targets"):
        bj.likelihoods.Gaussian(1.0).log_prob(jnp.ones((5, 2)), jnp.ones(5))


@pytest.mark.parametrize("noise", [0.0, -0.1, np.nan, np.inf])
def test_bad_noise_raises(noise):
    with pytest.raises(ValueError, match="noise must be"):
        bj.likelihoods.Gaussian(noise)
