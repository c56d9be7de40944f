"""``python -m benchmarks.peers --write-reference``: laplace-torch's float64 evidences on two small
fixed nets, stored with the nets' weights and data in ``tests/data/laplace_torch_reference.json``,
so that ``make test`` (which has no torch) still checks bayesjax against laplace-torch
(``tests/bayesjax/test_laplace_reference.py``).

The nets, at their bayesjax float32 MAP (the weights are then stored exactly, as float64 numbers):
the 1-16-16-1 tanh regression MLP of ``benchmarks/bench_laplace.py`` (64 points, Gaussian noise
σ = 0.1, prior precision 1) and a 13-8-3 tanh classifier on 60 wine rows (the first 20 of each
class under the suite's standardisation, ``experiments.common.data.load("wine")``), prior precision
1. Structures ``full``, ``diag`` and — when ``bj.laplace`` has ``kfac_bias="separate"``,
laplace-torch's convention — ``kfac`` (laplace-torch's ``"kron"``), each at the stored prior and on
a few grid points ``la.log_marginal_likelihood(prior_precision=c)``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "data" / "laplace_torch_reference.json"
GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def _wine_posterior():
    import jax
    import jax.numpy as jnp
    from flax import nnx

    import bayesjax as bj
    from experiments.common.data import load
    from experiments.common.models import MLP

    d = load("wine", test_fraction=0.0)
    idx = np.concatenate([np.flatnonzero(d.y_train == c)[:20] for c in range(3)])
    post = bj.Posterior(MLP((13, 8, 3), jnp.tanh, nnx.Rngs(0)), bj.likelihoods.Categorical(),
                        bj.priors.Gaussian(1.0), d.x_train[idx], d.y_train[idx])
    return post, bj.fit_map(jax.random.key(0), post, num_steps=1000, learning_rate=1e-2).params


def _entry(name: str, post, params, structures) -> dict:
    from benchmarks.peers import nets

    y = np.asarray(post.y)
    entry = {"name": name, **nets.settings_of(post),
             "layers": [{"kernel": np.asarray(k, np.float64).tolist(),
                         "bias": np.asarray(b, np.float64).tolist()}
                        for k, b in nets.layers_of(params)],
             "x": np.asarray(post.x, np.float64).tolist(),
             "y": (y.astype(np.float64) if y.dtype.kind == "f" else y.astype(int)).tolist(),
             "structures": list(structures), "grid": GRID}
    if "kfac" in structures:
        entry["kfac_bias"] = "separate"
    return entry


def write_reference(peers_py: Path, torch_script: Path, path: Path = REFERENCE) -> dict:
    """Build the two nets, have laplace-torch (``peers_py torch_script --reference``) evaluate them
    in float64, and write the file; prints bayesjax's float64 values beside laplace-torch's."""
    from benchmarks.bench_laplace import toy_posterior
    from benchmarks.peers.bayesjax_side import has_separate_bias

    structures = ("full", "diag", "kfac") if has_separate_bias() else ("full", "diag")
    toy = toy_posterior()
    ref = {"about": ("laplace-torch's float64 log marginal likelihoods (nats) of two fixed tanh "
                     "MLPs; written by `python -m benchmarks.peers --write-reference`, read by "
                     "tests/bayesjax/test_laplace_reference.py. Kernels are (in, out) (flax "
                     "layout; torch's nn.Linear.weight is the transpose)."),
           "nets": [_entry("toy 1-16-16-1 regression", *toy, structures),
                    _entry("wine 13-8-3 classifier, 60 rows", *_wine_posterior(), structures)]}
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(ref))
        subprocess.run([str(peers_py), str(torch_script), "--reference", str(src), str(dst)],
                       check=True)
        out = json.loads(dst.read_text())
        versions = subprocess.run([str(peers_py), str(torch_script), "--versions"], check=True,
                                  capture_output=True, text=True).stdout
    out["laplace_torch"] = json.loads(versions.strip().splitlines()[-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(out, indent=1) + "\n")
    tmp_path.replace(path)
    _compare(out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    return out


def _compare(ref: dict) -> None:
    """Print bayesjax's float64 evidence beside laplace-torch's for every stored case."""
    import jax

    import bayesjax as bj
    from benchmarks.peers import nets

    with jax.enable_x64(True):
        for net in ref["nets"]:
            layers = [(np.asarray(layer["kernel"]), np.asarray(layer["bias"]))
                      for layer in net["layers"]]
            post, params = nets.posterior_from_layers(layers, net["x"], net["y"],
                                                      net["likelihood"], net["noise"],
                                                      net["prior_precision"], np.float64)
            for s, theirs in net["laplace_torch"].items():
                kw = {"kfac_bias": "separate"} if s == "kfac" else {}
                lap = bj.laplace(post, params, structure=s, **kw)
                ours = float(lap.log_marginal_likelihood())
                grid = np.asarray(lap.log_marginal_likelihood_grid(np.asarray(net["grid"])))
                print(f"  {net['name']}, {s}: bayesjax {ours:.10f}, laplace-torch "
                      f"{theirs['log_marginal_likelihood']:.10f}, |diff| "
                      f"{abs(ours - theirs['log_marginal_likelihood']):.2e}; grid max |diff| "
                      f"{np.max(np.abs(grid - np.asarray(theirs['grid']))):.2e}")
