"""``common.sweep.sharded_vmap``: equal to ``jax.vmap``, compiled once, clear errors; on two
simulated host devices (a subprocess: XLA_FLAGS must be set before JAX starts) the sweep is split
across them, padded when the batch is odd, and still equals the unsharded vmap."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.common.sweep import CHUNK_BYTES, batch_size_for, sharded_vmap


def _item(key, w, x):
    """One item of a sweep: a draw, a matmul, a reduction, a pytree output."""
    z = x @ w + jax.random.normal(key, x.shape[:1])
    return {"z": z, "norm": jnp.sqrt(jnp.sum(z * z))}


@jax.jit
def _descent(w0, x):
    """Three gradient steps from a replicated start on batched data (the shape of ``bj.fit_map``:
    a scan under a jit whose carry starts replicated)."""

    def step(w, _):
        return w - 0.1 * jax.grad(lambda v: jnp.sum((x - v) ** 2))(w), None

    return jax.lax.scan(step, w0, None, length=3)[0]


def _fit_item(w0, x):
    return _descent(w0, x[0])


def _args(n):
    x = np.random.default_rng(0).normal(size=(n, 6, 3)).astype(np.float32)
    return jax.random.split(jax.random.key(1), n), jnp.arange(3.0), x


def test_one_device_equals_vmap_and_compiles_once():
    f = sharded_vmap(_item, in_axes=(0, None, 0))
    ref = jax.vmap(_item, in_axes=(0, None, 0))(*_args(5))
    for _ in range(2):
        out = f(*_args(5))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), out, ref)
    assert f.cache_size() == 1
    assert f(*_args(4))["z"].shape == (4, 6)
    assert f.cache_size() == 2


def test_batch_size_runs_chunks_with_the_same_numbers():
    """``batch_size=k``: a ``lax.map`` over chunks of k items (a remainder chunk when k does not
    divide the batch) equals the one-shot vmap; ``batch_size_for`` counts the batched bytes."""
    ref = jax.vmap(_item, in_axes=(0, None, 0))(*_args(5))
    for k in (1, 2, 3, 4, 5, 9):      # 4: chunks of 3 + 3, the last item repeated once
        out = sharded_vmap(_item, in_axes=(0, None, 0), batch_size=k)(*_args(5))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), out, ref)
    key, w, x = _args(5)          # one item: a key (8 bytes of key data) and 6 x 3 float32
    assert batch_size_for(key, w, x, in_axes=(0, None, 0), target_bytes=80) == 80 // (8 + 72)
    assert batch_size_for(key, w, x, in_axes=(0, None, 0), target_bytes=10) == 1
    assert batch_size_for(x) == CHUNK_BYTES // 72
    with pytest.raises(ValueError, match="batch_size must be None or an int >= 1"):
        sharded_vmap(_item, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be None or an int >= 1"):
        sharded_vmap(_item, batch_size=2.0)
    with pytest.raises(ValueError, match="target_bytes must be a positive int"):
        batch_size_for(x, target_bytes=0)
    with pytest.raises(ValueError, match="in_axes has 2 entries but 1 arguments"):
        batch_size_for(x, in_axes=(0, None))
    with pytest.raises(ValueError, match="batch_size_for: .* is a scalar"):
        batch_size_for(np.float32(1.0))
    assert batch_size_for(x, target_bytes=np.int64(144)) == 2


def test_batched_lapack_is_found_in_nested_jaxprs():
    """The deadlock guard (see sweep.py) looks for LAPACK calls on a batch of matrices, through
    inner jits and scans; a factorisation shared by the whole sweep is not batched."""
    from experiments.common.sweep import _batched_lapack

    def nested(a):
        return jax.lax.scan(lambda c, _: (jax.jit(jnp.linalg.cholesky)(c), None), a, None, length=2)[0]

    eye = jnp.eye(3) * 2.0
    found = {name: _batched_lapack(jax.make_jaxpr(jax.vmap(f, in_axes=ax))(*args).jaxpr)
             for name, f, ax, args in [
                 ("nested", nested, 0, (jnp.stack([eye] * 4),)),
                 ("shared", lambda a, b: jnp.linalg.cholesky(a) @ b, (None, 0), (eye, jnp.ones((4, 3)))),
                 ("eigh", lambda a: jnp.linalg.eigh(a)[0], 0, (jnp.stack([eye] * 4),))]}
    assert found == {"nested": "cholesky", "shared": None, "eigh": "eigh"}


def test_bad_sweeps_are_refused():
    f = sharded_vmap(_item, in_axes=(0, None, 0))
    key, w, x = _args(4)
    with pytest.raises(ValueError, match="different sizes.*has 4.*has 3"):
        f(key, w, x[:3])
    with pytest.raises(ValueError, match="sweep axis is empty"):
        f(key[:0], w, x[:0])
    with pytest.raises(ValueError, match="in_axes has 3 entries but the call passes 2"):
        f(key, w)
    with pytest.raises(ValueError, match="is a scalar"):
        sharded_vmap(lambda a, b: a * b)(jnp.ones(3), 2.0)
    with pytest.raises(ValueError, match="devices is empty"):
        sharded_vmap(_item, devices=[])
    with pytest.raises(TypeError, match="jax.Device"):
        sharded_vmap(_item, devices=["cpu:0"])
    with pytest.raises(ValueError, match="in_axes must be"):
        sharded_vmap(_item, in_axes=1)
    with pytest.raises(TypeError, match="callable"):
        sharded_vmap(3)


_TWO_DEVICES = textwrap.dedent("""
    import os, warnings
    import jax, numpy as np
    from experiments.common.sweep import sharded_vmap
    from tests.experiments.test_sweep import _args, _fit_item, _item
    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert len(jax.devices()) == 2
    f = sharded_vmap(_item, in_axes=(0, None, 0))
    for n in (5, 5, 8):                       # odd: padded to 6 and stripped; even: no padding
        out, ref = f(*_args(n)), jax.vmap(_item, in_axes=(0, None, 0))(*_args(n))
        assert out["z"].shape == (n, 6) and len(out["z"].sharding.device_set) == 2
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), out, ref)
    assert f.cache_size() == 2, f.cache_size()
    chunked = sharded_vmap(_item, in_axes=(0, None, 0), batch_size=2)   # 3 per device: 2 + 1
    key, w, x = _args(5)
    out = chunked(key, jax.numpy.asarray(w), jax.numpy.asarray(x))       # jax arrays: host views
    np.testing.assert_allclose(out["z"], jax.vmap(_item, in_axes=(0, None, 0))(key, w, x)["z"],
                               rtol=1e-6, atol=1e-6)
    assert len(out["z"].sharding.device_set) == 2
    one = sharded_vmap(_item, in_axes=(0, None, 0), devices=jax.devices()[:1])
    np.testing.assert_allclose(one(*_args(5))["z"], f(*_args(5))["z"], rtol=1e-6, atol=1e-6)
    w0, x = jax.numpy.zeros(3), _args(5)[2]   # a replicated scan start (see sweep.py)
    np.testing.assert_allclose(sharded_vmap(_fit_item, in_axes=(None, 0))(w0, x),
                               jax.vmap(_fit_item, in_axes=(None, 0))(w0, x), rtol=1e-6, atol=1e-6)
    # batched LAPACK with as many devices as cores: one device and a warning, not a deadlock
    os.sched_getaffinity = lambda pid: {0, 1}
    chol = sharded_vmap(jax.numpy.linalg.cholesky)
    a = np.eye(3) * np.arange(1.0, 6.0)[:, None, None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(chol(a), np.sqrt(a), rtol=1e-6)
    assert any("deadlock" in str(w.message) for w in caught), caught
    print("ok")
""")


def test_two_simulated_devices_split_the_sweep_and_agree_with_vmap():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "CI": "1"}
    out = subprocess.run([sys.executable, "-c", _TWO_DEVICES], env=env, capture_output=True,
                         text=True, timeout=300, cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
