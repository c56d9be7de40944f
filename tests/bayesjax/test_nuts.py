"""NUTS against closed forms: Bayesian linear regression and a Beta-Bernoulli model.

Every moment is checked within Monte Carlo error: an estimate ``mean(q)`` of ``E[q]`` from correlated
draws has standard error ``sd(q) / sqrt(ESS(q))`` (ArviZ's ESS for the mean), and we allow 4 of them.
"""

import logging
import os
import subprocess
import sys
import textwrap

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import special

import bayesjax as bj
from bayesjax.chains import cpu_cores
from bayesjax.nuts import _COMPILED, MCMCDiagnostics

rng = np.random.default_rng(0)
N, D = 40, 3
X = rng.normal(size=(N, D)).astype(np.float32)
Y = (X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=N)).astype(np.float32)
SIGMA, S = 0.3, 0.7
# Bayesian linear regression: posterior N(MEAN, COV) with precision XᵀX/σ² + I/s²
_PM = X.T.astype(np.float64) @ X / SIGMA**2 + np.eye(D) / S**2
COV = np.linalg.inv(_PM)
MEAN = COV @ X.T.astype(np.float64) @ Y / SIGMA**2
KW = dict(num_warmup=500, num_samples=2000, num_chains=2, progress_bar=False)
CPU_CHAINS = "threaded" if cpu_cores() > 1 else "sequential"   # "auto" on one CPU device


def _linear(p, x):
    return x @ p["w"]


def _blr(y=Y):
    return bj.Posterior.from_apply(_linear, {"w": jnp.zeros(D)}, bj.likelihoods.Gaussian(SIGMA),
                                   bj.priors.Gaussian(S), X, y)


def _within_mc_error(q, expected, k=4.0):
    """|mean(q) − expected| < k · sd(q)/sqrt(ESS_mean(q)) for draws q of shape (chain, draw)."""
    q = np.asarray(q, np.float64)
    se = q.std() / np.sqrt(float(azs.ess(q, method="mean")))
    assert abs(q.mean() - expected) < k * se, (q.mean(), expected, se)


def _assert_blr_posterior(w):
    """Mean and every covariance entry of (chain, draw, D) draws against N(MEAN, COV)."""
    w = np.asarray(w, np.float64)
    for i in range(D):
        _within_mc_error(w[..., i], MEAN[i])
        for j in range(i + 1):
            _within_mc_error((w[..., i] - MEAN[i]) * (w[..., j] - MEAN[j]), COV[i, j])


@pytest.fixture(scope="module")
def blr_run():
    return bj.nuts(jax.random.key(0), _blr(), **KW)


def test_bayesian_linear_regression_mean_and_covariance(blr_run):
    assert blr_run.samples["w"].shape == (2, 2000, D)
    _assert_blr_posterior(blr_run.samples["w"])


def test_diagnostics_have_the_right_types(blr_run):
    d = blr_run.diagnostics
    assert isinstance(d, MCMCDiagnostics)
    for per in (d.ess_bulk, d.ess_tail, d.r_hat):
        assert set(per) == {"w"} and per["w"].shape == (D,)
    idata = blr_run.to_arviz()
    np.testing.assert_allclose(d.ess_bulk["w"], azs.ess(idata, method="bulk")["w"].values)
    np.testing.assert_allclose(d.r_hat["w"], azs.rhat(idata)["w"].values)
    assert d.min_ess_bulk == pytest.approx(d.ess_bulk["w"].min())
    assert d.max_r_hat == pytest.approx(d.r_hat["w"].max()) and d.max_r_hat < 1.01
    assert isinstance(d.num_divergent, int) and d.num_divergent == 0
    assert 1.0 <= d.mean_tree_depth <= d.max_tree_depth == 10
    assert d.max_tree_depth_fraction == 0.0
    assert d.step_size.shape == (2,) and np.all(d.step_size > 0)
    assert d.inverse_mass_matrix.shape == (2, D)            # adapted diagonal
    # the adapted M⁻¹ estimates the posterior variances (Stan's regularised Welford estimate)
    np.testing.assert_allclose(d.inverse_mass_matrix, np.broadcast_to(np.diag(COV), (2, D)),
                               rtol=0.5)
    assert 0.5 < d.mean_accept_prob <= 1.0
    assert d.compile_time >= 0.0 and d.sampling_time > 0.0
    assert d.chain_method == CPU_CHAINS                      # one CPU device
    for name in ("log_joint", "energy", "tree_depth", "num_steps", "accept_prob", "diverging"):
        assert blr_run.stats[name].shape == (2, 2000)
    # tree depth d ⇔ 2^(d-1) <= leapfrog steps <= 2^d - 1
    steps, depth = blr_run.stats["num_steps"], blr_run.stats["tree_depth"]
    assert np.all((2.0 ** (depth - 1) <= steps) & (steps <= 2.0**depth - 1))
    post = _blr()
    lj = jax.vmap(post.log_joint)({"w": blr_run.samples["w"][0, :5]})
    np.testing.assert_allclose(blr_run.stats["log_joint"][0, :5], lj, rtol=1e-5)
    assert set(idata.children) == {"posterior", "sample_stats"}      # an ArviZ 1.x DataTree
    assert idata.posterior["w"].shape == (2, 2000, D)
    assert {"lp", "diverging", "tree_depth", "energy", "step_size"} <= set(idata.sample_stats)
    assert "w[0]" in azs.summary(idata).index


def test_warmup_gradients_are_counted(blr_run):
    full = blr_run.stats["warmup_num_steps"]
    assert full.shape == (2,) and np.all(full >= KW["num_warmup"])
    with pytest.warns(RuntimeWarning, match="hit max_tree_depth=1"):   # depth 1: one step each
        one = bj.nuts(jax.random.key(0), _blr(), num_warmup=200, num_samples=50, num_chains=1,
                      progress_bar=False, max_tree_depth=1)
    assert int(one.stats["warmup_num_steps"][0]) == 200 and int(one.stats["num_steps"].sum()) == 50
    np.testing.assert_array_equal(one.stats["num_grads"], one.stats["num_steps"])


def test_result_passes_through_jit(blr_run):
    """Like every bayesjax result, an MCMCResult can cross a jit boundary (chain_method is static)."""
    @jax.jit
    def mean_and_divergences(res):
        return jnp.mean(res.samples["w"], axis=(0, 1)), res.diagnostics.num_divergent

    mean, divergent = mean_and_divergences(blr_run)
    np.testing.assert_allclose(mean, np.mean(blr_run.samples["w"], axis=(0, 1)), rtol=1e-6)
    assert int(divergent) == blr_run.diagnostics.num_divergent
    leaves, tree = jax.tree_util.tree_flatten(blr_run.diagnostics)
    assert jax.tree_util.tree_unflatten(tree, leaves).chain_method == CPU_CHAINS
    assert not any(isinstance(leaf, str) for leaf in leaves)


def test_predictive_is_the_monte_carlo_predictive(blr_run):
    xt = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 1.0]], np.float32)
    pred = blr_run.predictive(xt)
    assert isinstance(pred, bj.predictive.Predictive)
    f = np.einsum("md,csd->csm", xt, np.asarray(blr_run.samples["w"], np.float64))
    np.testing.assert_allclose(pred.mean, f.mean((0, 1)), rtol=1e-5)
    np.testing.assert_allclose(pred.epistemic_var, f.var((0, 1)), rtol=1e-4)
    np.testing.assert_allclose(pred.aleatoric_var, SIGMA**2, rtol=1e-6)
    for m in range(2):
        mu, var = xt[m] @ MEAN, xt[m] @ COV @ xt[m]
        _within_mc_error(f[..., m], mu)
        _within_mc_error((f[..., m] - mu) ** 2, var)


def test_second_call_does_not_recompile(caplog):
    bj.nuts(jax.random.key(3), _blr(), **KW)
    before = len(_COMPILED)
    post = _blr(Y + np.float32(0.1))                  # new data, same shapes
    init = {"w": jnp.ones(D)}
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        mc = bj.nuts(jax.random.key(4), post, init_params=init, **KW)
    assert len(_COMPILED) == before
    assert mc.diagnostics.compile_time == 0.0
    assert not [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]


def test_progress_lines_unless_ci(capsys, monkeypatch):
    kw = {**KW, "num_warmup": 100, "num_samples": 200, "progress_bar": True}
    monkeypatch.delenv("CI", raising=False)
    bj.nuts(jax.random.key(5), _blr(), **kw)
    err = capsys.readouterr().err
    start = ("nuts: 2 chains (2 at a time, on host threads): 100 warmup + 200 draws each ..."
             if CPU_CHAINS == "threaded" else "nuts: chain 1/2: 100 warmup + 200 draws ...")
    assert start in err and "nuts: done in" in err
    assert "nuts warmup" in err and "nuts draws" in err and "200/200" in err    # tqdm bars
    monkeypatch.setenv("CI", "1")
    bj.nuts(jax.random.key(5), _blr(), **kw)
    assert capsys.readouterr().err == ""


def test_threaded_chains_are_the_sequential_chains():
    """On a CPU the default runs the chains' one program from host threads (one per core,
    ``bayesjax.chains``): the same draws as one chain after the other, bit for bit."""
    kw = {**KW, "num_warmup": 100, "num_samples": 100, "num_chains": 3}
    runs = {m: bj.nuts(jax.random.key(6), _blr(), chain_method=m, **kw)
            for m in ("threaded", "sequential")}
    assert runs["threaded"].diagnostics.chain_method == "threaded"
    assert runs["sequential"].diagnostics.compile_time == 0.0       # one per-chain program
    np.testing.assert_array_equal(runs["threaded"].samples["w"], runs["sequential"].samples["w"])
    for name in ("num_steps", "log_joint", "warmup_num_steps"):
        np.testing.assert_array_equal(runs["threaded"].stats[name], runs["sequential"].stats[name])


def test_laplace_mass_samples_the_blr_posterior():
    post = _blr()
    lap = bj.laplace(post, {"w": jnp.asarray(MEAN, jnp.float32)})
    mc = bj.nuts(jax.random.key(1), post, mass=lap, **KW)
    _assert_blr_posterior(mc.samples["w"])
    # M⁻¹ is the Laplace covariance (exact here) on both chains, not adapted
    np.testing.assert_allclose(mc.diagnostics.inverse_mass_matrix,
                               np.broadcast_to(COV, (2, D, D)), rtol=1e-3, atol=1e-8)
    assert np.all(mc.diagnostics.step_size != 1.0)          # the step size is still adapted
    assert mc.diagnostics.num_divergent == 0


@pytest.mark.parametrize("mass, step", [("identity", 0.02), (COV, 0.5)])
def test_fixed_mass_and_step_sample_the_blr_posterior_unadapted(mass, step):
    """An unadapted unit mass (``"identity"``) or an explicit dense ``M⁻¹`` with a fixed ε: the
    draws have the closed-form N(MEAN, COV) mean and covariance, within 5 Monte Carlo standard
    errors sd/√ESS (P(fail) ≈ 6e-7 per moment for a correct sampler), and ε, M⁻¹ are as given."""
    mc = bj.nuts(jax.random.key(6), _blr(), mass=mass, step_size=step,
                 **{**KW, "num_warmup": 100})
    w = np.asarray(mc.samples["w"], np.float64)
    for i in range(D):
        _within_mc_error(w[..., i], MEAN[i], k=5.0)
        for j in range(i + 1):
            _within_mc_error((w[..., i] - MEAN[i]) * (w[..., j] - MEAN[j]), COV[i, j], k=5.0)
    np.testing.assert_array_equal(mc.diagnostics.step_size, [np.float32(step)] * 2)
    expected = np.ones(D) if isinstance(mass, str) else np.asarray(COV, np.float32)
    np.testing.assert_array_equal(mc.diagnostics.inverse_mass_matrix,
                                  np.broadcast_to(expected, (2,) + expected.shape))
    assert mc.diagnostics.num_divergent == 0


# A Beta-Bernoulli model through a logit: with a flat prior on the logit z = logit(p), the prior on
# p is Haldane's Beta(0, 0) (the Jacobian dz/dp = 1/(p(1-p))), so after k successes in n trials
# p | D ~ Beta(k, n - k) exactly, and z | D has mean ψ(k) − ψ(n−k) and variance ψ'(k) + ψ'(n−k).
# (A Beta(a, b) prior is the same model with a extra successes and b extra failures.)
NB, KB = 20, 6
YB = np.array([1.0] * KB + [0.0] * (NB - KB), np.float32)
Z_MEAN = special.digamma(KB) - special.digamma(NB - KB)
Z_VAR = special.polygamma(1, KB) + special.polygamma(1, NB - KB)


def _logit(p, x):
    return jnp.broadcast_to(p["z"], x.shape[:1])


def _bernoulli():
    return bj.Posterior.from_apply(_logit, {"z": jnp.zeros(())}, bj.likelihoods.Bernoulli(),
                                   bj.priors.Flat(), np.zeros((NB, 1), np.float32), YB)


def test_beta_bernoulli_closed_form_matches_quadrature_of_log_joint():
    post = _bernoulli()
    z = jnp.linspace(-12.0, 8.0, 20001)
    lj = np.asarray(jax.vmap(lambda t: post.log_joint({"z": t}))(z), np.float64)
    w = np.exp(lj - lj.max())
    w /= w.sum()
    m = np.sum(w * np.asarray(z))
    np.testing.assert_allclose(m, Z_MEAN, atol=1e-4)
    np.testing.assert_allclose(np.sum(w * (np.asarray(z) - m) ** 2), Z_VAR, rtol=1e-4)


def test_beta_bernoulli_posterior_through_a_logit():
    # dispersed starts, one per chain, and a dense (1 × 1) adapted mass matrix
    mc = bj.nuts(jax.random.key(2), _bernoulli(), init_params={"z": jnp.array([-3.0, 3.0])},
                 mass="dense", **KW)
    z = np.asarray(mc.samples["z"], np.float64)
    assert z.shape == (2, 2000) and mc.diagnostics.inverse_mass_matrix.shape == (2, 1, 1)
    _within_mc_error(z, Z_MEAN)
    _within_mc_error((z - Z_MEAN) ** 2, Z_VAR)
    p = special.expit(z)
    _within_mc_error(p, KB / NB)                                    # Beta(k, n-k) mean
    pred = mc.predictive(np.zeros((1, 1), np.float32))
    assert isinstance(pred, bj.predictive.ClassPredictive)
    np.testing.assert_allclose(pred.probs, [p.mean()], rtol=1e-5)
    np.testing.assert_allclose(pred.epistemic_var, [z.var()], rtol=1e-4)


def test_too_large_a_step_diverges_and_too_small_a_step_saturates_the_tree():
    kw = dict(num_warmup=0, num_samples=50, max_tree_depth=4, progress_bar=False)
    # the posterior sd is ~0.05: a leapfrog step of 1 is unstable (ε ω >> 2)
    with pytest.warns(RuntimeWarning, match=r"diverged.*higher target_accept_prob"):
        mc = bj.nuts(jax.random.key(0), _blr(), step_size=1.0, **kw)
    assert mc.diagnostics.num_divergent > 0
    assert mc.diagnostics.num_divergent == int(mc.stats["diverging"].sum())
    np.testing.assert_array_equal(mc.diagnostics.step_size, [1.0, 1.0])      # fixed, not adapted
    # at equilibrium, with ε = 1e-3 a U-turn needs ~π·0.05/ε ≈ 150 steps, more than 2^4 − 1
    with pytest.warns(RuntimeWarning, match=r"hit max_tree_depth=4 \(15 leapfrog steps\)"):
        mc = bj.nuts(jax.random.key(0), _blr(), step_size=1e-3, init_params={"w": MEAN}, **kw)
    assert mc.diagnostics.max_tree_depth_fraction == 1.0
    assert np.all(mc.stats["num_steps"] == 15)


def _mlp_posterior():
    model = nnx.Linear(D, 1, rngs=nnx.Rngs(0))
    return bj.Posterior(model, bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S), X, Y[:, None])


def _two_groups():
    return bj.Posterior.from_apply(lambda p, x: x @ p["a"]["w"] + p["b"]["w"],
                                   {"a": {"w": jnp.zeros(D)}, "b": {"w": jnp.zeros(())}},
                                   bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S), X, Y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_chains=0), "num_chains must be an integer >= 1"),
        (dict(num_samples=0), "num_samples must be an integer >= 1"),
        (dict(num_warmup=-1), "num_warmup must be an integer >= 0"),
        (dict(num_warmup=2.5), "num_warmup must be an integer >= 0"),
        (dict(init_params={"v": jnp.zeros(D)}), "init_params must have the structure"),
        (dict(init_params={"w": jnp.zeros(D + 1)}), r"init_params\['w'\] must have the shape"),
        (dict(init_params={"w": jnp.zeros((3, D))}), r"init_params\['w'\] must have the shape"),
        (dict(init_params={"w": jnp.array([0.0, np.nan, 0.0])}), "non-finite"),
        (dict(mass="full"), "mass must be 'diag', 'dense', 'identity', an inverse mass array"),
        (dict(mass=1.0), "mass must be 'diag', 'dense', 'identity', an inverse mass array"),
        (dict(mass=jnp.eye(D + 1)), r"must be finite, of shape \(3,\) or \(3, 3\).*got \(4, 4\)"),
        (dict(mass=[1.0, np.nan, 1.0]), "finite: False"),
        (dict(mass=np.array([1.0, 0.0, 1.0])), "must be positive.*smallest entry/eigenvalue 0"),
        (dict(mass=-np.eye(D)), "symmetric positive definite.*smallest entry/eigenvalue -1"),
        (dict(mass=np.triu(np.ones((D, D)))), "symmetric positive definite"),
        (dict(mass="laplace-other"), "must cover every parameter"),
        (dict(mass="laplace-last-layer"), "must cover every parameter"),
        (dict(chain_method="threads"), "unknown chain_method 'threads'"),
        (dict(chain_method="parallel", num_chains=len(jax.devices()) + 1),
         "chain_method='parallel' needs one device per chain"),
        (dict(step_size=0.0), "step_size must be finite and > 0"),
        (dict(target_accept_prob=1.0), r"target_accept_prob must be in \(0, 1\)"),
        (dict(max_tree_depth=0), "max_tree_depth must be an integer >= 1"),
    ],
)
def test_bad_arguments_raise_before_compiling(kwargs, match, caplog):
    post = _blr()
    mass = kwargs.get("mass") if isinstance(kwargs.get("mass"), str) else None
    if mass == "laplace-other":
        kwargs["mass"] = bj.laplace(_two_groups())
    elif mass == "laplace-last-layer":
        post = _two_groups()
        kwargs["mass"] = bj.laplace(post, subset="last_layer")
    before, key = len(_COMPILED), jax.random.key(0)   # the key's own first compile is not nuts's
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        with pytest.raises(ValueError, match=match):
            bj.nuts(key, post, **kwargs)
    assert len(_COMPILED) == before
    assert not [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]


def test_kfac_laplace_mass_is_refused():
    post = _mlp_posterior()
    with pytest.raises(ValueError, match="structure='kfac' is not supported"):
        bj.nuts(jax.random.key(0), post, mass=bj.laplace(post, structure="kfac"))


_PARALLEL = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    import bayesjax as bj
    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert len(jax.devices()) == 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0]) + 0.3 * rng.normal(size=20)).astype(np.float32)
    post = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(2)},
                                   bj.likelihoods.Gaussian(0.3), bj.priors.Gaussian(1.0), x, y)
    runs = {m: bj.nuts(jax.random.key(0), post, num_warmup=10, num_samples=10, chain_method=m)
            for m in ("auto", "vectorized", "sequential")}
    assert runs["auto"].diagnostics.chain_method == "parallel"
    for m in ("vectorized", "sequential"):
        np.testing.assert_allclose(runs[m].samples["w"], runs["auto"].samples["w"], rtol=1e-4,
                                   atol=1e-5)
    print("ok")
""")


def test_parallel_vectorized_and_sequential_chains_agree():
    """On two (simulated) devices, "auto" shards the chains; the three chain methods run the same
    per-chain program on the same keys."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "CI": "1"}
    out = subprocess.run([sys.executable, "-c", _PARALLEL], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
