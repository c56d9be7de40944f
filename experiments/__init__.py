"""The experiments: each reproduces a claim of the text, with a figure and numbers.

``python -m experiments NAME [--smoke] [--seed S] [--out DIR] [key=value ...]``. Each experiment is
one module here with a ``Config`` dataclass (``Config.smoke()`` runs in seconds) and
``run(config, outdir) -> dict``; ``experiments.runner`` writes ``results/NAME/``.
"""

# name -> module; one entry per experiment, in the order of the README's table.
EXPERIMENTS = {
    "flat_vs_sharp": "experiments.flat_vs_sharp",
    "predictive_uncertainty": "experiments.predictive_uncertainty",
    "bayes_rule": "experiments.bayes_rule",
    "l1_vs_l2": "experiments.l1_vs_l2",
    "minibatch_scaling": "experiments.minibatch_scaling",
    "bnn_posteriors": "experiments.bnn_posteriors",
    "sgd_as_posterior": "experiments.sgd_as_posterior",
}
