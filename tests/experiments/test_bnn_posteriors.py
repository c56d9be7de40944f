"""The bnn_posteriors experiment: what its claims rest on (the data protocol, the per-point
scores, the paired tests failing for a predictive no better than the MAP, the whitened
covariance) and its config rejections (the CLI's: test_runner.py). The smoke run is tested
over the registry."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.stats import norm

from experiments import bnn_posteriors as exp
from experiments.bnn_posteriors import checks, classification, geometry, inference, regression


def test_config_rejects_invalid_values():
    for bad in (dict(noise=0.0), dict(prior_scale=-1.0), dict(width=0), dict(nuts_warmup=-1),
                dict(gap_half_width=2.5), dict(test_half_width=1.5), dict(num_train=2.5),
                dict(far_scale=float("nan")), dict(cancer_test_fraction=0.9),
                dict(nuts_chains=True)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)


def _regression_data(cfg, **kw):
    return regression.regression_data(
        cfg.seed, num_train=cfg.num_train, num_test=kw.get("num_test", cfg.num_test),
        noise=cfg.noise, gap_half_width=cfg.gap_half_width, data_half_width=cfg.data_half_width,
        test_half_width=cfg.test_half_width)


def test_regression_data_has_a_gap_and_test_points_beyond_both_ends():
    cfg = exp.Config(num_train=64)
    d = _regression_data(cfg, num_test=2000)
    a = np.abs(d["x"])
    assert np.all((a >= cfg.gap_half_width) & (a <= cfg.data_half_width))
    assert np.sum(d["x"] < 0) == np.sum(d["x"] > 0) == 32
    r = regression.regions(d["x_test"], cfg.gap_half_width, cfg.data_half_width)
    assert not np.any(r["data"] & r["outside"]) and np.all(r["data"] | r["outside"])
    np.testing.assert_array_equal(r["outside"], r["gap"] | r["beyond"])
    assert np.any(d["x_test"] < -cfg.data_half_width) and np.any(d["x_test"] > cfg.data_half_width)
    assert np.all(regression.regions(d["x"], cfg.gap_half_width, cfg.data_half_width)["data"])
    np.testing.assert_array_equal(_regression_data(cfg, num_test=2000)["y_test"], d["y_test"])


def test_cancer_split_holds_out_169_points_stratified_and_standardised_on_training():
    cfg = exp.Config()
    d = classification.cancer_data(0, test_fraction=cfg.cancer_test_fraction)
    assert d["x_test"].shape == (169, 30) and d["x"].shape == (400, 30)
    assert int(d["y_test"].sum()) == 106                       # 63 malignant, 106 benign
    np.testing.assert_allclose(d["x"].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d["x"].std(0), 1.0, atol=1e-4)


def test_pointwise_gaussian_nll_is_the_gaussian_log_density():
    y, m, v = np.array([0.3, -1.0]), np.array([0.0, 0.5]), np.array([0.04, 2.0])
    np.testing.assert_allclose(regression.pointwise_gaussian_nll(y, m, v),
                               -norm.logpdf(y, m, np.sqrt(v)), rtol=1e-6)


def _reg(nll_map, nll_bayes, std_data=0.1, std_outside=1.0):
    row = lambda nll, sd, so: {"nll": {"outside": float(np.mean(nll))}, "std_data": sd,  # noqa: E731
                               "std_outside": so, "std_ratio": so / sd if sd else 0.0,
                               "nll_points_outside": nll}
    return {"num_outside": len(nll_map), "table": {
        "MAP-L2": row(nll_map, 0.0, 0.0), "MLE": row(nll_map, 0.0, 0.0),
        "NUTS": row(nll_bayes, std_data, std_outside),
        "Laplace full (GLM)": row(nll_bayes, std_data, std_outside)}}


def _cls(conf_map, conf_bayes):
    table = {m: {"confidence_far": [c.mean()], "far_points": c} for m, c in
             [("MAP", conf_map)] + [(m, conf_bayes) for m in inference.LAPLACE] +
             [("NUTS", conf_bayes)]}
    return {"moons": {"table": table, "num_far": len(conf_map)}}


def test_claims_fail_for_a_predictive_no_better_than_the_map():
    rng = np.random.default_rng(0)
    nll_map = rng.exponential(5.0, 300)
    conf_map = np.clip(0.999 + 0.001 * rng.uniform(size=700), 0, 1)
    good = checks.claims(_reg(nll_map, nll_map - 2.0 + rng.normal(size=300)),
                         _cls(conf_map, conf_map - 0.1 * rng.uniform(size=700)), far_scale=20.0)
    assert all(c["passed"] for c in good)
    assert sum(c["sampled_tests"] for c in good) == 2 + 5
    # a "posterior" that is the MAP plus noise: no paired test passes, no epistemic growth
    same = checks.claims(_reg(nll_map, nll_map + 0.01 * rng.normal(size=300), 0.5, 0.5),
                         _cls(conf_map, conf_map + 1e-4 * rng.normal(size=700)), far_scale=20.0)
    assert [c["passed"] for c in same] == [False, False, False, True, False]


def test_whitened_eigenvalues_are_one_for_draws_from_the_laplace_gaussian():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 5))
    prec = a @ a.T + 0.5 * np.eye(5)
    draws = rng.multivariate_normal(np.ones(5), np.linalg.inv(prec), size=40_000)
    eig = geometry.whitened_eigenvalues(draws, prec)
    assert np.all(np.abs(eig - 1.0) < 0.1)
    assert np.all(np.abs(geometry.whitened_eigenvalues(draws, 2.0 * prec) - 2.0) < 0.2)


def test_flat_draws_follow_ravel_pytree_order():
    samples = {"a": jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4),
               "b": {"c": jnp.arange(2 * 3 * 2.0).reshape(2, 3, 2) + 100}}
    flat = inference.flat_draws(samples)
    assert flat.shape == (6, 6)
    one = jax.tree.map(lambda v: v[1, 2], samples)
    np.testing.assert_array_equal(flat[1 * 3 + 2], ravel_pytree(one)[0])


def test_far_points_scale_distances_from_the_training_mean():
    rng = np.random.default_rng(3)
    x, xt = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    mu = x.mean(0)
    np.testing.assert_allclose(classification.far_points(x, xt, 1.0), xt, rtol=1e-6, atol=1e-6)
    far = classification.far_points(x, xt, 20.0)
    np.testing.assert_allclose(np.linalg.norm(far - mu, axis=1),
                               20.0 * np.linalg.norm(xt - mu, axis=1), rtol=1e-5)
    np.testing.assert_allclose(classification.confidence([0.2, 0.9]), [0.8, 0.9])


def test_mass_geometry_of_a_gaussian_posterior_is_the_identity_frame():
    """Bayesian linear regression: the posterior is exactly N(m, H⁻¹), so with M⁻¹ = H⁻¹ every
    whitened eigenvalue is 1 (√κ = 1, the leapfrog bound ε < 2), the Mahalanobis mean is P; a
    diagonal mass of a correlated posterior has κ > 1."""
    import bayesjax as bj

    rng = np.random.default_rng(4)
    n, p, sigma = 40, 4, 0.5
    x = rng.normal(size=(n, p)) @ np.diag([1.0, 3.0, 0.3, 1.0])
    x[:, 1] += 2.0 * x[:, 0]
    y = x @ rng.normal(size=p) + sigma * rng.normal(size=n)
    post = bj.Posterior.from_apply(lambda prm, xx: xx @ prm["w"], {"w": jnp.zeros(p)},
                                   bj.likelihoods.Gaussian(sigma), bj.priors.Gaussian(1.0),
                                   jnp.asarray(x), jnp.asarray(y))
    h = x.T @ x / sigma**2 + np.eye(p)
    mean = np.linalg.solve(h, x.T @ y / sigma**2)
    draws = rng.multivariate_normal(mean, np.linalg.inv(h), size=50_000)
    g = geometry.mass_geometry(post, {"w": jnp.asarray(mean)}, draws,
                               inv_mass_diag=np.diag(np.linalg.inv(h)), precision_ggn=h,
                               num_points=8)
    lap = g["frames"]["Laplace Hessian"]
    assert abs(g["hessian_min_eig_at_map"] - np.linalg.eigvalsh(h).min()) < 1e-4 * np.abs(h).max()
    assert abs(lap["sqrt_kappa_median"] - 1.0) < 0.02 and abs(lap["max_step_at_map"] - 2.0) < 1e-6
    assert abs(lap["max_step_draws_min"] - 2.0) < 1e-6          # H is constant for a Gaussian
    assert abs(g["frames"]["draws' covariance"]["sqrt_kappa_median"] - 1.0) < 0.02
    assert g["frames"]["adapted diag"]["sqrt_kappa_median"] > 1.5
    assert abs(g["mahalanobis_mean"]["hessian"] - p) < 0.1
    assert np.all(np.abs(np.asarray(g["whitened_range"]["ggn"]) - 1.0) < 0.05)
    np.testing.assert_allclose(g["spectra"]["Laplace Hessian"], np.sort(np.linalg.eigvalsh(
        np.linalg.inv(h)))[::-1], rtol=1e-5)                  # H(θ*) by float32 autodiff
