"""The markdown body of report.md."""

from __future__ import annotations

from experiments.common.tables import markdown_table

from .checks import NAMES


def body(summary, curves, priors, *, test_prior, num_train, num_test, num_words,
         drift_fraction) -> str:
    main, d = summary["main"], summary["drifted_naive_bayes"]
    rows = [[NAMES[k], v["error"]["unadjusted"], v["error"]["true_prior"], v["error"]["em"],
             v["oracle_error"], v["em_prior"], v["em_se"], v["binomial_se"]]
            for k, v in main.items()]
    rows.append(["naive Bayes, p(x|y) drifted too", d["error"]["unadjusted"],
                 d["error"]["true_prior"], d["error"]["em"], d["oracle_error"], d["em_prior"],
                 d["em_se"], d["binomial_se"]])
    sweep = [[p, *(curves[k][kind][i] for k in NAMES for kind in ("unadjusted", "true_prior",
                                                                   "em")), curves["oracle"][i]]
             for i, p in enumerate(priors)]
    return "\n".join([
        f"{num_train} balanced training messages, {num_words} binary word features drawn from "
        f"naive Bayes' own model (`spam.py`); test sets of {num_test} messages. Naive Bayes "
        "adapts by replacing p(y) in Bayes' rule, logistic regression (MAP, N(0, 1) prior) by "
        "`bj.classifiers.adapt_prior` on its probabilities; neither is retrained. EM "
        "(`bj.classifiers.em_prior`, 200 steps) sees only the unlabelled test inputs.",
        "",
        f"### Test set with {test_prior:g} spam",
        "",
        markdown_table(["classifier", "unadjusted", "true prior", "EM prior", "Bayes error",
                        "EM π̂", "s.e. 1/√(nI)", "binomial s.e."], rows, floatfmt=".4f"),
        "",
        "The EM estimate's standard error is that of a mixing weight estimated from n unlabelled "
        "inputs (`shift.py`), larger than the binomial s.e. of n labelled ones because the "
        "labels are inferred. Both corrections are the same Bayes' rule — the generative model "
        "applies it to its own p(y), the discriminative one to its outputs — and both reach the "
        "error of the true prior.",
        "",
        f"**When it fails.** In the last row spam's word rates moved {drift_fraction:.0%} of the "
        "way towards ham's (log scale) while the spam share is still "
        f"{test_prior:g}: p(x | y) changed, not only p(y). Bayes' rule "
        "p'(y|x) ∝ p(x|y) p'(y) with the *old* p(x|y) is then the wrong model of the test "
        "data: drifted spam looks like ham to the classifier, EM explains the test inputs with "
        f"a smaller spam share (π̂ = {d['em_prior']:.3f}), and even the true prior leaves the "
        f"error at {d['error']['true_prior']:.4f} against {d['oracle_error']:.4f} for the "
        "Bayes classifier of the new distribution. No re-weighting of p(y) can repair a "
        "wrong likelihood ratio; that needs new labelled data.",
        "",
        "### Error against the true test prior",
        "",
        markdown_table(["spam share", "NB unadjusted", "NB true prior", "NB EM",
                        "LR unadjusted", "LR true prior", "LR EM", "Bayes error"], sweep,
                       floatfmt=(".2f",) + (".4f",) * 7),
    ])
