"""The sweep over the true test prior: error of the unadjusted, true-prior and EM predictions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure

from .checks import NAMES

KINDS = {"unadjusted": "unadjusted (train prior 0.5)", "true_prior": "true test prior",
         "em": "prior estimated by EM"}


def sweep_summary(sweep: list, priors) -> dict:
    """Per classifier and correction: the error and its binomial s.e. at each prior; the EM
    estimates; the Bayes-optimal error."""
    out = {k: {kind: [float(r[k][kind].mean()) for r in sweep] for kind in KINDS} for k in NAMES}
    for k in NAMES:
        out[k]["em_prior"] = [r[k]["em_prior"] for r in sweep]
        out[k]["se"] = {kind: [float(r[k][kind].std(ddof=1) / np.sqrt(r[k][kind].size))
                               for r in sweep] for kind in KINDS}
    out["oracle"] = [float(r["oracle"].mean()) for r in sweep]
    return out


def plot_sweep(curves: dict, priors, outdir) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, k in zip(axes, NAMES, strict=True):
        for kind, label in KINDS.items():
            ax.errorbar(priors, curves[k][kind], yerr=curves[k]["se"][kind], marker="o",
                        capsize=3, label=label)
        ax.plot(priors, curves["oracle"], "k:", label="Bayes error (true model)")
        ax.set_xlabel("true spam share of the test set")
        ax.set_title(NAMES[k])
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test error")
    save_figure(fig, outdir, "error_vs_test_prior")
