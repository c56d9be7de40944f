r"""The hub of the library: a network as a log-density.

.. math::

    \log p(\theta \mid D) = \underbrace{\log p(D \mid \theta)}_{\texttt{log\_likelihood}}
        + \underbrace{\log p(\theta)}_{\texttt{log\_prior}} - \log p(D)

``Posterior`` holds a parameter pytree, a forward function ``apply_fn(params, x)``, a likelihood,
a prior and the data. Every method of the library (MLE, MAP, Laplace, NUTS, SGLD) reads this one
object; none re-derives the density.

Conventions: ``log_likelihood`` is the **sum** over all N points of a normalised density; a tempered
posterior divides the likelihood, never the prior: ``log_joint = log_likelihood / T + log_prior``.
A minibatch estimate is ``(N/B) · Σ_batch log p(y_i|x_i,θ) / T + log_prior``.

A ``Posterior`` is a JAX pytree (data, prior scales, likelihood noise and the initial parameters are
leaves; the forward function is static), so it can be passed to ``jax.jit``-ed code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class

from bayesjax import likelihoods as _lik
from bayesjax import priors as _priors
from bayesjax._checks import finite_array, positive_scalar

__all__ = ["Posterior"]


class _NNXApply:
    """``apply_fn(params, x)`` for a ``flax.nnx`` module whose parameters are a pure dict.

    Two instances built from modules with the same graph (and no non-parameter state) compare
    equal, so Posteriors of the same architecture share compiled code.
    """

    def __init__(self, graphdef, rest):
        self.graphdef = graphdef
        self.rest = rest
        self._stateless = len(jax.tree.leaves(rest)) == 0
        self._hash = hash(self._key())   # hashing a graphdef walks it: once, not per jit call

    def __call__(self, params, x):
        from flax import nnx

        return nnx.merge(self.graphdef, params, self.rest)(x)

    def _key(self):
        return (self.graphdef, None if self._stateless else id(self.rest))

    def __eq__(self, other):
        return isinstance(other, _NNXApply) and self._key() == other._key()

    def __hash__(self):
        return self._hash


@register_pytree_node_class
class Posterior:
    """``log p(θ|D) = log p(D|θ) / T + log p(θ) + const`` for a network and a data set.

    Args:
      model: a ``flax.nnx.Module`` mapping ``x`` to the likelihood's outputs. Its ``nnx.Param``
        variables become the parameter pytree (a nested dict, paths like ``"layers.0.kernel"``).
      likelihood: a ``bayesjax.likelihoods`` object (``Gaussian(noise)``, ``Bernoulli()``,
        ``Categorical()``).
      prior: a ``bayesjax.priors`` object (``Gaussian``, ``Laplace``, ``Flat``, ``ByPath``).
      x, y: the N training inputs and targets (leading axis N). NaN/Inf is rejected.
      temperature: T > 0 divides the log-likelihood; T = 1 (default) is Bayes' rule.

    Use ``Posterior.from_apply(apply_fn, params, ...)`` for a plain function ``apply_fn(params, x)``.

    Example::

        post = bj.Posterior(mlp, bj.likelihoods.Gaussian(noise=0.1), bj.priors.Gaussian(1.0), x, y)
        post.log_joint(post.params)
    """

    def __init__(self, model, likelihood, prior, x, y, *, temperature=1.0):
        from flax import nnx

        if not isinstance(model, nnx.Module):
            raise TypeError(
                f"Posterior: model must be a flax.nnx.Module, got {type(model).__name__}; "
                "for a plain function use Posterior.from_apply(apply_fn, params, ...)")
        graphdef, state, rest = nnx.split(model, nnx.Param, ...)
        params = nnx.to_pure_dict(state)
        self._setup(_NNXApply(graphdef, rest), params, likelihood, prior, x, y, temperature)

    @classmethod
    def from_apply(cls, apply_fn, params, likelihood, prior, x, y, *, temperature=1.0):
        """Build from any ``apply_fn(params, x) -> outputs`` and a parameter pytree."""
        if not callable(apply_fn):
            raise TypeError(f"Posterior.from_apply: apply_fn must be callable, got {apply_fn!r}")
        obj = object.__new__(cls)
        obj._setup(apply_fn, params, likelihood, prior, x, y, temperature)
        return obj

    def _setup(self, apply_fn, params, likelihood, prior, x, y, temperature):
        if not isinstance(likelihood, _lik.Likelihood):
            raise TypeError(f"Posterior: likelihood must be a bayesjax.likelihoods object, "
                            f"got {likelihood!r}")
        if not isinstance(prior, _priors.Prior):
            raise TypeError(f"Posterior: prior must be a bayesjax.priors object, got {prior!r}")
        x = finite_array("x", x)
        y = finite_array("y", y)
        if x.ndim < 1 or y.ndim < 1:
            raise ValueError(f"Posterior: x and y need a leading data axis, got shapes "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"Posterior: x has {x.shape[0]} points but y has {y.shape[0]}; "
                             "they must have the same length")
        if x.shape[0] == 0:
            raise ValueError("Posterior: the data set is empty (x has 0 points)")
        # traced data (a vmap over data sets) were checked where they were made concrete
        y_concrete = not isinstance(y, jax.core.Tracer)
        y_np = np.asarray(y) if y_concrete else np.broadcast_to(np.zeros((), y.dtype), y.shape)
        if y_concrete:
            likelihood.check_targets(y_np)
        leaves = jax.tree.leaves(params)
        if not leaves:
            raise ValueError("Posterior: params has no array leaves")
        for path, leaf in zip(_priors.param_paths(params), leaves, strict=True):
            finite_array(f"params[{path!r}]", leaf)
            if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating):
                raise ValueError(f"Posterior: parameter {path!r} must be a float array")
        prior.check(params)
        temperature = positive_scalar("temperature", temperature, owner="Posterior")
        try:
            out = jax.eval_shape(apply_fn, params, x)
        except Exception as e:  # the user's model rejected the input: say which input
            raise ValueError(f"Posterior: the model could not be applied to x of shape "
                             f"{tuple(x.shape)}: {type(e).__name__}: {e}") from e
        if not isinstance(out, jax.ShapeDtypeStruct):
            raise ValueError(f"Posterior: the model must return one array, got {out}")
        likelihood.check_outputs(tuple(out.shape), y_np)
        self.apply_fn = apply_fn
        self.params = jax.tree.map(jnp.asarray, params)
        self.likelihood = likelihood
        self.prior = prior
        self.x = x
        self.y = y
        self.temperature = temperature

    # ------------------------------------------------------------------ pytree
    def tree_flatten(self):
        children = (self.params, self.likelihood, self.prior, self.x, self.y, self.temperature)
        return children, self.apply_fn

    @classmethod
    def tree_unflatten(cls, apply_fn, children):
        obj = object.__new__(cls)
        obj.apply_fn = apply_fn
        (obj.params, obj.likelihood, obj.prior, obj.x, obj.y, obj.temperature) = children
        return obj

    def replace(self, **changes) -> Posterior:
        """A copy with some of ``params, likelihood, prior, x, y, temperature`` replaced
        (validated as in the constructor). The forward function is kept, so compiled code is
        reused when the shapes are unchanged."""
        fields = dict(params=self.params, likelihood=self.likelihood, prior=self.prior,
                      x=self.x, y=self.y, temperature=self.temperature)
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"Posterior.replace: unknown field(s) {sorted(unknown)}; "
                            f"valid: {sorted(fields)}")
        fields.update(changes)
        obj = object.__new__(type(self))
        obj._setup(self.apply_fn, fields["params"], fields["likelihood"], fields["prior"],
                   fields["x"], fields["y"], fields["temperature"])
        return obj

    # ------------------------------------------------------------------ density
    @property
    def num_data(self) -> int:
        """N, the number of training points."""
        return self.x.shape[0]

    @property
    def num_params(self) -> int:
        """P, the number of scalar parameters."""
        return sum(int(np.size(leaf)) for leaf in jax.tree.leaves(self.params))

    def predict(self, params, x=None) -> jax.Array:
        """Network outputs ``apply_fn(params, x)`` (default: the training inputs)."""
        return self.apply_fn(params, self.x if x is None else x)

    def log_likelihood(self, params) -> jax.Array:
        """``log p(D | θ)``: the sum over all N points, in nats."""
        return self.likelihood.log_prob(self.apply_fn(params, self.x), self.y)

    def log_prior(self, params) -> jax.Array:
        """``log p(θ)``: the prior's normalised log density, in nats."""
        return self.prior.log_prob(params)

    def log_joint(self, params) -> jax.Array:
        """``log p(D | θ) / T + log p(θ)`` = ``log p(θ | D)`` up to the constant ``log p(D)``."""
        return self.log_likelihood(params) / self.temperature + self.log_prior(params)

    def log_likelihood_estimate(self, params, idx) -> jax.Array:
        """Unbiased minibatch estimate of ``log_likelihood``: ``(N/B) Σ_{i∈idx} log p(y_i|x_i,θ)``
        for an integer index array ``idx`` of B points, in nats (the one place the N/B scaling
        of the library is written)."""
        idx = jnp.asarray(idx)
        out = self.apply_fn(params, self.x[idx])
        ll = self.likelihood.log_prob(out, self.y[idx])
        return (self.num_data / idx.shape[0]) * ll

    def log_joint_estimate(self, params, idx) -> jax.Array:
        """Unbiased minibatch estimate of ``log_joint``: ``log_likelihood_estimate(params, idx) / T
        + log p(θ)``."""
        return self.log_likelihood_estimate(params, idx) / self.temperature + self.log_prior(params)

    def check_params(self, params, *, name: str = "init_params", owner: str = ""):
        """``params`` (``self.params`` when ``None``) after checking that it has the tree structure
        and leaf shapes of ``self.params``; ``ValueError`` naming ``name`` and the valid paths."""
        if params is None:
            return self.params
        if jax.tree.structure(params) != jax.tree.structure(self.params) or any(
                jnp.shape(a) != jnp.shape(b)
                for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(self.params), strict=True)):
            where = f"{owner}: " if owner else ""
            raise ValueError(f"{where}{name} must have the structure and shapes of post.params "
                             f"(paths {_priors.param_paths(self.params)})")
        return params

    def __repr__(self):
        return (f"Posterior(N={self.num_data}, P={self.num_params}, likelihood={self.likelihood!r}, "
                f"prior={self.prior!r}, temperature={self.temperature!r})")
