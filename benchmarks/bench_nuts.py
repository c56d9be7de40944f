"""NUTS on a BNN posterior: the Laplace covariance at the MAP as the inverse mass matrix (started at
the MAP) against NumPyro's diagonal adaptation from the random initialisation, in the same process.

The posterior is the ``bnn_posteriors`` experiment's: a 1-16-1 tanh MLP, 64 points, noise 0.1,
prior N(0, 1). Efficiency is the minimum over parameters of ArviZ's bulk ESS per second of warmup
plus sampling (compilation timed separately), and per post-warmup gradient evaluation (leapfrog
step), which does not depend on the machine. A third run, diagonal adaptation started at the MAP,
separates the effect of the start from that of the mass matrix. BlackJAX's MCLMC (unadjusted and
Metropolis-adjusted, ``bj.mclmc``) from the MAP is compared with the last, per gradient and per second.
"""

from __future__ import annotations

import time
import warnings

import jax

import bayesjax as bj
from bayesjax.mclmc import GRADS_PER_STEP
from benchmarks.common import row
from experiments.bnn_posteriors import Config
from experiments.bnn_posteriors.regression import regression_data, regression_posterior


def numpyro_default(key, post, *, num_warmup: int, num_samples: int, num_chains: int):
    """NumPyro's ``MCMC(NUTS(potential_fn))`` with its defaults on the same potential, started at
    ``post.params``; the second ``run`` is timed (the first compiles). Returns (min bulk ESS, seconds
    of that run, R̂, CPU seconds of that run) with the same ArviZ diagnostics as ``bj.nuts``."""
    import numpy as np
    from jax.flatten_util import ravel_pytree
    from numpyro.infer import MCMC, NUTS

    from bayesjax.mcmc_diagnostics import summarize

    theta0, unravel = ravel_pytree(post.params)
    init = jax.numpy.broadcast_to(theta0, (num_chains,) + theta0.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # "not enough devices": runs sequentially
        mcmc = MCMC(NUTS(potential_fn=lambda t: -post.log_joint(unravel(t))),
                    num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                    progress_bar=False)
        mcmc.run(key, init_params=init)
        t0, c0 = time.perf_counter(), time.process_time()
        mcmc.run(key, init_params=init, extra_fields=("num_steps", "diverging"))
        z = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ex = mcmc.get_extra_fields(group_by_chain=True)
    shape = np.shape(ex["num_steps"])
    stats = dict(log_joint=np.zeros(shape), energy=np.zeros(shape), tree_depth=np.zeros(shape),
                 num_steps=np.asarray(ex["num_steps"]), accept_prob=np.zeros(shape),
                 diverging=np.asarray(ex["diverging"]))
    d = summarize(post, jax.vmap(jax.vmap(unravel))(z), stats, step_size=np.ones(num_chains),
                  max_tree_depth=10, inverse_mass_matrix=None, compile_time=0.0,
                  sampling_time=seconds, chain_method="numpyro")
    return d.min_ess_bulk, seconds, d.max_r_hat, cpu


def defaults(post, *, keys: int, n: int) -> list[dict]:
    """``bj.nuts`` with its defaults against NumPyro's defaults, same potential, start, draws and
    chains, over ``keys`` keys (min bulk ESS is noisy: one key can be off by 2×). On a CPU with
    one device bj.nuts runs the 2 chains on 2 host threads (``bayesjax.chains``) and NumPyro's
    default one after the other, so the ESS per CPU second is reported beside ESS/s."""
    import numpy as np

    ours, theirs = [], []
    kw = dict(num_warmup=n, num_samples=n, num_chains=2, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bj.nuts(jax.random.key(99), post, **kw)          # compiles; every later call reuses it
    for k in range(keys):
        key = jax.random.key(100 + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t0, c0 = time.perf_counter(), time.process_time()
            mc = bj.nuts(key, post, **kw)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        ours.append((mc.diagnostics.min_ess_bulk, seconds, mc.diagnostics.max_r_hat, cpu))
        theirs.append(numpyro_default(key, post, num_warmup=n, num_samples=n, num_chains=2))
    o, t = np.asarray(ours), np.asarray(theirs)
    ratio = (o[:, 0].sum() / o[:, 1].sum()) / (t[:, 0].sum() / t[:, 1].sum())
    per_key = o[:, 0] / o[:, 1] / (t[:, 0] / t[:, 1])
    per_cpu = (o[:, 0].sum() / o[:, 3].sum()) / (t[:, 0].sum() / t[:, 3].sum())
    busy = lambda a: a[:, 3].sum() / a[:, 1].sum()  # noqa: E731
    return [
        row("bj.nuts default / NumPyro NUTS default: ESS/s", ratio, "ratio",
            f"goal ≥ 3; {keys} keys, {n}+{n} × 2 chains, from post.params; total ESS / total s; "
            f"per key {', '.join(f'{r:.2f}' for r in per_key)}; bj.nuts "
            f"{mc.diagnostics.chain_method} chains"),
        row("bj.nuts default / NumPyro NUTS default: ESS per CPU second", per_cpu, "ratio",
            f"cores busy: bj.nuts {busy(o):.1f}, NumPyro {busy(t):.1f} (its chains one after the "
            "other on one device)"),
        row("bj.nuts default: min bulk ESS / s", o[:, 0].sum() / o[:, 1].sum(), "1/s",
            f"ESS {', '.join(f'{e:.0f}' for e in o[:, 0])} in {', '.join(f'{s:.1f}' for s in o[:, 1])} s "
            f"(second call, whole bj.nuts); R̂ ≤ {o[:, 2].max():.3f}"),
        row("NumPyro NUTS default: min bulk ESS / s", t[:, 0].sum() / t[:, 1].sum(), "1/s",
            f"ESS {', '.join(f'{e:.0f}' for e in t[:, 0])} in {', '.join(f'{s:.1f}' for s in t[:, 1])} s "
            f"(second MCMC.run); R̂ ≤ {t[:, 2].max():.3f}"),
    ]


def run(quick: bool = False) -> list[dict]:
    cfg = Config()
    data = regression_data(cfg.seed, num_train=cfg.num_train, num_test=cfg.num_test,
                           noise=cfg.noise, gap_half_width=cfg.gap_half_width,
                           data_half_width=cfg.data_half_width,
                           test_half_width=cfg.test_half_width)
    post = regression_posterior(data, width=cfg.width, noise=cfg.noise,
                                prior_scale=cfg.prior_scale)
    t0 = time.perf_counter()
    fit = bj.fit_map(jax.random.key(0), post, num_steps=cfg.map_steps,
                     learning_rate=cfg.map_learning_rate)
    lap = bj.laplace(post, fit.params)
    jax.block_until_ready(lap.posterior_precision())
    setup = time.perf_counter() - t0
    n = 200 if quick else 500
    runs = {"Laplace mass, MAP start": dict(mass=lap),
            "diag adaptation, random start": dict(mass="diag"),
            "diag adaptation, MAP start": dict(mass="diag", init_params=fit.params)}
    out, rows = {}, []
    for name, kw in runs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # depth saturation: reported below
            mc = bj.nuts(jax.random.key(1), post, num_warmup=n, num_samples=n, num_chains=2,
                         progress_bar=False, **kw)
        d = mc.diagnostics
        grads = float(mc.stats["num_steps"].sum())
        out[name] = (d.min_ess_bulk / d.sampling_time, d.min_ess_bulk / grads, grads)
        rows += [
            row(f"NUTS {name}: min bulk ESS / s", out[name][0], "1/s",
                f"ESS {d.min_ess_bulk:.0f} in {d.sampling_time:.1f} s ({n}+{n} × 2 chains); "
                f"R̂ {d.max_r_hat:.3f}; compile {d.compile_time:.1f} s"),
            row(f"NUTS {name}: mean tree depth", d.mean_tree_depth, "depth",
                f"{100 * d.max_tree_depth_fraction:.0f}% of draws hit depth 10; step ε "
                f"{float(d.step_size.mean()):.2g}"),
        ]
    # BlackJAX MCLMC on the same posterior from the MAP; its own tuning (discarded) is not counted,
    # as NUTS's warmup is not: ESS per post-tuning gradient evaluation
    # unadjusted: one step per draw, so as many draws as NUTS (diag, MAP start) spent gradients
    budget = int(out["diag adaptation, MAP start"][2] / (2 * GRADS_PER_STEP))
    # adjusted: several steps per draw (measured here: ≈ 3.5 gradients), a tenth of that many draws
    draws = {"MCLMC, MAP start": min(budget, 200_000),
             "adjusted MCLMC, MAP start": min(budget // 10, 20_000)}
    for name, kw in {"MCLMC, MAP start": {}, "adjusted MCLMC, MAP start": dict(adjusted=True)}.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mc = bj.mclmc(jax.random.key(1), post, num_samples=draws[name], num_chains=2,
                          init_params=fit.params, progress_bar=False, **kw)   # as the NUTS rows
        d = mc.diagnostics
        grads = float(mc.stats["num_grads"].sum())
        out[name] = (d.min_ess_bulk / d.sampling_time, d.min_ess_bulk / grads)
        rows += [
            row(f"{name}: min bulk ESS / s", out[name][0], "1/s",
                f"ESS {d.min_ess_bulk:.0f} in {d.sampling_time:.1f} s ({draws[name]} draws × 2 chains); "
                f"R̂ {d.max_r_hat:.3f}; tuning {int(mc.stats['tuning_num_grads'].sum())} grads"),
            row(f"{name}: ESS per gradient / NUTS diag (MAP start)",
                out[name][1] / out["diag adaptation, MAP start"][1], "ratio",
                f"ESS/grad {out[name][1]:.3g}; > 1: fewer gradients per effective sample"),
            row(f"{name}: ESS/s / NUTS diag (MAP start)",
                out[name][0] / out["diag adaptation, MAP start"][0], "ratio", ""),
        ]
    rows += defaults(post, keys=1 if quick else 3, n=n)
    lap_name, diag_name = "Laplace mass, MAP start", "diag adaptation, random start"
    rows += [
        row("ESS/s: Laplace mass / diag adaptation", out[lap_name][0] / out[diag_name][0],
            "ratio", "> 1: the Laplace mass matrix helps"),
        row("ESS per gradient: Laplace mass / diag adaptation",
            out[lap_name][1] / out[diag_name][1], "ratio", "machine-independent"),
        row("ESS/s: diag from MAP / diag from random start",
            out["diag adaptation, MAP start"][0] / out[diag_name][0], "ratio",
            "effect of the start alone"),
        row("MAP fit + Laplace (full) build, cold", setup, "s",
            f"{cfg.map_steps} Adam steps; the Laplace route's extra cost"),
    ]
    return rows
