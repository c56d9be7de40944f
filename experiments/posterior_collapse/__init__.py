r"""Claim: posterior collapse is a failed Bayesian update — q(z|x) falls back to the prior p(z) when
the likelihood p(x|z) carries no information about z, because the decoder variance σ² is large or
the KL weight β is strong; for a linear VAE the collapse is exact and in closed form (Lucas et al.
2019, *Don't blame the ELBO! A linear VAE perspective on posterior collapse*, NeurIPS; β-VAE:
Higgins et al. 2017; active units: Burda et al. 2016, *Importance weighted autoencoders*).

**Linear VAE** (``bj.vae.fit_linear_vae``, analytic ELBO, float64) on the digits training images
standardised by their own statistics: with λ_i the eigenvalues of the (1/N) covariance, latent i
carries ``KL = ½ log(λ_i/(βσ²))`` nats if λ_i > βσ², and collapses (KL = 0) otherwise; σ² and β act
only through βσ². The sweeps put βσ² between eigenvalues (|log λ_i/βσ²| ≥ 0.095 at seeds 0–4),
where the optimum is well conditioned.

**Nonlinear VAE** (MLP encoder and decoder, Flax NNX, fixed σ², one-sample reparameterised β-ELBO,
Adam) along a β sweep and a σ² sweep: the held-out KL per image falls and the number of active
units (``Cov_x E_q[z_i] > 0.01``) does not rise.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from experiments.common.claims import RunResult, log, show_progress
from experiments.common.config import in_interval, integers, positive
from experiments.common.data import load

from . import figures, report
from .checks import linear_claims, nonlinear_claims
from .closed_form import log_gap, num_active
from .linear import eigenvalues, linear_sweep
from .nonlinear import evaluate, samples, train_vaes


@dataclasses.dataclass(frozen=True)
class Config:
    """Attributes:
      seed: the digits split, the initialisations and the minibatches.
      latent_dim: K of the linear VAE.
      noise_vars: the linear σ² sweep, at β = 1.
      betas: the linear β sweep, at σ² = ``beta_noise_var``.
      linear_steps, linear_learning_rate: Adam (cosine-decayed) on the analytic ELBO.
      nl_latent_dim, nl_hidden: the nonlinear VAE's latent size and hidden width (one tanh layer
        in the encoder and one in the decoder).
      nl_noise_vars: the nonlinear σ² sweep, at β = 1.
      nl_betas: the nonlinear β sweep, at σ² = ``nl_beta_noise_var``.
      nl_steps, nl_batch_size, nl_learning_rate: Adam (cosine-decayed) on minibatches.
      test_fraction: share of each digit class held out (the nonlinear VAE is scored there).
    """

    seed: int = 0
    latent_dim: int = 5
    noise_vars: tuple[float, ...] = (0.5, 3.4, 4.5, 6.5, 9.0)
    betas: tuple[float, ...] = (1.0, 6.8, 9.0, 13.0, 18.0)
    beta_noise_var: float = 0.5
    linear_steps: int = 20000
    linear_learning_rate: float = 0.02
    nl_latent_dim: int = 16
    nl_hidden: int = 64
    nl_noise_vars: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    nl_betas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    nl_beta_noise_var: float = 0.3
    nl_steps: int = 3000
    nl_batch_size: int = 128
    nl_learning_rate: float = 3e-3
    test_fraction: float = 0.25

    def __post_init__(self):
        integers(self, ("latent_dim", "linear_steps", "nl_latent_dim", "nl_hidden", "nl_steps",
                        "nl_batch_size"))
        if self.latent_dim > 63:
            raise ValueError(f"latent_dim must be <= 63 (digits: 64 pixels), got {self.latent_dim}")
        for name in ("noise_vars", "betas", "nl_noise_vars", "nl_betas"):
            v = getattr(self, name)
            if len(v) < 2 or any(not (math.isfinite(t) and t > 0) for t in v) or \
                    any(v[i + 1] <= v[i] for i in range(len(v) - 1)):
                raise ValueError(f"{name} must be >= 2 increasing values > 0, got {v!r}")
        positive(self, ("beta_noise_var", "linear_learning_rate", "nl_beta_noise_var",
                        "nl_learning_rate"))
        in_interval(self, ("test_fraction",))

    @classmethod
    def smoke(cls) -> Config:
        # only well-conditioned linear settings (no σ² = 0.5, whose near-tied λ_2, λ_3 need the
        # full steps), fewer and shorter nonlinear runs
        return cls(noise_vars=(3.4, 4.5, 6.5), betas=(6.8, 9.0, 13.0), linear_steps=5000,
                   nl_steps=400, nl_noise_vars=(0.1, 1.0, 3.0), nl_betas=(1.0, 4.0, 8.0))


def run(config: Config, outdir: Path) -> RunResult:
    key_lin, key_nl, key_eval, key_samples = jax.random.split(jax.random.key(config.seed), 4)
    data = load("digits", test_fraction=config.test_fraction, seed=config.seed)
    lam = eigenvalues(data.x_train)
    # 1. the linear VAE: σ² sweep at β = 1, then β sweep at σ² = beta_noise_var, in one vmap
    pairs = [(s, 1.0) for s in config.noise_vars] + [(config.beta_noise_var, b) for b in config.betas]
    nv, bs = map(list, zip(*dict.fromkeys(pairs), strict=True))  # the shared setting fitted once
    products = np.array(nv) * np.array(bs)
    same = [(i, j) for i in range(len(nv)) for j in range(i + 1, len(nv))
            if math.isclose(products[i], products[j], rel_tol=1e-12) and bs[i] != bs[j]]
    sw = linear_sweep(key_lin, data.x_train, config.latent_dim, nv, bs,
                      num_steps=config.linear_steps, learning_rate=config.linear_learning_rate,
                      kl_tolerance=1e-4, progress_bar=show_progress())
    gap = log_gap(lam, products, config.latent_dim)
    log(f"linear VAE: max |KL - closed form| = {np.max(np.abs(sw.kl - sw.kl_closed)):.2e} nats")
    # 2. the nonlinear VAE: both sweeps, the shared setting trained once
    nl_nv = list(config.nl_noise_vars) + [config.nl_beta_noise_var] * len(config.nl_betas)
    nl_bs = [1.0] * len(config.nl_noise_vars) + list(config.nl_betas)
    settings = sorted(set(zip(nl_nv, nl_bs, strict=True)))
    trained = train_vaes(key_nl, data.x_train, [b for _, b in settings], [s for s, _ in settings],
                         latent_dim=config.nl_latent_dim, hidden=config.nl_hidden,
                         num_steps=config.nl_steps, batch_size=config.nl_batch_size,
                         learning_rate=config.nl_learning_rate, progress_bar=show_progress())
    ev = evaluate(trained, key_eval, data.x_test, [s for s, _ in settings])
    active = (ev.activity > 0.01).sum(1)
    lin_active = [num_active(lam, s, b, config.nl_latent_dim) for s, b in settings]
    log(f"nonlinear VAE: {len(settings)} settings trained; active units {active.tolist()}")
    by_beta = [settings.index((config.nl_beta_noise_var, b)) for b in config.nl_betas]
    by_noise = [settings.index((s, 1.0)) for s in config.nl_noise_vars]
    # 3. figures, claims, report
    figures.plot_linear(sw, lam, outdir)
    figures.plot_nonlinear({
        f"β (σ² = {config.nl_beta_noise_var:g})": (config.nl_betas, ev.kl_rows[by_beta].mean(1),
                                                   active[by_beta], np.array(lin_active)[by_beta]),
        "σ² (β = 1)": (config.nl_noise_vars, ev.kl_rows[by_noise].mean(1), active[by_noise],
                       np.array(lin_active)[by_noise])}, outdir)
    show = [by_noise[0], by_noise[-1], by_beta[-1]]
    names = [f"σ²={settings[i][0]:g} β={settings[i][1]:g}" for i in show]
    gen = samples(trained, key_samples, 10)
    figures.plot_digits(data.x_test[:10], {n: ev.recon[i, :10] for n, i in zip(names, show, strict=True)},
                        {n: gen[i] for n, i in zip(names, show, strict=True)}, data.mean, data.scale,
                        outdir)
    claims = linear_claims(sw, same) + nonlinear_claims(
        ev.kl_rows[by_beta], active[by_beta], ev.kl_rows[by_noise], active[by_noise])
    nl_table = [{"noise_var": s, "beta": b, "mean_kl": float(ev.kl_rows[i].mean()),
                 "active_units": int(active[i]), "kl_latents_over_0.01": int(
                     (ev.kl_per_latent[i] > 0.01).sum()), "linear_closed_form_active": lin_active[i],
                 "linear_closed_form_kl": float(0.5 * np.sum(np.log(np.maximum(
                     lam[:config.nl_latent_dim] / (s * b), 1.0)))),
                 "test_elbo_per_row": float(ev.elbo_rows[i].mean()),
                 "final_loss": float(np.asarray(trained.losses[i, -200:]).mean())}
                for i, (s, b) in enumerate(settings)]
    metrics = {
        "eigenvalues": lam, "log_gap_to_nearest_eigenvalue": gap,
        "linear": {"noise_vars": sw.noise_vars, "betas": sw.betas, "kl": sw.kl,
                   "kl_closed_form": sw.kl_closed, "active": sw.active,
                   "active_closed_form": sw.active_closed, "elbo_gap_per_row": sw.elbo_gap,
                   "grad_norm": sw.grad_norm},
        "nonlinear": nl_table,
        "claims": claims,
    }
    body = report.body(sw=sw, lam=lam, gap=gap, nl_table=nl_table, latent_dim=config.latent_dim,
                       nl_latent_dim=config.nl_latent_dim, nl_steps=config.nl_steps,
                       linear_steps=config.linear_steps)
    return RunResult(metrics, body)
