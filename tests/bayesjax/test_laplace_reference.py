"""bayesjax's Laplace evidence equals laplace-torch's, without torch: the reference file holds two
fixed tanh MLPs (weights, data, settings) and laplace-torch 0.3's float64 log marginal likelihood
of each at its prior and on a few prior precisions (written by ``python -m benchmarks.peers
--write-reference``). Same GGN, same formula, float64 on both sides: they must agree to round-off
(1e-6 nats absolute; the differences measured when the file was written were ≤ 2e-9)."""

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj

REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "data"
                        / "laplace_torch_reference.json").read_text())
CASES = [(net, s) for net in REFERENCE["nets"] for s in net["laplace_torch"]]
TOL = 1e-6   # nats, absolute


def _posterior(net):
    """The stored net as ``nnx.Sequential`` of ``nnx.Linear`` + tanh in float64, its weights set
    from the file."""
    layers = net["layers"]
    mods = []
    for i, layer in enumerate(layers):
        kernel = np.asarray(layer["kernel"])
        mods.append(nnx.Linear(*kernel.shape, param_dtype=jnp.float64, rngs=nnx.Rngs(i)))
        if i < len(layers) - 1:
            mods.append(nnx.tanh)
    model = nnx.Sequential(*mods)
    for mod, layer in zip(mods[::2], layers, strict=True):
        mod.kernel[...] = jnp.asarray(layer["kernel"], jnp.float64)
        mod.bias[...] = jnp.asarray(layer["bias"], jnp.float64)
    if net["likelihood"] == "regression":
        lik, y = bj.likelihoods.Gaussian(net["noise"]), jnp.asarray(net["y"], jnp.float64)
    else:
        lik, y = bj.likelihoods.Categorical(), jnp.asarray(net["y"], jnp.int32)
    prior = bj.priors.Gaussian(net["prior_precision"] ** -0.5)
    return bj.Posterior(model, lik, prior, jnp.asarray(net["x"], jnp.float64), y)


def _laplace(net, structure):
    post = _posterior(net)
    kw = {"kfac_bias": net["kfac_bias"]} if structure == "kfac" else {}
    return bj.laplace(post, post.params, structure=structure, **kw)


@pytest.mark.parametrize("net, structure", CASES,
                         ids=[f"{net['name'].split()[0]}-{s}" for net, s in CASES])
def test_evidence_equals_laplace_torch(x64, net, structure):
    lap = _laplace(net, structure)
    theirs = net["laplace_torch"][structure]
    ours = float(lap.log_marginal_likelihood())
    assert abs(ours - theirs["log_marginal_likelihood"]) <= TOL, (ours, theirs)
    grid = np.asarray(lap.log_marginal_likelihood_grid(jnp.asarray(net["grid"], jnp.float64)))
    np.testing.assert_allclose(grid, theirs["grid"], rtol=0, atol=TOL)


def test_reference_covers_both_likelihoods_and_the_structures():
    kinds = {net["likelihood"] for net in REFERENCE["nets"]}
    assert kinds == {"regression", "classification"}
    for net in REFERENCE["nets"]:
        assert {"full", "diag"} <= set(net["laplace_torch"])
        assert len(net["grid"]) >= 3 and len(net["laplace_torch"]["full"]["grid"]) == len(net["grid"])


def test_stored_weights_are_the_nets_weights(x64):
    # the Sequential computes the stored net (its weights were set, not left at initialisation)
    net = REFERENCE["nets"][0]
    post = _posterior(net)
    x = np.asarray(net["x"])
    h = x
    for i, layer in enumerate(net["layers"]):
        h = h @ np.asarray(layer["kernel"]) + np.asarray(layer["bias"])
        if i < len(net["layers"]) - 1:
            h = np.tanh(h)
    np.testing.assert_allclose(np.asarray(post.predict(post.params)), h, rtol=1e-12, atol=1e-12)
