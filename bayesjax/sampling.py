r"""Sampling from an autoregressive model: a language model is a distribution over sequences.

``p(x_1..x_n | prompt) = Π_i p(x_i | prompt, x_<i)``, and decoding draws from it one token at a time.
Two functions, with the conventions of the common decoding libraries:

- ``filter_logits``: divide the logits by the temperature ``T``, keep the ``top_k`` largest, then
  keep the smallest set of most probable tokens whose probability is ``>= top_p`` (the *nucleus*,
  at least one token); the rest become ``-inf``. Ties at a cut-off are kept.
- ``sample``: autoregressive decoding as **one** ``lax.scan`` over the prompt and the new tokens,
  with a model given as ``step_fn(state, token) -> (state, logits)``. ``greedy=True`` takes the
  argmax (the limit ``T → 0``); otherwise each token is a draw from ``softmax(filter_logits(...))``.
  Many samples from one prompt: ``jax.vmap`` over keys.

Example:
  >>> import jax, jax.numpy as jnp
  >>> logits = jnp.log(jnp.array([0.5, 0.3, 0.2]))
  >>> step = lambda state, token: (state, logits)       # the same distribution at every step
  >>> out = sample(jax.random.key(0), step, (), jnp.array([0]), 5, greedy=True)
  >>> out.tokens.tolist()
  [0, 0, 0, 0, 0]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax._checks import _is_concrete

__all__ = ["Samples", "filter_logits", "sample"]


class Samples(NamedTuple):
    """One decoded continuation.

    Attributes:
      tokens: (num_tokens,) int32, the new tokens (the prompt is not repeated).
      log_prob: (num_tokens,) ``log p(x_i | x_<i)`` of each token under the **model** (the
        unfiltered softmax at T = 1), in nats: their sum is the continuation's log-likelihood.
      entropy: (num_tokens,) the entropy (nats) of the distribution each token was drawn from
        (the filtered, tempered softmax; 0 for greedy decoding).
      state: the model's state after the last token was fed in (decoding can resume from it).
    """

    tokens: jax.Array
    log_prob: jax.Array
    entropy: jax.Array
    state: object


def _check(temperature, top_k, top_p, owner: str) -> None:
    if _is_concrete(temperature):
        t = np.asarray(temperature)
        if t.shape != () or not np.issubdtype(t.dtype, np.number) or not math.isfinite(float(t)):
            raise ValueError(f"{owner}: temperature must be a finite scalar, got {temperature!r}")
        if float(t) <= 0.0:
            raise ValueError(f"{owner}: temperature must be > 0, got {float(t)}; for the T → 0 "
                             "limit (argmax decoding) use greedy=True")
    if top_k is not None and _is_concrete(top_k):
        k = np.asarray(top_k)
        if k.shape != () or k.dtype == bool or not np.issubdtype(k.dtype, np.integer) or k < 1:
            raise ValueError(f"{owner}: top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and _is_concrete(top_p):
        p = np.asarray(top_p)
        if p.shape != () or p.dtype == bool or not np.issubdtype(p.dtype, np.number) \
                or not 0.0 < float(p) <= 1.0:
            raise ValueError(f"{owner}: top_p must be None or in (0, 1], got {top_p!r}")


def _filter(logits, temperature, top_k, top_p):
    """``top_k``/``top_p`` may be traced (a sweep does not recompile); None disables each."""
    scaled = logits / temperature
    if top_k is None and top_p is None:
        return scaled
    desc = -jnp.sort(-scaled, axis=-1)
    if top_k is not None:
        k = jnp.clip(jnp.asarray(top_k), 1, scaled.shape[-1])
        kth = jnp.take(desc, k - 1, axis=-1)[..., None]
        scaled = jnp.where(scaled >= kth, scaled, -jnp.inf)
        desc = jnp.where(desc >= kth, desc, -jnp.inf)
    if top_p is not None:
        probs = jax.nn.softmax(desc, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs       # mass of the strictly more probable
        keep = (before < top_p) | (top_p >= 1.0)           # the first token always: before = 0
        cutoff = jnp.min(jnp.where(keep, desc, jnp.inf), axis=-1, keepdims=True)
        scaled = jnp.where(scaled >= cutoff, scaled, -jnp.inf)
    return scaled


def filter_logits(logits, *, temperature=1.0, top_k: int | None = None,
                  top_p: float | None = None) -> jax.Array:
    r"""Tempered, top-k and nucleus-filtered logits over the last axis; removed tokens are ``-inf``.

    In order: ``z = logits / T``; if ``top_k``: tokens with ``z`` below the k-th largest are removed
    (ties with it kept); if ``top_p < 1``: sorting the remaining tokens by probability
    ``softmax(z)``, a token is kept when the mass of the tokens strictly before it is ``< top_p``
    — the smallest set whose mass is ``>= top_p``, never empty. ``top_k >= V`` and ``top_p = 1``
    change nothing. ``softmax`` of the result is the distribution ``sample`` draws from.

    Args:
      logits: (..., V) unnormalised log-probabilities (any leading axes).
      temperature: T > 0 (for T → 0 use ``sample(..., greedy=True)``).
      top_k: None or an integer >= 1.
      top_p: None or a probability in (0, 1].

    Example:
      >>> z = filter_logits(jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05])), top_p=0.8)
      >>> [round(float(p), 3) for p in jax.nn.softmax(z)]   # 0.5 + 0.3 >= 0.8: two tokens
      [0.625, 0.375, 0.0, 0.0]
    """
    _check(temperature, top_k, top_p, "filter_logits")
    logits = jnp.asarray(logits)
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"filter_logits: logits must have shape (..., V) with V >= 1, "
                         f"got {logits.shape}")
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(float)
    return _filter(logits, temperature, top_k, top_p)


def _entropy(z):
    logp = jax.nn.log_softmax(z)
    return -jnp.sum(jnp.where(jnp.isfinite(z), jnp.exp(logp) * logp, 0.0))


def _decode(key, step_fn, state, prompt, temperature, top_k, top_p, *, num_tokens, greedy):
    p = prompt.shape[0]
    total = p - 1 + num_tokens
    # position i feeds token x_i and, once past the prompt, draws x_{i+1} from the logits
    forced = jnp.concatenate([prompt, jnp.zeros((num_tokens - 1,), prompt.dtype)])
    keys = jax.random.split(key, num_tokens)
    draw_index = jnp.maximum(jnp.arange(total) - (p - 1), 0)

    def body(carry, xs):
        state, prev = carry
        i, forced_i, k = xs
        token = jnp.where(i < p, forced_i, prev)
        state, logits = step_fn(state, token)
        z = _filter(logits, temperature, top_k, top_p)
        if greedy:
            new = jnp.argmax(logits).astype(jnp.int32)
            ent = jnp.zeros((), logits.dtype)
        else:
            new = jax.random.categorical(k, z).astype(jnp.int32)
            ent = _entropy(z)
        logp = jax.nn.log_softmax(logits)[new]
        return (state, new), (new, logp, ent)

    xs = (jnp.arange(total), forced, keys[draw_index])
    (state, _), (tokens, logp, ent) = jax.lax.scan(body, (state, jnp.zeros((), jnp.int32)), xs)
    # the last draw was never fed back in: feed it so the state covers every returned token
    state, _ = step_fn(state, tokens[-1])
    return Samples(tokens[p - 1:], logp[p - 1:], ent[p - 1:], state)


_decode_jit = jax.jit(_decode, static_argnames=("step_fn", "num_tokens", "greedy"))


def sample(key, step_fn: Callable, state, prompt, num_tokens: int, *, temperature=1.0,
           top_k: int | None = None, top_p: float | None = None, greedy: bool = False) -> Samples:
    r"""Decode ``num_tokens`` tokens after ``prompt``: one ``lax.scan``, one compiled function.

    The model is ``step_fn(state, token) -> (state, logits)``: it reads one token (an int32 scalar)
    and returns the logits (V,) of the next. The scan feeds the prompt's tokens in (teacher
    forcing), then feeds each drawn token back. Each new token is ``argmax(logits)`` if ``greedy``,
    otherwise a draw from ``softmax(filter_logits(logits, temperature=T, top_k=k, top_p=p))``.

    Compiled once per ``step_fn``, ``num_tokens``, ``greedy``, the shapes and whether ``top_k`` and
    ``top_p`` are set (their values and the temperature are traced: a sweep over T, k or p does
    not recompile). Many samples:
    ``jax.vmap(lambda k: sample(k, step_fn, state, prompt, n))(jax.random.split(key, m))``.

    Args:
      key: a ``jax.random`` key (unused when ``greedy``).
      step_fn: the model, as above; pass the same function object to reuse the compilation.
      state: its initial state (any pytree; e.g. the hidden state of an RNN).
      prompt: (P,) integer tokens in [0, V), P >= 1.
      num_tokens: how many new tokens, >= 1.
      temperature, top_k, top_p: see ``filter_logits`` (ignored by greedy decoding).
      greedy: argmax decoding, deterministic.

    Returns:
      ``Samples(tokens, log_prob, entropy, state)``.
    """
    owner = "sample"
    _check(temperature, top_k, top_p, owner)
    if isinstance(num_tokens, bool) or not isinstance(num_tokens, numbers.Integral) \
            or num_tokens < 1:
        raise ValueError(f"{owner}: num_tokens must be an integer >= 1, got {num_tokens!r}")
    prompt = jnp.asarray(prompt)
    if prompt.ndim != 1 or prompt.shape[0] < 1 or not jnp.issubdtype(prompt.dtype, jnp.integer):
        raise ValueError(f"{owner}: prompt must be a non-empty 1-D integer array, got shape "
                         f"{prompt.shape} and dtype {prompt.dtype}")
    prompt = prompt.astype(jnp.int32)
    out = jax.eval_shape(step_fn, state, jax.ShapeDtypeStruct((), jnp.int32))
    if not (isinstance(out, tuple) and len(out) == 2 and len(out[1].shape) == 1):
        raise ValueError(f"{owner}: step_fn(state, token) must return (state, logits) with logits "
                         f"of shape (V,), got {out}")
    vocab = out[1].shape[0]
    if _is_concrete(prompt):
        bad = np.asarray((prompt < 0) | (prompt >= vocab))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{owner}: prompt token {int(prompt[i])} at position {i} is outside "
                             f"the vocabulary [0, {vocab}) of step_fn's logits")
    return _decode_jit(key, step_fn, state, prompt, jnp.asarray(temperature, out[1].dtype),
                       None if top_k is None else jnp.asarray(top_k, jnp.int32),
                       None if top_p is None else jnp.asarray(top_p, out[1].dtype),
                       num_tokens=int(num_tokens), greedy=bool(greedy))
