"""The markdown body of bnn_posteriors' report.md: the tables and remarks (numbers from the run,
wall times included; those are not in metrics.json)."""

from __future__ import annotations

import math

import numpy as np

from experiments.common.stats import Z_ONE_SIDED
from experiments.common.tables import markdown_table


def regression_table(reg: dict) -> str:
    return markdown_table(
        ["method", "RMSE data", "RMSE outside", "NLL data", "NLL gap", "NLL beyond",
         "NLL outside", "epist. std data", "epist. std outside", "ratio", "wall (s)"],
        [[m, r["rmse"]["data"], r["rmse"]["outside"], r["nll"]["data"], r["nll"]["gap"],
          r["nll"]["beyond"], r["nll"]["outside"], r["std_data"], r["std_outside"],
          r["std_ratio"], reg["times"][m]] for m, r in reg["table"].items()],
        floatfmt=("", ".3f", ".3f", ".2f", ".2f", ".2f", ".2f", ".4f", ".4f", ".1f", ".1f"))


SAMPLERS = {"diag": "NUTS, diag mass adapted (bj.nuts default), random start",
            "diag_map": "NUTS, diag mass adapted, MAP start",
            "laplace": "NUTS, Laplace mass, MAP start",
            "mclmc": "MCLMC (BlackJAX, unadjusted), random start"}


def sampler_table(reg: dict) -> str:
    s, w = reg["samplers"], reg["walls"]
    nuts = lambda k, v: v if k != "mclmc" else None  # noqa: E731   (MCLMC has no tree)
    return markdown_table(
        ["sampler", "min bulk ESS", "max R̂", "divergent", "mean tree depth", "hit depth 10",
         "step ε", "grad evals (draws)", "ESS / 1000 grads", "compile (s)",
         "sampling (s; MCLMC: + tuning)", "ESS/s"],
        [[SAMPLERS[k], s[k]["min_ess_bulk"], s[k]["max_r_hat"], int(s[k]["num_divergent"]),
          nuts(k, s[k]["mean_tree_depth"]), nuts(k, s[k]["max_tree_depth_fraction"]),
          ", ".join(f"{e:.2g}" for e in s[k]["step_size"]), int(s[k]["grad_evals"]),
          s[k]["ess_per_1000_grads"], w[k]["compile"], w[k]["sampling"], w[k]["ess_per_s"]]
         for k in SAMPLERS],
        floatfmt=("", ".0f", ".3f", "", ".2f", ".2f", "", "", ".3f", ".1f", ".1f", ".2f"))


def geometry_table(geo: dict) -> str:
    return markdown_table(
        ["inverse mass M⁻¹", "widest std √λ_max(M C)", "stable ε at the MAP",
         "stable ε along draws: median", "min", "√κ (median)", "steps across the widest"],
        [[k, f["widest_std"], f["max_step_at_map"], f["max_step_draws_median"],
          f["max_step_draws_min"], f["sqrt_kappa_median"], f["steps_to_cross"]]
         for k, f in geo["frames"].items()],
        floatfmt=("", ".3g", ".3g", ".3g", ".3g", ".3g", ".0f"))


def geometry_text(reg: dict, prior_scale: float) -> list[str]:
    geo, s = reg["geometry"], reg["samplers"]
    f = geo["frames"]
    lap, diag, dense = f["Laplace GGN"], f["adapted diag"], f["draws' covariance"]
    spec = geo["spectra"]
    eps = {k: float(np.mean(s[k]["step_size"])) for k in ("diag", "laplace")}
    hmin, (h_lo, h_med, h_hi) = geo["hessian_min_eig_at_map"], geo["hessian_max_eig_draws"]
    lines = [
        "", "**Why the Laplace mass fails, measured** (`geometry.py`). In the coordinates where a "
        "mass M⁻¹ makes the kinetic energy isotropic, the posterior's covariance C has eigenvalues "
        "λ(M C) and the potential's curvature at θ has eigenvalues λ(M⁻¹ H(θ)) (H the exact "
        "Hessian of −log joint). Leapfrog is stable only for ε < 2/√λ_max(M⁻¹H), and a draw "
        "decorrelates once a trajectory covers the widest std √λ_max(M C): steps per draw grow "
        "like √κ, κ = λ_max(M C)·λ_max(M⁻¹H); a Gaussian with M⁻¹ = C = H⁻¹ has κ = 1. C is the "
        "covariance of the NUTS draws around the MAP (diag, MAP start), H is evaluated at the MAP "
        f"and at {geo['num_points']} of the draws.", "", geometry_table(geo), "",
        f"Covariance spectra (largest / smallest eigenvalue): NUTS draws "
        f"{spec['NUTS draws'][0]:.3g} / {spec['NUTS draws'][-1]:.3g}; Laplace GGN "
        f"{spec['Laplace GGN'][0]:.3g} / {spec['Laplace GGN'][-1]:.3g}"
        + (f"; Laplace Hessian {spec['Laplace Hessian'][0]:.3g} / "
           f"{spec['Laplace Hessian'][-1]:.3g}" if "Laplace Hessian" in spec else "")
        + f". The exact Hessian of −log joint at the MAP has smallest eigenvalue {hmin:.3g} "
        + ("(positive definite). " if hmin > 0 else
           "(indefinite: the optimiser's end point has directions of negative curvature, so "
           "there is no exact-Hessian Laplace Gaussian; the GGN drops the residual term that "
           "makes them). ")
        + f"Its largest eigenvalue is {geo['hessian_max_eig_at_map']:.3g} at the MAP and "
        f"{h_lo:.3g} / {h_med:.3g} / {h_hi:.3g} (min / median / max) along the draws, a local "
        f"std of ≈ {h_med ** -0.5:.2g} across the stiffest direction, while the draws' covariance "
        f"eigenvalues are {spec['NUTS draws'][-1]:.2g} to {spec['NUTS draws'][0]:.2g} (prior "
        f"variance {prior_scale ** 2:g}). "
        + ("So the posterior is a thin sheet curved through a prior-sized volume: as stiff "
           "across itself everywhere as at the MAP, and no direction of θ is globally narrow. "
           if spec["NUTS draws"][-1] >= 0.1 * prior_scale**2 and h_med ** -0.5
           < 0.1 * spec["NUTS draws"][-1] ** 0.5 else "")
        + f"Non-Gaussianity: the draws' mean Mahalanobis distance (θ − θ*)ᵀP(θ − θ*) is "
        f"{geo['mahalanobis_mean']['ggn']:.3g} under the GGN precision and "
        f"{geo['mahalanobis_mean']['hessian']:.3g} under the Hessian one (a Gaussian gives "
        f"P = {geo['num_params']}); whitened by the GGN precision their covariance has "
        f"eigenvalues {geo['whitened_range']['ggn'][0]:.3g} to {geo['whitened_range']['ggn'][1]:.3g} "
        "(all 1 for the Laplace Gaussian).",
        "", "Reading: with the Laplace covariance as M⁻¹ the step that is stable at the MAP "
        f"is {lap['max_step_at_map']:.3g}, the one stable along the draws "
        f"{lap['max_step_draws_median']:.3g} (median; worst {lap['max_step_draws_min']:.3g}; NUTS adapted "
        f"ε = {eps['laplace']:.2g}), while the posterior is {lap['widest_std']:.3g} Laplace "
        f"standard deviations wide: √κ = {lap['sqrt_kappa_median']:.3g} against "
        f"{diag['sqrt_kappa_median']:.3g} for the adapted diagonal. "
        + ("The Laplace metric is right at one point and the posterior is not a Gaussian around "
           "it: the curvature the step must resolve keeps its size along the draws (largest "
           "Hessian eigenvalue above) but not its directions, so the metric that whitens the "
           "MAP's stiff directions leaves the draws' stiff directions unwhitened. "
           if lap["max_step_draws_median"] < 0.1 * lap["max_step_at_map"] else
           "Here the Laplace metric's stable step along the draws stays within 10× of its value "
           "at the MAP: the curvature does not turn much away from the mode. ")
        + "The draws' own covariance as a dense metric reaches √κ = "
        f"{dense['sqrt_kappa_median']:.3g}, against {diag['sqrt_kappa_median']:.3g} for the adapted "
        "diagonal: the metric a perfectly converged dense adaptation would reach gains "
        f"{diag['sqrt_kappa_median'] / dense['sqrt_kappa_median']:.2g}× in √κ"
        + (", little, since no fixed linear map flattens a curved sheet."
           if diag["sqrt_kappa_median"] < 2 * dense["sqrt_kappa_median"] else ".")]
    return lines


def classification_table(part: dict) -> str:
    return markdown_table(
        ["method", "accuracy", "NLL", "ECE", "confidence (test)", "confidence (far)", "wall (s)"],
        [[m, r["accuracy"], r["nll"], r["ece"], r["confidence_test"], r["confidence_far"][-1],
          part["times"][m]] for m, r in part["table"].items()],
        floatfmt=("", ".3f", ".3f", ".3f", ".3f", ".4f", ".1f"))


def body(reg: dict, cls: dict, *, num_train: int, noise: float, gap_half_width: float,
         data_half_width: float, num_test: int, test_half_width: float, width: int,
         prior_scale: float, nuts_chains: int, nuts_warmup: int, nuts_samples: int,
         far_scale: float, growth: float, near_one: float) -> str:
    s, w = reg["samplers"], reg["walls"]
    lines = [
        f"**Regression.** N = {num_train} points, y = sin(2x) + N(0, {noise:g}²), inputs "
        f"in {gap_half_width:g} ≤ |x| ≤ {data_half_width:g}; {num_test} test points "
        f"uniform on |x| ≤ {test_half_width:g} (\"data\": inside the training intervals; "
        f"\"outside\" = the gap and beyond both ends). MLP 1-{width}-1 tanh "
        f"(P = {reg['num_params']}), prior N(0, {prior_scale:g}²) "
        f"(MAP-L1: Laplace(b = {prior_scale / math.sqrt(2):.3f}), the same variance; "
        f"{reg['zeros_l1']} weights exactly 0). Laplace at the MAP-L2 weights; NUTS "
        f"{nuts_chains} chains × ({nuts_warmup} warmup + {nuts_samples} draws). "
        "NLL in nats per point of the Gaussian with the predictive's mean and variance "
        "(`bj.metrics.gaussian_nll`); wall times are first calls (JAX compilation included) on "
        "this machine and are not in metrics.json.", "", regression_table(reg)]
    ratio_s = w["laplace"]["ess_per_s"] / w["diag"]["ess_per_s"]
    ratio_g = s["laplace"]["ess_per_1000_grads"] / s["diag"]["ess_per_1000_grads"]
    mc_g = s["mclmc"]["ess_per_1000_grads"] / s["diag"]["ess_per_1000_grads"]
    mc_s = w["mclmc"]["ess_per_s"] / w["diag"]["ess_per_s"]
    budget = s["mclmc"]["grad_evals"] / s["diag"]["grad_evals"]
    lines += [
        "", "**Samplers.** Same posterior and keys. \"diag\" is `bj.nuts`'s default (diagonal mass "
        "adapted in Stan's windows, from the random initialisation; the NUTS row above), also "
        "started at the MAP (which separates the start from the mass matrix); "
        "\"laplace\" uses the full-Laplace covariance at the MAP as M⁻¹ (only ε adapted) and starts "
        "at the MAP; MCLMC is `bj.mclmc` (BlackJAX's unadjusted microcanonical Langevin, tuned by "
        "BlackJAX: step, L and a diagonal preconditioner) from the same start as \"diag\", with "
        f"{budget:.2g}× the gradient evaluations NUTS spent after warmup (after tuning). ESS = min over "
        "parameters of the bulk ESS; time = warmup + draws (MCLMC: tuning + draws).", "",
        sampler_table(reg), "",
        f"ESS per gradient evaluation, MCLMC / NUTS diag: **{mc_g:.2f}×**; ESS per second "
        f"**{mc_s:.2f}×** (MCLMC's tuning gradients are not counted, as NUTS's warmup is not; "
        "its draws are asymptotically biased by the step, NUTS's are not). "
        f"Laplace mass / diag adaptation: ESS per second **{ratio_s:.2f}**, per gradient "
        f"{ratio_g:.2f}: the Laplace approximation does not make the tree shorter here, and the "
        "chains mix far worse.", *geometry_text(reg, prior_scale), ""]
    for dname, part in cls.items():
        n = part["sampler"]
        lines += [
            f"**Classification: {dname}** (ReLU MLP, P = {part['num_params']}, prior "
            f"N(0, {prior_scale:g}²), Bernoulli). Accuracy, NLL and ECE (`bj.metrics`) on the "
            f"test set; confidence = mean of max(p, 1−p); \"far\": all {part['num_far']} inputs "
            f"(training and test) moved to x̄ + α(x − x̄), α = {far_scale:g}. NUTS: min bulk ESS "
            f"{n['min_ess_bulk']:.0f}, max R̂ {n['max_r_hat']:.3f}, {n['num_divergent']} "
            f"divergent, mean tree depth {n['mean_tree_depth']:.2f} (hit 10: "
            f"{n['max_tree_depth_fraction']:.2f}).", "", classification_table(part), ""]
    t = reg["table"]
    lines += [
        "Remarks. MLE, MAP-L2 and MAP-L1 are point estimates: their predictive is N(f(x; θ̂), σ²), "
        "so their epistemic std is 0 everywhere by construction and their outside-the-data NLL "
        "is set by how wrong the extrapolation is in units of σ. The Monte Carlo Laplace "
        "predictive pushes samples of the Gaussian through the nonlinear network; the directions "
        "the data do not pin down keep prior-sized variance, and through the tanh layer they move "
        f"f by ≈ {t['Laplace full (MC)']['std_data']:.1f} even on the data (Immer et al. "
        "2021): the GLM predictive is the one the approximation is consistent with. "
        "The diagonal Laplace predictive hardly grows outside the data (ratio "
        f"{t['Laplace diag (GLM)']['std_ratio']:.1f}): dropping the correlations overstates the "
        "variance on the data and misses the directions that only matter away from it. The "
        "last-layer Laplace lowers the far confidence least: it treats the features as known; "
        "Kristiadi et al. (2020) bound its confidence far away below 1, but here that bound is "
        "close to 1. "
        f"The epistemic growth factor {growth:g} is the text's inequality with a margin a zero or "
        "constant epistemic variance would fail; the paired tests are one-sided at the suite's "
        f"policy (Z = {Z_ONE_SIDED:.2f} s.e.); the confidence criterion {near_one} is what "
        "\"near 1\" means here. NUTS R̂ and ESS are for the parameters; a BNN posterior has "
        "symmetric copies of every mode, and the chains explore one neighbourhood of them, which "
        "is what the predictive needs."]
    return "\n".join(lines)
