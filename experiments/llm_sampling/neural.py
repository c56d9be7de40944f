r"""A neural character model: embedding → GRU → linear logits (Flax NNX), trained by MLE and MAP.

The model defines ``p(x_{i+1} | x_{≤i}) = softmax(W h_i + b)`` with ``h_i = GRU(h_{i−1}, E x_i)``.
The **cross-entropy is the negative log-likelihood**: ``Σ_i −log p(x_{i+1} | x_{≤i})`` summed
over the training text is ``−log p(D | θ)``, and the mean cross-entropy of a minibatch is that sum's
per-character estimate. Two variants, one ``vmap`` inside one compiled training scan, on the same
minibatches:

- ``mle``: minimise the mean cross-entropy (maximum likelihood);
- ``map``: add a Gaussian prior ``θ ~ N(0, s²I)`` on every parameter, i.e. minimise
  ``mean CE + ‖θ‖²/(2s²N)`` (N = training characters): weight decay is the prior term divided by N,
  the per-datum scaling of a mean loss.

Minibatches are random windows of the training stream; the hidden state starts at zero in each.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from bayesjax import progress

VARIANTS = ("mle", "map")


class CharGRU(nnx.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab, embed, rngs=rngs)
        self.cell = nnx.GRUCell(embed, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, vocab, rngs=rngs)

    def step(self, h, token):
        """Read ``token`` (any batch shape), return the new state and the next token's logits."""
        h, _ = self.cell(h, self.embed(token))
        return h, self.out(h)


class Trained(NamedTuple):
    """``graphdef`` and ``params`` (stacked over ``VARIANTS`` on a leading axis), ``hidden``, and
    ``loss`` (len(VARIANTS), num_steps): the training objective per step, nats/char."""

    graphdef: object
    params: object
    hidden: int
    loss: np.ndarray


def _sequence_nll(graphdef, params, hidden, x):
    """Mean ``−log p(x_{t+1} | x_{≤t})`` over a (B, L+1) batch of windows (nats/char)."""
    model = nnx.merge(graphdef, params)
    _, logits = jax.lax.scan(model.step, jnp.zeros((x.shape[0], hidden)), x[:, :-1].T)
    return optax.softmax_cross_entropy_with_integer_labels(logits, x[:, 1:].T).mean()


def train(tokens, *, vocab, embed, hidden, seq_len, batch_size, num_steps, learning_rate,
          prior_scale, seed, progress_bar: bool = False) -> Trained:
    """Train both variants (one jit, a ``lax.scan`` over steps, ``vmap`` over the variants; a
    progress bar on stderr if ``progress_bar``)."""
    bar = progress.active(progress_bar, owner="train")
    k_mle, k_map, k_data = jax.random.split(jax.random.key(seed), 3)
    graphdef, p_mle = nnx.split(CharGRU(vocab, embed, hidden, nnx.Rngs(k_mle)))
    p_map = nnx.split(CharGRU(vocab, embed, hidden, nnx.Rngs(k_map)))[1]
    params = jax.tree.map(lambda a, b: jnp.stack([a, b]), p_mle, p_map)
    # the weight of ‖θ‖² in the per-character objective: 0 (flat prior) and 1/(2s²N)
    decay = jnp.array([0.0, 1.0 / (2.0 * prior_scale**2 * tokens.shape[0])])
    data = jnp.asarray(tokens)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))

    def objective(p, w, x):
        sq = sum(jnp.sum(jnp.square(a)) for a in jax.tree.leaves(p))
        return _sequence_nll(graphdef, p, hidden, x) + w * sq

    @jax.jit
    def run(params, key):
        state = jax.vmap(opt.init)(params)

        def step(carry, k):
            p, s = carry
            start = jax.random.randint(k, (batch_size,), 0, data.shape[0] - seq_len - 1)
            x = data[start[:, None] + jnp.arange(seq_len + 1)[None, :]]
            loss, g = jax.vmap(jax.value_and_grad(objective), in_axes=(0, 0, None))(p, decay, x)
            upd, s = jax.vmap(opt.update)(g, s, p)
            return (optax.apply_updates(p, upd), s), loss

        (p, _), losses = progress.scan(step, (params, state), jax.random.split(key, num_steps),
                                       label="GRU (MLE, MAP)", enabled=bar)
        return p, losses.T

    p, losses = run(params, k_data)
    return Trained(graphdef, p, hidden, np.asarray(losses))


def variant(trained: Trained, name: str):
    """The parameters of one variant."""
    i = VARIANTS.index(name)
    return jax.tree.map(lambda a: a[i], trained.params)


def heldout_bits(trained: Trained, tokens: np.ndarray, *, start: int, segment: int) -> np.ndarray:
    """Bits per character of each variant on ``tokens[start:]`` (its length after ``start`` a
    multiple of ``segment``): the stream is cut into segments scored in parallel, each read after
    a burn-in of the ``start`` characters before it, so every scored character has at least
    ``start`` characters of history (as the n-grams have theirs)."""
    n = tokens.shape[0] - start
    if n <= 0 or n % segment:
        raise ValueError(f"heldout_bits: len(tokens) − start = {n} must be a positive multiple "
                         f"of segment = {segment}")
    a = start + segment * np.arange(n // segment)
    x = jnp.asarray(tokens[a[:, None] - start + np.arange(start + segment)])  # (S, start+seg)

    @jax.jit
    def bits(params, x):
        model = nnx.merge(trained.graphdef, params)
        _, logits = jax.lax.scan(model.step, jnp.zeros((x.shape[0], trained.hidden)),
                                 x[:, :-1].T)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, x[:, 1:].T)
        return jnp.mean(nll[start - 1:]) / jnp.log(2.0)

    return np.asarray(jax.vmap(bits, in_axes=(0, None))(trained.params, x))


def step_fn(trained: Trained, name: str):
    """``step_fn(h, token) -> (h, logits)`` of one variant, for ``bj.sampling.sample`` (build it
    once and reuse it: the sampler compiles once per step function)."""
    model = nnx.merge(trained.graphdef, variant(trained, name))

    def step(h, token):
        return model.step(h, token)

    return step


def initial_state(trained: Trained) -> jax.Array:
    return jnp.zeros((trained.hidden,))
