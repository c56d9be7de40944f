"""KFAC of ``nnx.Conv`` layers (bayesjax.kfac_conv), float64: the factors against jax.jacobian of the
net itself (patches from the kernel derivative, B from the head's), a convolution with one output
position against the equal ``nnx.Linear`` (then KFAC is exact for one example), and the evidence and
GLM predictive of a digits CNN against the explicit Kronecker precision matrix."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sklearn.datasets import load_digits

import bayesjax as bj
from bayesjax import curvature, kfac

T = 0.7
_DIGITS = load_digits()
X = _DIGITS.data / 16.0
Y = _DIGITS.target


class CNN(nnx.Module):
    """8×8 image → Conv → tanh → flatten → Linear 10."""

    def __init__(self, rngs, ch=2, kernel=(3, 3), **conv):
        f64 = jnp.result_type(float)
        self.conv = nnx.Conv(1, ch, kernel, param_dtype=f64, rngs=rngs, **conv)
        n = jax.eval_shape(self.conv, jnp.zeros((1, 8, 8, 1), f64)).size
        self.out = nnx.Linear(n, 10, param_dtype=f64, rngs=rngs)

    def head(self, s):
        return self.out(jnp.tanh(s).reshape(s.shape[:-3] + (-1,)))

    def __call__(self, x):
        return self.head(self.conv(x.reshape(x.shape[:-1] + (8, 8, 1))))


class Flat(nnx.Module):
    """The one-position CNN (an 8×8 VALID kernel) written with nnx.Linear on the flat image."""

    def __init__(self, cnn):
        f64 = jnp.result_type(float)
        k = cnn.conv.kernel[...]
        self.first = nnx.Linear(64, k.shape[-1], param_dtype=f64, rngs=nnx.Rngs(0))
        self.first.kernel[...] = k.reshape(64, -1)
        self.first.bias[...] = cnn.conv.bias[...]
        self.out = cnn.out

    def __call__(self, x):
        return self.out(jnp.tanh(self.first(x)))


def _post(model, n, start=0):
    x, y = X[start:start + n], Y[start:start + n]
    return bj.Posterior(model, bj.likelihoods.Categorical(), bj.priors.Gaussian(1.0), x, y,
                        temperature=T)


def _random(post, scale=0.5):
    r = np.random.default_rng(3)
    return post.replace(params=jax.tree.map(lambda a: jnp.asarray(scale * r.normal(size=a.shape)),
                                            post.params))


def _factors(lap):
    """``[(A, G)]`` per block, rebuilt from the eigendecompositions the LaplaceResult keeps."""
    return [((qa * alpha[None]) @ qa.T, (qg * gamma[None]) @ qg.T)
            for alpha, qa, gamma, qg in lap.curv]


def _reference_factors(post):
    """KFAC-expand's (A, G) of the conv layer from jax.jacobian of the net: the patch at p is
    ``∂s_p[o]/∂W[:, o]`` (any o), ``B_p = ∂f/∂s_p`` through the head."""
    model = nnx.merge(post.apply_fn.graphdef, post.params, post.apply_fn.rest)
    graph, state = nnx.split(model.conv)

    @jax.vmap
    def one(xn):
        def conv_of(k):
            st = jax.tree.map(lambda v: v, state)
            st["kernel"] = nnx.Param(k)
            return nnx.merge(graph, st)(xn.reshape(1, 8, 8, 1))[0]

        s = conv_of(state["kernel"][...])                           # (H', W', C)
        dk = jax.jacobian(conv_of)(state["kernel"][...])            # (H', W', C, kh, kw, in, C)
        b = jax.jacobian(lambda s: model.head(s[None])[0])(s)       # (10, H', W', C)
        p = jax.nn.softmax(model(xn[None])[0])
        return dk, b, jnp.diag(p) - jnp.outer(p, p)

    dk, b, lam = jax.jit(one)(jnp.asarray(post.x))
    n, positions, out = dk.shape[0], dk.shape[1] * dk.shape[2], dk.shape[3]
    dk = np.asarray(dk).reshape(n, positions, out, -1, out)
    patches = dk[:, :, 0, :, 0]                                     # (N, positions, kh·kw·in)
    np.testing.assert_array_equal(dk[:, :, 1, :, 1], patches)       # the same for every o
    abar = np.concatenate([patches, np.ones((n, positions, 1))], axis=2).reshape(n * positions, -1)
    b = np.asarray(b).reshape(n, 10, positions, out)
    g = np.einsum("nkpo,nkl,nlpq->oq", b, np.asarray(lam), b)
    return abar.T @ abar, g / (post.num_data * positions * T), positions


@pytest.mark.parametrize("conv", [dict(strides=2, padding="SAME"),
                                  dict(strides=1, padding="CIRCULAR", kernel_dilation=2)],
                         ids=["stride2-same", "circular-dilated"])
def test_factors_are_kfac_expand(x64, conv):
    post = _random(_post(CNN(nnx.Rngs(0), **conv), 5))
    view = curvature.make_view(post.params)
    layers = kfac.kfac_layers(post, post.params, view, "joint")
    a_ref, g_ref, positions = _reference_factors(post)
    assert layers[0].path == "conv" and layers[0].positions == positions > 1
    assert layers[1].positions == 1
    (a, g), _ = kfac.kfac_factors(post, post.params, layers)
    np.testing.assert_allclose(a, a_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-14)
    sep = kfac.kfac_layers(post, post.params, view, "separate")
    (ak, gk), (ab, gb) = kfac.kfac_factors(post, post.params, sep)[:2]
    np.testing.assert_allclose(ak, a_ref[:-1, :-1], rtol=1e-12, atol=1e-12)
    assert float(ab[0, 0]) == post.num_data * positions          # the bias block is N|P|·G
    np.testing.assert_allclose(gb, g_ref, rtol=1e-10, atol=1e-14)
    assert kfac.dense_layers(post, post.params, view) is None     # diag: the generic GGN's


def test_one_position_conv_is_the_linear_layer(x64):
    cnn = CNN(nnx.Rngs(0), ch=3, kernel=(8, 8), padding="VALID")
    conv, flat = _random(_post(cnn, 12)), None
    model = nnx.merge(conv.apply_fn.graphdef, conv.params, conv.apply_fn.rest)
    flat = _post(Flat(model), 12)
    np.testing.assert_allclose(flat.predict(flat.params), conv.predict(conv.params), rtol=1e-12)
    lc, lf = (bj.laplace(p, structure="kfac", kfac_bias="separate") for p in (conv, flat))
    assert [lay.positions for lay in lc.layers] == [1] * 4
    for (ac, gc), (af, gf) in zip(_factors(lc), _factors(lf), strict=True):
        np.testing.assert_allclose(ac, af, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gc, gf, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lc.log_marginal_likelihood(), lf.log_marginal_likelihood(),
                               rtol=1e-12)
    # one example: A ⊗ G is the conv layer's exact GGN block; one position: diag is linear_diag's
    one = _post(cnn, 1).replace(params=conv.params)
    lap = bj.laplace(one, structure="kfac")
    ggn = np.asarray(curvature.ggn(one, one.params, lap.view, False))
    for lay, (a, g) in zip(lap.layers, _factors(lap), strict=True):
        idx = lay.index.reshape(-1)
        np.testing.assert_allclose(np.kron(a, g), ggn[np.ix_(idx, idx)], rtol=1e-9, atol=1e-13)
    assert kfac.dense_layers(one, one.params, lap.view) is not None
    np.testing.assert_allclose(bj.laplace(one, structure="diag").curv, np.diag(ggn), rtol=1e-10)


def _kron_precision(lap):
    """The (P, P) KFAC posterior precision, block by block, from the factors."""
    prec = np.diag(np.asarray(lap.prior_precision))
    for lay, (a, g) in zip(lap.layers, _factors(lap), strict=True):
        idx = lay.index.reshape(-1)
        prec[np.ix_(idx, idx)] += np.kron(a, g)
    return prec


def test_digits_cnn_evidence_predictive_and_diag(x64):
    post = _random(_post(CNN(nnx.Rngs(0), strides=2), 30))          # P = 350, 16 positions
    lap = bj.laplace(post, structure="kfac")
    assert lap.layers[0].positions == 16
    prec = _kron_precision(lap)
    theta, p0 = np.asarray(lap.theta), np.asarray(lap.prior_precision)
    by_hand = (float(post.log_likelihood(post.params)) / T - 0.5 * np.sum(p0 * theta ** 2)
               - 0.5 * (np.linalg.slogdet(prec)[1] - np.sum(np.log(p0))))
    np.testing.assert_allclose(lap.log_marginal_likelihood(), by_hand, rtol=1e-10)
    x_new = X[100:103]
    jac_all = curvature.jacobian(post, post.params, lap.view, np.concatenate([post.x, x_new]))[1]
    jac_train, jac = jac_all[:post.num_data], jac_all[post.num_data:]
    cov = np.einsum("mkp,pq,mlq->mkl", jac, np.linalg.inv(prec), jac)
    np.testing.assert_allclose(lap.predictive(x_new).epistemic_var,
                               np.diagonal(cov, axis1=1, axis2=2), rtol=1e-8)
    np.testing.assert_allclose(bj.predictive.logit_covariance(lap, x_new)[1], cov, rtol=1e-8,
                               atol=1e-12)
    # diag of a conv net: the exact GGN diagonal, from the per-example Jacobians
    p = jax.nn.softmax(post.predict(post.params), axis=-1)
    lam = jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :]
    ggn_diag = np.einsum("nkp,nkl,nlp->p", jac_train, lam, jac_train) / T
    np.testing.assert_allclose(bj.laplace(post, structure="diag").curv, ggn_diag, rtol=1e-10)


def test_unsupported_convolutions_are_refused(x64):
    grouped = nnx.Sequential(nnx.Conv(2, 2, (3, 3), feature_group_count=2, rngs=nnx.Rngs(0),
                                      param_dtype=jnp.result_type(float)),
                             lambda h: h.reshape(h.shape[0], -1))
    post = bj.Posterior(grouped, bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0),
                        np.random.default_rng(0).normal(size=(4, 4, 4, 2)),
                        np.zeros((4, 32)))
    with pytest.raises(ValueError, match="'layers.0' is a grouped convolution"):
        bj.laplace(post, structure="kfac")


def test_predictive_at_inputs_of_another_size_is_refused(x64):
    # a fully convolutional net takes any image size; its KFAC factors hold the training one's positions
    net = nnx.Sequential(nnx.Conv(1, 2, (3, 3), rngs=nnx.Rngs(0), param_dtype=jnp.result_type(float)),
                         lambda h: h.mean(axis=(1, 2)))
    rng = np.random.default_rng(0)
    post = bj.Posterior(net, bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0),
                        rng.normal(size=(4, 6, 6, 1)), np.zeros((4, 2)))
    lap = bj.laplace(post, structure="kfac")
    assert lap.predictive(rng.normal(size=(2, 6, 6, 1))).epistemic_var.shape == (2, 2)
    with pytest.raises(ValueError, match="'layers.0' has 64 output positions at these inputs but 36 at the "
                                         "training inputs"):
        lap.predictive(rng.normal(size=(2, 8, 8, 1)))


def test_evidence_equals_laplace_torch_kron(x64):
    # laplace-torch's KronLaplace (curvlinops KFAC-expand, kernel and bias blocks) in float64 on the
    # same weights (benchmarks/peers/conv_reference.py): the same formula, so equal to round-off
    ref = json.loads((Path(__file__).resolve().parents[1] / "data"
                      / "laplace_torch_conv_reference.json").read_text())
    f64 = jnp.result_type(float)
    model = CNN(nnx.Rngs(0), ch=ref["channels"], strides=2, padding="VALID")
    for layer in ("conv", "out"):
        for name in ("kernel", "bias"):
            getattr(getattr(model, layer), name)[...] = jnp.asarray(ref[f"{layer}_{name}"], f64)
    post = bj.Posterior(model, bj.likelihoods.Categorical(),
                        bj.priors.Gaussian(ref["prior_precision"] ** -0.5),
                        jnp.asarray(ref["x"], f64), jnp.asarray(ref["y"], jnp.int32))
    lap = bj.laplace(post, structure="kfac", kfac_bias="separate")
    assert lap.layers[0].positions == 9
    theirs = ref["laplace_torch"]
    # measured: 4e-14 nats (evidence), <= 2.3e-13 (grid); float64 on both sides
    assert abs(float(lap.log_marginal_likelihood()) - theirs["log_marginal_likelihood"]) <= 1e-10
    np.testing.assert_allclose(lap.log_marginal_likelihood_grid(jnp.asarray(ref["grid"], f64)),
                               theirs["grid"], rtol=0, atol=1e-10)


class _ConvOnly(nnx.Module):
    def __init__(self, shape, kernel, **conv):
        self.shape = shape
        self.conv = nnx.Conv(shape[-1], 3, kernel, param_dtype=jnp.result_type(float),
                             rngs=nnx.Rngs(0), **conv)

    def __call__(self, x):
        return self.conv(x.reshape(x.shape[:-1] + self.shape)).reshape(x.shape[0], -1)


def test_patches_reproduce_the_convolution(x64):
    # ā_p · W̄ = s_p for nnx's own paddings and dilations, in 1-D and 3-D
    r = np.random.default_rng(0)
    three_d = dict(strides=(1, 2, 1), input_dilation=(2, 1, 1), kernel_dilation=(1, 1, 2),
                   padding=((1, 0), (0, 1), (1, 1)))
    for shape, kernel, conv in (((9, 2), (4,), dict(padding="CAUSAL", strides=2)),
                                ((5, 4, 3, 1), (2, 2, 2), three_d)):
        net = _ConvOnly(shape, kernel, **conv)
        x = r.normal(size=(3, int(np.prod(shape))))
        post = _random(bj.Posterior(net, bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0),
                                    x, np.zeros(net(jnp.asarray(x)).shape)))
        s = np.asarray(post.predict(post.params))
        view = curvature.make_view(post.params)
        layers = kfac.kfac_layers(post, post.params, view)
        out, abar, _ = kfac.layer_taps(post, post.params, layers, x)
        np.testing.assert_allclose(out, s, rtol=1e-12)
        wbar = layers[0].take(view.flatten(post.params))
        np.testing.assert_allclose((abar[0] @ wbar).reshape(s.shape), s, rtol=1e-12, atol=1e-12)
