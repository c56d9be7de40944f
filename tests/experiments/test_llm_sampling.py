"""What the llm_sampling claims rest on: the n-gram evidence against the chain rule, the MLE's zeros,
the MAP against the sample mean, the frequency test failing for wrong samplers, the exact
greedy-path probability, the split, and the CLI/config rejections."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaln

import experiments.llm_sampling as exp
from experiments.llm_sampling import corpus, decoding, neural, ngram

rng = np.random.default_rng(0)


# ----------------------------------------------------------------------------- corpus
def test_split_is_by_topic_seeded_and_covers_the_text():
    a, b = corpus.load(test_fraction=0.2, seed=3), corpus.load(test_fraction=0.2, seed=3)
    assert a.test_topics == b.test_topics and np.array_equal(a.train, b.train)
    assert corpus.load(test_fraction=0.2, seed=4).test_topics != a.test_topics
    docs = corpus.topics()
    held = sum(len(docs[t]) for t in a.test_topics)
    total = sum(len(t) for t in docs.values())
    assert 0.2 * total <= held < 0.2 * total + max(len(t) for t in docs.values())
    # the two streams are the topics joined by newlines: nothing lost, nothing shared
    assert len(a.train) + len(a.test) == total + len(docs) - 2


def test_vocabulary_is_fixed_and_rare_characters_map_to_one_symbol():
    assert len(set(corpus.VOCAB)) == len(corpus.VOCAB)
    text = "Hello, World! x = [1, 2]\n"
    assert corpus.decode(corpus.encode(text)) == text.lower()
    assert corpus.decode(corpus.encode("“ß€{")) == corpus.RARE * 4


# ----------------------------------------------------------------------------- n-grams
def test_counts_against_a_brute_force_count():
    v, toks = 5, rng.integers(0, 5, size=300)
    for order in (1, 2, 3):
        c = ngram.counts(toks, order, v)
        ref = {}
        for i in range(order - 1, len(toks)):
            key = tuple(toks[i - order + 1:i + 1])
            ref[key] = ref.get(key, 0) + 1
        assert c.table.sum() == len(toks) - order + 1
        for key, n in ref.items():
            ctx = 0
            for t in key[:-1]:
                ctx = ctx * v + int(t)
            assert c.table[c.row[ctx], key[-1]] == n


def test_evidence_equals_the_chain_rule_of_sequential_predictives():
    # log p(D | α) = Σ_i log p(x_i | x_<i): each factor the predictive (n + α)/(N + Vα) so far
    v, toks, alpha = 4, rng.integers(0, 4, size=200), 0.3
    for order in (1, 2, 3):
        seq = np.zeros((v ** (order - 1), v))
        logp = 0.0
        for i in range(order - 1, len(toks)):
            ctx = 0
            for t in toks[i - order + 1:i]:
                ctx = ctx * v + int(t)
            logp += np.log((seq[ctx, toks[i]] + alpha) / (seq[ctx].sum() + v * alpha))
            seq[ctx, toks[i]] += 1
        sweep = ngram.alpha_sweep(ngram.counts(toks, order, v), toks, [alpha], order)
        np.testing.assert_allclose(sweep.log_evidence[0], logp, rtol=1e-10)


def test_mle_is_infinite_on_an_unseen_transition_the_predictive_finite():
    v = 3
    c = ngram.counts(np.array([0, 1, 0, 1, 0, 1]), 2, v)
    test = np.array([0, 1, 1, 2, 0])          # 1→1 and 1→2 unseen, context 2 never seen
    assert ngram.mle_unseen(c, test, 1) == 3
    assert ngram.heldout_bits(c, ngram.mle(c), test, 1, unseen=0.0) == np.inf
    bits = ngram.heldout_bits(c, ngram.predictive(c, 0.5), test, 1, unseen=1 / v)
    # by hand: p(1|0) = 3.5/4.5, p(1|1) = p(2|1) = 0.5/3.5, p(0|2) = 1/3
    ref = -np.mean(np.log2([3.5 / 4.5, 0.5 / 3.5, 0.5 / 3.5, 1 / 3]))
    np.testing.assert_allclose(bits, ref, rtol=1e-12)


def test_the_map_is_the_mode_and_the_sample_mean_is_not():
    toks = corpus.encode("the theory that the thin thread then thaws " * 3)
    row = ngram.map_check(toks, len(toks), corpus.VOCAB.index("t"), 2.0, len(corpus.VOCAB),
                          corpus.decode)
    n = np.array(row.counts, float)
    big_n, k = (toks[:-1] == corpus.VOCAB.index("t")).sum(), len(corpus.VOCAB)
    np.testing.assert_allclose(row.map, (n + 1) / (big_n + k), rtol=1e-12)   # α = 2
    np.testing.assert_allclose(row.sample_mean, n / big_n, rtol=1e-12)
    assert row.log_density_map > row.max_log_density_random
    assert row.log_density_sample_mean < row.log_density_map
    assert row.max_abs_diff > 0.01
    # at α = 1 (flat prior) the MAP *is* the sample mean: the criterion's gap closes
    flat = ngram.map_check(toks, len(toks), corpus.VOCAB.index("t"), 1.0, k, corpus.decode)
    assert flat.max_abs_diff < 1e-12


def _log_dirichlet_ref(pi, c):
    return float(np.sum((c - 1) * np.log(pi)) - np.sum(gammaln(c)) + gammaln(c.sum()))


def test_log_dirichlet_density():
    c, pi = np.array([2.0, 3.5, 1.2]), np.array([0.2, 0.5, 0.3])
    assert ngram._log_dirichlet(pi, c) == pytest.approx(_log_dirichlet_ref(pi, c), rel=1e-12)


# ----------------------------------------------------------------------------- decoding
P_TRUE = np.array([0.35, 0.25, 0.15, 0.1, 0.08, 0.05, 0.02])


def _step(state, token):
    return state, jnp.log(jnp.asarray(P_TRUE, jnp.float32))


def test_frequency_test_passes_the_sampler_and_fails_wrong_ones():
    v = P_TRUE.size
    for kw in ({}, dict(temperature=0.5), dict(top_k=3), dict(top_p=0.7)):
        res, counts, target = decoding.frequency_test(jax.random.key(1), _step, (),
                                                      np.array([0]), 20000, v, **kw)
        assert res.passed, (kw, res)
    target = P_TRUE / P_TRUE.sum()
    draws = {  # three wrong samplers, each a plausible bug
        "tempered twice": np.asarray(jax.nn.softmax(jnp.log(P_TRUE) / 0.7**2)),
        "uniform over the top-3": np.where(np.arange(v) < 3, 1 / 3, 0.0),
        "argmax of logits + U(0,1) noise": np.bincount(
            np.argmax(np.log(P_TRUE) + rng.uniform(size=(20000, v)), 1), minlength=v) / 20000,
    }
    wrong_target = {"tempered twice": np.asarray(jax.nn.softmax(jnp.log(P_TRUE) / 0.7))}
    for name, q in draws.items():
        counts = rng.multinomial(20000, q / q.sum())
        res = decoding.chi_square(counts, wrong_target.get(name, target))
        assert not res.passed, name


def test_greedy_probability_is_the_product_along_the_path_and_tends_to_one():
    logits = rng.normal(size=(6, 5)) * 3
    g = logits.argmax(1)
    temps = [1.0, 0.5, 0.1, 0.01]
    p = decoding.greedy_probability(logits, g, temps)
    soft = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(p[0], np.prod(soft[np.arange(6), g]), rtol=1e-10)
    assert np.all(np.diff(p) > 0) and p[-1] > 0.999


def test_binomial_test_at_the_suite_level():
    assert decoding.binomial_test(500, 500, 1.0)[1]
    assert decoding.binomial_test(250, 500, 0.5)[1]
    assert not decoding.binomial_test(180, 500, 0.5)[1]  # z ≈ 6.3


def test_neural_step_matches_the_training_loss():
    """The sampler's step_fn and the training objective are the same model (the cross-entropy of
    a window = −mean log p under the step function's logits)."""
    toks = corpus.encode("the value of the object is returned by the method " * 4)
    net = neural.train(toks, vocab=len(corpus.VOCAB), embed=4, hidden=8, seq_len=8,
                       batch_size=2, num_steps=2, learning_rate=1e-2, prior_scale=1.0, seed=0)
    window = toks[:21]
    logits = decoding.path_logits(neural.step_fn(net, "mle"), neural.initial_state(net),
                                  window[:-1])
    logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    ref = -np.mean(logp[np.arange(20), window[1:]])
    got = neural._sequence_nll(net.graphdef, neural.variant(net, "mle"), net.hidden,
                               jnp.asarray(window)[None])
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # the MAP variant differs only by the prior term, which shrinks its weights
    assert net.loss.shape == (2, 2)


# ----------------------------------------------------------------------------- config / CLI
def test_config_rejects_invalid_values():
    for bad in (dict(num_alphas=1), dict(alpha_min=0.0), dict(alpha_min=20.0), dict(orders=(5,)),
                dict(neural_beats_orders=(4,), orders=(1, 2)), dict(map_alpha=0.5),
                dict(prompt="naïve"), dict(map_context="th"), dict(temperatures=(1.0, 0.5)),
                dict(small_temperatures=(0.01, 0.1)), dict(top_p=(1.0,)), dict(top_k=(0,)),
                dict(num_steps=0), dict(test_fraction=1.0), dict(num_samples=5)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)
    exp.Config.smoke()
