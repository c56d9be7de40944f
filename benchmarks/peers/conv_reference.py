"""``python -m benchmarks.peers.conv_reference``: laplace-torch's float64 KronLaplace evidence of a small
digits CNN, stored with the net's weights and data in ``tests/data/laplace_torch_conv_reference.json``
for ``tests/bayesjax/test_kfac_conv.py`` (which has no torch).

The net: 8×8 image → Conv 3×3, stride 2, VALID, 4 channels (9 output positions) → tanh → flatten
(channels last, as flax does) → Linear 36 → 10; P = 410, at a bayesjax float32 MAP on the first 100
digits (pixels / 16), prior precision 1. laplace-torch (its default backend, curvlinops'
KFAC-expand, a kernel and a bias block per layer) gets the same weights: flax's conv kernel
(kh, kw, in, out) is torch's ``Conv2d.weight`` (out, in, kh, kw) transposed, the image is unflattened
to (1, 8, 8) and the conv output permuted to channels-last before the flatten. Run with the project's
Python; it runs this file again under ``.venv-peers/bin/python --torch IN OUT`` for the torch side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "laplace_torch_conv_reference.json"
GRID = [0.1, 1.0, 10.0]
N, CHANNELS = 100, 4


def _bayesjax_net() -> dict:
    import jax
    import jax.numpy as jnp
    from flax import nnx
    from sklearn.datasets import load_digits

    import bayesjax as bj

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.conv = nnx.Conv(1, CHANNELS, (3, 3), strides=2, padding="VALID", rngs=rngs)
            self.out = nnx.Linear(9 * CHANNELS, 10, rngs=rngs)

        def __call__(self, x):
            h = jnp.tanh(self.conv(x.reshape(x.shape[:-1] + (8, 8, 1))))
            return self.out(h.reshape(h.shape[:-3] + (-1,)))

    d = load_digits()
    x, y = (d.data[:N] / 16.0).astype(np.float32), d.target[:N]
    post = bj.Posterior(CNN(nnx.Rngs(0)), bj.likelihoods.Categorical(), bj.priors.Gaussian(1.0), x, y)
    p = bj.fit_map(jax.random.key(0), post, num_steps=1000, learning_rate=1e-2).params
    return {"about": ("laplace-torch's float64 KronLaplace log marginal likelihood (nats) of a digits "
                      "CNN; written by `python -m benchmarks.peers.conv_reference`, read by "
                      "tests/bayesjax/test_kfac_conv.py. Kernels in flax's layout: conv (kh, kw, in, "
                      "out), linear (in, out)."),
            "channels": CHANNELS, "prior_precision": 1.0, "grid": GRID,
            **{f"{layer}_{name}": np.asarray(p[layer][name], np.float64).tolist()
               for layer in ("conv", "out") for name in ("kernel", "bias")},
            "x": x.astype(np.float64).tolist(), "y": y.astype(int).tolist()}


def _torch_side(path_in: str, path_out: str) -> None:
    import importlib.metadata as md

    import torch
    from laplace import Laplace
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_default_dtype(torch.float64)
    ref = json.loads(Path(path_in).read_text())

    class ChannelsLastFlatten(nn.Module):
        def forward(self, h):
            return h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)

    conv, out = nn.Conv2d(1, ref["channels"], 3, stride=2), nn.Linear(9 * ref["channels"], 10)
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(np.asarray(ref["conv_kernel"]).transpose(3, 2, 0, 1).copy()))
        conv.bias.copy_(torch.as_tensor(ref["conv_bias"]))
        out.weight.copy_(torch.as_tensor(np.asarray(ref["out_kernel"]).T.copy()))
        out.bias.copy_(torch.as_tensor(ref["out_bias"]))
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), conv, nn.Tanh(), ChannelsLastFlatten(), out)
    x, y = torch.as_tensor(ref["x"]), torch.as_tensor(ref["y"], dtype=torch.long)
    la = Laplace(model, "classification", subset_of_weights="all", hessian_structure="kron",
                 prior_precision=ref["prior_precision"])
    la.fit(DataLoader(TensorDataset(x, y), batch_size=len(y)))
    ref["laplace_torch"] = {
        "log_marginal_likelihood": float(la.log_marginal_likelihood()),
        "grid": [float(la.log_marginal_likelihood(prior_precision=c)) for c in ref["grid"]],
        "versions": {p: md.version(p) for p in ("torch", "laplace-torch", "curvlinops-for-pytorch")}}
    Path(path_out).write_text(json.dumps(ref))


def write_reference(peers_py: Path = ROOT / ".venv-peers" / "bin" / "python") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(_bayesjax_net()))
        subprocess.run([str(peers_py), __file__, "--torch", str(src), str(dst)], check=True)
        ref = json.loads(dst.read_text())
    tmp_path = REFERENCE.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(ref, indent=1) + "\n")
    tmp_path.replace(REFERENCE)
    print(f"wrote {REFERENCE}: laplace-torch {ref['laplace_torch']['log_marginal_likelihood']:.10f} nats")
    return ref


if __name__ == "__main__":
    if sys.argv[1:2] == ["--torch"]:
        _torch_side(*sys.argv[2:4])
    else:
        write_reference()
