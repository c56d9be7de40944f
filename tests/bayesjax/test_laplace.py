"""Laplace approximation against closed forms: exact for Bayesian linear regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj

rng = np.random.default_rng(0)
N, D = 40, 3
X = rng.normal(size=(N, D))
Y = X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=N)
SIGMA, S = 0.3, 0.7


def _blr():
    """Bayesian linear regression: posterior N(mean, Pm⁻¹), evidence N(y; 0, σ²I + s²XXᵀ)."""
    post = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(D)},
                                   bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S), X, Y)
    pm = X.T @ X / SIGMA**2 + np.eye(D) / S**2
    mean = np.linalg.solve(pm, X.T @ Y / SIGMA**2)
    return post, {"w": jnp.asarray(mean)}, pm, mean


def _log_evidence(s, sigma):
    c = sigma**2 * np.eye(N) + s**2 * X @ X.T
    return -0.5 * (Y @ np.linalg.solve(c, Y) + np.linalg.slogdet(c)[1] + N * np.log(2 * np.pi))


@pytest.mark.parametrize("curvature", ["ggn", "hessian"])
def test_exact_for_bayesian_linear_regression(curvature, x64):
    post, mode, pm, mean = _blr()
    lap = bj.laplace(post, mode, curvature=curvature)
    np.testing.assert_allclose(lap.posterior_precision(), pm, rtol=1e-10)
    np.testing.assert_allclose(lap.log_marginal_likelihood(), _log_evidence(S, SIGMA), rtol=1e-10)
    # the basin mass with a proper Gaussian prior is the evidence
    np.testing.assert_allclose(lap.log_basin_mass, _log_evidence(S, SIGMA), rtol=1e-10)
    # evidence at another prior precision and another noise, without refitting the mode: the
    # Laplace evidence is exact at any mode-independent quantity only at its own mode, so compare
    # with the closed form at the *same* mode through the Laplace formula by hand
    for c, sig in [(4.0, SIGMA), (1.0 / S**2, 0.5)]:
        p_post = X.T @ X / sig**2 + c * np.eye(D)
        ll = (-0.5 * np.sum((Y - X @ mean) ** 2) / sig**2 - N * np.log(sig * np.sqrt(2 * np.pi)))
        by_hand = ll - 0.5 * c * mean @ mean - 0.5 * (np.linalg.slogdet(p_post)[1] - D * np.log(c))
        np.testing.assert_allclose(lap.log_marginal_likelihood(c, noise=sig), by_hand, rtol=1e-10)


def test_grid_equals_recomputation_from_scratch(x64):
    post, mode, _, _ = _blr()
    lap = bj.laplace(post, mode)
    cs = jnp.logspace(-2, 2, 7)
    grid = lap.log_marginal_likelihood_grid(cs)
    for c, g in zip(cs, grid, strict=True):
        fresh = bj.laplace(post.replace(prior=bj.priors.Gaussian(float(c) ** -0.5)), mode)
        np.testing.assert_allclose(g, fresh.log_marginal_likelihood(), rtol=1e-10)
        np.testing.assert_allclose(g, lap.log_marginal_likelihood(c), rtol=1e-10)
    kf = bj.laplace(_linear_nnx()[0], structure="kfac")
    kfresh = [bj.laplace(_linear_nnx(float(c) ** -0.5)[0], structure="kfac")
              .log_marginal_likelihood() for c in cs[:3]]
    np.testing.assert_allclose(kf.log_marginal_likelihood_grid(cs[:3]), kfresh, rtol=1e-10)


def test_optimized_prior_precision_maximises_the_evidence(x64):
    post, mode, _, mean = _blr()
    lap = bj.laplace(post, mode)
    best = bj.optimize_prior_precision(lap, num_steps=2000, learning_rate=0.05)
    c, sig = float(best.prior_precision[0]), float(best.noise)
    value = float(best.log_marginal_likelihood())
    np.testing.assert_allclose(value, lap.log_marginal_likelihood(c, noise=sig), rtol=1e-12)
    for dc, ds in [(1.05, 1.0), (0.95, 1.0), (1.0, 1.02), (1.0, 0.98)]:
        assert value >= float(lap.log_marginal_likelihood(c * dc, noise=sig * ds)) - 1e-9


def test_evidence_module_is_re_exported_from_laplace():
    from bayesjax import evidence
    from bayesjax.laplace import LaplaceResult, laplace, optimize_prior_precision

    assert optimize_prior_precision is evidence.optimize_prior_precision is bj.optimize_prior_precision
    assert (laplace, LaplaceResult) == (bj.laplace, bj.LaplaceResult)


def test_sample_has_the_posterior_covariance(x64):
    post, mode, pm, mean = _blr()
    draws = bj.laplace(post, mode).sample(jax.random.key(0), num_samples=40000)["w"]
    cov = np.linalg.inv(pm)
    # Monte Carlo error of a sample covariance entry: sqrt((Σii Σjj + Σij²) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 40000)
    assert np.all(np.abs(np.cov(np.asarray(draws).T) - cov) < 5 * se)
    assert np.all(np.abs(np.asarray(draws).mean(0) - mean) < 5 * np.sqrt(np.diag(cov) / 40000))


def test_glm_predictive_is_phi_sigma_phi(x64):
    post, mode, pm, mean = _blr()
    pred = bj.laplace(post, mode).predictive(X[:5])
    np.testing.assert_allclose(pred.mean, X[:5] @ mean, rtol=1e-10)
    np.testing.assert_allclose(pred.epistemic_var,
                               np.einsum("mp,pq,mq->m", X[:5], np.linalg.inv(pm), X[:5]), rtol=1e-9)
    np.testing.assert_allclose(pred.aleatoric_var, SIGMA**2)


def _linear_nnx(scale=S):
    lin = nnx.Linear(D, 1, rngs=nnx.Rngs(0), param_dtype=jnp.result_type(float))
    return bj.Posterior(lin, bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(scale), X, Y), lin


class MLP(nnx.Module):
    def __init__(self, rngs, k=2):
        self.layers = nnx.List([nnx.Linear(D, 5, rngs=rngs, param_dtype=jnp.result_type(float)),
                                nnx.Linear(5, k, rngs=rngs, param_dtype=jnp.result_type(float))])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


def _classifier():
    labels = rng.integers(0, 3, N)
    return bj.Posterior(MLP(nnx.Rngs(1), 3), bj.likelihoods.Categorical(), bj.priors.Gaussian(1.0),
                        X, labels)


def test_ggn_equals_hessian_for_linear_gaussian(x64):
    post, _ = _linear_nnx()
    np.testing.assert_allclose(bj.laplace(post).posterior_precision(),
                               bj.laplace(post, curvature="hessian").posterior_precision(),
                               rtol=1e-10)


def test_diag_and_last_layer_are_restrictions_of_full(x64):
    post = _classifier()
    full = bj.laplace(post).posterior_precision()
    diag = bj.laplace(post, structure="diag").posterior_precision()
    np.testing.assert_allclose(diag, np.diag(full), rtol=1e-10)
    last = bj.laplace(post, subset="last_layer")
    assert last.subset_paths == ("layers.1.bias", "layers.1.kernel")
    off = 5 + D * 5  # layers.0.bias and layers.0.kernel come first in the flat vector
    np.testing.assert_allclose(last.posterior_precision(), full[off:, off:], rtol=1e-10)
    kf = bj.laplace(post, structure="kfac", subset="last_layer")
    assert np.isfinite(float(kf.log_marginal_likelihood()))


def test_classification_predictive_probabilities(x64):
    post = _classifier()
    lap = bj.laplace(post)
    for pred in (lap.predictive(X[:6]), lap.predictive(X[:6], "mc", key=jax.random.key(0))):
        assert pred.probs.shape == (6, 3)
        np.testing.assert_allclose(pred.probs.sum(-1), 1.0, rtol=1e-10)
        assert np.all(pred.epistemic_var > 0)


def test_mc_predictive_names_num_samples_and_needs_a_key(x64):
    post, mode, pm, mean = _blr()
    lap = bj.laplace(post, mode)
    pred = lap.predictive(X[:5], "mc", key=jax.random.key(2), num_samples=20000)
    exact = np.einsum("mp,pq,mq->m", X[:5], np.linalg.inv(pm), X[:5])
    # Monte Carlo error of a sample variance: v sqrt(2 / n); of the mean: sqrt(v / n)
    assert np.all(np.abs(pred.epistemic_var - exact) < 5 * exact * np.sqrt(2 / 20000))
    assert np.all(np.abs(pred.mean - X[:5] @ mean) < 5 * np.sqrt(exact / 20000))
    with pytest.raises(ValueError, match="method='mc'.*pass key="):
        lap.predictive(X[:5], "mc")
    with pytest.raises(ValueError, match="unknown method 'exact'; valid: glm, mc"):
        lap.predictive(X[:5], "exact")
    with pytest.raises(TypeError, match="n_samples"):
        lap.predictive(X[:5], "mc", key=jax.random.key(2), n_samples=10)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        lap.sample(jax.random.key(0), 0)


def test_indefinite_precision_raises_and_clip_warns(x64):
    post, _ = _linear_nnx()
    # far from the mode of a non-linear model, the exact Hessian is indefinite
    mlp = bj.Posterior(MLP(nnx.Rngs(3), 1), bj.likelihoods.Gaussian(0.05), bj.priors.Gaussian(10.0),
                       X, Y)
    with pytest.raises(ValueError, match=r"not positive definite \(smallest eigenvalue -"):
        bj.laplace(mlp, curvature="hessian")
    with pytest.warns(RuntimeWarning, match="clipped"):
        lap = bj.laplace(mlp, curvature="hessian", clip=True)
    assert np.isfinite(float(lap.log_marginal_likelihood()))


def test_flat_prior_has_no_evidence_but_has_basin_mass(x64):
    post, _ = _linear_nnx()
    lap = bj.laplace(post.replace(prior=bj.priors.Flat()))
    with pytest.raises(ValueError, match="flat .precision 0.*pass prior_precision"):
        lap.log_marginal_likelihood()
    assert np.isfinite(float(lap.log_basin_mass))
    assert np.isfinite(float(lap.log_marginal_likelihood(2.0)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(structure="kfc"), "unknown structure 'kfc'; valid: full, diag, kfac"),
        (dict(curvature="fisher"), "unknown curvature 'fisher'; valid: ggn, hessian"),
        (dict(subset="first_layer"), "unknown subset 'first_layer'"),
        (dict(structure="diag", curvature="hessian"), "needs structure='full'"),
        (dict(subset="last_layer", last_layer="nope"), "last_layer='nope' matches no"),
        (dict(structure="kfac", kfac_bias="split"), "unknown kfac_bias 'split'"),
        (dict(structure="diag", kfac_bias="separate"), "applies to structure='kfac'"),
    ],
)
def test_bad_names_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bj.laplace(_linear_nnx()[0], **kwargs)


def test_laplace_prior_is_refused():
    post = _linear_nnx()[0].replace(prior=bj.priors.Laplace(0.5))
    with pytest.raises(ValueError, match="needs Gaussian .or flat. priors"):
        bj.laplace(post)


def test_bad_prior_precision_arguments(x64):
    lap = bj.laplace(_blr()[0], _blr()[1])
    with pytest.raises(ValueError, match="must be a scalar or have shape"):
        lap.log_marginal_likelihood(jnp.ones(D + 1))
    with pytest.raises(ValueError, match="positive numbers"):
        lap.log_marginal_likelihood_grid(jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="noise must be finite and > 0"):
        lap.log_marginal_likelihood(noise=0.0)


def test_second_laplace_does_not_recompile():
    from bayesjax.evidence import evidence_grid as _grid
    from bayesjax.laplace import _ggn, _kfac

    post = _classifier()
    for structure in ("full", "diag", "kfac"):
        bj.laplace(post, structure=structure).log_marginal_likelihood_grid(jnp.ones(3))
    sizes = (_ggn._cache_size(), _kfac._cache_size(), _grid._cache_size())
    other = post.replace(prior=bj.priors.Gaussian(2.0))
    for structure in ("full", "diag", "kfac"):
        bj.laplace(other, structure=structure).log_marginal_likelihood_grid(jnp.ones(3))
    assert (_ggn._cache_size(), _kfac._cache_size(), _grid._cache_size()) == sizes


def test_predictive_can_be_jitted(x64):
    post, mode, _, _ = _blr()
    lap = bj.laplace(post, mode)
    f = jax.jit(lambda lap, z: lap.predictive(z).epistemic_var)
    np.testing.assert_allclose(f(lap, X[:3]), lap.predictive(X[:3]).epistemic_var, rtol=1e-12)
    with pytest.raises(ValueError, match="x contains 1 non-finite"):
        lap.predictive(np.r_[X[:2], [[np.nan, 0.0, 0.0]]])


def test_full_on_a_108k_parameter_mlp_is_refused_before_allocating():
    """laplace-torch #81: full on a large net crashed after allocating; here it fails at once, naming
    the bytes and the structures that fit (3 P² float32 for P = 108,554: ~141 GB)."""
    from flax import nnx

    from bayesjax import memory

    model = nnx.Sequential(nnx.Linear(64, 256, rngs=nnx.Rngs(0)), nnx.relu,
                           nnx.Linear(256, 256, rngs=nnx.Rngs(1)), nnx.relu,
                           nnx.Linear(256, 100, rngs=nnx.Rngs(2)))
    x = np.zeros((8, 64), np.float32)
    post = bj.Posterior(model, bj.likelihoods.Categorical(), bj.priors.Gaussian(1.0), x,
                        np.zeros(8, np.int32))
    p = post.num_params
    assert memory.structure_bytes("full", p, 4) == 3 * p * p * 4 > memory.available_bytes()
    with pytest.raises(MemoryError, match=r"structure='full' for P = [\d,]+ parameters needs "
                       r"~1\d\d GB .* free; use structure='diag' .* or structure='kfac'"):
        bj.laplace(post, structure="full")


def test_memory_guard_uses_the_free_memory(monkeypatch):
    from bayesjax import memory

    post, mode, _, _ = _blr()
    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 10)
    with pytest.raises(MemoryError, match="needs ~108 B .* but 10 B is free; use subset="):
        bj.laplace(post, mode, structure="full")      # 3 · 3² · 4 bytes; diag needs 48 B
    bj.laplace(post, mode, structure="diag")           # not guarded: O(P)
