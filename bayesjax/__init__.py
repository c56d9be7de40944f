"""bayesjax: a network is a log-likelihood plus a log-prior.

MLE, MAP with Gaussian (L2) or Laplace (L1) priors, Laplace evidence and NUTS posteriors are all
ways of reading one function, ``Posterior.log_joint``.

>>> import bayesjax as bj
>>> prior = bj.priors.Gaussian(scale=1.0)
"""

from bayesjax import (
    classifiers,
    conjugate,
    diffusion,
    likelihoods,
    metrics,
    predictive,
    priors,
    quadrature,
    sampling,
    vae,
)
from bayesjax.fit import FitResult, fit_map, fit_mle
from bayesjax.laplace import LaplaceResult, laplace, optimize_prior_precision
from bayesjax.marglik import MarglikResult, fit_marglik
from bayesjax.mclmc import mclmc
from bayesjax.mcmc_result import MCMCResult
from bayesjax.nuts import nuts
from bayesjax.posterior import Posterior
from bayesjax.serialize import load, save
from bayesjax.sgmcmc import SamplerResult, sgd_iterates, sgld
from bayesjax.subnetwork import subnetwork_indices

__all__ = ["FitResult", "LaplaceResult", "MCMCResult", "Posterior", "fit_map", "fit_mle", "laplace",
           "likelihoods", "nuts", "optimize_prior_precision", "predictive", "priors", "SamplerResult",
           "sgd_iterates", "sgld", "classifiers", "conjugate", "metrics", "quadrature", "vae",
           "sampling", "diffusion", "mclmc", "MarglikResult", "fit_marglik", "load", "save",
           "subnetwork_indices"]
__version__ = "0.1.0"
