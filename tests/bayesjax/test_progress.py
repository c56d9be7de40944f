"""bayesjax.progress: a tqdm bar on long scans that changes no result, is silent under CI, is one bar
per run under vmap, and leaves no callback in the program when off."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tqdm

import bayesjax as bj
from bayesjax import progress
from bayesjax.sgmcmc import _run

rng = np.random.default_rng(0)
N = 40
Y = (1.0 + rng.normal(size=N)).astype(np.float32)


def _post(y=Y):
    return bj.Posterior.from_apply(lambda p, x: jnp.broadcast_to(p["mu"], x.shape[:1]),
                                   {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(1.0),
                                   bj.priors.Gaussian(1.0), np.zeros((y.shape[0], 1), np.float32), y)


def _same(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(np.array_equal(np.asarray(u), np.asarray(v))
                                      for u, v in zip(la, lb, strict=True))


@pytest.fixture
def bars(monkeypatch):
    """Bars are on (``CI`` unset); returns the list of tqdm bars each run opens."""
    monkeypatch.delenv("CI", raising=False)
    opened = []

    class Counting(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Counting)
    return opened


def _body(c, x):
    c = 0.9 * c + jnp.sin(x)
    return c, (c * c, x + 1.0)


@pytest.mark.parametrize("n, reverse", [(1009, False), (1009, True), (600, True)])
def test_scan_is_bitwise_lax_scan(bars, n, reverse):
    """1009 is prime (a remainder before the chunks), 600 = 100 chunks of 6."""
    xs = jnp.linspace(-1.0, 1.0, n, dtype=jnp.float32)
    want = jax.jit(lambda xs: jax.lax.scan(_body, jnp.float32(0.5), xs, reverse=reverse))(xs)
    got = jax.jit(lambda xs: progress.scan(_body, jnp.float32(0.5), xs, label="t",
                                           reverse=reverse))(xs)
    assert _same(want, got)
    assert len(bars) == 1 and bars[0].n == bars[0].total == n   # opened once, ran to the end
    no_xs = progress.scan(lambda c, _: (c + 1, None), jnp.int32(0), length=7, label="len")
    assert int(no_xs[0]) == 7 and no_xs[1] is None


def test_sgld_bar_on_stderr_same_samples_and_no_recompile_on_a_second_call(bars, capfd):
    post = _post()
    kw = dict(step_size=1e-3, num_steps=300, thin=3)
    on = bj.sgld(jax.random.key(0), post, **kw)
    err = capfd.readouterr().err
    assert "sgld" in err and "300/300" in err
    before = _run._cache_size()
    bj.sgld(jax.random.key(1), post, **kw)
    assert _run._cache_size() == before
    assert [b.n for b in bars] == [300, 300]
    assert _same(on, bj.sgld(jax.random.key(0), post, progress_bar=False, **kw))


def test_silent_under_ci_with_no_callback_in_the_program(monkeypatch, capfd):
    monkeypatch.setenv("CI", "1")
    assert progress.active(True, owner="sgld") is False
    xs = jnp.ones(500)

    def program(enabled):
        f = jax.jit(lambda xs: progress.scan(_body, 0.0, xs, label="t", enabled=enabled))
        f(xs)
        return f.lower(xs).as_text()

    assert "callback" not in program(True)               # CI=1
    assert capfd.readouterr().err == ""
    monkeypatch.delenv("CI")
    assert "callback" not in program(False)
    assert capfd.readouterr().err == ""
    assert "callback" in program(True)
    assert "t: 100%" in capfd.readouterr().err


def test_one_bar_per_run_under_vmap_and_jit_with_identical_results(bars, capfd):
    xs = jnp.linspace(0.0, 1.0, 5 * 700, dtype=jnp.float32).reshape(5, 700)   # 5 batch elements

    def chains(scan):
        return jax.jit(jax.vmap(lambda c, x: scan(_body, c, x)))(jnp.arange(5.0), xs)

    assert _same(chains(functools.partial(progress.scan, label="chains")), chains(jax.lax.scan))
    assert len(bars) == 1 and bars[0].n == 700

    ys = np.stack([Y, Y + 1.0, Y - 1.0])     # fit_map stays vmappable over data sets

    def fits(bar):
        return jax.vmap(lambda y: bj.fit_map(jax.random.key(0), _post(y), num_steps=100,
                                             progress_bar=bar))(ys)

    assert _same(fits(True), fits(False))
    assert len(bars) == 2 and bars[1].n == 100
    assert "fit_map" in capfd.readouterr().err


@pytest.mark.parametrize("value", [1, "yes", None, np.bool_(True)])
def test_bad_progress_bar_type_raises(value):
    post = _post()
    calls = {"sgld": lambda: bj.sgld(jax.random.key(0), post, step_size=1e-3, num_steps=10,
                                     progress_bar=value),
             "sgd_iterates": lambda: bj.sgd_iterates(jax.random.key(0), post, learning_rate=0.1,
                                                     num_steps=10, batch_size=5,
                                                     progress_bar=value),
             "fit_map": lambda: bj.fit_map(jax.random.key(0), post, num_steps=10,
                                           progress_bar=value)}
    for name, call in calls.items():
        with pytest.raises(TypeError, match=f"{name}: progress_bar must be a bool"):
            call()


def test_inside_shard_map_one_device_reports(bars):
    """Every device runs a shard_map's loop; only the first one's reports reach the bar."""
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("chain",))
    spec = jax.sharding.PartitionSpec("chain")
    xs = jnp.linspace(0.0, 1.0, 300, dtype=jnp.float32)

    def run(scan):
        return jax.jit(jax.shard_map(jax.vmap(lambda c: scan(c)), mesh=mesh, in_specs=(spec,),
                                     out_specs=spec))(jnp.arange(2.0, dtype=jnp.float32))

    got = run(lambda c: progress.scan(_body, c, xs, label="shard"))
    assert _same(got, run(lambda c: jax.lax.scan(_body, c, xs)))
    assert len(bars) == 1 and bars[0].n == 300


def test_lead_false_runs_report_nothing(bars):
    """``lead``: one program run by several host threads (``bayesjax.chains``) shows only the
    leading run's bar; the results do not depend on it."""
    xs = jnp.linspace(-1.0, 1.0, 300, dtype=jnp.float32)
    run = jax.jit(lambda xs, lead: progress.scan(_body, jnp.float32(0.5), xs, label="t", lead=lead))
    quiet, loud = run(xs, jnp.asarray(False)), run(xs, jnp.asarray(True))
    assert _same(quiet, loud)
    assert len(bars) == 1 and bars[0].n == 300
    with pytest.raises(ValueError, match="lead must be a boolean scalar"):
        progress.scan(_body, jnp.float32(0.5), xs, label="t", lead=jnp.ones(2, bool))
