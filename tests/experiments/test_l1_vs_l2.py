"""The l1_vs_l2 experiment: its checks of the math would catch a wrong λ, its data are the
suite's protocol, bad configs are rejected, and (scikit-learn as a reference only) its Laplace
zero counts are the lasso's."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import l1_vs_l2 as exp
from experiments.common.data import load
from experiments.l1_vs_l2 import references as ref
from experiments.l1_vs_l2.paths import linear, map_path, zero_crossings

DATA = load("diabetes", test_fraction=0.0)
X, Y, NAMES = DATA.x_train, DATA.y_train, list(DATA.feature_names)
NOISE = ref.ols_noise(X, Y)


def test_diabetes_is_standardised_over_all_442_points():
    """``test_fraction=0`` keeps every point for training, so the training statistics are those of
    the whole data set: the numbers of the experiment before the common loader."""
    from sklearn.datasets import load_diabetes

    raw = load_diabetes()
    x = (raw.data - raw.data.mean(0)) / raw.data.std(0)
    y = (raw.target - raw.target.mean()) / raw.target.std()
    assert X.shape == (442, 10) and DATA.x_test.shape == (0, 10)
    np.testing.assert_array_equal(X, x.astype(np.float32))
    np.testing.assert_array_equal(Y, y.astype(np.float32))


def test_laplace_zeros_along_the_sweep_match_sklearn_lasso_path():
    """Reference: float64 coordinate descent minimises ``(1/2N)||y_c - X_c w||² + α||w||₁``,
    which is ``(σ²/N)·(||y - X̃θ||²/(2σ²) + ||w||₁/b)`` for α = σ²/(N b) (centring the data is
    the flat-prior intercept). The default sweep includes the step where a coefficient crosses
    zero, so the reference covers the non-monotone count too."""
    from sklearn.linear_model import lasso_path

    config = exp.Config()
    rows = map_path("laplace", config.scales, X, Y, NOISE, config.linear_steps)
    xc = np.asarray(X, np.float64) - np.asarray(X, np.float64).mean(0)
    yc = np.asarray(Y, np.float64) - np.asarray(Y, np.float64).mean()
    alphas = NOISE**2 / (X.shape[0] * config.scales)  # decreasing, as lasso_path returns them
    alphas_out, coefs, _ = lasso_path(xc, yc, alphas=alphas, tol=1e-14, max_iter=10**6)
    np.testing.assert_allclose(alphas_out, alphas)
    ours = np.stack([r["theta"][:-1] for r in rows])
    counts = [r["zeros"] for r in rows]
    assert counts == (coefs == 0.0).sum(0).tolist()
    assert any(a < b for a, b in zip(counts[:-1], counts[1:], strict=True))  # the crossing
    np.testing.assert_array_equal(ours == 0.0, coefs.T == 0.0)
    assert np.sign(ours).tolist() == np.sign(coefs.T).tolist()


def test_config_rejects_invalid_values():
    for bad in (dict(num_scales=1), dict(scale_min=0.0), dict(scale_min=2.0, scale_max=1.0),
                dict(linear_steps=0), dict(mlp_laplace_scale=-0.1), dict(test_fraction=1.0),
                dict(mlp_learning_rate=float("nan")), dict(mlp_steps=True)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)


def test_lipschitz_is_the_top_eigenvalue_of_the_per_datum_hessian(x64):
    init = {"w": jnp.zeros(X.shape[1]), "bias": jnp.zeros(())}
    post = bj.Posterior.from_apply(linear, init, bj.likelihoods.Gaussian(NOISE),
                                   bj.priors.Flat(), X.astype(np.float64), Y.astype(np.float64))

    def objective(theta):
        return -post.log_likelihood({"w": theta[:-1], "bias": theta[-1]}) / post.num_data

    hess = np.asarray(jax.hessian(objective)(jnp.zeros(X.shape[1] + 1)))
    assert np.linalg.eigvalsh(hess).max() == pytest.approx(ref.lipschitz(X, NOISE), rel=1e-10)


def test_ridge_is_the_flat_intercept_closed_form_and_its_bound_catches_a_wrong_lambda():
    """The conjugate posterior mean (intercept integrated out by centring) solves the normal
    equations ``A θ = X̃ᵀy/σ²`` of the flat-intercept ridge problem, and is stationary."""
    s = 0.03
    theta = ref.ridge(X, Y, NOISE, s)
    xt = ref.with_ones(X)
    a = ref.precision(X, NOISE, s)
    np.testing.assert_allclose(theta, np.linalg.solve(a, xt.T @ np.asarray(Y, np.float64)
                                                      / NOISE**2), rtol=0, atol=1e-12)
    grad = xt.T @ (xt @ theta - np.asarray(Y, np.float64)) / NOISE**2
    grad[:-1] += theta[:-1] / s**2
    assert np.abs(grad).max() < 1e-9
    assert abs(theta[-1]) < 1e-6  # centred data: the flat-prior intercept is 0
    lr = 1.0 / (ref.lipschitz(X, NOISE) + 1.0 / (X.shape[0] * s**2))
    tol = ref.ridge_tolerance(X, Y, NOISE, s, theta, lr)
    wrong = ref.ridge(X, Y, NOISE, s / math.sqrt(2.0))  # λ = 1/s² instead of 1/(2s²)
    assert np.abs(wrong - theta).max() > 10 * tol


def test_lasso_kkt_holds_for_the_lasso_and_fails_for_a_wrong_lambda(x64):
    from sklearn.linear_model import Lasso

    b = 0.02
    xc = np.asarray(X, np.float64) - np.asarray(X, np.float64).mean(0)
    yc = np.asarray(Y, np.float64) - np.asarray(Y, np.float64).mean()
    lr = 1.0 / ref.lipschitz(X, NOISE)

    def solve(scale):
        fit = Lasso(alpha=NOISE**2 / (X.shape[0] * scale), tol=1e-14, max_iter=10**6)
        fit.fit(xc, yc)
        w = fit.coef_
        w0 = float(np.mean(np.asarray(Y, np.float64) - np.asarray(X, np.float64) @ w))
        return np.append(w, w0)

    theta = solve(b)
    assert 0 < np.sum(theta[:-1] == 0.0) < X.shape[1]
    tol = ref.lasso_tolerance(X, Y, NOISE, b, theta, lr)
    assert np.all(ref.lasso_kkt(X, Y, NOISE, b, theta) <= 1e-3 * tol)
    wrong = solve(2.0 * b)  # λ = 1/(2b) instead of 1/b
    assert np.max(ref.lasso_kkt(X, Y, NOISE, b, wrong) / ref.lasso_tolerance(
        X, Y, NOISE, b, wrong, lr)) > 10.0


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_prior_constant_is_log_prob_plus_penalty(kind, x64):
    scale = 0.07
    leaf = bj.priors.Gaussian(scale) if kind == "gaussian" else bj.priors.Laplace(scale)
    prior = bj.priors.ByPath({"w": leaf}, default=bj.priors.Flat())
    params = {"w": jnp.asarray(np.random.default_rng(0).normal(size=10)), "bias": jnp.ones(())}
    total = float(prior.log_prob(params) + prior.penalty(params))
    assert total == pytest.approx(ref.prior_constant(kind, scale, 10), rel=1e-12)


def test_zero_crossings_names_the_coefficient_that_crosses():
    rows = [{"scale": 0.1, "theta": np.array([-0.2, 0.5, 0.0])},
            {"scale": 0.2, "theta": np.array([0.0, 0.6, 0.0])},
            {"scale": 0.4, "theta": np.array([0.1, 0.7, 0.0])}]
    (text,) = zero_crossings(rows, ["a", "b"])
    assert text.startswith("a is -0.2000 at b = 0.1, exactly 0 at b = 0.2 and +0.1000")
