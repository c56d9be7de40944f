"""posterior_collapse: the closed form of Lucas et al. (2019) that its claims rest on, on data with
known eigenvalues; wrong implementations failing the claims' criteria; bad configs rejected."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import posterior_collapse as exp
from experiments.posterior_collapse import checks
from experiments.posterior_collapse.closed_form import collapse_kl, num_active, optimal_elbo_per_row
from experiments.posterior_collapse.linear import linear_sweep

LAM = np.array([9.0, 4.0, 2.0, 1.0, 0.5, 0.25])


def data_with_spectrum(lam, n, seed=0):
    """Rows whose (1/N) covariance has exactly the eigenvalues ``lam`` (a random rotation)."""
    r = np.random.default_rng(seed)
    z = r.normal(size=(n, lam.size))
    z -= z.mean(0)
    evals, evecs = np.linalg.eigh(z.T @ z / n)
    q, _ = np.linalg.qr(r.normal(size=(lam.size, lam.size)))
    return (z @ evecs @ np.diag(evals ** -0.5) @ evecs.T) * np.sqrt(lam) @ q.T


def test_closed_form_values():
    np.testing.assert_allclose(collapse_kl(LAM, 1.5, 1.0, 4), [0.5 * np.log(6), 0.5 * np.log(4 / 1.5),
                                                              0.5 * np.log(2 / 1.5), 0.0])
    assert [num_active(LAM, s, b, 4) for s, b in [(0.4, 1), (0.6, 2), (1.5, 2), (3, 5)]] == [4, 3, 2, 0]
    assert np.array_equal(collapse_kl(LAM, 0.5, 4.0, 5), collapse_kl(LAM, 2.0, 1.0, 5))  # βσ² only


@pytest.mark.parametrize("noise_var, beta, k", [(1.5, 1.0, 4), (0.5, 3.0, 5), (0.3, 1.0, 2)])
def test_optimal_elbo_is_the_linear_vae_elbo_at_the_closed_form_optimum(x64, noise_var, beta, k):
    """Build W = u√(λ−βσ²), V = wᵀ/λ, s² = βσ²/λ (active) / W = V = 0, s² = 1 (collapsed) and
    evaluate the library's analytic ELBO there: it equals the closed-form optimum per row."""
    d, bs2 = LAM.size, beta * noise_var
    act = LAM[:k] > bs2
    w = np.zeros((d, k))
    w[np.arange(k)[act], np.arange(k)[act]] = np.sqrt(LAM[:k][act] - bs2)
    v = (w / np.where(act, LAM[:k], 1.0)).T
    lv = np.log(np.where(act, bs2 / LAM[:k], 1.0))
    value, kl = bj.vae.linear_vae_elbo(jnp.asarray(w), jnp.asarray(v), jnp.asarray(lv), noise_var,
                                       jnp.diag(jnp.asarray(LAM)), 10, beta=beta)
    assert float(value) / 10 == pytest.approx(optimal_elbo_per_row(LAM, noise_var, beta, k), rel=1e-12)
    np.testing.assert_allclose(kl, collapse_kl(LAM, noise_var, beta, k), atol=1e-14)


def test_linear_sweep_on_known_eigenvalues_passes_and_wrong_versions_fail():
    x = data_with_spectrum(LAM, 300)
    nv, bs = [0.3, 1.5, 3.0, 1.5, 0.75], [1.0, 1.0, 1.0, 2.0, 2.0]
    sw = linear_sweep(jax.random.key(0), x, 4, nv, bs, num_steps=6000, learning_rate=0.05,
                      kl_tolerance=checks.KL_TOL)
    assert sw.active_closed.tolist() == [4, 3, 2, 2, 3]
    good = checks.linear_claims(sw, [(1, 4), (2, 3)])
    assert all(c["passed"] for c in good), [c["statement"] for c in good if not c["passed"]]
    # a closed form that forgets β (the text's "σ² large" alone) fails at β = 2
    no_beta = np.stack([collapse_kl(LAM, s, 1.0, 4) for s in nv])
    wrong = checks.linear_claims(sw._replace(kl_closed=no_beta), [(1, 4)])
    assert not wrong[0]["passed"]
    # an optimiser stopped early fails the convergence and closed-form claims
    early = linear_sweep(jax.random.key(0), x, 4, nv, bs, num_steps=60, learning_rate=0.05,
                         kl_tolerance=checks.KL_TOL)
    bad = checks.linear_claims(early, [(1, 4)])
    assert not bad[0]["passed"] and not bad[2]["passed"]


def test_nonlinear_claims_need_a_significant_fall_and_fewer_units():
    r = np.random.default_rng(0)
    falling = np.stack([m + r.normal(size=400) for m in (20.0, 10.0, 5.0)])
    ok = checks.nonlinear_claims(falling, np.array([16, 12, 4]), falling, np.array([16, 16, 3]))
    assert all(c["passed"] for c in ok)
    assert sum(c["sampled_tests"] for c in ok) == 4
    flat = np.stack([10.0 + r.normal(size=400) for _ in range(3)])     # no effect: z ~ N(0, 1)
    assert not checks.nonlinear_claims(flat, np.array([16, 12, 4]), falling, np.array([5, 4, 3]))[0][
        "passed"]
    rising = checks.nonlinear_claims(falling, np.array([4, 12, 16]), falling, np.array([8, 8, 8]))
    assert not rising[1]["passed"] and not rising[3]["passed"]


def test_config_rejects_invalid_values():
    for bad in (dict(latent_dim=0), dict(latent_dim=64), dict(noise_vars=(1.0,)),
                dict(betas=(2.0, 1.0)), dict(nl_noise_vars=(0.0, 1.0)), dict(nl_steps=True),
                dict(beta_noise_var=float("nan")), dict(test_fraction=0.0)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)
