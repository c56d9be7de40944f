"""The report's markdown body."""

from __future__ import annotations

from experiments.common.tables import markdown_table

from . import corpus


def _text(tokens) -> str:
    return "`" + corpus.decode(tokens).replace("\n", "⏎").replace("`", "'") + "`"


def body(*, text, test_len, sweeps, unseen, mle_bits, intervals, map_row, net_bits, norms, dec, prompt,
         hidden, num_steps, prior_scale) -> str:
    out = [
        f"**Text.** The {len(text.train) + len(text.test):,} characters of `pydoc_data.topics`, "
        f"split by topic (seeded): {len(text.train):,} training characters, {len(text.test_topics)} "
        f"held-out topics ({', '.join(text.test_topics[:6])}, …); every model is scored on the same "
        f"{test_len:,} held-out positions. Vocabulary: {len(corpus.VOCAB)} fixed symbols, text "
        f"lowercased, every other character ({100 * text.rare_fraction:.2f}% of the text) mapped to "
        f"one symbol `{corpus.RARE}`.",
        "",
        "### 1. A Bayesian language model: character n-grams with a Dirichlet prior",
        "",
        "One Dirichlet(α) prior per context (`bj.conjugate.dirichlet_categorical`). The MLE is "
        "the sample mean of the one-hot observations; the posterior predictive is add-α "
        "smoothing; the evidence is summed over the contexts.",
        "",
        markdown_table(
            ["model", "α (evidence)", "α (best held-out)", "unseen held-out transitions",
             "MLE bits/char", "posterior bits/char"],
            [[f"{n}-gram", s.best_evidence, s.best_heldout, unseen[n], mle_bits[n],
              float(s.heldout_bits[s.log_evidence.argmax()])] for n, s in sweeps.items()],
            floatfmt=("", ".3g", ".3g", "", ".3f", ".3f")),
        "",
        "The held-out topics are other documentation than the training topics, so the α that is "
        "best in hindsight is somewhat larger than the evidence's (more smoothing for shifted "
        "text); the evidence, which sees only training data, still lands close.",
        "",
        "**Credible intervals** (bigram, α from the evidence; 95%, equal-tailed marginal Beta):",
        "",
        markdown_table(["after", "p(next | context)", "n(context, next)", "n(context)", "mean",
                        "95% interval"],
                       [[r.num_chars, f"p({r.next_char!r} | {r.context!r})", r.count,
                         r.context_count, r.mean, f"[{r.lower:.3f}, {r.upper:.3f}]"]
                        for r in intervals], floatfmt=("", "", "", "", ".3f", "")),
        "",
        "The intervals narrow roughly as 1/√n. They need not contain the next size's estimate: a "
        "prefix of the text is a few topics, not an exchangeable sample of the whole, and the "
        "posterior is only as honest as that assumption (e.g. p('e' | 'h') in the first 10,000 "
        "characters vs the whole text).",
        "",
        f"**The text's mistake.** Its code computes the sample mean `counts / counts.sum()` and "
        f"calls it the MAP. For the next character after {map_row.context!r} in the first "
        f"{map_row.num_chars:,} training characters, with a Dirichlet(α = {map_row.alpha:g}) prior:",
        "",
        markdown_table(["next char", "count", "sample mean (the text's \"MAP\")",
                        "MAP (n_k + α − 1)/(N + K(α − 1))", "posterior mean (predictive)"],
                       [[repr(c), n, a, b, m] for c, n, a, b, m in
                        zip(map_row.chars, map_row.counts, map_row.sample_mean, map_row.map,
                            map_row.posterior_mean, strict=True)],
                       floatfmt=("", "", ".4f", ".4f", ".4f")),
        "",
        f"The sample mean is the MLE (the MAP under a flat prior, α = 1), not this posterior's "
        f"mode: they differ by up to {map_row.max_abs_diff:.3f}, and the log posterior density is "
        f"{map_row.log_density_map:.1f} at the MAP but {map_row.log_density_sample_mean:.4g} at the "
        "sample mean (it puts probability 0 on unseen characters, where a Dirichlet(α > 1) density "
        "vanishes). For the evidence's α < 1 there is no interior mode at all "
        "(`DirichletPosterior.mode` is NaN): the density is unbounded at the simplex's faces, and "
        "the posterior mean is the estimate to use.",
        "",
        "### 2. A neural character model",
        "",
        f"Embedding → GRU ({hidden} units) → linear logits (Flax NNX), {num_steps} Adam steps in one "
        "compiled `lax.scan`. Its cross-entropy **is** the negative log-likelihood "
        "−log p(D | θ) = −Σ log p(x_{i+1} | x_≤i), per character, so minimising it is MLE; the MAP "
        f"variant adds a Gaussian prior N(0, {prior_scale:g}²) on every parameter, i.e. weight "
        "decay ‖θ‖²/(2s²N) on the per-character objective.",
        "",
        markdown_table(["model", "held-out bits/char", "‖θ‖"],
                       [[f"GRU, {k.upper()}", v, norms[k]] for k, v in net_bits.items()]
                       + [[f"{n}-gram, posterior predictive",
                           float(s.heldout_bits[s.log_evidence.argmax()]), None]
                          for n, s in sweeps.items()], floatfmt=("", ".3f", ".1f")),
        "",
        "### 3. Sampling: why two students get different homework",
        "",
        f"Prompt `{prompt}`. Greedy decoding, {len(dec.greedy)} times with different keys: "
        f"{_text(dec.greedy[0])} every time. Samples (first three of {dec.num_samples}, the same "
        "keys for every setting):",
        "",
        markdown_table(["setting", "samples"],
                       [[s.label, " · ".join(_text(t) for t in s.tokens[:3])]
                        for s in [dec.sweep[0], dec.plain, dec.sweep[-1]] + dec.truncated[:1]
                        + dec.truncated[-1:]]),
        "",
        markdown_table(["setting", "mean entropy (nats/token)", "mean log-lik (nats/char)",
                        "distinct continuations"],
                       [[s.label, float(s.entropy.mean()), float(s.log_lik.mean()), s.distinct]
                        for s in dec.sweep + dec.truncated], floatfmt=("", ".3f", ".3f", ".3f")),
        "",
        "**The sampler draws from the model's distribution** (first character after the prompt, "
        "Pearson χ² against softmax(filter_logits(logits)), small cells pooled):",
        "",
        markdown_table(["setting", "χ²", "df", "threshold (level α)", "TV distance"],
                       [[k, v.statistic, v.df, v.threshold, v.tv] for k, v in dec.frequency.items()],
                       floatfmt=("", ".1f", "", ".1f", ".4f")),
        "",
        "**T → 0 is greedy:** the exact probability that sampling reproduces the greedy "
        "continuation, and how many of the samples did. How small T must be depends on the "
        "greedy path's smallest gap between its two most probable characters "
        f"({dec.greedy_gap:.2g} nats here); the last row is T* = min(gap, T_min)/10:",
        "",
        markdown_table(["T", "exact P(= greedy)", "matched"],
                       [[f"{t:.3g}", p, f"{m}/{dec.num_samples}"] for t, p, m in
                        zip(dec.small_temperatures, dec.greedy_exact, dec.greedy_matches,
                            strict=True)], floatfmt=("", ".4f", "")),
    ]
    return "\n".join(out)
