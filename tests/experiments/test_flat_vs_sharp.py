"""The flat_vs_sharp experiment: the math its claims rest on (the two-bowl potential, its
closed-form masses, the Langevin bias, the rescaling law, the sharpness) holds on its own, and the
sampled claims' criteria fail for a wrong implementation."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from flax import nnx

import bayesjax as bj
from experiments import flat_vs_sharp as exp
from experiments.common.data import load
from experiments.common.models import MLP
from experiments.flat_vs_sharp import batch_size, bowls, evidence, rescaling

MEANS, PRECS = [[0.0], [3.0]], [[[25.0]], [[1.0]]]
BARRIER = bowls.barrier_1d(MEANS, PRECS)


def test_config_rejects_invalid_values():
    for bad in (dict(k_sharp=0.5), dict(k_flat=0.0), dict(langevin_step=0.05),
                dict(nuts_chains=3), dict(rescale_alphas=(0.5, 1.0, 3.0)),
                dict(rescale_alphas=(0.5, 2.0, 4.0)), dict(class_b=1), dict(per_class=0),
                dict(precision_min=10.0, precision_max=1.0), dict(learning_rates=()),
                dict(checkpoints=7), dict(test_fraction=1.0), dict(separation=float("nan")),
                dict(evidence_structure="ful")):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)
    exp.Config.smoke()


# ----------------------------------------------------------------------------- (a) two bowls
def test_bowls_log_joint_is_minus_the_piecewise_quadratic():
    post = bowls.bowls_posterior(MEANS, PRECS, BARRIER)
    theta = np.array([-1.5, -0.8, 0.0, 0.3, 0.49, 0.51, 2.0, 3.0, 6.0])
    u = np.where(theta < BARRIER, 12.5 * theta**2, 0.5 * (theta - 3.0) ** 2)
    lj = bowls.log_joint_on(post, theta[:, None])
    const = -(bowls.OFFSET + 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(lj, const - u, rtol=4e-7, atol=1e-6)
    # the plain minimum would switch back to the wide bowl left of θ = -0.75
    assert bowls.log_joint_on(bowls.bowls_posterior(MEANS, PRECS), np.array([[-1.5]]))[0] > lj[0] + 10


def test_closed_form_basin_masses_match_quadrature():
    post = bowls.bowls_posterior(MEANS, PRECS, BARRIER)
    closed = bowls.exact_fraction_1d(MEANS, PRECS)
    assert BARRIER == pytest.approx(0.5)
    assert closed["z_barrier"] == pytest.approx(2.5)
    masses = bowls.quadrature_masses_1d(post, MEANS, PRECS, 4001)
    scale = math.exp(-bowls.OFFSET) / math.sqrt(2 * math.pi)
    expected = [scale * math.sqrt(2 * math.pi / k) * scipy.stats.norm.cdf(2.5) for k in (25, 1)]
    np.testing.assert_allclose(masses, expected, rtol=1e-6)
    assert masses[0] / masses.sum() == pytest.approx(closed["fraction_0"], abs=1e-7)


def test_laplace_masses_overestimate_each_basin_by_one_over_phi():
    post = bowls.bowls_posterior(MEANS, PRECS, BARRIER)
    masses = bowls.quadrature_masses_1d(post, MEANS, PRECS, 4001)
    for m, mass in zip(MEANS, masses, strict=True):
        lap = bj.laplace(post, {"theta": jnp.asarray(m, jnp.float32)}, curvature="hessian")
        ratio = math.exp(float(lap.log_basin_mass)) / mass
        assert ratio == pytest.approx(bowls.exact_fraction_1d(MEANS, PRECS)["laplace_excess"],
                                      rel=1e-5)


def test_langevin_stationary_law_is_symmetric_and_its_bias_is_first_order():
    sym_means, sym_precs = [[0.0], [3.0]], [[[4.0]], [[4.0]]]
    post = bowls.bowls_posterior(sym_means, sym_precs, bowls.barrier_1d(sym_means, sym_precs))
    out = bowls.langevin_stationary_fraction(post, sym_means, sym_precs, 0.01)
    assert out["fraction"] == pytest.approx(0.5, abs=1e-6)  # float32 drift, truncated grid
    post = bowls.bowls_posterior(MEANS, PRECS, BARRIER)
    b1 = bowls.langevin_stationary_fraction(post, MEANS, PRECS, 0.008)["bias"]
    b2 = bowls.langevin_stationary_fraction(post, MEANS, PRECS, 0.004)["bias"]
    assert b1 < 0 and 0.4 < b2 / b1 < 0.6


def test_indicator_standard_error_for_independent_draws():
    rng = np.random.default_rng(0)
    ind = rng.random((4, 5000)) < 0.2
    f, se, ess = bowls.indicator_fraction(ind)
    assert ess == pytest.approx(ind.size, rel=0.1)
    assert se == pytest.approx(math.sqrt(f * (1 - f) / ind.size), rel=0.1)


def _bowls_result(nuts, langevin, se=0.010, bias=-0.0037):
    exact = 1 / (1 + math.sqrt(25.0))
    return dict(k=(25.0, 1.0), closed={"fraction_0": exact}, exact_fraction=exact,
                laplace_fraction=exact, laplace_mass_ratio=5.0, laplace_curvature=[25.0, 1.0],
                nuts_fraction=nuts, nuts_se=se, nuts_ess=1400.0, langevin_fraction=langevin,
                langevin_se=se, langevin_ess=1700.0, langevin_stationary={"bias": bias})


def test_sampled_share_claims_fail_for_the_wrong_mass_ratio():
    """At the full config's s.e. (≈ 0.01) the sampled-share criteria accept the exact share and
    reject the share a sampler would find if basin masses went as k_f/k_s (1/26, not 1/6)."""
    exact, wrong = 1 / 6, 1 / 26
    good = bowls.claims(_bowls_result(exact + 0.02, exact - 0.0037 + 0.02))
    assert [c["passed"] for c in good] == [True] * 4
    assert sum(c["sampled_tests"] for c in good) == 2
    bad = bowls.claims(_bowls_result(wrong, wrong))
    assert [c["passed"] for c in bad[2:]] == [False, False]


def test_samplers_are_deterministic():
    post = bowls.bowls_posterior(MEANS, PRECS, BARRIER)
    inits = np.array([[0.0], [3.0]])
    nuts = [bowls.run_nuts(jax.random.key(3), post, inits, step_size=0.2, num_warmup=20,
                           num_samples=200)[0] for _ in range(2)]
    lang = [bowls.run_langevin(jax.random.key(3), post, inits, step_size=0.004, num_steps=2000,
                               thin=10) for _ in range(2)]
    assert np.array_equal(*nuts) and np.array_equal(*lang)
    assert nuts[0].shape == (2, 200, 1) and lang[0].shape == (2, 200, 1)


def test_mclmc_on_the_2d_bowls_is_deterministic_and_counts_its_gradients():
    post = bowls.bowls_posterior([[0.0, 0.0], [4.0, 0.0]], [np.diag([25.0, 4.0]), np.diag([0.5, 2.0])])
    inits = np.array([[0.0, 0.0], [4.0, 0.0]])
    runs = [bowls.run_mclmc(jax.random.key(3), post, inits, num_samples=200) for _ in range(2)]
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][0].shape == (2, 200, 2)
    assert runs[0][2] == 2 * 2 * 200                    # 2 chains × 200 draws × 2 gradients a step
    eff, walls = bowls.sampler_efficiency(dict(nuts_ess=50.0, nuts_grads=10_000, nuts_time=2.0,
                                               mclmc_ess=100.0, mclmc_grads=5_000, mclmc_time=1.0,
                                               mclmc_adjusted_ess=25.0, mclmc_adjusted_grads=5_000,
                                               mclmc_adjusted_time=2.0))
    assert eff["mclmc_over_nuts_per_grad"] == 4.0 and walls["mclmc_over_nuts_per_s"] == 4.0
    assert eff["mclmc_adjusted_over_nuts_per_grad"] == 1.0
    assert walls["mclmc_adjusted_over_nuts_per_s"] == 0.5
    assert "seconds" not in eff["nuts"]                 # wall times stay out of metrics.json


# ----------------------------------------------------------------------------- (b) rescaling
def _relu_params(seed=0, hidden=6):
    k = jax.random.split(jax.random.key(seed), 4)
    return {"w1": jax.random.normal(k[0], (1, hidden)), "b1": jax.random.normal(k[1], (hidden,)),
            "w2": jax.random.normal(k[2], (hidden, 1)), "b2": jax.random.normal(k[3], (1,))}


def test_rescaling_keeps_outputs_and_balancing_minimises_the_norm():
    x, _ = rescaling.regression_data(32, 0)
    params = _relu_params()
    f = rescaling.relu_net(params, x)
    for alpha in (0.125, 2.0, 16.0):
        assert np.array_equal(np.asarray(rescaling.relu_net(rescaling.rescale(params, alpha), x)),
                              np.asarray(f))

    def sq(a):
        return float(sum(jnp.sum(v**2) for v in jax.tree.leaves(rescaling.rescale(params, a))))

    a_star = rescaling.balancing_alpha(params)
    assert sq(a_star) < min(sq(a_star * 1.01), sq(a_star / 1.01))


def test_hessian_transforms_as_d_inverse_h_d_inverse():
    x, y = rescaling.regression_data(32, 0)
    params = _relu_params()
    post = bj.Posterior.from_apply(rescaling.relu_net, params, bj.likelihoods.Gaussian(0.1),
                                   bj.priors.Flat(), x, y)
    h1 = rescaling.loss_hessian(post, params)
    assert h1.dtype == np.float64 and h1.shape == (19, 19)
    d = rescaling.scaling_vector(params, 4.0)
    h4 = rescaling.loss_hessian(post, rescaling.rescale(params, 4.0))
    np.testing.assert_allclose(h4, h1 / d[:, None] / d[None, :], rtol=1e-10, atol=1e-10)
    wrong = 1.0 / d  # a rescaling that scales the wrong layer up
    assert not np.allclose(h4, h1 / wrong[:, None] / wrong[None, :], rtol=1e-3)
    assert set(np.round(d, 6)) == {4.0, 0.25, 1.0}


# ----------------------------------------------------------------------------- (c) evidence
def test_digit_pair_is_balanced_and_comes_from_the_common_loader():
    data = evidence.digit_pair(1, 8, 10, 0)
    assert data["y_tr"].sum() == 10 and data["y_tr"].size == 20
    assert np.array_equal(np.sort(data["y_rand"]), np.sort(data["y_tr"]))
    full = load("digits", scaling="unit", classes=(1, 8), test_fraction=0.0)
    assert data["y_tr"].size + data["y_te"].size == full.y_train.size
    assert float(data["x_tr"].max()) <= 1.0


def test_evidence_tends_to_the_null_model_under_a_strong_prior():
    data = evidence.digit_pair(1, 8, 10, 0)
    out = evidence.evidence_sweep(jax.random.key(0), data, [1e6], 300)
    for rows in out.values():
        assert abs(rows[0]["evidence_vs_null"]) < 1e-2
        assert rows[0]["test_ce"] == pytest.approx(math.log(2.0), abs=1e-3)


# ----------------------------------------------------------------------------- (d) sharpness
def test_sharpness_is_the_top_eigenvalue_of_the_per_datum_loss():
    d = load("digits", scaling="unit", test_fraction=0.25, seed=0)
    post = bj.Posterior(MLP((64, 4, 10), jnp.tanh, nnx.Rngs(0)), bj.likelihoods.Categorical(),
                        bj.priors.Gaussian(1.0), d.x_train[:200], d.y_train[:200])
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(post.params)
    dense = jax.jit(jax.hessian(lambda t: -post.log_joint(unravel(t)) / post.num_data))(flat)
    top = float(np.linalg.eigvalsh(np.asarray(dense, np.float64)).max())
    assert batch_size.sharpness(post, post.params) == pytest.approx(top, rel=1e-4)
