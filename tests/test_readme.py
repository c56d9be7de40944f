"""The README's code runs as written (with data supplied for the names it leaves open)."""

import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tour_runs():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(40, 1)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=40)).astype(np.float32)

    def apply_fn(p, xs):
        return xs @ p["w"] + p["b"]

    ns = {"x": x, "y": (y > 0).astype(np.float32), "apply_fn": apply_fn,
          "params": {"w": jnp.zeros((1,)), "b": jnp.zeros(())}}
    tour = _python_blocks()[0]
    # the tour's regression lines use the float targets; the last line a Bernoulli model
    exec(compile(tour.replace("x, y)   # noise", "x, yreg)   # noise"), "README", "exec"),
         {**ns, "yreg": y})


def test_readme_user_loop_snippet_runs():
    from flax import nnx

    import bayesjax as bj

    snippet = _python_blocks()[1]
    model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    ns = {"jnp": jnp, "nnx": nnx, "x": np.ones((5, 1), np.float32), "y": np.ones(5, np.float32),
          "noise": 0.5, "N": 5, "prior": bj.priors.Gaussian(1.0)}
    exec(compile(snippet, "README", "exec"), ns)
    assert np.isfinite(float(ns["loss_fn"](model)))
