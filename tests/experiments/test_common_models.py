"""The experiments' shared MLP."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments.common.models import MLP


def test_mlp_shapes_paths_and_activation():
    model = MLP((3, 5, 2), jnp.tanh, nnx.Rngs(0))
    _, params = nnx.split(model, nnx.Param)
    shapes = {k: tuple(v.shape) for k, v in nnx.to_flat_state(params)}
    assert shapes == {("layers", 0, "kernel"): (3, 5), ("layers", 0, "bias"): (5,),
                      ("layers", 1, "kernel"): (5, 2), ("layers", 1, "bias"): (2,)}
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    w0, b0, w1, b1 = (np.asarray(getattr(layer, k)[...])
                      for layer in model.layers for k in ("kernel", "bias"))
    expected = np.tanh(x @ w0 + b0[None]) @ w1 + b1[None]
    np.testing.assert_allclose(model(x), expected, rtol=1e-6)


def test_mlp_rejects_too_few_sizes():
    with pytest.raises(ValueError, match="sizes"):
        MLP((3,), jnp.tanh, nnx.Rngs(0))
