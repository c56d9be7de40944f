"""The markdown body of sgd_as_posterior's report.md (numbers from the two parts' metrics)."""

from __future__ import annotations

from experiments.common.stats import Z
from experiments.common.tables import markdown_table


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:+.{digits}f}%"


def sgd_tables(sgd: dict) -> tuple[str, str, str]:
    """The runs against the law, the equal-ε/B pairs and the matching learning rates."""
    a = sgd["a"]
    runs = markdown_table(
        ["ε", "B", "ε·a", "V̂ (± SE)", "exact law", "dev.", "z", "issue's a = 1 form: dev.",
         "small-ε law: dev."],
        [[f"{r['learning_rate']:g}", r["batch_size"], r["learning_rate"] * a,
          f"{r['variance']:.4e} ± {r['se']:.1e}", r["exact"], _pct(r["rel_dev"]), r["z"],
          _pct(r["issue_rel_dev"], 1), _pct(r["ou_rel_dev"], 1)] for r in sgd["runs"]],
        floatfmt=("", "", ".3f", "", ".4e", "", "+.2f", "", ""))
    pairs = markdown_table(
        ["(ε₁, B₁) vs (ε₂, B₂)", "ε/B", "V̂₁/V̂₂ (± SE)", "exact ratio", "z"],
        [[f"({p['first'][0]:g}, {p['first'][1]}) vs ({p['second'][0]:g}, {p['second'][1]})",
          f"{p['eps_over_b']:g}", f"{p['ratio']:.4f} ± {p['se']:.4f}", p["predicted_ratio"],
          p["z"]] for p in sgd["pairs"]],
        floatfmt=("", "", "", ".4f", "+.2f"))
    stars = markdown_table(
        ["B", "ε* = 2B/(N s_g² + Ba)", "V̂(ε*) (± SE)", "posterior 1/(Na)", "dev.", "z",
         "Mandt's 2B/(N s_g²)", "its exact V: dev."],
        [[r["batch_size"], r["learning_rate"], f"{r['variance']:.4e} ± {r['se']:.1e}",
          sgd["posterior_var"], _pct(r["rel_dev"]), r["z"], r["mandt_learning_rate"],
          _pct(r["mandt_variance_rel_dev"], 1)] for r in sgd["matching"]],
        floatfmt=("", ".4f", "", ".4e", "", "+.2f", ".4f", ""))
    return runs, pairs, stars


def modes_table(modes: dict, *, sgld_batch_size: int, nuts_chains: int, nuts_samples: int) -> str:
    rows = []
    for r in modes["sgld"] + [modes["nuts"]]:
        sgld = "predicted_var_inflation" in r
        name = (f"SGLD ε = {r['step_size']:g}, B = {sgld_batch_size}" if sgld
                else f"NUTS ({nuts_chains} chains × {nuts_samples})")
        theory = f" ({_pct(r['predicted_var_inflation'], 1)})" if sgld else ""
        rows.append([name, r["tv_folded"],
                     f"{r['tv_folded_null_mean']:.4f} / {r['tv_folded_threshold']:.4f}",
                     r["tv"], f"{r['tv_null_mean']:.4f} / {r['tv_threshold']:.4f}",
                     r["tv_iid_at_ess_mean"], f"{r['ess_bulk']:.0f} ({r['ess_sign']:.0f})",
                     f"{r['positive_fraction']:.3f} ± {r['positive_fraction_se']:.3f}",
                     f"{r['chains_visiting_both']}/{r['num_chains']}", r["crossings_per_chain"],
                     _pct(r["within_mode_var_rel_dev"], 1) + theory])
    return markdown_table(
        ["sampler", "TV of abs(θ)", "its noise: mean / α-bound", "TV of θ",
         "its noise: mean / α-bound", "i.i.d. at ESS: mean TV", "ESS θ (sign)", "P̂(θ > 0) ± SE",
         "chains visiting both modes", "crossings per chain",
         "within-mode var.: dev. (linear theory)"],
        rows, floatfmt=("", ".4f", "", ".4f", "", ".4f", "", "", "", ".1f", ""))


def body(sgd: dict, modes: dict, *, noise: float, prior_scale: float, true_mean: float,
         sgd_chains: int, sgd_steps: int, sgd_thin: int, mode_noise: float,
         mode_prior_scale: float, num_bins: int, grid_limit: float, sgld_chains: int,
         sgld_batch_size: int, burn_fraction: float, nuts_chains: int, nuts_warmup: int,
         nuts_samples: int) -> str:
    a, gv = sgd["a"], sgd["grad_var"]
    runs, pairs, stars = sgd_tables(sgd)
    table2 = modes_table(modes, sgld_batch_size=sgld_batch_size, nuts_chains=nuts_chains,
                         nuts_samples=nuts_samples)
    nu, s0 = modes["nuts"], modes["sgld"][0]
    max_issue = max(abs(r["issue_rel_dev"]) for r in sgd["runs"])
    min_issue = min(abs(r["issue_rel_dev"]) for r in sgd["runs"])
    min_issue_z = min(abs(r["variance"] - r["issue"]) / r["se"] for r in sgd["runs"])
    max_z = max(abs(r["z"]) for r in sgd["runs"])
    mean_z = max(abs(r["mean"] - sgd["posterior_mean"]) / r["mean_se"]
                 for r in sgd["runs"] + sgd["matching"])
    bias = "; ".join(
        f"ε = {r['step_size']:g}: TV of |θ| {r['tv_folded']:.4f}, "
        f"{'above' if r['tv_folded'] > r['tv_folded_threshold'] else 'within'} its noise bound "
        f"({r['tv_folded_threshold']:.4f}); mode width {_pct(r['within_mode_var_rel_dev'], 1)} "
        "in variance" for r in modes["sgld"])
    burn = f"{100 * burn_fraction:.0f}%"
    return f"""**Part 1.** Gaussian mean, N = {sgd['num_data']}, σ = {noise:g}, prior \
N(0, {prior_scale:g}²), data from θ = {true_mean:g}: curvature of L = −log_joint/N \
a = {a:.5f} (closed form 1/σ² + 1/(Ns₀²) = {sgd['a_closed_form']:.5f}), per-example gradient \
variance s_g² = {gv:.5f} (closed form s_y²/σ⁴ = {sgd['grad_var_closed_form']:.5f}, s_y² the \
data's variance with divisor N), posterior N(m, v) from `bj.conjugate.normal_known_variance`: \
v = 1/(Na) = {sgd['posterior_var']:.4e}. `bj.sgd_iterates` with B indices drawn with replacement, \
{sgd_chains} independent chains of {sgd_steps} steps per (ε, B), started at m, burn-in \
10/(−ln|1 − εa|) steps, every {sgd_thin}th iterate kept. The formula used is the exact AR(1) law \
**V = ε s_g² / (B a (2 − εa))**. The iterates are centred on the posterior mean \
m = {sgd['posterior_mean']:.5f} (largest |mean − m|/SE over the runs: {mean_z:.2f}).

{runs}

Equal ε/B:

{pairs}

Learning rate that makes the iterate variance equal to the posterior variance:

{stars}

**Part 2.** y_i ~ N(θ², σ²), N = {modes['num_data']}, σ = {mode_noise:g}, prior \
N(0, {mode_prior_scale:g}²), ȳ = 1: modes at ±{modes['mode']:.3f}, barrier \
{modes['barrier_nats']:.2f} nats between them, exact P(θ > 0) = {modes['positive_mass_exact']:.4f}, \
within-mode variance (of |θ|) {modes['within_mode_var_exact']:.4f}. `bj.quadrature` on \
{num_bins} × 25 cells of [−{grid_limit:g}, {grid_limit:g}] (log density at the ends \
{modes['log_density_at_grid_end']:.0f} nats below the maximum), histograms of {num_bins} bins \
({num_bins // 2} for |θ|). SGLD: {sgld_chains} chains, B = {sgld_batch_size} with replacement, \
all started at +{modes['mode']:.3f}, the first {burn} of each chain discarded. NUTS (`bj.nuts`, \
diagonal mass adapted in warmup): {nuts_chains} chains × {nuts_warmup} warmup + {nuts_samples} \
draws from the same start, the first {burn} of the draws discarded too. The histograms are tested \
by the mass of each mode (P̂(θ > 0), within Z = {Z:.2f} SE) and by the TV of the histogram of |θ| \
(the shape within the modes) against a level-α bound on the TV of Monte Carlo noise alone \
(Borell–TIS; the noise's normal approximation does not hold, see `two_modes.py`).

{table2}

Remarks.
- The exact discrete-time law holds over the whole stable range 0 < εa < 2: largest deviation \
{100 * max(abs(r['rel_dev']) for r in sgd['runs']):.2f}%, largest |z| {max_z:.2f}. The \
small-ε (Ornstein-Uhlenbeck) law ε s_g²/(2aB) is off by the factor 2/(2 − εa), up to \
{100 * max(abs(r['ou_rel_dev']) for r in sgd['runs']):.0f}% here. The issue's ε s²/(B(2 − ε)) is \
the same law at unit curvature a = 1, with s² the per-example *gradient* variance (units of \
gradient², s_y²/σ⁴, not y²); here the prior adds 1/(Ns₀²) = {a - 1 / noise**2:.3f} to the \
curvature, so that form is off by {100 * min_issue:.1f}% to {100 * max_issue:.1f}%, at least \
{min_issue_z:.0f} standard errors in every run: the Monte Carlo precision is enough to tell the two \
laws apart.
- V depends on (ε, B) through ε/B alone only while εa ≪ 2: the equal-ε/B ratios go from \
{sgd['pairs'][0]['ratio']:.3f} at ε/B = {sgd['pairs'][0]['eps_over_b']:g} to \
{sgd['pairs'][-1]['ratio']:.3f} at ε/B = {sgd['pairs'][-1]['eps_over_b']:g}, following \
(2 − ε₂a)/(2 − ε₁a) (largest |z| {max(abs(p['z']) for p in sgd['pairs']):.2f}).
- Mandt et al.'s ε* = 2B/(N s_g²) is the small-ε answer; under the exact law it overshoots the \
posterior variance by the amount in the last column, while ε* = 2B/(N s_g² + Ba) matches it. In \
one dimension the variance can always be matched; with more parameters it takes a gradient-noise \
covariance proportional to the Hessian, or a preconditioner (as Mandt et al. discuss).
- Constant-step SGLD is biased by O(ε): each mode is wider by about (1 + εVar η/4)/(1 − εU''/4) − 1 \
(AR(1) theory for a Gaussian mode, η the minibatch gradient noise, U'' the curvature at the mode; \
last column in parentheses). Measured: {bias}.
- The TV of the unfolded histogram is dominated by the mass flipping between the modes: its noise \
bound ({s0['tv_threshold']:.3f} for SGLD) is several times that of |θ| \
({s0['tv_folded_threshold']:.3f}), too lenient to see the widening above; the flip itself is what \
P̂(θ > 0) tests.
- Mode switching is what limits both samplers here: the ESS of θ ({s0['ess_bulk']:.0f} for SGLD, \
{nu['ess_bulk']:.0f} for NUTS) is set by the crossings, so an i.i.d. sample of that size has a \
TV ({s0['tv_iid_at_ess_mean']:.3f}, {nu['tv_iid_at_ess_mean']:.3f}) far above the chain-based \
noise ({s0['tv_null_mean']:.3f}, {nu['tv_null_mean']:.3f}) that measures the actual bin-frequency \
noise of these runs: it would let a sampler with a visibly wrong shape pass.
- NUTS: {nu['num_divergent']} divergent transitions out of {nuts_chains * nuts_samples} \
(`bj.nuts` warns), R̂ = {nu['r_hat']:.3f}, mean tree depth {nu['mean_tree_depth']:.2f}, \
{nu['crossings_per_chain']:.0f} mode switches per chain against {s0['crossings_per_chain']:.0f} \
per SGLD chain (both counted on the kept draws).
"""
