"""laplace-torch's link approximations on fixed logit Gaussians, for ``tests/bayesjax/test_link_approx.py``.

``.venv-peers/bin/python benchmarks/peers/link_approx.py`` (torch + laplace-torch, no JAX) draws, in
float64 with a fixed seed, logit means μ (M, K) and per-input covariances Σ (M, K, K) for K = 4 and
K = 2 at three covariance scales, and runs laplace-torch's own ``la(x, pred_type="glm",
link_approx=...)`` for ``"probit"``, ``"bridge"`` and ``"bridge_norm"`` on them: the Laplace
object's ``_glm_predictive_distribution`` is replaced by one returning (μ, Σ), so the numbers are
those of laplace-torch's ``_glm_forward_call`` and nothing else of it. Writes
``tests/data/laplace_torch_links.json`` (μ, Σ and the probabilities, as float64 lists).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from laplace import Laplace

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "laplace_torch_links.json"
LINKS = ("probit", "bridge", "bridge_norm")
M = 5


def _case(rng, k: int, scale: float) -> dict:
    mu = rng.normal(scale=2.0, size=(M, k))
    a = rng.normal(size=(M, k, k))
    cov = scale * (a @ np.swapaxes(a, 1, 2) / k + 0.1 * np.eye(k))
    model = torch.nn.Linear(1, k).double()
    la = Laplace(model, "classification", subset_of_weights="all", hessian_structure="diag")
    la._glm_predictive_distribution = lambda x, joint=False: (torch.tensor(mu), torch.tensor(cov))
    x = torch.zeros(M, 1, dtype=torch.float64)
    probs = {link: la(x, pred_type="glm", link_approx=link).numpy().tolist() for link in LINKS}
    return {"k": k, "scale": scale, "mean": mu.tolist(), "cov": cov.tolist(), "probs": probs}


def main() -> None:
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(15)
    cases = [_case(rng, k, scale) for k in (4, 2) for scale in (0.01, 1.0, 10.0)]
    OUT.write_text(json.dumps({"source": "benchmarks/peers/link_approx.py", "cases": cases}) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
