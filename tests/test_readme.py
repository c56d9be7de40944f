"""The README's code runs as written (with data supplied for the names it leaves open)."""

import re
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tour_runs(tmp_path, monkeypatch):
    from flax import nnx

    import bayesjax as bj

    monkeypatch.chdir(tmp_path)                      # bj.save("lap.npz", ...) writes here
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(40, 1)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=40)).astype(np.float32)

    def apply_fn(p, xs):
        return xs @ p["w"] + p["b"]

    ns = {"x": x, "y": (y > 0).astype(np.float32), "apply_fn": apply_fn, "yreg": y,
          "params": {"w": jnp.zeros((1,)), "b": jnp.zeros(())}, "jnp": jnp,
          "x_test": np.linspace(-4, 4, 9, dtype=np.float32)[:, None],
          # the names the Laplace tour leaves open: a 3-class classifier and a net of 2 outputs
          "post_c": bj.Posterior(nnx.Linear(1, 3, rngs=nnx.Rngs(2)), bj.likelihoods.Categorical(),
                                 bj.priors.Gaussian(1.0), x, np.digitize(x[:, 0], [-0.7, 0.7])),
          "net_2_outputs": nnx.Sequential(nnx.Linear(1, 8, rngs=nnx.Rngs(3)), nnx.tanh,
                                          nnx.Linear(8, 2, rngs=nnx.Rngs(4)))}
    tour, laplace_tour = _python_blocks()[:2]
    # the regression lines use the float targets, the tour's last line a Bernoulli model
    exec(compile(tour.replace("x, y)   # noise", "x, yreg)   # noise"), "README", "exec"), ns)
    # the same calls with fewer steps/draws, to keep the suite fast
    laplace_tour = (laplace_tour.replace("x, y)", "x, yreg)")
                    .replace("num_warmup=200, num_samples=200", "num_warmup=20, num_samples=20")
                    .replace("num_steps=2000, batch_size", "num_steps=200, batch_size")
                    .replace("post, num_steps=2000)", "post, num_steps=100)")
                    .replace("post_h, num_steps=2000)", "post_h, num_steps=200)"))
    assert laplace_tour.count("=20,") == 2 and "num_steps=200, batch_size" in laplace_tour
    assert "post, num_steps=100)" in laplace_tour and "post_h, num_steps=200)" in laplace_tour
    with warnings.catch_warnings():
        # 20 warmup steps are too few to adapt the step size, and nuts says so (divergences /
        # tree depth): that warning is the library working, not what this test checks
        warnings.filterwarnings("ignore", message="nuts: ", category=RuntimeWarning)
        exec(compile(laplace_tour, "README", "exec"), ns)
    leaves = jax.tree_util.tree_leaves(ns["mc"].samples)
    assert leaves and all(leaf.shape[:2] == (2, 20) for leaf in leaves)   # (chain, draw)
    pred = ns["lap"].predictive(ns["x_test"])          # the reloaded bj.load("lap.npz", post)
    assert pred.epistemic_var.shape == (9, 1) and bool(np.all(pred.epistemic_var > 0))
    assert (tmp_path / "lap.npz").is_file() and ns["ml"].log_marginal_likelihood.shape == (2,)


def test_readme_user_loop_snippet_runs():
    from flax import nnx

    import bayesjax as bj

    snippet = next(b for b in _python_blocks() if "def loss_fn" in b)
    model = nnx.Linear(1, 1, rngs=nnx.Rngs(0))
    ns = {"jnp": jnp, "nnx": nnx, "x": np.ones((5, 1), np.float32), "y": np.ones(5, np.float32),
          "noise": 0.5, "N": 5, "prior": bj.priors.Gaussian(1.0)}
    exec(compile(snippet, "README", "exec"), ns)
    assert np.isfinite(float(ns["loss_fn"](model)))


def test_readme_experiment_table_is_the_registry():
    """The README's table of experiments is generated from the registry, so they cannot drift."""
    import experiments

    table = experiments.table()
    assert table in README.read_text()
    for row in table.splitlines():   # three cells each: a "|" inside a claim is escaped
        assert len(re.split(r"(?<!\\)\|", row)) == 5, row
