"""Parameter counts against d; test error against n per class."""

from __future__ import annotations

import matplotlib.pyplot as plt

from experiments.common.plotting import save_figure

from .checks import MODELS

COUNT_LABELS = {"full_covariance_gaussian": "full-covariance Gaussian (2 classes)",
                "gaussian_naive_bayes": "Gaussian naive Bayes",
                "bernoulli_naive_bayes": "Bernoulli naive Bayes",
                "logistic_regression": "logistic regression"}


def plot_counts(table: dict, text: dict, outdir) -> None:
    ds = sorted(table)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for key, label in COUNT_LABELS.items():
        ax.loglog(ds, [table[d][key] for d in ds], marker="o", label=label)
    ax.annotate(f"d = 4096: {text['covariance_entries']:,} covariance entries",
                (4096, text["covariance_entries"]), xytext=(30, 2e3), fontsize=8,
                arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("free parameters")
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "parameter_counts")


def plot_errors(summary: dict, sizes, d: int, outdir) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, label in MODELS.items():
        ax.errorbar(sizes, summary[key]["mean"], yerr=summary[key]["se"], marker="o",
                    capsize=3, label=label)
    ax.axvline(d, color="k", ls=":", lw=1, label=f"n = d = {d}")
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images per class n")
    ax.set_ylabel("test error (10 digits)")
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "error_vs_n")
