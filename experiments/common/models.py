"""The small Flax NNX networks that two or more experiments (and the benchmarks) share."""

from __future__ import annotations

from collections.abc import Callable

from flax import nnx


class MLP(nnx.Module):
    """Dense layers ``sizes[0] → … → sizes[-1]`` with ``activation`` after every layer but the last.

    Parameters are named ``layers.<i>.kernel`` / ``layers.<i>.bias`` (the paths that
    ``bj.priors.ByPath`` and NumPyro use); the layers are initialised in order from ``rngs``.
    """

    def __init__(self, sizes: tuple[int, ...], activation: Callable, rngs: nnx.Rngs):
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got sizes={sizes}")
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs)
                                for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.activation = activation

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)
