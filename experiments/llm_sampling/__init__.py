r"""Claim: "if you and your roommate paste the same assignment into a large model" you do not get
the same answer, because a language model is a **distribution** over text,
``p(x) = Π_i p(x_i | x_<i)``, and decoding samples from it (greedy decoding alone is
deterministic); read with Bayes' rule — a prior over its parameters, a posterior after a corpus —
it also knows how uncertain its next-token probabilities are. One of the text's articles computes
the sample mean and calls it the MAP estimate: the MAP under a Dirichlet prior is
``(n_k + α − 1)/(N + K(α − 1))``, not ``n_k/N`` (the MLE). Worked examples: the text's opening
question and its Bayesian-language-model article; Murphy 2012, *Machine Learning: a Probabilistic
Perspective*, §3.4 (Dirichlet–multinomial, add-α smoothing), §17.2.2; Holtzman et al. 2020, *The
curious case of neural text degeneration* (top-p).

On the standard library's ``pydoc_data`` documentation topics (465 kB, split by topic): character
n-gram models with a Dirichlet prior per context (``bj.conjugate.dirichlet_categorical``) — the
MLE's held-out perplexity is infinite, the posterior predictive's is finite and the evidence
chooses α; a GRU character model (Flax NNX) trained by maximum likelihood (cross-entropy = negative
log-likelihood) and with a Gaussian prior (weight decay); and ``bj.sampling`` decoding it: greedy,
temperature, top-k and top-p, with the sampler's frequencies tested against the model's softmax.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from experiments.common.claims import RunResult, log, show_progress
from experiments.common.config import in_interval, integers, positive

from . import corpus, decoding, figures, neural, ngram, report
from .claims import claims


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings.

    Attributes:
      seed: seeds the split by topic, the network's initialisation and minibatches, and sampling.
      test_fraction: share of the characters held out (whole topics).
      orders: the n-gram orders n (context = n − 1 characters).
      alpha_min, alpha_max, num_alphas: the log-spaced grid of Dirichlet concentrations α.
      interval_sizes: training-prefix lengths for the credible intervals (the whole training text
        is always added).
      map_chars, map_alpha, map_context: the MAP-vs-sample-mean example: one context's next
        character after the first ``map_chars`` characters, prior Dirichlet(``map_alpha`` ≥ 1).
      score_start, segment: held-out positions scored from ``score_start`` on (every model has that
        much history), the network in parallel segments of ``segment`` characters.
      embed, hidden: the GRU's embedding and state sizes.
      seq_len, batch_size, num_steps, learning_rate: training (Adam, windows of ``seq_len``).
      prior_scale: s of the MAP variant's Gaussian prior N(0, s²) on every parameter.
      neural_beats_orders: the n-gram orders whose held-out bits/char the network must beat.
      prompt: the decoding prompt (in the vocabulary).
      num_tokens, num_samples, num_batches: continuations per setting, their length, and the
        batches the distinct fraction's standard error is estimated from.
      distinct_tokens: the diversity count looks at the first this-many characters of each
        continuation (whole 24-character continuations are all distinct from T ≈ 0.5 on).
      freq_samples: draws of the first token for each frequency test.
      greedy_repeats: greedy decodings compared (with different keys).
      temperatures: the diversity sweep (ascending).
      small_temperatures: the T → 0 check (descending); T* = min(gap, last)/10 is added, with
        gap the greedy path's smallest difference between its two largest logits.
      top_k, top_p: the truncated settings compared with plain T = 1 sampling.
    """

    seed: int = 0
    test_fraction: float = 0.2
    orders: tuple[int, ...] = (1, 2, 3, 4)
    alpha_min: float = 1e-3
    alpha_max: float = 10.0
    num_alphas: int = 17
    interval_sizes: tuple[int, ...] = (100, 10_000)
    map_chars: int = 1000
    map_alpha: float = 2.0
    map_context: str = "t"
    score_start: int = 64
    segment: int = 512
    embed: int = 16
    hidden: int = 96
    seq_len: int = 64
    batch_size: int = 32
    num_steps: int = 1000
    learning_rate: float = 6e-3
    prior_scale: float = 0.3
    neural_beats_orders: tuple[int, ...] = (2, 3, 4)
    prompt: str = "the value of "
    num_tokens: int = 24
    num_samples: int = 500
    num_batches: int = 10
    distinct_tokens: int = 6
    freq_samples: int = 20_000
    greedy_repeats: int = 8
    temperatures: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5)
    small_temperatures: tuple[float, ...] = (0.1, 0.01, 0.001)
    top_k: tuple[int, ...] = (2, 5, 10)
    top_p: tuple[float, ...] = (0.5, 0.8, 0.95)

    def __post_init__(self):
        integers(self, ("map_chars", "segment", "embed", "hidden", "seq_len", "batch_size",
                        "num_steps", "num_tokens", "num_samples", "distinct_tokens",
                        "freq_samples"))
        integers(self, ("num_alphas", "num_batches", "greedy_repeats", "score_start"), minimum=2)
        positive(self, ("alpha_min", "alpha_max", "learning_rate", "prior_scale"))
        if self.alpha_min >= self.alpha_max:
            raise ValueError(f"alpha_min ({self.alpha_min}) must be < alpha_max ({self.alpha_max})")
        in_interval(self, ("test_fraction",))
        if not self.orders or any(o not in (1, 2, 3, 4) for o in self.orders):
            raise ValueError(f"orders must be a non-empty subset of 1..4, got {self.orders}")
        if not set(self.neural_beats_orders) <= set(self.orders):
            raise ValueError(f"neural_beats_orders {self.neural_beats_orders} must be among "
                             f"orders {self.orders}")
        if self.map_alpha < 1.0:
            raise ValueError(f"map_alpha must be >= 1 (an interior MAP), got {self.map_alpha}")
        if any(n < 2 for n in self.interval_sizes):
            raise ValueError(f"interval_sizes must be >= 2, got {self.interval_sizes}")
        for name in ("prompt", "map_context"):
            text = getattr(self, name)
            bad = sorted({c for c in text.lower() if c not in corpus.VOCAB or c == corpus.RARE})
            if not text or bad or (name == "map_context" and len(text) != 1):
                raise ValueError(f"{name} must be {'one character' if name == 'map_context' else 'text'}"
                                 f" of the vocabulary, got {text!r}")
        temps = (self.temperatures, self.small_temperatures)
        if any(len(t) < 2 or any(not (math.isfinite(x) and x > 0) for x in t) for t in temps):
            raise ValueError("temperatures and small_temperatures need >= 2 values, each > 0")
        if list(self.temperatures) != sorted(set(self.temperatures)) \
                or list(self.small_temperatures) != sorted(set(self.small_temperatures))[::-1]:
            raise ValueError("temperatures must be ascending, small_temperatures descending")
        if not self.top_k or any(k < 1 for k in self.top_k):
            raise ValueError(f"top_k must hold integers >= 1, got {self.top_k}")
        if not self.top_p or any(not 0.0 < p < 1.0 for p in self.top_p):
            raise ValueError(f"top_p must hold values in (0, 1), got {self.top_p}")
        if self.num_samples < 2 * self.num_batches:
            raise ValueError(f"num_samples ({self.num_samples}) must be >= 2 * num_batches")

    @classmethod
    def smoke(cls) -> Config:
        return cls(orders=(1, 2, 3), num_alphas=9, hidden=32, num_steps=150,
                   neural_beats_orders=(2,), num_samples=200, freq_samples=5000)

    @property
    def alphas(self) -> np.ndarray:
        return np.logspace(np.log10(self.alpha_min), np.log10(self.alpha_max), self.num_alphas)


def run(config: Config, outdir: Path) -> RunResult:
    vocab = len(corpus.VOCAB)
    # 1. the text, split by topic; every model is scored on the same held-out positions
    text = corpus.load(test_fraction=config.test_fraction, seed=config.seed)
    start, seg = config.score_start, config.segment
    test = text.test[: start + seg * ((len(text.test) - start) // seg)]
    log(f"pydoc_data: {len(text.train)} training, {len(test)} held-out characters "
        f"({len(text.test_topics)} topics), vocabulary {vocab}")
    # 2. Bayesian n-grams: the MLE, the evidence's α, credible intervals, the MAP
    grams = {n: ngram.counts(text.train, n, vocab) for n in config.orders}
    sweeps = {n: ngram.alpha_sweep(c, test, config.alphas, start) for n, c in grams.items()}
    unseen = {n: ngram.mle_unseen(c, test, start) for n, c in grams.items()}
    mle_bits = {n: ngram.heldout_bits(c, ngram.mle(c), test, start, unseen=0.0)
                for n, c in grams.items()}
    ix = corpus.VOCAB.index
    pairs = [(ix(a), ix(b)) for a, b in ("th", "he", " t", "e ")]
    sizes = tuple(config.interval_sizes) + (len(text.train),)
    intervals = ngram.intervals(text.train, sizes, pairs, sweeps[2].best_evidence if 2 in sweeps
                                else 1.0, vocab, corpus.decode)
    map_row = ngram.map_check(text.train, config.map_chars, ix(config.map_context.lower()),
                              config.map_alpha, vocab, corpus.decode)
    log("n-grams: " + ", ".join(f"{n}-gram α={s.best_evidence:.3g}" for n, s in sweeps.items()))
    # 3. the GRU by MLE and MAP, one compiled training loop
    net = neural.train(text.train, vocab=vocab, embed=config.embed, hidden=config.hidden,
                       seq_len=config.seq_len, batch_size=config.batch_size,
                       num_steps=config.num_steps, learning_rate=config.learning_rate,
                       prior_scale=config.prior_scale, seed=config.seed,
                       progress_bar=show_progress())
    net_bits = dict(zip(neural.VARIANTS, neural.heldout_bits(net, test, start=start, segment=seg),
                        strict=True))
    norms = {v: float(np.sqrt(sum(np.sum(np.square(a)) for a in
                                  jax.tree.leaves(neural.variant(net, v))))) for v in neural.VARIANTS}
    log("GRU held-out bits/char: " + ", ".join(f"{k} {v:.3f}" for k, v in net_bits.items()))
    # 4. decoding the MLE network
    step, h0 = neural.step_fn(net, "mle"), neural.initial_state(net)
    prompt = corpus.encode(config.prompt)
    dec = decoding.experiment(jax.random.key(config.seed), step, h0, prompt, vocab,
                              num_tokens=config.num_tokens, num_samples=config.num_samples,
                              num_batches=config.num_batches,
                              distinct_tokens=config.distinct_tokens,
                              freq_samples=config.freq_samples,
                              greedy_repeats=config.greedy_repeats,
                              temperatures=config.temperatures,
                              small_temperatures=config.small_temperatures,
                              top_k=config.top_k, top_p=config.top_p)
    log("decoding: greedy, temperature sweep, top-k/top-p, frequency tests done")
    # 5. figures, claims, report
    figures.plot_alpha(sweeps, len(text.train), outdir)
    figures.plot_intervals(intervals, outdir)
    figures.plot_diversity(dec, outdir)
    found = claims(sweeps=sweeps, unseen=unseen, intervals=intervals, map_row=map_row,
                   net_bits=net_bits, beat_orders=config.neural_beats_orders, dec=dec)
    metrics = {
        "num_train": len(text.train), "num_test_scored": len(test) - start,
        "test_topics": list(text.test_topics), "rare_fraction": text.rare_fraction,
        "ngram": {str(n): {"alphas": s.alphas, "log_evidence": s.log_evidence,
                           "heldout_bits": s.heldout_bits, "alpha_evidence": s.best_evidence,
                           "alpha_heldout": s.best_heldout, "mle_unseen_transitions": unseen[n],
                           "mle_heldout_bits": mle_bits[n]}
                  for n, s in sweeps.items()},
        "intervals": [r._asdict() for r in intervals],
        "map_vs_sample_mean": map_row._asdict(),
        "neural": {"heldout_bits": net_bits, "param_norm": norms,
                   "final_train_loss_bits": (net.loss[:, -50:].mean(1) / math.log(2)).tolist()},
        "decoding": decoding.summary(dec),
        "claims": found,
    }
    body = report.body(text=text, test_len=len(test) - start, sweeps=sweeps, unseen=unseen,
                       mle_bits=mle_bits,
                       intervals=intervals, map_row=map_row, net_bits=net_bits, norms=norms,
                       dec=dec, prompt=config.prompt, hidden=config.hidden,
                       num_steps=config.num_steps, prior_scale=config.prior_scale)
    return RunResult(metrics, body)
