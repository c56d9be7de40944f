"""MCLMC (BlackJAX) against a closed form: Bayesian linear regression, N(MEAN, COV) exactly.

Every moment is checked within Monte Carlo error: an estimate ``mean(q)`` of ``E[q]`` from correlated
draws has standard error ``sd(q) / sqrt(ESS(q))`` (ArviZ's ESS for the mean), and we allow the suite's
two-sided threshold of 4.56 of them (``experiments/common/stats.py``). The unadjusted sampler is biased
by its step, but BlackJAX's tuning keeps that bias far below this Monte Carlo error here.
"""

import logging

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from bayesjax.chains import cpu_cores
from bayesjax.mclmc import _COMPILED, GRADS_PER_STEP

rng = np.random.default_rng(0)
N, D = 40, 3
X = rng.normal(size=(N, D)).astype(np.float32)
Y = (X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=N)).astype(np.float32)
SIGMA, S = 0.3, 0.7
# Bayesian linear regression: posterior N(MEAN, COV) with precision XᵀX/σ² + I/s²
_PM = X.T.astype(np.float64) @ X / SIGMA**2 + np.eye(D) / S**2
COV = np.linalg.inv(_PM)
MEAN = COV @ X.T.astype(np.float64) @ Y / SIGMA**2
Z = 4.56
KW = dict(num_samples=2000, num_chains=2)


def _linear(p, x):
    return x @ p["w"]


def _blr(y=Y):
    return bj.Posterior.from_apply(_linear, {"w": jnp.zeros(D)},
                                   bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S), X, y)


def _within_mc_error(q, expected):
    q = np.asarray(q, np.float64)
    se = q.std() / np.sqrt(float(azs.ess(q, method="mean")))
    assert abs(q.mean() - expected) < Z * se, (q.mean(), expected, se)


def _assert_blr_posterior(w):
    """Mean and every covariance entry of (chain, draw, D) draws against N(MEAN, COV)."""
    w = np.asarray(w, np.float64)
    for i in range(D):
        _within_mc_error(w[..., i], MEAN[i])
        for j in range(i + 1):
            _within_mc_error((w[..., i] - MEAN[i]) * (w[..., j] - MEAN[j]), COV[i, j])


@pytest.fixture(scope="module", params=[False, True], ids=["unadjusted", "adjusted"])
def run(request):
    return request.param, bj.mclmc(jax.random.key(0), _blr(), adjusted=request.param, **KW)


def test_bayesian_linear_regression_mean_and_covariance(run):
    _, mc = run
    assert isinstance(mc, bj.MCMCResult) and mc.samples["w"].shape == (2, 2000, D)
    _assert_blr_posterior(mc.samples["w"])
    assert mc.diagnostics.max_r_hat < 1.01 and mc.diagnostics.num_divergent == 0


def test_stats_count_the_gradients_and_diagnostics_are_nuts_shaped(run):
    adjusted, mc = run
    s, d = mc.stats, mc.diagnostics
    for name in ("log_joint", "num_steps", "num_grads", "accept_prob", "diverging", "energy"):
        assert s[name].shape == (2, 2000)
    np.testing.assert_array_equal(s["num_grads"], GRADS_PER_STEP * s["num_steps"])
    if adjusted:
        assert np.all(s["num_steps"] >= 1) and s["num_steps"].max() > 1     # random lengths
        assert 0.5 < d.mean_accept_prob < 1.0
    else:
        assert np.all(s["num_steps"] == 1) and d.mean_accept_prob == 1.0
    assert s["L"].shape == (2,) and np.all(s["L"] > 0)
    assert s["tuning_num_grads"].shape == (2,) and np.all(s["tuning_num_grads"] > 1)
    assert d.step_size.shape == (2,) and np.all(d.step_size > 0)
    assert d.inverse_mass_matrix.shape == (2, D) and np.all(d.inverse_mass_matrix > 0)
    assert np.isnan(d.mean_tree_depth) and d.max_tree_depth_fraction == 0.0
    assert d.chain_method == ("threaded" if cpu_cores() > 1 else "vectorized")   # "auto", a CPU
    assert d.sampling_time > 0.0 and d.compile_time > 0.0
    lj = jax.vmap(_blr().log_joint)({"w": mc.samples["w"][0, :5]})
    np.testing.assert_allclose(s["log_joint"][0, :5], lj, rtol=1e-5)
    idata = mc.to_arviz()
    np.testing.assert_allclose(d.ess_bulk["w"], azs.ess(idata, method="bulk")["w"].values)
    xt = np.array([[0.5, -1.0, 2.0]], np.float32)
    f = np.einsum("md,csd->csm", xt, np.asarray(mc.samples["w"], np.float64))
    np.testing.assert_allclose(mc.predictive(xt).mean, f.mean((0, 1)), rtol=1e-5)


def test_fixed_key_is_deterministic_and_a_second_call_does_not_recompile(run, caplog):
    adjusted, mc = run
    post = _blr(Y + np.float32(0.0))                   # an equal posterior, new arrays
    before = len(_COMPILED)
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        again = bj.mclmc(jax.random.key(0), post, adjusted=adjusted, **KW)
    # the sampler is not compiled again (tiny eager ops such as the key split may be: the fixture
    # ran outside this test's strict dtype-promotion context)
    assert not [r.getMessage() for r in caplog.records if "Compiling jit(_program" in r.getMessage()]
    assert again.diagnostics.compile_time == 0.0 and len(_COMPILED) == before
    np.testing.assert_array_equal(again.samples["w"], mc.samples["w"])
    np.testing.assert_array_equal(again.stats["L"], mc.stats["L"])
    other = bj.mclmc(jax.random.key(1), post, adjusted=adjusted, **KW)
    assert not np.array_equal(other.samples["w"], mc.samples["w"])


def test_vectorized_chains_from_one_start_each_sample_the_blr_posterior():
    """The chains as one ``vmap`` (the default off a CPU), each from its own start: the same law
    as the threaded chains, not the same draws (batched products round differently and the
    dynamics amplifies it)."""
    init = {"w": jnp.stack([jnp.asarray(MEAN, jnp.float32), -jnp.ones(D)])}
    mc = bj.mclmc(jax.random.key(2), _blr(), init_params=init, chain_method="vectorized", **KW)
    assert mc.diagnostics.chain_method == "vectorized" and mc.samples["w"].shape == (2, 2000, D)
    _assert_blr_posterior(mc.samples["w"])
    assert mc.diagnostics.max_r_hat < 1.01


def _scalar():
    return bj.Posterior.from_apply(lambda p, x: jnp.broadcast_to(p["b"], x.shape[:1]),
                                   {"b": jnp.zeros(())}, bj.likelihoods.Gaussian(SIGMA),
                                   bj.priors.Gaussian(S), X, Y)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_chains=0), ValueError, "num_chains must be an integer >= 1"),
        (dict(num_samples=0), ValueError, "num_samples must be an integer >= 1"),
        (dict(num_samples=2.5), ValueError, "num_samples must be an integer >= 1"),
        (dict(num_samples=5), ValueError, "num_samples must be >= 10"),
        (dict(init_params={"v": jnp.zeros(D)}), ValueError, "init_params must have the structure"),
        (dict(init_params={"w": jnp.zeros(D + 1)}), ValueError, "init_params must have the"),
        (dict(init_params={"w": jnp.zeros((3, D))}), ValueError, "init_params must have the"),
        (dict(init_params={"w": jnp.array([0.0, np.nan, 0.0])}), ValueError, "non-finite"),
        (dict(adjusted="yes"), TypeError, "adjusted must be a bool"),
        (dict(chain_method="parallel"), ValueError, "unknown chain_method 'parallel'"),
        (dict(target_accept_prob=1.0), ValueError, r"target_accept_prob must be in \(0, 1\)"),
        (dict(post="scalar"), ValueError, "needs at least 2 parameters"),
        (dict(post=object()), TypeError, "post must be a bayesjax.Posterior"),
    ],
)
def test_bad_arguments_raise(kwargs, error, match):
    post = kwargs.pop("post", _blr())
    post = _scalar() if post == "scalar" else post
    with pytest.raises(error, match=match):
        bj.mclmc(jax.random.key(0), post, **kwargs)


def test_progress_bar_on_request(capsys, monkeypatch):
    """A bar when asked for (silence under CI and bitwise-identical results are
    tests/bayesjax/test_progress.py's; one compile here)."""
    monkeypatch.delenv("CI", raising=False)
    bj.mclmc(jax.random.key(5), _blr(), num_samples=100, num_chains=2, progress_bar=True)
    assert "mclmc draws" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress_bar must be a bool"):
        bj.mclmc(jax.random.key(5), _blr(), num_samples=100, progress_bar="yes")
