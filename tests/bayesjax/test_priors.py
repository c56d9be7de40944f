import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

import bayesjax as bj
from bayesjax.priors import param_paths


@pytest.mark.parametrize("prior", [bj.priors.Gaussian(0.7, mean=0.3), bj.priors.Laplace(0.4, -0.2)])
def test_log_prob_integrates_to_one(prior, x64):
    f = lambda w: float(jnp.exp(prior.log_prob(jnp.asarray(w))))
    m = float(prior.mean)  # split at the mode: the Laplace density has a kink there
    total = scipy.integrate.quad(f, -np.inf, m)[0] + scipy.integrate.quad(f, m, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-8)


def test_log_prob_matches_scipy(x64):
    w = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)))
    g = bj.priors.Gaussian(0.5, 0.1)
    lap = bj.priors.Laplace(0.3, -0.2)
    np.testing.assert_allclose(g.log_prob(w), scipy.stats.norm(0.1, 0.5).logpdf(w).sum(), rtol=1e-12)
    np.testing.assert_allclose(lap.log_prob(w), scipy.stats.laplace(-0.2, 0.3).logpdf(w).sum(),
                               rtol=1e-12)


@pytest.mark.parametrize("prior", [bj.priors.Gaussian(0.7), bj.priors.Laplace(0.4), bj.priors.Flat()])
def test_penalty_is_minus_log_prob_plus_constant(prior, x64):
    rng = np.random.default_rng(1)
    params = {"a": jnp.asarray(rng.normal(size=5)), "b": jnp.asarray(rng.normal(size=(2, 3)))}
    other = jax.tree.map(lambda w: w * 3.0 - 1.0, params)
    c1 = prior.log_prob(params) + prior.penalty(params)
    c2 = prior.log_prob(other) + prior.penalty(other)
    np.testing.assert_allclose(c1, c2, rtol=1e-12)


def test_penalty_formulas(x64):
    w = jnp.array([1.0, -2.0, 0.5])
    assert bj.priors.Gaussian(2.0).penalty(w) == pytest.approx((1 + 4 + 0.25) / (2 * 4.0))
    assert bj.priors.Laplace(0.5).penalty(w) == pytest.approx(3.5 / 0.5)
    assert bj.priors.Gaussian(2.0).precision == pytest.approx(0.25)


def test_prox_is_the_proximal_operator(x64):
    """prox(v, t) minimises t * penalty(z) + |z - v|^2 / 2: check against a fine grid."""
    grid = jnp.linspace(-3, 3, 600001)
    for prior in [bj.priors.Gaussian(0.8, 0.2), bj.priors.Laplace(0.5, 0.1)]:
        for v in [-1.7, 0.05, 0.3, 2.2]:
            obj = 0.7 * jax.vmap(prior.penalty)(grid) + 0.5 * (grid - v) ** 2
            z = prior.prox(jnp.asarray(v), 0.7)
            assert float(z) == pytest.approx(float(grid[jnp.argmin(obj)]), abs=2e-5)
    assert float(bj.priors.Laplace(1.0).prox(jnp.asarray(0.3), 0.5)) == 0.0  # exact zero


def test_bypath_assigns_by_longest_match(x64):
    params = {"layers": {0: {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)},
                         1: {"kernel": jnp.ones((3, 1)), "bias": jnp.ones(1)}}}
    assert param_paths(params) == ["layers.0.bias", "layers.0.kernel", "layers.1.bias",
                                   "layers.1.kernel"]
    prior = bj.priors.ByPath({"layers.0": bj.priors.Gaussian(2.0),
                              "layers.0.kernel": bj.priors.Laplace(0.1)},
                             default=bj.priors.Flat())
    got = {p: type(q).__name__ for p, q in prior.leaf_priors(params)}
    assert got == {"layers.0.bias": "Gaussian", "layers.0.kernel": "Laplace",
                   "layers.1.bias": "Flat", "layers.1.kernel": "Flat"}
    expected = (bj.priors.Gaussian(2.0).log_prob(params["layers"][0]["bias"])
                + bj.priors.Laplace(0.1).log_prob(params["layers"][0]["kernel"]))
    np.testing.assert_allclose(prior.log_prob(params), expected)
    assert not prior.smooth


def test_bypath_unknown_key_raises_listing_paths():
    params = {"w": jnp.ones(3), "b": jnp.ones(())}
    prior = bj.priors.ByPath({"layers.0.kernel": bj.priors.Laplace(0.1)},
                             default=bj.priors.Gaussian(1.0))
    with pytest.raises(ValueError, match=r"layers\.0\.kernel.*match no parameter.*\['b', 'w'\]"):
        prior.log_prob(params)


def test_bypath_without_default_requires_every_parameter():
    prior = bj.priors.ByPath({"w": bj.priors.Gaussian(1.0)})
    with pytest.raises(ValueError, match="'b' has no prior"):
        prior.check({"w": jnp.ones(3), "b": jnp.ones(())})


def test_penalty_of_nnx_state_in_a_user_loop():
    """A user's nnx.grad loss can add prior.penalty(nnx.state(model, nnx.Param))."""
    from flax import nnx

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    prior = bj.priors.ByPath({"kernel": bj.priors.Gaussian(0.5)}, default=bj.priors.Flat())
    k = model.kernel[...]
    expected = float(jnp.sum(k**2) / (2 * 0.25))
    assert float(prior.penalty(nnx.state(model, nnx.Param))) == pytest.approx(expected, rel=1e-6)
    grads = nnx.grad(lambda m: prior.penalty(nnx.state(m, nnx.Param)))(model)
    np.testing.assert_allclose(grads["kernel"][...], k / 0.25, rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: bj.priors.Gaussian(0.0), lambda: bj.priors.Gaussian(-1.0),
                                  lambda: bj.priors.Laplace(0.0), lambda: bj.priors.Laplace(np.nan),
                                  lambda: bj.priors.Gaussian(np.inf)])
def test_nonpositive_or_nonfinite_scale_raises(make):
    with pytest.raises(ValueError, match="scale must be"):
        make()


def test_bad_mean_and_bad_bypath_values_raise():
    with pytest.raises(ValueError, match="mean must be finite"):
        bj.priors.Gaussian(1.0, mean=np.nan)
    with pytest.raises(ValueError, match="must be Gaussian, Laplace or Flat"):
        bj.priors.ByPath({"w": 1.0})
    with pytest.raises(ValueError, match="non-empty dict"):
        bj.priors.ByPath({})


def test_priors_are_pytrees_so_scale_sweeps_do_not_recompile():
    f = jax.jit(lambda prior, w: prior.log_prob(w))
    w = jnp.ones(4)
    f(bj.priors.Gaussian(1.0), w)
    f(bj.priors.Gaussian(2.0), w)
    assert f._cache_size() == 1
    scales = jnp.array([0.5, 1.0, 2.0])
    vals = jax.vmap(lambda s: bj.priors.Gaussian(s).log_prob(w))(scales)
    np.testing.assert_allclose(vals[1], bj.priors.Gaussian(1.0).log_prob(w), rtol=1e-6)


def test_to_numpyro_distributions(x64):
    import numpyro.distributions as dist

    d = bj.priors.Laplace(0.3, 0.1).to_numpyro()
    assert isinstance(d, dist.Laplace)
    np.testing.assert_allclose(d.log_prob(0.5), bj.priors.Laplace(0.3, 0.1).log_prob(0.5))
    params = {"w": jnp.ones(3), "b": jnp.ones(())}
    prior = bj.priors.ByPath({"w": bj.priors.Gaussian(2.0)}, default=bj.priors.Laplace(1.0))
    mapping = prior.to_numpyro(params)
    assert set(mapping) == {"w", "b"} and isinstance(mapping["w"], dist.Normal)
    fn = prior.to_numpyro()
    assert isinstance(fn("w", (3,)), dist.Normal) and isinstance(fn("b", ()), dist.Laplace)
