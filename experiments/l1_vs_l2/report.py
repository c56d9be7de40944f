"""The markdown body of l1_vs_l2's report.md: the sweep table, the zero-crossing remark and the
MLP table."""

from __future__ import annotations

import numpy as np

from experiments.common.tables import markdown_table

from .paths import KINDS


def body(*, paths: dict, mlp: dict, noise: float, lip: float, scales, crossings: list[str],
         linear_steps: int, mlp_hidden: int, mlp_steps: int, mlp_learning_rate: float,
         mlp_laplace_scale: float, test_fraction: float, seed: int) -> str:
    gau, lap = paths["gaussian"], paths["laplace"]
    max_gn = {k: max(r["grad_norm"] for r in paths[k]) for k in KINDS}
    sweep = markdown_table(
        ["scale", "Gaussian: max abs(w)", "Gaussian: abs diff to ridge", "float32 bound",
         "Laplace: zeros", "Laplace: KKT violation × b", "KKT violation / float32 bound"],
        [[g["scale"], np.abs(g["theta"][:-1]).max(), g["diff"], g["tol"], r["zeros"],
          r["kkt_rel"], r["kkt_ratio"]] for g, r in zip(gau, lap, strict=True)],
        floatfmt=(".3g", ".3g", ".2e", ".1e", "", ".1e", ".1e"))
    nets = markdown_table(
        ["prior", "scale", "zeros in layer 1", "zeros in layer 1, non-constant pixels",
         "zeros in layer 2", "train acc", "test acc", "grad_norm"],
        [[k, mlp[k]["scale"], mlp[k]["zero_frac_w1"], mlp[k]["zero_frac_w1_live"],
          mlp[k]["zero_frac_w2"], mlp[k]["train_acc"], mlp[k]["test_acc"], mlp[k]["grad_norm"]]
         for k in KINDS],
        floatfmt=("", ".3g", ".3f", ".3f", ".3f", ".3f", ".3f", ".1e"))
    zeros = [r["zeros"] for r in lap]  # by ascending b
    monotone = all(a >= b for a, b in zip(zeros[:-1], zeros[1:], strict=True))
    mono_text = ("The zero count is non-decreasing as b shrinks over this sweep." if monotone else
                 "The zero count is **not** monotone at every step: " + "; ".join(crossings)
                 + ". This is the lasso path itself, not the optimiser: the KKT conditions "
                 "certify every zero pattern to float32 precision (claim 2), and "
                 "tests/experiments/test_l1_vs_l2.py finds the same counts on the default sweep "
                 "with scikit-learn's float64 coordinate descent. With "
                 "correlated features a coefficient can cross zero as the prior weakens (it hits "
                 "zero, leaves the active set and re-enters with the other sign: the 'lasso "
                 "modification' of LARS, Efron et al. 2004, whose running example is this data "
                 "set), so 'the number of zeros grows as b shrinks' holds as a trend, not at every "
                 "step; the claim checks the trend and the certification.")
    return "\n".join([
        f"Noise σ = {noise:.4f}; {len(scales)} log-spaced prior scales from {scales[0]:.3g} to "
        f"{scales[-1]:.3g}. MAP by `bj.fit_map`, full batch, {linear_steps} steps from "
        "zero: Laplace with the default ISTA (sgd + soft threshold) at step 1/L, "
        f"L = λmax(X̃ᵀX̃)/(Nσ²) = {lip:.4g}; Gaussian with `optax.sgd` at step 1/(L + 1/(N s²)) "
        "(the prior's curvature included; one compile per scale). Max `grad_norm` over the "
        f"sweep: Gaussian {max_gn['gaussian']:.1e}, Laplace {max_gn['laplace']:.1e} (per-datum "
        "units). The ridge reference is the posterior mean of "
        "`bj.conjugate.bayesian_linear_regression` (float64; the flat intercept integrated out "
        "by centring).",
        "", sweep, "",
        "The float32 bounds are worst-case (Higham's γ_n for a dot product of n = N + p + 2 "
        "terms); the measured differences are typically far below them — the table shows both.",
        "", mono_text, "",
        f"MLP 64-{mlp_hidden}-10 (ReLU) on digits ({1.0 - test_fraction:.0%} of "
        f"each class for training, the suite's stratified split at seed {seed}), "
        "pixels / 16, Categorical likelihood, prior on both kernels (biases flat): Laplace "
        f"b = {mlp_laplace_scale:g} vs Gaussian s = √2·b (the same prior variance 2b²). "
        f"Both trained by `fit_map` with the same `optax.sgd({mlp_learning_rate:g})`, "
        f"{mlp_steps} full-batch steps (the prox after a plain sgd step is ISTA; Adam "
        f"would make it a heuristic). {mlp['dead_pixels']} pixels are constant 0 on the "
        "training set; their weights get no likelihood gradient, so the Laplace prior zeroes "
        "them trivially — the table also gives the zero share over the other pixels.",
        "", nets, "",
        "Remarks: the Gaussian prior's weights on dead pixels decay geometrically, by "
        "(1 − lr/(N s²)) per step, but never reach 0 here; with a much smaller s or many more "
        "steps they could underflow float32 to an exact 0, which would be rounding, not "
        "sparsity. The MLP objective is non-convex, so its MAP is a local mode. The test "
        "accuracies are estimates from the held-out quarter of the digits (binomial s.e. about "
        "0.01); the 0.9 bar of the last claim is a fixed threshold, not a significance test.",
    ])
