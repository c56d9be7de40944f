"""``make bench-peers`` without torch: the bayesjax side's weight export/import round-trips, the
torch script imports no JAX, the FLOP model and the table builder say what they should.
(The benchmark itself needs ``.venv-peers`` and is not part of ``make test``.)"""

import ast
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj
from benchmarks.peers import nets, table
from benchmarks.peers.__main__ import TORCH_SCRIPT, make_row, run_worker
from experiments.common.models import MLP


def _posterior(likelihood="regression"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    if likelihood == "regression":
        lik, y, out = bj.likelihoods.Gaussian(0.3), rng.normal(size=7).astype(np.float32), 1
    else:
        lik, y, out = bj.likelihoods.Categorical(), rng.integers(0, 4, 7).astype(np.int32), 4
    return bj.Posterior(MLP((3, 5, out), jnp.tanh, nnx.Rngs(1)), lik, bj.priors.Gaussian(0.5), x, y)


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_export_import_round_trips(tmp_path, likelihood):
    post = _posterior(likelihood)
    params = jax.tree.map(lambda a: a + 0.25, post.params)     # not the initial weights
    path = nets.export_net(tmp_path / "net.npz", post, params)
    back, back_params = nets.import_net(path)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back_params), strict=True):
        assert a.dtype == b.dtype == jnp.float32 and np.array_equal(a, b)
    np.testing.assert_array_equal(back.x, post.x)
    np.testing.assert_array_equal(back.y, post.y)
    assert float(back.log_joint(back_params)) == float(post.log_joint(params))
    d = nets.read_npz(path)
    assert str(d["likelihood"]) == likelihood and float(d["prior_precision"]) == 4.0
    assert [k.shape for k, _ in d["layers"]] == [(3, 5), (5, post.predict(params).shape[-1])]


def test_import_in_float64_keeps_the_float32_numbers(tmp_path, x64):
    post = _posterior()
    path = nets.export_net(tmp_path / "net.npz", post, post.params)
    back, params64 = nets.import_net(path, np.float64)
    assert {a.dtype for a in jax.tree.leaves(params64)} == {jnp.dtype("float64")}
    assert back.x.dtype == jnp.float64
    for a, b in zip(jax.tree.leaves(post.params), jax.tree.leaves(params64), strict=True):
        np.testing.assert_array_equal(np.asarray(a, np.float64), b)


def test_params_from_layers_refuses_a_transposed_kernel():
    post = _posterior()
    layers = nets.layers_of(post.params)
    with pytest.raises(ValueError, match="layers.0.kernel"):
        nets.params_from_layers(post.params, [(layers[0][0].T, layers[0][1]), layers[1]])
    with pytest.raises(ValueError, match="dense layers"):
        nets.params_from_layers(post.params, layers[:1])


def test_export_refuses_what_laplace_torch_cannot_compare(tmp_path):
    post = _posterior().replace(prior=bj.priors.Laplace(1.0))
    with pytest.raises(ValueError, match="Gaussian prior"):
        nets.export_net(tmp_path / "net.npz", post, post.params)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_torch_script_imports_neither_jax_nor_bayesjax():
    names = _imports(TORCH_SCRIPT)
    assert {"torch", "laplace", "numpy"} <= names
    assert not names & {"jax", "jaxlib", "flax", "optax", "bayesjax", "benchmarks", "experiments"}


def test_flop_model():
    big = [(64, 400), (400, 200), (200, 10)]
    assert table.num_params(big) == 108_210
    n, k, p = 64, 1, 321
    toy = [(1, 16), (16, 16), (16, 1)]
    assert table.flops("full", n, k, toy) == n * k * 4 * p + n * k * p**2 + p**3 / 3
    assert table.flops("diag", n, k, toy) == n * k * 6 * p
    assert table.flops("grid", n, k, toy) == 50 * 3 * p
    kfac = table.flops("kfac", n, k, toy)
    assert kfac == (n * k * 2 * p + n * (2**2 + 17**2 + 17**2) + n * k * (16**2 + 16**2 + 1)
                    + 9 * (2**3 + 16**3 + 17**3 + 16**3 + 17**3 + 1))
    # the 108k net: a full GGN costs far more than its diagonal (why it is not attempted)
    assert table.flops("full", 1797, 10, big) > 1e4 * table.flops("diag", 1797, 10, big)
    with pytest.raises(ValueError, match="unknown structure"):
        table.flops("lowrank", n, k, toy)


def test_diffs_say_where_values_are_nan():
    assert table.max_abs_diff([1.0, 2.0], [1.5, 2.0]) == 0.5
    assert table.max_abs_diff(None, [1.0]) is None
    assert table.describe_diff([1.0, float("nan"), 3.0], [1.0, 2.0, 5.0]) == "1/3 nan, 2.0e+00 elsewhere"
    assert np.isnan(table.describe_diff(float("nan"), 1.0))
    with pytest.raises(ValueError):
        table.max_abs_diff([1.0], [1.0, 2.0])


def _sides():
    bj_res = {"logml32": -10.0, "logml64": -10.001, "cold_s": 2.0, "warm_s": 0.01, "repeats": 5}
    th_res = {"logml32": -10.5, "logml64": -10.5, "cold_s": 3.0, "warm_s": 0.04, "repeats": 5,
              "batch_size": 64}
    return bj_res, th_res


def test_rows_and_table():
    bj_res, th_res = _sides()
    toy = [(1, 16), (16, 16), (16, 1)]
    full = make_row("toy", "full", 64, 1, toy, bj_res, th_res, rate=1e11)
    assert full["P"] == 321 and full["limit_s"] == table.flops("full", 64, 1, toy) / 1e11
    assert full["bayesjax_f32_err"] == pytest.approx(1e-3)
    assert full["f64_agreement"] == pytest.approx(0.499)
    kfac = make_row("toy", "kfac", 64, 1, toy, bj_res, th_res, rate=1e11)
    assert kfac["f64_agreement"] == "n/a (convention)"
    sep = make_row("toy", "kfac", 64, 1, toy, {**bj_res, "logml64_separate_bias": -10.5},
                   th_res, rate=1e11)
    assert sep["f64_agreement"] == 0.0
    oom = make_row("big", "diag", 64, 1, toy, bj_res, {"error": "out of memory"}, rate=1e11)
    md = table.markdown([full, kfac, oom]).splitlines()
    assert md[0].startswith("| net | P | structure |") and len(md) == 5
    cells = [c.strip() for c in md[2].strip("|").split("|")]
    assert cells[:6] == ["toy", "321", "full", "10", "40", "4"]
    assert "n/a (convention)" in md[3] and md[4].count("out of memory") == 2


def test_worker_failures_become_errors():
    ok = run_worker([sys.executable, "-c", "print('noise'); print('{\"a\": 1}')"])
    assert ok == {"a": 1}
    assert run_worker([sys.executable, "-c", "raise MemoryError"])["error"] == "out of memory"
    failed = run_worker([sys.executable, "-c", "raise SystemExit('boom')"])
    assert failed["error"] == "failed: boom"
    assert run_worker([sys.executable, "-c", "import time; time.sleep(5)"],
                      timeout=0.5)["error"].startswith("timeout")


def test_best_of_stops_once_the_budget_is_spent():
    from benchmarks.peers.torch_side import best_of

    calls = []
    best, n = best_of(lambda: calls.append(1), repeats=5, budget=1e9)
    assert n == len(calls) == 5 and best >= 0
    calls.clear()
    _, n = best_of(lambda: calls.append(1), repeats=5, budget=0.0)
    assert n == len(calls) == 1          # the first call always runs
