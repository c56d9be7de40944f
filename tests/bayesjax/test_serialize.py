"""Save and load: a reloaded LaplaceResult / MCMCResult is the same pytree, bit for bit, in this
process and in a new one; a different Posterior or a bad file is refused with a clear error."""

import json
import os
import subprocess
import sys
import warnings

import jax
import numpy as np
import pytest

import bayesjax as bj
from bayesjax import serialize

# the posterior, as a user re-creates it in a new process (run here by exec, there by python -c)
SETUP = """
import jax.numpy as jnp
import numpy as np
from flax import nnx
import bayesjax as bj

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 3)).astype(np.float32)
Y = np.sin(X.sum(1)).astype(np.float32)

class MLP(nnx.Module):
    def __init__(self, rngs, hidden=5, act=jnp.tanh):
        self.act = act
        self.layers = nnx.List([nnx.Linear(3, hidden, rngs=rngs), nnx.Linear(hidden, 1, rngs=rngs)])

    def __call__(self, x):
        return self.layers[1](self.act(self.layers[0](x)))

def make_post(seed=0, noise=0.3, scale=1.0, y=Y, temperature=1.0, **kw):
    return bj.Posterior(MLP(nnx.Rngs(seed), **kw), bj.likelihoods.Gaussian(noise),
                        bj.priors.Gaussian(scale), X, y, temperature=temperature)
"""

# what a user reads off a loaded result, the samples with a fixed key (compared bitwise); the new
# process skips the Laplace GLM predictive (a second ~1 s compile per structure, and a function of
# the same stored arrays as the rest: it is compared in this process)
NUMBERS = """
def numbers(name, r, glm=True):
    key, x = jax.random.key(1), X[:5] + 0.5
    if isinstance(r, bj.LaplaceResult):
        out = {"lml": r.log_marginal_likelihood(), "mass": r.log_basin_mass,
               "draws": jax.flatten_util.ravel_pytree(r.sample(key, 3))[0]}
        if glm:
            out["pred"] = r.predictive(x).epistemic_var
    else:
        out = {"pred": r.predictive(x).epistemic_var, "draws": jax.flatten_util.ravel_pytree(r.samples)[0]}
    return {f"{name}.{k}": np.asarray(v) for k, v in out.items()}
"""
NAMES = ("full", "diag", "kfac", "nuts")

ns: dict = {}
exec(SETUP + "import jax, jax.flatten_util\n" + NUMBERS, ns)


@pytest.fixture(scope="module")
def diag_file(tmp_path_factory):
    """A cheap saved result, for the tests of what load refuses."""
    path = tmp_path_factory.mktemp("diag") / "diag.npz"
    lap = bj.laplace(ns["make_post"](), structure="diag")
    serialize.save(path, lap)
    return path, lap


def _assert_same_pytree(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)      # aux data (view, layers, ...) equal
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert type(x) is type(y) and np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(x, y, strict=True)


def test_round_trip_here_and_in_a_new_process(tmp_path):
    """full (low-rank route: H and the Cholesky factor are None), diag, kfac and a short NUTS run:
    the same pytree and the same numbers, bit for bit, here and in a new process that re-creates
    the posterior and cannot compute a curvature."""
    post = ns["make_post"]()
    results = {s: bj.laplace(post, structure=s) for s in ("full", "diag", "kfac")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # 10 draws: R̂ and depth warnings
        results["nuts"] = bj.nuts(jax.random.key(0), post, num_warmup=20, num_samples=10,
                                  num_chains=1, max_tree_depth=4, progress_bar=False)
    assert results["full"].curv.h is None and results["full"].curv.chol is None
    want = {}
    for name, r in results.items():
        serialize.save(tmp_path / f"{name}.npz", r)
        want.update(ns["numbers"](name, r))

    other = ns["make_post"](seed=7)            # other initial values: only the result's are used
    for name, r in results.items():
        loaded = serialize.load(tmp_path / f"{name}.npz", other)
        assert type(loaded) is type(r) and loaded.post is other
        _assert_same_pytree(loaded._replace(post=r.post), r)
        for k, v in ns["numbers"](name, loaded).items():
            np.testing.assert_array_equal(v, want[k], strict=True, err_msg=k)
    d = serialize.load(tmp_path / "nuts.npz", other).diagnostics
    assert d.chain_method == results["nuts"].diagnostics.chain_method
    assert d.min_ess_bulk == results["nuts"].diagnostics.min_ess_bulk

    out = tmp_path / "numbers.npz"
    script = SETUP + "import jax, jax.flatten_util\n" + NUMBERS + f"""
import bayesjax.full_curvature, bayesjax.laplace
def _no(*a, **k):
    raise AssertionError("load recomputed the curvature")
bayesjax.full_curvature.build = _no
bayesjax.laplace._kfac = bayesjax.laplace._linear_diag = bayesjax.laplace._ggn = _no
from bayesjax import serialize
post, got = make_post(), {{}}
for name in {NAMES!r}:
    got.update(numbers(name, serialize.load({str(tmp_path)!r} + "/" + name + ".npz", post), glm=False))
np.savez({str(out)!r}, **got)
"""
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, CI="1"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as got:
        assert set(got.files) == {k for k in want if k == "nuts.pred" or not k.endswith(".pred")}
        for k in got.files:
            np.testing.assert_array_equal(got[k], want[k], strict=True, err_msg=k)


@pytest.mark.parametrize("change, message", [
    (dict(y=ns["Y"] + 1.0), r"data y: same shape and dtype but different values"),
    (dict(noise=0.5), r"likelihood: saved Gaussian\(noise=0\.3\), given Gaussian\(noise=0\.5\)"),
    (dict(scale=2.0), r"prior: saved Gaussian\(scale=1\.0.*given Gaussian\(scale=2\.0"),
    (dict(temperature=2.0), r"temperature: saved 1\.0, given 2\.0"),
    (dict(hidden=6), r"parameter 'layers\.0\.kernel': saved shape \(3, 5\) float32, given shape "
                     r"\(3, 6\) float32"),
    (dict(act=jax.nn.relu), r"model gives other outputs .*max \|Δ\| = "),
])
def test_a_different_posterior_is_refused(diag_file, change, message):
    with pytest.raises(ValueError, match=message):
        serialize.load(diag_file[0], ns["make_post"](**change))


def test_bad_files_are_refused(diag_file, tmp_path):
    path, lap = diag_file
    post = lap.post
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="is not a bayesjax result file"):
        serialize.load(tmp_path / "notes.txt", post)
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="without a bayesjax header"):
        serialize.load(tmp_path / "plain.npz", post)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["__bayesjax_header__"]))
    header["version"] = 99
    arrays["__bayesjax_header__"] = np.array(json.dumps(header))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="format version 99 .* this bayesjax reads version 1"):
        serialize.load(tmp_path / "future.npz", post)
    header["version"] = 1
    header["tree"]["cls"] = "os:system"
    arrays["__bayesjax_header__"] = np.array(json.dumps(header))
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="names the class 'os:system', which is not bayesjax's"):
        serialize.load(tmp_path / "evil.npz", post)
    del header["fingerprint"]
    arrays["__bayesjax_header__"] = np.array(json.dumps(header))
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ValueError, match="incomplete bayesjax header .*fingerprint"):
        serialize.load(tmp_path / "cut.npz", post)
    with pytest.raises(TypeError, match="result must be a LaplaceResult or an MCMCResult"):
        serialize.save(tmp_path / "x.npz", post)
    with pytest.raises(TypeError, match="post must be a bayesjax.Posterior"):
        serialize.load(path, lap)


def test_write_is_atomic(diag_file, tmp_path, monkeypatch):
    lap = diag_file[1]
    path = tmp_path / "lap.npz"
    serialize.save(path, lap)
    serialize.save(path, lap)                                   # replaces it
    assert sorted(os.listdir(tmp_path)) == ["lap.npz"]
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        serialize.save(path, lap)
    assert sorted(os.listdir(tmp_path)) == ["lap.npz"] and path.read_bytes() == before
