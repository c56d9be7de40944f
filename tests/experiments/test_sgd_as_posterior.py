import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import sgd_as_posterior as sp
from experiments.common import stats
from experiments.sgd_as_posterior import checks, sgd_law, two_modes


# ------------------------------------------------------------------------------- the SGD law
def _ar1_simulation(y, eps, batch, a, mean, num_chains, num_steps, rng):
    """Float64 numpy SGD on the Gaussian-mean objective, independent of the library:
    θ ← θ − ε (a(θ − m) − (ȳ_batch − ȳ)/σ²) with σ = 1 and batches drawn with replacement."""
    theta = np.full(num_chains, mean)
    out = np.empty((num_steps, num_chains))
    for t in range(num_steps):
        yb = y[rng.integers(0, len(y), size=(num_chains, batch))].mean(axis=1)
        theta = theta - eps * (a * (theta - mean) - (yb - y.mean()))
        out[t] = theta
    return out


@pytest.mark.parametrize("eps, batch", [(0.3, 3), (1.5, 2)])
def test_stationary_variance_matches_an_independent_simulation(eps, batch):
    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    a = 1.0 + 1.0 / (40 * 0.5**2)
    s = _ar1_simulation(y, eps, batch, a, 0.7, 4000, 300, rng)[100:]
    v, se = stats.mean_se(np.mean(np.square(s - 0.7), axis=0))  # around the exact mean m
    assert stats.within(v, sgd_law.stationary_variance(eps, batch, np.var(y), a), se)
    # the small-ε law is wrong by 2/(2 − εa) here, far beyond the Monte Carlo error
    assert not stats.within(v, sgd_law.ou_variance(eps, batch, np.var(y), a), 3 * se)


def test_matching_learning_rate_solves_the_law():
    n, gv, a = 100, 0.9, 1.1
    for b in (1, 8, 50):
        eps = sgd_law.matching_learning_rate(b, n, gv, a)
        assert sgd_law.stationary_variance(eps, b, gv, a) == pytest.approx(1 / (n * a), rel=1e-12)
        # Mandt et al.'s small-ε answer is its limit when B·a ≪ N·s_g²
        assert eps == pytest.approx(2 * b / (n * gv), rel=2 * b * a / (n * gv))
    assert sgd_law.issue_variance(0.3, 4, 0.9) == pytest.approx(
        sgd_law.stationary_variance(0.3, 4, 0.9, 1.0))


def test_loss_geometry_and_conjugate_posterior_match_the_closed_forms():
    cfg = sp.Config()
    post = sgd_law.gaussian_mean_posterior(np.random.default_rng(3), num_data=cfg.num_data,
                                           noise=cfg.noise, prior_scale=cfg.prior_scale,
                                           true_mean=cfg.true_mean)
    y = np.asarray(post.y, np.float64)
    gv, a = sgd_law.loss_geometry(post, {"mu": jnp.asarray(0.4, jnp.float32)})
    a_closed = sgd_law.curvature(cfg.num_data, cfg.noise, cfg.prior_scale)
    assert a == pytest.approx(a_closed, rel=1e-5)
    assert gv == pytest.approx(np.var(y) / cfg.noise**4, rel=1e-4)
    exact = bj.conjugate.normal_known_variance(post.y, noise=cfg.noise,
                                               prior_scale=cfg.prior_scale)
    assert float(exact.var) == pytest.approx(1 / (cfg.num_data * a_closed), rel=1e-6)
    assert float(exact.mean) == pytest.approx(y.sum() / cfg.noise**2 / (cfg.num_data * a_closed),
                                              rel=1e-6)


def test_sgd_iterates_follow_the_ar1_drift():
    """With identical data the minibatch noise vanishes: one step of bj.sgd_iterates on
    L = −log_joint/N is θ − ε(a θ − c/σ²), the drift of the AR(1) derivation."""
    n, sigma, s0, c, eps, theta0 = 10, 0.5, 2.0, 1.3, 0.05, -0.4
    post = bj.Posterior.from_apply(
        sgd_law.constant_mean, {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(sigma),
        bj.priors.Gaussian(s0), np.zeros((n, 1), np.float32), np.full(n, c, np.float32))
    res = bj.sgd_iterates(jax.random.key(0), post, learning_rate=eps, num_steps=1, batch_size=3,
                          init_params={"mu": jnp.asarray(theta0)})
    a = sgd_law.curvature(n, sigma, s0)
    expected = theta0 - eps * (a * theta0 - c / sigma**2)
    assert float(res.samples["mu"][0]) == pytest.approx(expected, abs=2e-6)


def test_burn_in_forgets_the_start():
    for eps, a in ((0.01, 1.1), (0.9, 1.1), (1.7, 1.1)):
        t = sgd_law.burn_in_steps(eps, a)
        assert abs(1 - eps * a) ** (2 * t) < math.exp(-20 + 1e-9)
        assert abs(1 - eps * a) ** (2 * (t - 1)) >= math.exp(-20) or t == 1


def _run(rel_dev, z, rel_se=0.001):
    return {"rel_dev": rel_dev, "z": z, "rel_se": rel_se}


def test_law_claim_needs_k_se_within_the_tolerance():
    k = stats.t_threshold(384)
    assert checks._precise_and_close(_run(0.01, 1.0), k)
    assert not checks._precise_and_close(_run(0.01, 5.0), k)            # beyond k s.e.
    assert not checks._precise_and_close(_run(0.01, 1.0, rel_se=0.012), k)  # k·SE > 5%: noisy
    assert not checks._precise_and_close(_run(0.06, 1.0), k)            # off by more than 5%


# ------------------------------------------------------------------------------- two modes
def _two_mode(seed):
    cfg = sp.Config()
    return cfg, two_modes.two_mode_posterior(np.random.default_rng(seed), num_data=cfg.mode_data,
                                             noise=cfg.mode_noise,
                                             prior_scale=cfg.mode_prior_scale)


def test_two_mode_posterior_is_symmetric_and_seed_independent():
    ref = None
    for seed in (0, 1):
        cfg, post = _two_mode(seed)
        assert float(jnp.mean(post.y)) == pytest.approx(1.0, abs=1e-6)
        ex = two_modes.exact_posterior(post, cfg.grid_limit, cfg.num_bins)
        masses = ex["masses"]
        assert masses.sum() == pytest.approx(1.0, abs=1e-5)
        assert masses[cfg.num_bins // 2:].sum() == pytest.approx(0.5, abs=1e-5)
        np.testing.assert_allclose(masses, masses[::-1], atol=1e-6)
        assert ex["log_density_at_grid_end"] < -50          # the grid misses no mass
        ref = masses if ref is None else ref
        np.testing.assert_allclose(masses, ref, atol=1e-6)


def test_two_mode_log_joint_is_the_model():
    cfg, post = _two_mode(0)
    y = np.asarray(post.y, np.float64)
    for th in (-1.2, 0.0, 0.7):
        expect = (-0.5 * np.sum((y - th**2) ** 2) / cfg.mode_noise**2
                  - len(y) * math.log(cfg.mode_noise * math.sqrt(2 * math.pi))
                  - 0.5 * th**2 / cfg.mode_prior_scale**2
                  - math.log(cfg.mode_prior_scale * math.sqrt(2 * math.pi)))
        got = float(post.log_joint({"theta": jnp.asarray(th, jnp.float32)}))
        assert got == pytest.approx(expect, rel=1e-5)


def test_frequencies_count_outside_draws_and_fold_mirrors():
    edges = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    f = two_modes.frequencies(np.array([[-1.5, 0.5, 0.5, 3.0], [-2.0, -0.5, 1.0, 0.0]]), edges)
    np.testing.assert_allclose(f, [[0.25, 0, 0.5, 0, 0.25], [0.25, 0.25, 0.25, 0.25, 0]])
    np.testing.assert_allclose(two_modes.fold(f), [[0.5, 0.25, 0.25], [0.5, 0.5, 0]])
    assert two_modes.tv(f[0], np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(0.5)


def _bimodal_masses(width=0.3):
    x = np.linspace(-3, 3, 61)
    c = 0.5 * (x[1:] + x[:-1])
    m = np.exp(-0.5 * ((np.abs(c) - 1.0) / width) ** 2)
    return m / m.sum()


def _chain_like_batches(masses, rng, nb=100, per=400, flip_sd=0.15):
    """Batches whose positive-mode share wanders (sd ``flip_sd``), as a slowly switching chain's
    do: the histogram noise is then dominated by one component, the mass flip."""
    half = masses.size // 2
    out = []
    for _ in range(nb):
        share = np.clip(0.5 + flip_sd * rng.normal(), 0.05, 0.95)
        p = np.concatenate([masses[:half] * (1 - share), masses[half:] * share]) * 2
        out.append(rng.multinomial(per, p / p.sum()) / per)
    return np.concatenate([np.array(out), np.zeros((nb, 1))], axis=1)


def test_tv_noise_threshold_is_valid_where_the_normal_approximation_is_not():
    """For a mode-flip-dominated null, the normal approximation mean + Z·sd is exceeded far
    more often than α; the closed-form mean is the null's mean and the Borell–TIS bound is never
    exceeded."""
    rng = np.random.default_rng(0)
    freqs = _chain_like_batches(_bimodal_masses(), rng)
    nb = freqs.shape[0]
    dev = (freqs - freqs.mean(axis=0)) / math.sqrt(nb * (nb - 1))
    null = 0.5 * np.abs(rng.normal(size=(100_000, nb)) @ dev).sum(axis=1)
    mean, bound = two_modes.tv_noise_threshold(freqs)
    assert mean == pytest.approx(null.mean(), rel=0.01)
    assert np.mean(null > null.mean() + stats.Z_ONE_SIDED * null.std()) > 100 * stats.ALPHA
    assert not np.any(null > bound)


def test_folded_tv_passes_an_exact_sampler_and_fails_wide_modes():
    """An exact sampler's |θ| histogram stays below its bound; modes 10% too wide (the O(ε)
    bias of constant-step SGLD at a large step) exceed it, while the unfolded TV's bound, set by
    the mass flip, is too lenient to see them."""
    rng = np.random.default_rng(1)
    masses = _bimodal_masses()
    folded_masses = two_modes.fold(np.append(masses, 0.0)[None])[0, :-1]
    for width, should_pass in ((0.3, True), (0.33, False)):
        f = _chain_like_batches(_bimodal_masses(width), rng)
        tv = two_modes.tv(two_modes.fold(f).mean(axis=0), folded_masses)
        assert (tv <= two_modes.tv_noise_threshold(two_modes.fold(f))[1]) == should_pass
        if not should_pass:
            assert two_modes.tv(f.mean(axis=0), masses) <= two_modes.tv_noise_threshold(f)[1]


# ------------------------------------------------------------------------------- config
@pytest.mark.parametrize("kwargs, match", [
    (dict(eps_over_b=(0.2,)), "unstable"),
    (dict(batch_sizes=(8,)), "two different B"),
    (dict(batch_sizes=(8, 200)), "exceed num_data"),
    (dict(num_bins=31), "even"),
    (dict(burn_fraction=1.0), "burn_fraction"),
    (dict(noise=0.0), "noise"),
    (dict(sgd_steps=500), "burn-in"),
    (dict(sgd_steps=9001), "multiple of sgd_thin"),
    (dict(sgld_step_sizes=()), "must not be empty"),
])
def test_config_rejects_invalid_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sp.Config(**kwargs)
