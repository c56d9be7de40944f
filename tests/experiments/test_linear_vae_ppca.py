"""linear_vae_ppca: on data with known eigenvalues the comparison recovers pPCA's closed form and
its claims pass; sklearn's 1/(N−1) noise variance and an unconverged fit fail them; bad configs
are rejected."""

import dataclasses

import jax
import numpy as np
import pytest

from experiments import linear_vae_ppca as exp
from experiments.linear_vae_ppca.checks import claims
from experiments.linear_vae_ppca.fits import compare

LAM = np.array([8.0, 4.0, 2.5, 1.0, 0.7, 0.4, 0.3, 0.2])


def data_with_spectrum(lam, n, seed=0):
    """Rows whose (1/N) covariance has exactly the eigenvalues ``lam`` (a random rotation)."""
    r = np.random.default_rng(seed)
    z = r.normal(size=(n, lam.size))
    z -= z.mean(0)
    evals, evecs = np.linalg.eigh(z.T @ z / n)
    q, _ = np.linalg.qr(r.normal(size=(lam.size, lam.size)))
    return (z @ evecs @ np.diag(evals ** -0.5) @ evecs.T) * np.sqrt(lam) @ q.T + 2.0


X = data_with_spectrum(LAM, 400)
X_TEST = data_with_spectrum(LAM, 100, seed=1)


@pytest.fixture(scope="module")
def converged():
    return compare(jax.random.key(0), X, X_TEST, 3, num_steps=8000, learning_rate=0.05)


def test_the_linear_vae_recovers_the_known_spectrum(converged):
    c = converged
    assert c.ppca_noise_var == pytest.approx(LAM[3:].mean(), rel=1e-12)
    np.testing.assert_allclose(c.ppca_col_norms, LAM[:3] - LAM[3:].mean(), rtol=1e-10)
    assert c.noise_var == pytest.approx(c.ppca_noise_var, rel=1e-8)
    assert c.pca_recon_error == pytest.approx(5 * c.ppca_noise_var, rel=1e-12)
    assert c.sklearn_noise_var == pytest.approx(c.ppca_noise_var * 400 / 399, rel=1e-10)
    assert c.sklearn_log_lik < c.log_likelihood
    assert all(cl["passed"] for cl in claims([c], 400))


def test_wrong_implementations_fail_the_claims(converged):
    # the 1/(N−1) covariance (sklearn's noise_variance_) is not the maximum-likelihood σ²
    sk = converged._replace(noise_var=converged.sklearn_noise_var)
    assert not claims([sk], 400)[1]["passed"]
    # W from the wrong eigenvectors (the smallest instead of the largest) fails the subspace claim
    flipped = converged._replace(max_angle=float(np.pi / 2))
    assert not claims([flipped], 400)[4]["passed"]
    # an optimiser stopped early fails convergence, σ², tightness and the column norms
    early = compare(jax.random.key(0), X, X_TEST, 3, num_steps=100, learning_rate=0.05)
    passed = [cl["passed"] for cl in claims([early], 400)]
    assert passed[:4] == [False] * 4


def test_config_rejects_invalid_values():
    for bad in (dict(latent_dims=()), dict(latent_dims=(0,)), dict(latent_dims=(64,)),
                dict(num_steps=0), dict(learning_rate=-1.0), dict(test_fraction=1.0)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)
