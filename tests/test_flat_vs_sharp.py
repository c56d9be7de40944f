"""The flat_vs_sharp experiment: the smoke run passes its claims, and the math its claims rest on
(the two-bowl potential, its closed-form masses, the Langevin bias, the rescaling law, Lanczos)
holds on its own and would catch a wrong implementation."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from flax import nnx

import bayesjax as bj
from experiments import _flat_vs_sharp_parts as P
from experiments import flat_vs_sharp as exp
from experiments._models import MLP
from experiments.runner import main, run_experiment

MEANS, PRECS = [[0.0], [3.0]], [[[25.0]], [[1.0]]]
BARRIER = P.barrier_1d(MEANS, PRECS)


def test_smoke_run_passes_every_claim(tmp_path):
    metrics, outdir = run_experiment("flat_vs_sharp", smoke=True, out=tmp_path / "fvs")
    failed = [c for c in metrics["claims"] if not c["passed"]]
    assert not failed, failed
    assert len(metrics["claims"]) == 11
    for name in ("metrics.json", "config.json", "report.md", "bowls_1d.png", "bowls_2d.png",
                 "rescaling.png", "evidence_vs_precision.png", "batch_sharpness.png"):
        assert (outdir / name).is_file(), name


def test_config_rejects_invalid_values():
    for bad in (dict(k_sharp=0.5), dict(k_flat=0.0), dict(langevin_step=0.05),
                dict(nuts_chains=3), dict(rescale_alphas=(0.5, 1.0, 3.0)),
                dict(rescale_alphas=(0.5, 2.0, 4.0)), dict(class_b=1), dict(per_class=0),
                dict(precision_min=10.0, precision_max=1.0), dict(learning_rates=()),
                dict(checkpoints=7), dict(test_fraction=1.0), dict(separation=float("nan"))):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)
    exp.Config.smoke()


def test_cli_rejects_an_unknown_laplace_structure(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["flat_vs_sharp", "--smoke", "evidence_structure=ful", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "unknown evidence_structure 'ful'; valid: full, diag, kfac" in err
    assert not out.exists()


def test_bowls_log_joint_is_minus_the_piecewise_quadratic():
    post = P.bowls_posterior(MEANS, PRECS, BARRIER)
    theta = np.array([-1.5, -0.8, 0.0, 0.3, 0.49, 0.51, 2.0, 3.0, 6.0])
    u = np.where(theta < BARRIER, 12.5 * theta**2, 0.5 * (theta - 3.0) ** 2)
    lj = P.log_joint_on(post, theta[:, None])
    const = -(P.OFFSET + 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(lj, const - u, rtol=4e-7, atol=1e-6)
    # the plain minimum would switch back to the wide bowl left of θ = -0.75
    assert P.log_joint_on(P.bowls_posterior(MEANS, PRECS), np.array([[-1.5]]))[0] > lj[0] + 10


def test_closed_form_basin_masses_match_quadrature():
    post = P.bowls_posterior(MEANS, PRECS, BARRIER)
    closed = P.exact_fraction_1d(MEANS, PRECS)
    assert BARRIER == pytest.approx(0.5)
    assert closed["z_barrier"] == pytest.approx(2.5)
    masses = P.quadrature_masses_1d(post, MEANS, PRECS, 4001)
    scale = math.exp(-P.OFFSET) / math.sqrt(2 * math.pi)
    expected = [scale * math.sqrt(2 * math.pi / k) * scipy.stats.norm.cdf(2.5) for k in (25, 1)]
    np.testing.assert_allclose(masses, expected, rtol=1e-6)
    assert masses[0] / masses.sum() == pytest.approx(closed["fraction_0"], abs=1e-7)


def test_laplace_masses_overestimate_each_basin_by_one_over_phi():
    post = P.bowls_posterior(MEANS, PRECS, BARRIER)
    masses = P.quadrature_masses_1d(post, MEANS, PRECS, 4001)
    for m, mass in zip(MEANS, masses, strict=True):
        lap = bj.laplace(post, {"theta": jnp.asarray(m, jnp.float32)}, curvature="hessian")
        ratio = math.exp(float(lap.log_basin_mass)) / mass
        assert ratio == pytest.approx(P.exact_fraction_1d(MEANS, PRECS)["laplace_excess"],
                                      rel=1e-5)


def test_langevin_stationary_law_is_symmetric_and_its_bias_is_first_order():
    sym_means, sym_precs = [[0.0], [3.0]], [[[4.0]], [[4.0]]]
    post = P.bowls_posterior(sym_means, sym_precs, P.barrier_1d(sym_means, sym_precs))
    out = P.langevin_stationary_fraction(post, sym_means, sym_precs, 0.01)
    assert out["fraction"] == pytest.approx(0.5, abs=1e-6)  # float32 drift, truncated grid
    post = P.bowls_posterior(MEANS, PRECS, BARRIER)
    b1 = P.langevin_stationary_fraction(post, MEANS, PRECS, 0.008)["bias"]
    b2 = P.langevin_stationary_fraction(post, MEANS, PRECS, 0.004)["bias"]
    assert b1 < 0 and 0.4 < b2 / b1 < 0.6


def test_indicator_standard_error_for_independent_draws():
    rng = np.random.default_rng(0)
    ind = rng.random((4, 5000)) < 0.2
    f, se, ess = P.indicator_fraction(ind)
    assert ess == pytest.approx(ind.size, rel=0.1)
    assert se == pytest.approx(math.sqrt(f * (1 - f) / ind.size), rel=0.1)


def _relu_params(seed=0, hidden=6):
    k = jax.random.split(jax.random.key(seed), 4)
    return {"w1": jax.random.normal(k[0], (1, hidden)), "b1": jax.random.normal(k[1], (hidden,)),
            "w2": jax.random.normal(k[2], (hidden, 1)), "b2": jax.random.normal(k[3], (1,))}


def test_rescaling_keeps_outputs_and_balancing_minimises_the_norm():
    x, _ = P.regression_data(32, 0)
    params = _relu_params()
    f = P.relu_net(params, x)
    for alpha in (0.125, 2.0, 16.0):
        assert np.array_equal(np.asarray(P.relu_net(P.rescale(params, alpha), x)), np.asarray(f))

    def sq(a):
        return float(sum(jnp.sum(v**2) for v in jax.tree.leaves(P.rescale(params, a))))

    a_star = P.balancing_alpha(params)
    assert sq(a_star) < min(sq(a_star * 1.01), sq(a_star / 1.01))


def test_hessian_transforms_as_d_inverse_h_d_inverse():
    x, y = P.regression_data(32, 0)
    params = _relu_params()
    post = bj.Posterior.from_apply(P.relu_net, params, bj.likelihoods.Gaussian(0.1),
                                   bj.priors.Flat(), x, y)
    h1 = P.loss_hessian(post, params)
    d = P.scaling_vector(params, 4.0)
    h4 = P.loss_hessian(post, P.rescale(params, 4.0))
    np.testing.assert_allclose(h4, h1 / d[:, None] / d[None, :], rtol=1e-10, atol=1e-10)
    wrong = 1.0 / d  # a rescaling that scales the wrong layer up
    assert not np.allclose(h4, h1 / wrong[:, None] / wrong[None, :], rtol=1e-3)
    assert set(np.round(d, 6)) == {4.0, 0.25, 1.0}


def test_lanczos_top_eigenvalue_matches_the_dense_hessian():
    x, _, y, _ = P.digits_split(0.25, 0)
    x, y = x[:200], y[:200]
    post = bj.Posterior(MLP((64, 4, 10), jnp.tanh, nnx.Rngs(0)), bj.likelihoods.Categorical(),
                        bj.priors.Gaussian(1.0), x, y)
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(post.params)
    dense = jax.jit(jax.hessian(lambda t: -post.log_joint(unravel(t)) / post.num_data))(flat)
    top = float(np.linalg.eigvalsh(np.asarray(dense, np.float64)).max())
    assert P.top_eigenvalue(post, post.params) == pytest.approx(top, rel=1e-4)


def test_evidence_tends_to_the_null_model_under_a_strong_prior():
    data = P.digit_pair(1, 8, 10, 0)
    out = P.evidence_sweep(jax.random.key(0), data, [1e6], 300)
    for rows in out.values():
        assert abs(rows[0]["evidence_vs_null"]) < 1e-2
        assert rows[0]["test_ce"] == pytest.approx(math.log(2.0), abs=1e-3)


def test_samplers_are_deterministic():
    post = P.bowls_posterior(MEANS, PRECS, BARRIER)
    inits = np.array([[0.0], [3.0]])
    nuts = [P.run_nuts(jax.random.key(3), post, inits, step_size=0.2, num_warmup=20,
                       num_samples=200)[0] for _ in range(2)]
    lang = [P.run_langevin(jax.random.key(3), post, inits, step_size=0.004, num_steps=2000,
                           thin=10) for _ in range(2)]
    assert np.array_equal(*nuts) and np.array_equal(*lang)
    assert nuts[0].shape == (2, 200, 1) and lang[0].shape == (2, 200, 1)
