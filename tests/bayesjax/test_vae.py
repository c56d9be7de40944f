"""bayesjax.vae against independent routes: the KL by numerical integration, the ELBO by
scipy.stats, the linear VAE's analytic ELBO by explicit per-row expectations, its optimum by
probabilistic PCA's closed form and by Lucas et al.'s collapse formula on data with known
eigenvalues."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import bayesjax as bj
from bayesjax import vae

rng = np.random.default_rng(0)


def data_with_spectrum(eigenvalues, n, seed=0):
    """(n, D) rows whose (1/N) covariance is exactly Q diag(eigenvalues) Qᵀ (Q a random rotation)."""
    r = np.random.default_rng(seed)
    lam = np.asarray(eigenvalues, np.float64)
    z = r.normal(size=(n, lam.size))
    z -= z.mean(0)
    c = z.T @ z / n
    evals, evecs = np.linalg.eigh(c)
    z = z @ evecs @ np.diag(evals ** -0.5) @ evecs.T                  # exactly white
    q, _ = np.linalg.qr(r.normal(size=(lam.size, lam.size)))
    return z * np.sqrt(lam) @ q.T + r.normal(size=lam.size)


def test_gaussian_kl_against_numerical_integration():
    for m, lv in [(0.0, 0.0), (1.3, -0.7), (-0.4, 1.1)]:
        q = stats.norm(m, math.exp(0.5 * lv))
        f = lambda t, q=q: q.pdf(t) * (q.logpdf(t) - stats.norm.logpdf(t))  # noqa: E731
        want = integrate.quad(f, -30, 30, epsabs=1e-13, epsrel=1e-12)[0]
        assert float(vae.gaussian_kl(jnp.float32(m), jnp.float32(lv))) == pytest.approx(want, abs=1e-6)


def test_elbo_is_the_summed_gaussian_log_likelihood_minus_beta_kl():
    x, xm = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    m, lv = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    s2 = np.array([0.5, 1.0, 2.0])
    kl = 0.5 * np.sum(m**2 + np.exp(lv) - 1 - lv)
    ll = stats.norm.logpdf(x, xm, np.sqrt(s2)).sum()
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    got = vae.elbo(f32(x), f32(xm), f32(m), f32(lv), noise_var=f32(s2), beta=2.5)
    assert float(got) == pytest.approx(ll - 2.5 * kl, rel=1e-5)


def test_linear_vae_elbo_against_explicit_expectations(x64):
    n, d, k = 50, 4, 2
    x = rng.normal(size=(n, d))
    mu = x.mean(0)
    xc = x - mu
    w, v, lv, s2 = rng.normal(size=(d, k)), rng.normal(size=(k, d)), rng.normal(size=k), 0.7
    m = xc @ v.T                                                   # encoder means, per row
    # E_q ||x̃ − W z||² = ||x̃ − W m||² + Σ_i s_i² ||w_i||²
    sq = np.sum((xc - m @ w.T) ** 2, 1) + np.sum(np.exp(lv) * np.sum(w**2, 0))
    recon = np.sum(-0.5 * d * np.log(2 * np.pi * s2) - 0.5 * sq / s2)
    kl = 0.5 * (m**2 + np.exp(lv) - 1 - lv)
    value, kl_lat = vae.linear_vae_elbo(jnp.asarray(w), jnp.asarray(v), jnp.asarray(lv), s2,
                                        jnp.asarray(xc.T @ xc / n), n, beta=3.0)
    assert float(value) == pytest.approx(recon - 3.0 * kl.sum(), rel=1e-12)
    np.testing.assert_allclose(kl_lat, kl.mean(0), rtol=1e-12)


def test_learned_noise_linear_vae_is_ppca(x64):
    x = data_with_spectrum([6.0, 3.0, 1.5, 0.6, 0.4, 0.2], 400)
    res = vae.fit_linear_vae(jax.random.key(0), x, 2, num_steps=8000, learning_rate=0.05)
    ref = bj.conjugate.ppca(x, 2)
    # the optimiser converged (gradient norm), so the closed form must hold to far better than 1e-6
    assert float(res.grad_norm) < 1e-8
    assert float(ref.noise_var) == pytest.approx((1.5 + 0.6 + 0.4 + 0.2) / 4, rel=1e-12)
    assert float(res.noise_var) == pytest.approx(float(ref.noise_var), rel=1e-8)
    assert float(res.elbo) == pytest.approx(float(ref.log_likelihood), rel=1e-10)
    np.testing.assert_allclose(res.W @ res.W.T, ref.W @ ref.W.T, atol=1e-7)
    np.testing.assert_allclose(res.mean, x.mean(0), atol=1e-12)


@pytest.mark.parametrize("noise_var, beta", [(1.5, 1.0), (0.75, 2.0), (1.0, 5.0)])
def test_linear_vae_collapses_where_lucas_et_al_say(x64, noise_var, beta):
    lam = np.array([9.0, 4.0, 2.0, 1.0, 0.5, 0.25])
    x = data_with_spectrum(lam, 300, seed=1)
    res = vae.fit_linear_vae(jax.random.key(1), x, 4, beta=beta, noise_var=noise_var,
                             num_steps=8000, learning_rate=0.05)
    want = 0.5 * np.log(np.maximum(lam[:4] / (beta * noise_var), 1.0))
    got = np.sort(np.asarray(res.kl_per_latent))[::-1]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert int(np.sum(got > 1e-4)) == int(np.sum(lam[:4] > beta * noise_var))
    # a wrong closed form that ignores β is far outside that tolerance whenever β ≠ 1
    wrong = 0.5 * np.log(np.maximum(lam[:4] / noise_var, 1.0))
    assert beta == 1.0 or np.max(np.abs(got - wrong)) > 0.1


def test_fit_is_float32_by_default_and_does_not_recompile():
    x = data_with_spectrum([4.0, 1.0, 0.5], 100).astype(np.float32)
    vae.fit_linear_vae(jax.random.key(0), x, 1, num_steps=50)
    before = vae._fit._cache_size()
    res = vae.fit_linear_vae(jax.random.key(1), x + 1.0, 1, noise_var=None, num_steps=50)
    assert vae._fit._cache_size() == before
    assert res.W.dtype == jnp.float32 and res.elbo_trace.shape == (50,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(beta=0.0), "beta"), (dict(beta=-1.0), "beta"), (dict(noise_var=0.0), "noise_var"),
    (dict(latent_dim=0), "latent_dim"), (dict(latent_dim=4), "latent_dim"),
    (dict(num_steps=0), "num_steps")])
def test_fit_linear_vae_rejects_bad_input(kwargs, match):
    x = rng.normal(size=(20, 3)).astype(np.float32)
    kw = dict(latent_dim=1, **{k: v for k, v in kwargs.items() if k != "latent_dim"})
    kw["latent_dim"] = kwargs.get("latent_dim", 1)
    with pytest.raises(ValueError, match=match):
        vae.fit_linear_vae(jax.random.key(0), x, kw.pop("latent_dim"), **kw)


def test_bad_data_and_elbo_inputs_raise():
    x = rng.normal(size=(20, 3)).astype(np.float32)
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        vae.fit_linear_vae(jax.random.key(0), x, 1)
    ok = jnp.zeros((4, 3), jnp.float32)
    z = jnp.zeros((4, 2), jnp.float32)
    with pytest.raises(ValueError, match="beta"):
        vae.elbo(ok, ok, z, z, noise_var=1.0, beta=0.0)
    with pytest.raises(ValueError, match="noise_var"):
        vae.elbo(ok, ok, z, z, noise_var=-1.0)
    with pytest.raises(ValueError, match="shape"):
        vae.elbo(ok, ok[:, :2], z, z, noise_var=1.0)
