"""The learning-curve figure: test error vs m, mean ± 1 s.e. over the training sets."""

from __future__ import annotations

import matplotlib.pyplot as plt

from experiments.common.plotting import save_figure

TITLES = {"simulated": "simulated (duplicated features)", "digits": "digits 3 vs 8 (binarised)",
          "breast_cancer": "breast cancer (GaussianNB)"}


def plot_curves(sim_nb, sim_lr, limits, real, summary, outdir) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, key in zip(axes, ("simulated", "digits", "breast_cancer"), strict=True):
        s = summary[key]
        ax.errorbar(s["sizes"], s["nb_mean"], yerr=s["nb_se"], marker="o", capsize=3,
                    label="naive Bayes (generative)")
        ax.errorbar(s["sizes"], s["lr_mean"], yerr=s["lr_se"], marker="s", capsize=3,
                    label="logistic regression, MAP (discriminative)")
        if key == "simulated":
            ax.axhline(limits["bayes"], color="k", ls=":", lw=1, label="Bayes error")
            ax.axhline(limits["naive_bayes_limit"], color="C0", ls=":", lw=1,
                       label="naive Bayes with the true θ")
            if s["crossover"] == s["crossover"]:
                lo, hi = s["crossover_95"]
                ax.axvspan(lo, hi, color="0.85", zorder=0, label="crossover, 95% bootstrap")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training-set size m")
        ax.set_ylabel("test error")
        ax.set_title(TITLES[key])
        ax.legend(fontsize=7)
    save_figure(fig, outdir, "learning_curves")
