"""The benchmark's networks on the bayesjax side: built at their MAP with ``bj.fit_map``, exported
(weights + data + settings) to an ``.npz`` that ``torch_side.py`` reads without JAX, and imported
back into a ``bj.Posterior`` in float32 or float64.

File layout (one ``.npz`` per net): ``kernel_<i>`` (in, out) and ``bias_<i>`` (out,) for the dense
layers in order, in flax's layout — torch's ``nn.Linear.weight`` is the transpose, (out, in);
``x`` (N, D); ``y`` (N,) float targets (regression) or int labels (classification); and the
scalars ``likelihood`` ("regression" | "classification"), ``noise`` (σ, regression),
``prior_precision`` (1/scale²) and ``activation`` ("tanh", after every layer but the last).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np


class NetSpec(NamedTuple):
    """One benchmark net: its name, layer sizes and the structures to time (``grid_on`` is the
    structure whose approximation the 50-value prior grid is evaluated on)."""

    name: str
    sizes: tuple[int, ...]
    structures: tuple[str, ...]
    grid_on: str


NETS = (
    NetSpec("toy 1-16-16-1 regression", (1, 16, 16, 1), ("full", "diag", "kfac"), "full"),
    NetSpec("digits 64-32-10", (64, 32, 10), ("full", "diag", "kfac"), "full"),
    # full would be a 108,210² matrix (47 GB in float32): not attempted on either side
    NetSpec("digits 64-400-200-10", (64, 400, 200, 10), ("diag", "kfac"), "kfac"),
)


def layers_of(params) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(kernel (in, out), bias (out,)), ...]`` of a bayesjax MLP's / ``nnx.Sequential``'s
    parameter dict ``{"layers": {i: {"kernel", "bias"}}}``, in layer order."""
    layers = params["layers"]
    return [(np.asarray(layers[i]["kernel"]), np.asarray(layers[i]["bias"]))
            for i in sorted(layers, key=int)]


def params_from_layers(template, layers, dtype=np.float32):
    """The parameter dict of ``template``'s structure filled with ``layers`` (see ``layers_of``),
    cast to ``dtype``; a shape that differs from the template's raises ``ValueError``."""
    keys = sorted(template["layers"], key=int)
    if len(keys) != len(layers):
        raise ValueError(f"the net has {len(keys)} dense layers, the weights {len(layers)}")
    out = {}
    for key, (kernel, bias) in zip(keys, layers, strict=True):
        want = template["layers"][key]
        for name, value in (("kernel", kernel), ("bias", bias)):
            if tuple(np.shape(value)) != tuple(want[name].shape):
                raise ValueError(f"layers.{key}.{name}: weights of shape {np.shape(value)}, "
                                 f"the net has {tuple(want[name].shape)}")
        out[key] = {"kernel": jnp.asarray(kernel, dtype), "bias": jnp.asarray(bias, dtype)}
    return {"layers": out}


def settings_of(post) -> dict:
    """``likelihood`` ("regression"/"classification", laplace-torch's words), ``noise`` (σ) and
    ``prior_precision`` of a bayesjax Posterior with one Gaussian prior on every weight."""
    import bayesjax as bj

    lik = post.likelihood
    if isinstance(lik, bj.likelihoods.Gaussian):
        kind, noise = "regression", float(lik.noise)
    elif isinstance(lik, bj.likelihoods.Categorical):
        kind, noise = "classification", 1.0
    else:
        raise ValueError(f"the peer benchmark compares Gaussian and Categorical likelihoods, "
                         f"not {lik!r}")
    if not isinstance(post.prior, bj.priors.Gaussian) or float(post.prior.mean) != 0.0:
        raise ValueError(f"the peer benchmark needs one zero-mean Gaussian prior, got {post.prior!r}")
    return {"likelihood": kind, "noise": noise,
            "prior_precision": 1.0 / float(post.prior.scale) ** 2}


def export_net(path, post, params) -> Path:
    """Write ``post``'s data, settings and the weights ``params`` to ``path`` (.npz, see above)."""
    settings = settings_of(post)
    arrays = {"x": np.asarray(post.x), "y": np.asarray(post.y), "activation": np.asarray("tanh"),
              "likelihood": np.asarray(settings["likelihood"]),
              "noise": np.asarray(settings["noise"]),
              "prior_precision": np.asarray(settings["prior_precision"])}
    for i, (kernel, bias) in enumerate(layers_of(params)):
        arrays[f"kernel_{i}"], arrays[f"bias_{i}"] = kernel, bias
    path = Path(path)
    np.savez(path, **arrays)
    return path


def read_npz(path) -> dict:
    """The arrays of an exported net as a dict, with ``layers`` = [(kernel, bias), ...]."""
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    n = sum(1 for k in data if k.startswith("kernel_"))
    data["layers"] = [(data.pop(f"kernel_{i}"), data.pop(f"bias_{i}")) for i in range(n)]
    return data


def posterior_from_layers(layers, x, y, likelihood: str, noise: float, prior_precision: float,
                          dtype=np.float32):
    """``(Posterior, params)`` for a tanh MLP with the given dense ``layers`` and data, in
    ``dtype`` (call under ``jax.enable_x64(True)`` for float64)."""
    import jax
    from flax import nnx

    import bayesjax as bj
    from experiments.common.models import MLP

    sizes = (layers[0][0].shape[0], *(kernel.shape[1] for kernel, _ in layers))
    lik = (bj.likelihoods.Gaussian(float(noise)) if str(likelihood) == "regression"
           else bj.likelihoods.Categorical())
    x = jnp.asarray(x, dtype)
    y = jnp.asarray(y, dtype) if str(likelihood) == "regression" else jnp.asarray(y, jnp.int32)
    model = MLP(sizes, jnp.tanh, nnx.Rngs(0))
    template = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    params = params_from_layers(template, layers, dtype)
    nnx.update(model, params)
    post = bj.Posterior(model, lik, bj.priors.Gaussian(float(prior_precision) ** -0.5), x, y)
    return post, jax.tree.map(jnp.asarray, post.params)


def import_net(path, dtype=np.float32):
    """``(Posterior, params)`` rebuilt from an exported ``.npz`` in ``dtype``."""
    d = read_npz(path)
    return posterior_from_layers(d["layers"], d["x"], d["y"], str(d["likelihood"]),
                                 float(d["noise"]), float(d["prior_precision"]), dtype)


def build(spec: NetSpec):
    """``(Posterior, params)`` of ``spec`` at its MAP, from ``benchmarks/bench_laplace.py``."""
    from benchmarks.bench_laplace import digits_posterior, toy_posterior

    return toy_posterior() if spec.sizes == (1, 16, 16, 1) else digits_posterior(spec.sizes)
