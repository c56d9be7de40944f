"""Curvature against explicit autodiff references, in float64: the GGN is Σ JᵀΛJ with Λ the Hessian
of the per-example negative log-likelihood in the outputs, and the Hessian is jax.hessian of
−log_joint less the prior's (KFAC: tests/bayesjax/test_kfac.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from bayesjax import curvature

rng = np.random.default_rng(0)
N, D, H, K = 10, 3, 4, 2
X = rng.normal(size=(N, D))
LABELS = rng.integers(0, K, N)
S, T = 0.8, 0.7


def mlp(p, x):
    l0, l1 = p["layers"]["0"], p["layers"]["1"]
    return jnp.tanh(x @ l0["kernel"] + l0["bias"][None]) @ l1["kernel"] + l1["bias"][None]


def _params():
    r = np.random.default_rng(1)
    return {"layers": {"0": {"bias": jnp.asarray(r.normal(size=H)),
                             "kernel": jnp.asarray(r.normal(size=(D, H)))},
                       "1": {"bias": jnp.asarray(r.normal(size=K)),
                             "kernel": jnp.asarray(r.normal(size=(H, K)))}}}


def _post(likelihood=None, y=LABELS):
    return bj.Posterior.from_apply(mlp, _params(), likelihood or bj.likelihoods.Categorical(),
                                   bj.priors.Gaussian(S), X, y, temperature=T)


def _explicit_ggn(post, view):
    """Σ_n J_nᵀ Λ_n J_n / T with J from jax.jacfwd of all N outputs and Λ_n the Hessian of
    f ↦ −log p(y_n | f) (not the library's output_precision)."""
    params = post.params
    theta = view.flatten(params)
    outs = lambda t: post.apply_fn(view.unflatten(t, params), post.x)         # (N, K)
    jac = jax.jacfwd(outs)(theta)                                             # (N, K, P)
    f = outs(theta)
    lam = jnp.stack([jax.hessian(lambda fn, i=i: -post.likelihood.log_prob(
        fn[None], post.y[i:i + 1]))(f[i]) for i in range(post.num_data)])     # (N, K, K)
    return jnp.einsum("nkp,nkl,nlq->pq", jac, lam, jac) / post.temperature


@pytest.mark.parametrize("lik, y", [(bj.likelihoods.Categorical(), LABELS),
                                    (bj.likelihoods.Gaussian(0.3), rng.normal(size=(N, K)))])
def test_ggn_full_and_diagonal_equal_explicit_jt_lambda_j(lik, y, x64):
    post = _post(lik, y)
    view = curvature.make_view(post.params)
    ref = _explicit_ggn(post, view)
    full = curvature.ggn(post, post.params, view, False)
    np.testing.assert_allclose(full, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(curvature.ggn(post, post.params, view, True), np.diag(ref),
                               rtol=1e-12, atol=1e-12)
    assert np.linalg.eigvalsh(np.asarray(full)).min() > -1e-10 * np.abs(ref).max()  # PSD


def test_ggn_is_the_same_when_the_data_are_chunked_and_padded(monkeypatch, x64):
    post = _post()
    view = curvature.make_view(post.params)
    whole = curvature.ggn(post, post.params, view, False)
    # 3 examples per chunk: N = 10 is padded to 12, the 2 padded rows must count for nothing
    monkeypatch.setattr(curvature, "_JAC_BUDGET", 3 * K * view.size)
    assert curvature._chunk_size(N, K, view.size) == 3
    np.testing.assert_allclose(curvature.ggn(post, post.params, view, False), whole, rtol=1e-12,
                               atol=1e-13)


def test_hessian_equals_autodiff_hessian_of_minus_log_joint_less_the_prior(x64):
    post = _post()
    view = curvature.make_view(post.params)
    theta = view.flatten(post.params)
    ref = jax.hessian(lambda t: -post.log_joint(view.unflatten(t, post.params)))(theta)
    h = curvature.hessian(post, post.params, view)
    np.testing.assert_allclose(h + np.eye(view.size) / S**2, ref, rtol=1e-12, atol=1e-12)
    last = curvature.make_view(post.params, "last_layer")
    off = view.offsets[view.paths.index(last.paths[0])]     # the last layer's leaves come last
    np.testing.assert_allclose(curvature.hessian(post, post.params, last),
                               h[off:off + last.size, off:off + last.size], rtol=1e-12, atol=1e-12)


def test_jacobian_equals_jacfwd(x64):
    post = _post()
    view = curvature.make_view(post.params)
    theta = view.flatten(post.params)
    out, jac = curvature.jacobian(post, post.params, view, X[:4])
    np.testing.assert_allclose(out, mlp(post.params, X[:4]), rtol=1e-13)
    ref = jax.jacfwd(lambda t: post.apply_fn(view.unflatten(t, post.params), X[:4]))(theta)
    np.testing.assert_allclose(jac, ref, rtol=1e-12, atol=1e-13)


def test_make_view_all_flattens_every_leaf_in_tree_order():
    params = _params()
    view = curvature.make_view(params)
    assert view.paths == ("layers.0.bias", "layers.0.kernel", "layers.1.bias", "layers.1.kernel")
    assert view.shapes == ((H,), (D, H), (K,), (H, K))
    assert view.offsets == (0, H, H + D * H, H + D * H + K)
    assert view.size == H + D * H + K + H * K
    theta = view.flatten(params)
    back = view.unflatten(theta + 1.0, params)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b + 1.0)
    hash(view)  # static: usable as a jit static argument


def test_make_view_last_layer_default_sorts_naturally_and_honours_a_prefix():
    params = {"layers": {str(i): {"kernel": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}
                         for i in (0, 2, 10)}}
    last = curvature.make_view(params, "last_layer")
    assert last.paths == ("layers.10.bias", "layers.10.kernel")   # 10 after 2, not before
    assert last.size == 6 and last.offsets == (0, 2)
    theta = jnp.arange(6.0)
    out = last.unflatten(theta, params)
    np.testing.assert_array_equal(out["layers"]["10"]["kernel"], [[2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_array_equal(out["layers"]["2"]["kernel"], np.zeros((2, 2)))
    assert curvature.make_view(params, "last_layer", "layers.2").paths == \
        ("layers.2.bias", "layers.2.kernel")


def test_make_view_bad_names_raise():
    with pytest.raises(ValueError, match="unknown subset 'first_layer'; valid: 'all', 'last_layer'"):
        curvature.make_view(_params(), "first_layer")
    with pytest.raises(ValueError, match=r"last_layer='layers.7' matches no parameter group; "
                                         r"groups are \['layers.0', 'layers.1'\]"):
        curvature.make_view(_params(), "last_layer", "layers.7")


# ============================================================================================
# Lanczos (top eigenvalue of the curvature): tests are added below this line by its author.
# ============================================================================================

_LZ_RNG = np.random.default_rng(7)
_LZ_X = _LZ_RNG.normal(size=(60, 4)).astype(np.float32)
_LZ_Y = _LZ_RNG.integers(0, 3, 60).astype(np.int32)


def _lz_net(p, x):
    return jnp.tanh(x @ p["w1"] + p["b1"][None]) @ p["w2"]


def _lz_post(dtype=np.float32):
    r = np.random.default_rng(8)
    params = {"w1": jnp.asarray(r.normal(size=(4, 5)), dtype), "b1": jnp.asarray(r.normal(size=5), dtype),
              "w2": jnp.asarray(r.normal(size=(5, 3)), dtype)}
    return bj.Posterior.from_apply(_lz_net, params, bj.likelihoods.Categorical(),
                                   bj.priors.Gaussian(0.7), _LZ_X.astype(dtype), _LZ_Y)


def _lz_dense(post, params):
    """Dense Hessian of −log_joint (float64 numpy) by jax.hessian on the flat vector."""
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(params)
    h = jax.hessian(lambda t: -post.log_joint(unravel(t)))(flat)
    return np.asarray(h, np.float64)


def test_lanczos_top_eigenpair_matches_the_dense_hessian_in_float64(x64):
    """With the full Krylov dimension (P = 35) Lanczos is exact: λ_max to 1e-10, the eigenvector to
    1e-6 in angle, and the residual ‖Hv − λv‖ at roundoff; the (indefinite) Hessian's largest
    *algebraic* eigenvalue, not its largest magnitude."""
    post = _lz_post(np.float64)
    h = _lz_dense(post, post.params)
    evals, evecs = np.linalg.eigh(h)
    top = curvature.top_hessian_eigenvalue(post, post.params, num_iterations=100)
    assert float(top.eigenvalue) == pytest.approx(evals[-1], rel=1e-10)
    v = np.concatenate([np.ravel(top.eigenvector[k]) for k in ("b1", "w1", "w2")])  # tree order
    assert abs(v @ evecs[:, -1]) == pytest.approx(1.0, abs=1e-6)
    assert float(top.residual_norm) < 1e-8 * evals[-1]


def test_lanczos_in_float32_with_few_iterations():
    """float32 Hessian-vector products, 20 iterations < P: λ_max to 1e-5 relative; a random start
    (key) gives the same value; the residual bounds the distance to an eigenvalue."""
    post = _lz_post()
    evals = np.linalg.eigvalsh(_lz_dense(post, post.params))
    for key in (None, jax.random.key(0)):
        top = curvature.top_hessian_eigenvalue(post, post.params, num_iterations=20, key=key)
        assert top.eigenvalue.dtype == jnp.float32
        assert float(top.eigenvalue) == pytest.approx(evals[-1], rel=1e-5)
        assert np.min(np.abs(evals - float(top.eigenvalue))) <= float(top.residual_norm) + 1e-5


def test_lanczos_breakdown_on_an_invariant_subspace(x64):
    """Inputs c_n e_n make H = XᵀX = diag(1, 1, 1, 1, 9, 9): the Krylov space of the all-ones
    start has dimension 2, so Lanczos breaks down after two steps and must continue (no NaN)."""
    x = np.eye(6)
    c = np.array([1.0, 1.0, 1.0, 1.0, 3.0, 3.0])
    post = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(6)},
                                   bj.likelihoods.Gaussian(1.0), bj.priors.Flat(), x * c[:, None],
                                   np.zeros(6))
    top = curvature.top_hessian_eigenvalue(post, post.params, num_iterations=6)
    assert float(top.eigenvalue) == pytest.approx(9.0, rel=1e-12)
    assert np.all(np.isfinite(np.asarray(top.eigenvector["w"])))


def test_lanczos_second_call_does_not_recompile_and_bad_arguments_raise(caplog):
    import logging

    post = _lz_post()
    curvature.top_hessian_eigenvalue(post, post.params, num_iterations=10)
    moved = jax.tree.map(lambda a: a + jnp.float32(0.1), post.params)
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        curvature.top_hessian_eigenvalue(post, moved, num_iterations=10)
    assert not [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="num_iterations must be an integer >= 1"):
            curvature.top_hessian_eigenvalue(post, post.params, num_iterations=bad)
