r"""The text's parameter counts, computed.

For d-dimensional inputs and K classes: a full-covariance Gaussian class model has K means, d(d+1)/2
entries in each of its K covariances and K − 1 class probabilities
(``bj.classifiers.GaussianClassifier.num_parameters``); Gaussian naive Bayes a mean and a variance
per class and feature, 2Kd + K − 1; Bernoulli naive Bayes Kd + K − 1; logistic regression
(K − 1)(d + 1) — for two classes d weights and a bias. The number of distinct 100×100 8-bit
images, 256^10000, is written as a power of ten with logarithms (it has 24,083 digits).
"""

from __future__ import annotations

import math

import bayesjax as bj


def counts(d: int, num_classes: int = 2) -> dict:
    """Free parameters of each model for d features and K classes."""
    k = num_classes
    return {"covariance_entries": d * (d + 1) // 2,
            "full_covariance_gaussian": bj.classifiers.GaussianClassifier.num_parameters(d, k),
            "gaussian_naive_bayes": 2 * k * d + k - 1,
            "bernoulli_naive_bayes": k * d + k - 1,
            "logistic_regression": (k - 1) * (d + 1)}


def log10_num_images(height: int, width: int, levels: int) -> float:
    """log₁₀ of levels^(height·width), the number of distinct images."""
    return height * width * math.log10(levels)


def text_numbers() -> dict:
    """The text's numbers: a 64×64 image and the count of 100×100 8-bit images."""
    d = 64 * 64
    c = counts(d)
    exponent = log10_num_images(100, 100, 256)
    mantissa = 10 ** (exponent - math.floor(exponent))
    return {"d": d, "covariance_entries": c["covariance_entries"],
            "logistic_weights": c["logistic_regression"],
            "ratio": c["covariance_entries"] / c["logistic_regression"],
            "log10_num_images": exponent,
            "num_images_scientific": f"{mantissa:.3f}e{math.floor(exponent)}"}
