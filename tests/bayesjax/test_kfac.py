"""KFAC and the dense-layer GGN diagonal (bayesjax.kfac) against NumPy recomputations of their
formulas and against the exact GGN, in float64: A ⊗ G is the exact GGN block where the Kronecker
form is exact (one dense layer, Gaussian likelihood, or one example), both bias conventions are
their own formula, and the diagonal equals curvature.ggn's."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj
from bayesjax import curvature, kfac, layer_taps

rng = np.random.default_rng(0)
N, D, H = 10, 3, 4
X = rng.normal(size=(N, D))
S, T, SIGMA = 0.8, 0.7, 0.3


class MLP(nnx.Module):
    def __init__(self, k, rngs):
        f64 = jnp.result_type(float)
        self.layers = nnx.List([nnx.Linear(D, H, rngs=rngs, param_dtype=f64),
                                nnx.Linear(H, k, rngs=rngs, param_dtype=f64)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


class Shared(nnx.Module):
    """One nnx.Linear applied twice per example: not a KFAC layer."""

    def __init__(self, rngs):
        self.lin = nnx.Linear(D, D, rngs=rngs, param_dtype=jnp.result_type(float))

    def __call__(self, x):
        return jnp.sum(self.lin(jnp.tanh(self.lin(x))), axis=-1)


def _mlp(kind, prior=None):
    k = 3 if kind == "categorical" else 2
    lik, y = ((bj.likelihoods.Categorical(), rng.integers(0, k, N)) if kind == "categorical"
              else (bj.likelihoods.Gaussian(SIGMA), rng.normal(size=(N, k))))
    post = bj.Posterior(MLP(k, nnx.Rngs(1)), lik, prior or bj.priors.Gaussian(S), X, y,
                        temperature=T)
    r = np.random.default_rng(2)    # away from the initialisation, where Λ varies more
    return post.replace(params=jax.tree.map(lambda a: jnp.asarray(r.normal(size=a.shape)),
                                            post.params))


def _dense(likelihood, x, y, out=1):
    lin = nnx.Linear(D, out, rngs=nnx.Rngs(0), param_dtype=jnp.result_type(float))
    return bj.Posterior(lin, likelihood, bj.priors.Gaussian(S), x, y, temperature=T)


def _np_taps(post):
    """Per layer (ā (N, rows), B (N, K, out)) of the 2-layer tanh MLP, and Λ (N, K, K), in NumPy."""
    p = jax.tree.map(np.asarray, post.params)["layers"]
    x = np.asarray(post.x)
    h = np.tanh(x @ p[0]["kernel"] + p[0]["bias"])
    f = h @ p[1]["kernel"] + p[1]["bias"]
    k = f.shape[1]
    b1 = p[1]["kernel"].T[None] * (1 - h**2)[:, None, :]              # ∂f_k/∂s1_o
    b2 = np.broadcast_to(np.eye(k), (N, k, k))
    if isinstance(post.likelihood, bj.likelihoods.Categorical):
        pr = np.exp(f - f.max(1, keepdims=True))
        pr /= pr.sum(1, keepdims=True)
        lam = np.einsum("nk,kl->nkl", pr, np.eye(k)) - pr[:, :, None] * pr[:, None, :]
    else:
        lam = np.broadcast_to(np.eye(k) / SIGMA**2, (N, k, k))
    one = np.ones((N, 1))
    return [(np.c_[x, one], b1), (np.c_[h, one], b2)], lam


def _np_blocks(post, bias):
    """NumPy KFAC: per block (A, G) by the convention's formula, and the exact GGN block."""
    taps, lam = _np_taps(post)
    out = []
    for abar, b in taps:
        g = np.einsum("nko,nkl,nlp->op", b, lam, b) / (N * T)
        rows = [slice(None)] if bias == "joint" else [slice(0, -1), slice(-1, None)]
        for r in rows:
            a = abar[:, r]
            jac = np.einsum("ni,nko->nkio", a, b).reshape(N, b.shape[1], -1)
            exact = np.einsum("nkp,nkl,nlq->pq", jac, lam, jac) / T
            out.append((a.T @ a, g, exact))
    return out


@pytest.mark.parametrize("case", ["gaussian, N points", "bernoulli, one point"])
def test_kfac_equals_the_exact_ggn_for_one_dense_layer_with_one_output(case, x64):
    # A ⊗ G = Σ_n Λ_n ā_n ā_nᵀ needs Λ_n independent of n: a Gaussian, or a single example
    if case.startswith("gaussian"):
        post = _dense(bj.likelihoods.Gaussian(SIGMA), X, rng.normal(size=N))
    else:
        post = _dense(bj.likelihoods.Bernoulli(), X[:1], np.array([1.0]))
    view = curvature.make_view(post.params)
    (layer,) = kfac.kfac_layers(post, post.params, view)
    assert layer.has_bias and layer.shape == (D + 1, 1) and layer.part == "joint"
    ((a, g),) = kfac.kfac_factors(post, post.params, (layer,))
    idx = layer.index[:, 0]                               # [kernel rows; bias] in the flat vector
    block = np.asarray(curvature.ggn(post, post.params, view, False))[np.ix_(idx, idx)]
    np.testing.assert_allclose(np.kron(a, g), block, rtol=1e-12, atol=1e-14)


def test_kfac_is_only_an_approximation_when_lambda_varies(x64):
    post = _dense(bj.likelihoods.Bernoulli(), X, (X[:, 0] > 0).astype(np.float64))
    view = curvature.make_view(post.params)
    (layer,) = kfac.kfac_layers(post, post.params, view)
    ((a, g),) = kfac.kfac_factors(post, post.params, (layer,))
    idx = layer.index[:, 0]
    block = np.asarray(curvature.ggn(post, post.params, view, False))[np.ix_(idx, idx)]
    # G is the mean of Λ_n: the Kronecker form weighs every ā_n ā_nᵀ alike, the GGN does not
    assert np.abs(np.kron(a, g) - block).max() > 1e-3 * np.abs(block).max()


def test_separate_blocks_are_the_exact_ggn_blocks_of_one_dense_layer(x64):
    # Gaussian likelihood, two outputs: B_n = I, so every Kronecker block is exact
    post = _dense(bj.likelihoods.Gaussian(SIGMA), X, rng.normal(size=(N, 2)), out=2)
    view = curvature.make_view(post.params)
    layers = kfac.kfac_layers(post, post.params, view, "separate")
    assert [(lay.part, lay.shape) for lay in layers] == [("kernel", (D, 2)), ("bias", (1, 2))]
    ggn = np.asarray(curvature.ggn(post, post.params, view, False))
    for lay, (a, g) in zip(layers, kfac.kfac_factors(post, post.params, layers), strict=True):
        idx = lay.index.reshape(-1)
        np.testing.assert_allclose(np.kron(a, g), ggn[np.ix_(idx, idx)], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(kfac.kfac_factors(post, post.params, layers)[1][0], [[N]])
    # what "separate" drops: the kernel-bias cross block (Σ_n x_n) ⊗ G of the joint block
    k_idx, b_idx = (lay.index.reshape(-1) for lay in layers)
    assert np.abs(ggn[np.ix_(k_idx, b_idx)]).max() > 1e-3 * np.abs(ggn).max()
    full, joint = bj.laplace(post), bj.laplace(post, structure="kfac")
    sep = bj.laplace(post, structure="kfac", kfac_bias="separate")
    np.testing.assert_allclose(joint.log_marginal_likelihood(), full.log_marginal_likelihood(),
                               rtol=1e-12)
    assert float(sep.log_marginal_likelihood()) < float(full.log_marginal_likelihood())


@pytest.mark.parametrize("bias", ["joint", "separate"])
@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_both_conventions_are_their_numpy_formula_on_an_mlp(kind, bias, x64):
    post = _mlp(kind)
    view = curvature.make_view(post.params)
    layers = kfac.kfac_layers(post, post.params, view, bias)
    ref = _np_blocks(post, bias)
    assert len(layers) == len(ref) == (2 if bias == "joint" else 4)
    for (a, g), (a_np, g_np, _) in zip(kfac.kfac_factors(post, post.params, layers), ref,
                                       strict=True):
        np.testing.assert_allclose(a, a_np, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g, g_np, rtol=1e-12, atol=1e-13)
    # the evidence from the assembled blocks A ⊗ G + I/S² by hand
    lap = bj.laplace(post, structure="kfac", kfac_bias=bias)
    logdet = sum(np.linalg.slogdet(np.kron(a, g) + np.eye(a.shape[0] * g.shape[0]) / S**2)[1]
                 for a, g, _ in ref)
    theta = np.asarray(view.flatten(post.params))
    by_hand = (float(post.log_likelihood(post.params)) / T - 0.5 * theta @ theta / S**2
               - 0.5 * (logdet + view.size * np.log(S**2)))
    np.testing.assert_allclose(lap.log_marginal_likelihood(), by_hand, rtol=1e-10)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_separate_evidence_is_below_joint_and_both_are_approximations(kind, x64):
    # "separate" keeps the diagonal blocks of the joint A ⊗ G + cI: by Fischer's inequality its
    # log determinant is larger, so its evidence is lower; neither is the GGN's
    post = _mlp(kind)
    full = float(bj.laplace(post).log_marginal_likelihood())
    joint = float(bj.laplace(post, structure="kfac").log_marginal_likelihood())
    sep = float(bj.laplace(post, structure="kfac", kfac_bias="separate").log_marginal_likelihood())
    assert sep < joint
    assert abs(joint - full) > 1e-6 and abs(sep - full) > 1e-6
    # ā = 1 for a bias: its block N·G = Σ_n B_nᵀΛ_nB_n / T is exact, and so is the output
    # layer's kernel block for a Gaussian (B_n = I, Λ_n = 1/σ²); not the others (B_n, Λ_n vary)
    exact_blocks = {1, 3} | ({2} if kind == "gaussian" else set())
    for i, (a, g, exact) in enumerate(_np_blocks(post, "separate")):
        err = np.abs(np.kron(a, g) - exact).max() / np.abs(exact).max()
        assert err < 1e-12 if i in exact_blocks else err > 1e-3


def test_separate_takes_a_prior_precision_per_block(x64):
    prior = bj.priors.ByPath({"layers.0.bias": bj.priors.Gaussian(2.0)},
                             default=bj.priors.Gaussian(S))
    post = _mlp("categorical", prior)
    with pytest.raises(ValueError, match="one number per layer .kernel and bias alike.; joint "
                                         "block of 'layers.0' has several"):
        bj.laplace(post, structure="kfac")
    lap = bj.laplace(post, structure="kfac", kfac_bias="separate")
    cs = [1 / S**2, 1 / 4.0, 1 / S**2, 1 / S**2]              # layers.0 kernel, bias; layers.1
    logdet = sum(np.linalg.slogdet(np.kron(a, g) + c * np.eye(a.shape[0] * g.shape[0]))[1]
                 for (a, g, _), c in zip(_np_blocks(post, "separate"), cs, strict=True))
    view = lap.view
    theta, p0 = np.asarray(lap.theta), np.asarray(lap.prior_precision)
    assert sorted(set(p0.tolist())) == sorted({1 / S**2, 1 / 4.0})
    by_hand = (float(post.log_likelihood(post.params)) / T - 0.5 * np.sum(p0 * theta**2)
               - 0.5 * (logdet - np.sum(np.log(p0))))
    np.testing.assert_allclose(lap.log_marginal_likelihood(), by_hand, rtol=1e-10)
    assert view.size == theta.size


def test_separate_predictive_and_samples_use_the_block_diagonal_precision(x64):
    post = _dense(bj.likelihoods.Gaussian(SIGMA), X, rng.normal(size=N))
    lap = bj.laplace(post, structure="kfac", kfac_bias="separate")
    (a_w, g), (a_b, _) = kfac.kfac_factors(post, post.params, lap.layers)
    prec = np.zeros((D + 1, D + 1))                        # flat order: bias, kernel
    prec[1:, 1:] = np.kron(a_w, g) + np.eye(D) / S**2
    prec[0, 0] = a_b[0, 0] * g[0, 0] + 1 / S**2
    cov = np.linalg.inv(prec)
    jac = np.c_[np.ones(4), X[:4]]
    np.testing.assert_allclose(lap.predictive(X[:4]).epistemic_var.reshape(-1),
                               np.einsum("mp,pq,mq->m", jac, cov, jac), rtol=1e-10)
    draws = lap.sample(jax.random.key(1), 40000)
    flat = np.c_[np.asarray(draws["bias"]), np.asarray(draws["kernel"])[:, :, 0]]
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 40000)
    assert np.all(np.abs(np.cov(flat.T) - cov) < 5 * se)


def test_kfac_equals_full_for_one_dense_layer_with_one_output(x64):
    post = _dense(bj.likelihoods.Gaussian(SIGMA), X, rng.normal(size=N))
    full, kf = bj.laplace(post), bj.laplace(post, structure="kfac")
    np.testing.assert_allclose(kf.log_marginal_likelihood(), full.log_marginal_likelihood(),
                               rtol=1e-12)
    np.testing.assert_allclose(kf.predictive(X[:4]).epistemic_var,
                               full.predictive(X[:4]).epistemic_var, rtol=1e-10)
    draws = kf.sample(jax.random.key(1), 40000)
    flat = np.c_[np.asarray(draws["bias"]), np.asarray(draws["kernel"])[:, :, 0]]
    cov = np.linalg.inv(full.posterior_precision())
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / 40000)
    assert np.all(np.abs(np.cov(flat.T) - cov) < 5 * se)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize("subset", ["all", "last_layer"])
def test_linear_diag_equals_the_ggn_diagonal(kind, subset, x64):
    post = _mlp(kind)
    view = curvature.make_view(post.params, subset)
    assert kfac.dense_layers(post, post.params, view) is not None
    ref = curvature.ggn(post, post.params, view, True)
    np.testing.assert_allclose(kfac.linear_diag(post, post.params, view), ref, rtol=1e-10,
                               atol=1e-12)
    lap = bj.laplace(post, structure="diag", subset=subset)
    np.testing.assert_allclose(lap.curv, ref, rtol=1e-10, atol=1e-12)


def test_diag_falls_back_to_the_generic_ggn(x64):
    params = {"w": jnp.asarray(rng.normal(size=(D, 2))), "b": jnp.zeros(2)}
    post = bj.Posterior.from_apply(lambda p, x: jnp.tanh(x @ p["w"]) + p["b"][None], params,
                                   bj.likelihoods.Categorical(), bj.priors.Gaussian(S), X,
                                   rng.integers(0, 2, N))
    shared = bj.Posterior(Shared(nnx.Rngs(0)), bj.likelihoods.Gaussian(SIGMA),
                          bj.priors.Gaussian(S), X, rng.normal(size=N))
    for p in (post, shared):
        view = curvature.make_view(p.params)
        assert kfac.dense_layers(p, p.params, view) is None
        np.testing.assert_allclose(bj.laplace(p, structure="diag").curv,
                                   curvature.ggn(p, p.params, view, True), rtol=1e-12)
    with pytest.raises(ValueError, match="'lin' is applied more than once per example"):
        bj.laplace(shared, structure="kfac")
    with pytest.raises(ValueError, match="kfac.*flax.nnx.Module"):
        bj.laplace(post, structure="kfac")


def test_chunked_and_padded_sums_are_the_same(monkeypatch, x64):
    post = _mlp("categorical")
    view = curvature.make_view(post.params)
    for bias in ("joint", "separate"):
        layers = kfac.kfac_layers(post, post.params, view, bias)
        whole = kfac.kfac_factors(post, post.params, layers), kfac.linear_diag(post, post.params,
                                                                               view)
        per = layer_taps._floats_per_example(3, layer_taps._dense(layers))
        monkeypatch.setattr(curvature, "_JAC_BUDGET", 4 * per)
        assert layer_taps._chunk(N, 3, layer_taps._dense(layers)) == 4       # 3 chunks: 2 padded examples
        parts = kfac.kfac_factors(post, post.params, layers), kfac.linear_diag(post, post.params,
                                                                               view)
        monkeypatch.undo()
        for (a, g), (a2, g2) in zip(whole[0], parts[0], strict=True):
            np.testing.assert_allclose(a2, a, rtol=1e-12)
            np.testing.assert_allclose(g2, g, rtol=1e-12)
        np.testing.assert_allclose(parts[1], whole[1], rtol=1e-12)


def test_layer_take_and_put_follow_the_index():
    lay = kfac.KFACLayer("l", "joint", 3, 2, kernel_offset=2, bias_offset=0)
    z = jnp.arange(8.0)
    assert lay.index.tolist() == [[2, 3], [4, 5], [6, 7], [0, 1]]
    np.testing.assert_array_equal(lay.take(z), np.asarray(z)[lay.index])
    np.testing.assert_array_equal(lay.put(jnp.zeros(8), lay.take(z)), z)
    bias = kfac.KFACLayer("l", "bias", 3, 2, kernel_offset=-1, bias_offset=0)
    assert bias.shape == (1, 2) and bias.rows == slice(3, 4)
    np.testing.assert_array_equal(bias.take(z[:, None]), [[[0.0], [1.0]]])
    hash(lay)


def test_bad_kfac_bias_and_no_recompile(caplog):
    from bayesjax.laplace import _kfac, _linear_diag

    post = _mlp("categorical").replace(x=X.astype(np.float32))
    post = post.replace(params=jax.tree.map(lambda a: a.astype(jnp.float32), post.params))
    with pytest.raises(ValueError, match="unknown kfac_bias 'shared'; valid: joint, separate"):
        bj.laplace(post, structure="kfac", kfac_bias="shared")
    runs = [dict(structure="kfac"), dict(structure="kfac", kfac_bias="separate"),
            dict(structure="diag")]
    for kw in runs:
        bj.laplace(post, **kw).log_marginal_likelihood()
    sizes = (_kfac._cache_size(), _linear_diag._cache_size())
    other = post.replace(prior=bj.priors.Gaussian(2.0))
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        for kw in runs:
            bj.laplace(other, **kw).log_marginal_likelihood()
    assert (_kfac._cache_size(), _linear_diag._cache_size()) == sizes
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()
                and ("kfac_curvature" in r.getMessage() or "linear_diag" in r.getMessage())]
