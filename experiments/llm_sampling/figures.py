"""The figures: the evidence and held-out NLL vs α, credible intervals vs data, diversity vs
likelihood of the samples."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure


def plot_alpha(sweeps, num_train, outdir) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for n, s in sweeps.items():
        i = int(np.argmax(s.log_evidence))
        ev = s.log_evidence / num_train
        (line,) = a.plot(s.alphas, ev, marker=".", label=f"{n}-gram")
        a.plot(s.alphas[i], ev[i], "o", color=line.get_color(), mfc="none", ms=10)
        b.plot(s.alphas, s.heldout_bits, marker=".", color=line.get_color(), label=f"{n}-gram")
        b.plot(s.alphas[i], s.heldout_bits[i], "o", color=line.get_color(), mfc="none", ms=10)
    a.set(xscale="log", xlabel="Dirichlet concentration α",
          ylabel="log p(training text | α) / N (nats/char)", title="the evidence (circle: its maximum)")
    b.set(xscale="log", xlabel="Dirichlet concentration α", ylabel="held-out bits / character",
          title="held-out NLL of the posterior predictive (circle: evidence's α)")
    b.legend()
    save_figure(fig, outdir, "evidence_vs_alpha")


def plot_intervals(intervals, outdir) -> None:
    pairs = list(dict.fromkeys((r.context, r.next_char) for r in intervals))
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, (c, k) in enumerate(pairs):
        rows = [r for r in intervals if (r.context, r.next_char) == (c, k)]
        n = np.array([r.num_chars for r in rows]) * (1 + 0.08 * (j - len(pairs) / 2))
        mean = np.array([r.mean for r in rows])
        err = np.array([[r.mean - r.lower for r in rows], [r.upper - r.mean for r in rows]])
        ax.errorbar(n, mean, yerr=err, marker="o", capsize=3, label=f"p({k!r} | {c!r})")
    ax.set(xscale="log", xlabel="training characters seen", ylabel="posterior mean, 95% interval",
           title="next-character probabilities: uncertainty shrinks with data")
    ax.legend()
    save_figure(fig, outdir, "credible_intervals")


def plot_diversity(dec, outdir) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    groups = {"temperature": dec.sweep,
              "top-k (T = 1)": [s for s in dec.truncated if s.label.startswith("top-k")],
              "top-p (T = 1)": [s for s in dec.truncated if s.label.startswith("top-p")]}
    for name, settings in groups.items():
        ll = [s.log_lik.mean() for s in settings]
        a.plot(ll, [s.entropy.mean() for s in settings], marker="o", label=name)
        b.plot(ll, [s.distinct for s in settings], marker="o", label=name)
        for s, x in zip(settings, ll, strict=True):
            a.annotate(s.label.split("= ")[-1], (x, s.entropy.mean()), fontsize=7)
    for ax in (a, b):
        ax.plot(dec.plain.log_lik.mean(), dec.plain.entropy.mean() if ax is a else dec.plain.distinct,
                "k*", ms=10, label="plain T = 1")
        ax.set_xlabel("mean log-likelihood of the samples under the model (nats/char)")
    a.set(ylabel="mean per-token entropy (nats)", title="diversity vs likelihood")
    b.set(ylabel="fraction of distinct continuations (first characters)")
    a.legend(fontsize=8)
    save_figure(fig, outdir, "diversity_vs_likelihood")
