r"""Label shift by Bayes' rule: when only the class prior p(y) changes between training and use
(p(x|y) the same), a classifier's posterior probabilities are corrected by reweighting with the
ratio of the priors — no retraining — and the new prior itself can be estimated from unlabelled
inputs by EM (Saerens, Latinne & Decaestecker 2002). Works for any probabilistic classifier,
generative (``bayesjax.classifiers``) or discriminative.

Example::

    probs = clf.predict_proba(fitted, x_test)                  # under the training prior
    prior, adapted = bj.classifiers.em_prior(probs, train_prior)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from bayesjax._checks import finite_array, positive_int, probability_vector

__all__ = ["adapt_prior", "em_prior"]


def _probs(probs, owner: str) -> jax.Array:
    probs = finite_array(f"{owner}: probs", probs)
    if probs.ndim != 2:
        raise ValueError(f"{owner}: probs must be (n, K), got shape {tuple(probs.shape)}")
    return probs


def adapt_prior(probs, train_prior, new_prior) -> jax.Array:
    r"""Posterior probabilities under a new class prior, by Bayes' rule:
    ``p'(k|x) ∝ p(k|x) · π'_k / π_k`` (normalised over k). Exact when only p(y) changed
    (p(x|y) the same): it needs no retraining and works for any probabilistic classifier.

    Args:
      probs: (n, K) posterior probabilities under ``train_prior``.
      train_prior, new_prior: (K,) probability vectors.
    """
    probs = _probs(probs, "adapt_prior")
    k = probs.shape[1]
    train_prior = probability_vector("train_prior", train_prior, k, owner="adapt_prior")
    new_prior = probability_vector("new_prior", new_prior, k, owner="adapt_prior")
    return _adapt(probs, jnp.asarray(train_prior, probs.dtype), jnp.asarray(new_prior, probs.dtype))


def em_prior(probs, train_prior, num_steps: int = 100) -> tuple[jax.Array, jax.Array]:
    r"""Estimate the class prior of an unlabelled set by EM (Saerens et al. 2002).

    E-step: adapt the probabilities to the current prior estimate (``adapt_prior``); M-step: the
    new prior is their mean over the n inputs. Starts from ``train_prior``; each step cannot lower
    the likelihood of the unlabelled inputs under the mixture ``Σ_k π'_k p(x|k)``.

    Returns:
      ``(prior, adapted_probs)``: the (K,) estimate and the (n, K) probabilities under it.
    """
    probs = _probs(probs, "em_prior")
    train_prior = probability_vector("train_prior", train_prior, probs.shape[1], owner="em_prior")
    num_steps = positive_int("num_steps", num_steps, owner="em_prior")
    return _em(probs, jnp.asarray(train_prior, probs.dtype), num_steps)


@jax.jit
def _adapt(probs, train_prior, new_prior):
    w = probs * (new_prior / train_prior)[None]
    return w / jnp.sum(w, axis=1, keepdims=True)


@functools.partial(jax.jit, static_argnames="num_steps")
def _em(probs, train_prior, num_steps):
    def step(prior, _):
        return jnp.mean(_adapt(probs, train_prior, prior), axis=0), None

    prior, _ = jax.lax.scan(step, train_prior, None, length=num_steps)
    return prior, _adapt(probs, train_prior, prior)
