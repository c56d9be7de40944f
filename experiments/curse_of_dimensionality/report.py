"""The markdown body of report.md."""

from __future__ import annotations

from experiments.common.tables import markdown_table

from .checks import MODELS
from .figures import COUNT_LABELS


def body(text, table, mle, summary, sizes, *, d, df, num_sets, jitter, num_train,
         num_test) -> str:
    count_rows = [[dd, table[dd]["covariance_entries"],
                   *(table[dd][k] for k in COUNT_LABELS)] for dd in sorted(table)]
    mle_rows = [[m["n"], m["rank"], "raised" if m["error"] else "fitted",
                 m["bare_cholesky_has_nan"]] for m in mle]
    err_rows = [[n, *(f"{summary[k]['mean'][i]:.4f} ± {summary[k]['se'][i]:.4f}"
                      for k in MODELS)] for i, n in enumerate(sizes)]
    first = next((m["error"] for m in mle if m["error"]), "")
    return "\n".join([
        f"**The text's numbers.** d = 64·64 = {text['d']}: a full covariance has d(d+1)/2 = "
        f"{text['covariance_entries']:,} free entries, logistic regression "
        f"{text['logistic_weights']:,} weights — {text['ratio']:,.0f} times fewer. The number of "
        f"100×100 images with 256 grey levels is 256^10000 = 10^{text['log10_num_images']:.1f} "
        f"≈ {text['num_images_scientific']} (10000·log₁₀ 256, checked against the exact "
        "integer's digit count).",
        "",
        markdown_table(["d", "covariance entries", *COUNT_LABELS.values()], count_rows),
        "",
        f"**The singular MLE on digits** (d = {d}, pixels standardised by the training "
        f"statistics; {num_train} training and {num_test} test images). One training set per "
        "n; rank of class 0's MLE covariance:",
        "",
        markdown_table(["n per class", "rank of Σ̂₀", "GaussianClassifier().fit",
                        "bare Cholesky has NaN"], mle_rows),
        "",
        f"The library's message: *{first}*",
        "",
        "The rank is at most n − 1 < d; a few border pixels are also constant within a class, "
        "so on digits the MLE stays singular even for n > d.",
        "",
        f"**Error against n per class** ({num_sets} random training sets per n, each n "
        "images of every digit; mean ± s.e. over the sets). The Inverse-Wishart prior has "
        f"ν = d + 2 = {df} and Ψ = I (prior mean I, the covariance of standardised uncorrelated "
        "pixels), its posterior mode (Ψ + S)/(ν + n + d + 1) is positive definite for every n. "
        f"The jittered MLE uses Ψ = {jitter:g}·I and ν ≈ 0: invertible, but no information.",
        "",
        markdown_table(["n", *MODELS.values()], err_rows),
        "",
        "The prior is what repairs the estimate, not invertibility: the jittered MLE ties the "
        "Inverse-Wishart estimate at the smallest n (both then classify by distance within the "
        "few directions the data span) but from n ≈ 10 on its error is large and varies wildly "
        "between training sets (see its s.e.): the directions the data barely span get "
        "variances of order the jitter and dominate the discriminant. Naive Bayes avoids the "
        "d(d+1)/2 entries by assuming them zero and pays with its bias at every n; softmax "
        "regression's 650 weights sit close to the shrunk Gaussian, which wins slightly at "
        "n = 10–40 (its errors are in the table; no claim is made on that ordering).",
    ])
