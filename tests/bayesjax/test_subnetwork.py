"""Subnetwork Laplace: subsets by parameter path and by single entries, against the full Laplace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.flatten_util import ravel_pytree

import bayesjax as bj
from bayesjax import curvature
from bayesjax.subnetwork import ElementView, subnetwork_indices

rng = np.random.default_rng(3)
N, D = 30, 3
X = rng.normal(size=(N, D))
Y = np.sin(X @ np.array([1.0, -1.0, 0.5])) + 0.1 * rng.normal(size=N)
LABELS = rng.integers(0, 3, N)
IDX = np.array([24, 2, 17, 5, 21, 20, 9])       # entries of both layers, kernels and biases, unsorted


class MLP(nnx.Module):
    def __init__(self, k):
        rngs, dtype = nnx.Rngs(1), jnp.result_type(float)
        self.layers = nnx.List([nnx.Linear(D, 5, rngs=rngs, param_dtype=dtype),
                                nnx.Linear(5, k, rngs=rngs, param_dtype=dtype)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


def _classifier():
    return bj.Posterior(MLP(3), bj.likelihoods.Categorical(), bj.priors.Gaussian(1.0), X, LABELS)


def _regression():
    return bj.Posterior(MLP(1), bj.likelihoods.Gaussian(0.2), bj.priors.Gaussian(1.0), X, Y)


def _from_apply():
    """Not an nnx module: the diagonal comes from per-example Jacobians over the subnetwork."""
    def net(p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"][None]) @ p["w2"]

    dtype = jnp.result_type(float)
    params = {"b1": jnp.zeros(5, dtype), "w1": jnp.asarray(rng.normal(size=(D, 5)), dtype),
              "w2": jnp.asarray(rng.normal(size=(5, 1)), dtype)}
    return bj.Posterior.from_apply(net, params, bj.likelihoods.Gaussian(0.2), bj.priors.Gaussian(1.0),
                                   X, Y)


def test_element_view_addresses_the_raveled_parameter_vector(x64):
    params = _classifier().params
    flat, unravel = ravel_pytree(params)
    view = curvature.make_view(params, IDX)
    assert isinstance(view, ElementView) and view.size == IDX.size
    np.testing.assert_array_equal(view.indices, np.sort(IDX))
    np.testing.assert_array_equal(view.flatten(params), flat[np.sort(IDX)])
    moved = ravel_pytree(view.unflatten(view.flatten(params) + 1.0, params))[0]
    np.testing.assert_array_equal(moved - flat, np.isin(np.arange(flat.size), IDX).astype(float))


def test_subsets_of_every_parameter_give_the_full_laplace(x64):
    post = _classifier()
    full = bj.laplace(post)
    paths = list(full.subset_paths)
    for subset in (["layers"], paths, ["layers.0", "layers.1.kernel", "layers.1.bias"]):
        lap = bj.laplace(post, subset=subset)
        assert lap.view == full.view
        np.testing.assert_array_equal(lap.posterior_precision(), full.posterior_precision())
        np.testing.assert_array_equal(lap.log_marginal_likelihood(), full.log_marginal_likelihood())
    every = bj.laplace(post, subset=np.arange(full.num_params))    # single entries, all of them
    np.testing.assert_allclose(every.posterior_precision(), full.posterior_precision(), rtol=1e-12)
    np.testing.assert_allclose(every.log_marginal_likelihood(), full.log_marginal_likelihood(),
                               rtol=1e-12)


def test_last_layer_paths_equal_subset_last_layer(x64):
    post = _classifier()
    last = bj.laplace(post, subset="last_layer")
    for subset in (["layers.1"], ["layers.1.kernel", "layers.1.bias"]):
        lap = bj.laplace(post, subset=subset)
        assert lap.view == last.view
        np.testing.assert_array_equal(lap.posterior_precision(), last.posterior_precision())
    kf = bj.laplace(post, structure="kfac", subset=["layers.1"])
    assert kf.view == last.view
    # a prefix is a whole path component: layers.1 is not layers.10
    params = {"layers": {"1": {"kernel": np.ones((2, 2))}, "10": {"kernel": np.ones(3)}}}
    assert curvature.make_view(params, ["layers.1"]).paths == ("layers.1.kernel",)


@pytest.mark.parametrize("make", [_regression, _classifier, _from_apply])
def test_element_subset_is_the_principal_submatrix_of_the_full_precision(make, x64):
    post = make()
    sel = np.sort(IDX)
    full = np.asarray(bj.laplace(post).posterior_precision())
    block = full[np.ix_(sel, sel)]                         # the others fixed: no Schur complement
    lap = bj.laplace(post, subset=IDX)
    np.testing.assert_allclose(lap.posterior_precision(), block, rtol=1e-10)
    diag = bj.laplace(post, structure="diag", subset=IDX).posterior_precision()
    np.testing.assert_allclose(diag, np.diag(block), rtol=1e-10)
    # the evidence by hand: log p(D|θ*) - ½ Σ p₀ θ² - ½ (log det P_SS - Σ log p₀)
    theta = ravel_pytree(post.params)[0][sel]
    by_hand = (post.log_likelihood(post.params) - 0.5 * jnp.sum(theta**2)
               - 0.5 * np.linalg.slogdet(block)[1])
    np.testing.assert_allclose(lap.log_marginal_likelihood(), by_hand, rtol=1e-10)
    assert np.isfinite(float(lap.log_basin_mass))


def test_element_subset_predictive_and_samples(x64):
    post = _regression()
    sel = np.sort(IDX)
    lap = bj.laplace(post, subset=IDX)
    cov = np.linalg.inv(np.asarray(lap.posterior_precision()))
    _, jac = curvature.jacobian(post, post.params, curvature.make_view(post.params), X[:4])
    js = np.asarray(jac)[:, 0, sel]                        # (M, |S|): the columns of the subnetwork
    pred = lap.predictive(X[:4])
    np.testing.assert_allclose(pred.epistemic_var[:, 0], np.einsum("mp,pq,mq->m", js, cov, js),
                               rtol=1e-9)
    n = 20000
    draws = jax.vmap(lambda p: ravel_pytree(p)[0])(lap.sample(jax.random.key(0), n))
    flat = ravel_pytree(post.params)[0]
    rest = np.setdiff1d(np.arange(flat.size), sel)
    np.testing.assert_array_equal(draws[:, rest], np.broadcast_to(flat[rest], (n, rest.size)))
    # Monte Carlo error of a sample covariance entry: sqrt((Σii Σjj + Σij²) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(np.asarray(draws[:, sel]).T) - cov) < 5 * se)


def test_largest_variance_picks_the_k_largest_diagonal_laplace_variances(x64):
    post = _classifier()
    # the diagonal-Laplace variances, from the full precision's diagonal
    variance = 1.0 / np.diag(np.asarray(bj.laplace(post).posterior_precision()))
    idx = subnetwork_indices(post, post.params, 6)
    assert idx.shape == (6,) and np.all(np.diff(idx) > 0)
    rest = np.setdiff1d(np.arange(variance.size), idx)
    assert variance[idx].min() > variance[rest].max()
    lap = bj.laplace(post, subset=idx)
    assert lap.num_params == 6 and np.isfinite(float(lap.log_marginal_likelihood()))


def test_bad_subsets_raise():
    post = _classifier()
    p = 38
    for subset, err, match in [
        ([], ValueError, r"subset=\[\] selects no parameter"),
        (np.array([], int), ValueError, r"subset=\[\] selects no parameter"),
        (["layers.7"], ValueError, r"\['layers.7'\] match no parameter; valid paths are \['layers.0"),
        (np.array([0, p]), ValueError, r"must lie in \[0, 38\)"),
        (np.array([-1]), ValueError, r"must lie in \[0, 38\)"),
        (np.array([3, 3]), ValueError, "repeat"),
        (np.array([0.5]), TypeError, "integer array of flat parameter indices"),
        ("first_layer", ValueError, "unknown subset 'first_layer'"),
    ]:
        with pytest.raises(err, match=match):
            bj.laplace(post, subset=subset)
    with pytest.raises(ValueError, match="kfac.*single parameters"):
        bj.laplace(post, structure="kfac", subset=IDX)
    with pytest.raises(ValueError, match="last_layer= applies to subset='last_layer'"):
        bj.laplace(post, subset=["layers.0"], last_layer="layers.0")
    for k, match in [(0, "num_params must be an integer >= 1"), (p + 1, "num_params=39 exceeds the 38")]:
        with pytest.raises(ValueError, match=match):
            subnetwork_indices(post, None, k)
