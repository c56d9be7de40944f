"""The five figures, one per worked example."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import beta as beta_law

import experiments.bayes_rule.classifier as classifier
from experiments.bayes_rule.beta import BetaResult
from experiments.bayes_rule.channel import ChannelResult
from experiments.bayes_rule.classifier import ClassifierResult
from experiments.bayes_rule.map_of_mean import MapRow
from experiments.bayes_rule.probe import ProbeResult
from experiments.common import stats
from experiments.common.plotting import save_figure


def plot_probe(r: ProbeResult, outdir: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(r.ks, 1 - r.exact, "o-", label="closed form  P(X=1 | k zeros)")
    ax.errorbar(r.ks, 1 - r.mc, yerr=stats.Z * r.se, fmt="s", mfc="none",
                label=f"simulation ({r.num_draws:,} sends), ±Z = {stats.Z:.2f} s.e.")
    ax.set_yscale("log")
    ax.set_xlabel("k = number of receptions, all equal to 0")
    ax.set_ylabel("posterior probability that a 1 was sent")
    ax.set_title(f"Probe: prior P(X=0)={r.prior0}, bit error {r.error}")
    ax.legend()
    save_figure(fig, outdir, "probe_receptions")


def plot_classifier(r: ClassifierResult, outdir: Path) -> None:
    grid = np.linspace(-5.0, 5.0, 2001)
    w = classifier.weighted(grid)
    lib = r.at_x0
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(grid, w[0], label=r"$\pi_1 f_1(x)$: 1/4 · N(-1, 1)")
    ax.plot(grid, w[1], label=r"$\pi_2 f_2(x)$: 3/4 · Laplace(1, 1)")
    ax.fill_between(grid, 0, w.max(axis=0), where=w[0] > w[1], alpha=0.2, color="C0",
                    label="decide class 1")
    ax.fill_between(grid, 0, w.max(axis=0), where=w[0] <= w[1], alpha=0.1, color="C1",
                    label="decide class 2")
    ax.axvline(classifier.X0, color="k", ls=":", lw=1)
    ax.annotate(f"x0=1: {lib[0]:.4f} vs {lib[1]:.3f}", (classifier.X0, lib[1]), (2.2, 0.33),
                arrowprops=dict(arrowstyle="->"))
    ax.set_xlim(-5, 5)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$\pi_k f_k(x)$")
    ax.set_title("Bayes-optimal classifier: pick the larger prior × density")
    ax.legend(fontsize=8, loc="upper left")
    save_figure(fig, outdir, "classifier_regions")


def plot_beta(r: BetaResult, outdir: Path) -> None:
    (a, b), (pa, pb), theta = r.prior, r.posterior, r.theta
    log_lik = r.ones * np.log(theta) + r.zeros * np.log1p(-theta)
    lik = np.exp(log_lik - log_lik.max())
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(theta, beta_law.pdf(theta, a, b), label=f"prior Beta({a:g},{b:g})")
    ax.plot(theta, lik / np.trapezoid(lik, theta), "--",
            label=f"likelihood ({r.ones} ones, {r.zeros} zeros), normalised")
    ax.plot(theta, r.q_density, label=f"posterior Beta({pa:g},{pb:g}) (quadrature)")
    ax.axvline(r.mean, color="C2", ls=":", lw=1)
    ax.set_xlabel(r"$\theta$ = P(one)")
    ax.set_ylabel("density")
    ax.set_title(f"Beta-Bernoulli update: posterior mean {r.mean:.3f}")
    ax.legend()
    save_figure(fig, outdir, "beta_update")


def plot_channel(r: ChannelResult, outdir: Path) -> None:
    hs = r.h_grid
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(hs, r.q_density, label="posterior by quadrature of log_joint")
    ax.plot(hs, np.exp(-0.5 * (hs - r.mean) ** 2 / r.var) / math.sqrt(2 * math.pi * r.var), "--",
            label=f"closed form N({r.mean:.3f}, {r.var:.4f})")
    ax.axvline(r.h_map, color="k", ls=":", label=f"fit_map: h = {r.h_map:.4f}")
    ax.axvline(r.h_true, color="C3", lw=1, label=f"true h = {r.h_true:.3f}")
    ax.set_xlabel("channel gain h")
    ax.set_ylabel("posterior density")
    ax.set_title(f"Gaussian channel y = h x + n, {r.pilots} pilots, σn={r.sigma_n}, "
                 f"σh={r.sigma_h}")
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "channel_posterior")


def plot_map_of_mean(rows: list[MapRow], sigma: float, true_mean: float, outdir: Path) -> None:
    ns = [r.n for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(ns, [r.sample_mean for r in rows], "o-", label="MLE = sample mean x̄")
    ax.plot(ns, [r.map_closed_form for r in rows], "s-",
            label=f"MAP = n x̄ / (n + σ²), σ={sigma:g}")
    ax.plot(ns, [r.map_fit for r in rows], "k+", ms=10, label="MAP by bj.fit_map")
    ax.axhline(true_mean, color="C3", lw=1, label=f"true mean {true_mean:g}")
    ax.axhline(0.0, color="gray", lw=1, ls=":", label="prior mean 0 (prior N(0, 1))")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of observations n")
    ax.set_ylabel("estimate of the mean")
    ax.set_title("MAP shrinks the sample mean toward the prior; they meet only as n → ∞")
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "map_vs_mle")
