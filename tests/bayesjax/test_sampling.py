"""Decoding against references: filter_logits against a direct numpy implementation, sample against
known distributions (a fixed one and a Markov chain) by a chi-square test whose threshold comes from
the sample size's null law, and the bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayesjax import sampling

rng = np.random.default_rng(0)
CHI2_ALPHA = 1e-6  # a correct sampler fails one of these tests with probability ~1e-5


def _reference_filter(logits, temperature, top_k, top_p):
    """The decoding libraries' rule, token by token, on one (V,) row."""
    z = np.asarray(logits, np.float64) / temperature
    order = np.argsort(-z)
    keep = np.zeros(z.size, bool)
    keep[order[: (top_k or z.size)]] = True
    if top_p is not None:
        kept = order[keep[order]]
        p = np.exp(z[kept] - z[kept].max())
        p /= p.sum()
        before = np.cumsum(p) - p
        keep[:] = False
        keep[kept[before < top_p]] = True
    return np.where(keep, z, -np.inf)


@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, None, None), (0.7, 5, None), (1.3, None, 0.9), (0.5, 8, 0.6), (2.0, 3, 0.99),
    (1.0, 1, None), (1.0, None, 0.05)])
def test_filter_logits_matches_the_reference_on_random_logits(temperature, top_k, top_p):
    logits = rng.normal(size=(40, 12)) * 2.0  # continuous: no ties
    got = np.asarray(sampling.filter_logits(jnp.asarray(logits, jnp.float32),
                                            temperature=temperature, top_k=top_k, top_p=top_p))
    for row, out in zip(logits, got, strict=True):
        ref = _reference_filter(row, temperature, top_k, top_p)
        np.testing.assert_array_equal(np.isinf(out), np.isinf(ref))
        np.testing.assert_allclose(out[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-6)


def test_filter_logits_edge_cases():
    z = jnp.array([0.3, 2.0, -1.0, 1.5])
    np.testing.assert_array_equal(sampling.filter_logits(z, top_k=1),
                                  [-np.inf, 2.0, -np.inf, -np.inf])
    np.testing.assert_array_equal(sampling.filter_logits(z, top_p=1.0), z)   # top_p = 1: all
    np.testing.assert_array_equal(sampling.filter_logits(z, top_k=4), z)     # top_k = V: all
    np.testing.assert_array_equal(sampling.filter_logits(z, top_k=99), z)
    # one token holds (numerically) all the mass: any nucleus is that token alone
    one = jnp.array([-jnp.inf, 0.0, -jnp.inf])
    for p in (1e-3, 0.5, 0.999):
        np.testing.assert_array_equal(sampling.filter_logits(one, top_p=p), one)
    peaked = jnp.array([50.0, 0.0, 0.0])
    np.testing.assert_array_equal(sampling.filter_logits(peaked, top_p=0.9),
                                  [50.0, -np.inf, -np.inf])
    # ties at the cut-off are kept
    ties = jnp.array([1.0, 2.0, 1.0, 0.0])
    np.testing.assert_array_equal(sampling.filter_logits(ties, top_k=2),
                                  [1.0, 2.0, 1.0, -np.inf])
    # the nucleus is the smallest set with mass >= top_p: 0.5 + 0.3 = 0.8 reaches 0.8 exactly
    q = jnp.log(jnp.array([0.3, 0.5, 0.15, 0.05]))
    assert np.isfinite(np.asarray(sampling.filter_logits(q, top_p=0.75))).tolist() == \
        [True, True, False, False]
    np.testing.assert_allclose(sampling.filter_logits(z, temperature=0.5), z / 0.5)


def _chi2(counts, probs):
    """Pearson's statistic and its level-CHI2_ALPHA threshold, categories with expected count < 5
    pooled (the chi-square approximation needs them)."""
    counts, probs = np.asarray(counts, np.float64).ravel(), np.asarray(probs, np.float64).ravel()
    n = counts.sum()
    big = probs * n >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(probs[big] * n, probs[~big].sum() * n)
    obs, exp = obs[exp > 0], exp[exp > 0]
    if counts[probs == 0].sum():
        return np.inf, 0.0
    return float(((obs - exp) ** 2 / exp).sum()), float(stats.chi2.isf(CHI2_ALPHA, obs.size - 1))


P_FIXED = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])


def _fixed_step(state, token):
    return state + 1, jnp.log(jnp.asarray(P_FIXED, jnp.float32))


def _draw(step, state, prompt, num_tokens, num_samples, seed=0, **kw):
    keys = jax.random.split(jax.random.key(seed), num_samples)
    return jax.vmap(lambda k: sampling.sample(k, step, state, prompt, num_tokens, **kw))(keys)


@pytest.mark.parametrize("kw", [{}, dict(temperature=0.6), dict(top_k=3), dict(top_p=0.7),
                                dict(temperature=1.7, top_k=5, top_p=0.95)])
def test_sample_reproduces_a_fixed_distribution(kw):
    n = 20000
    out = _draw(_fixed_step, jnp.zeros((), jnp.int32), jnp.array([0, 3]), 3, n, **kw)
    target = np.asarray(jax.nn.softmax(sampling.filter_logits(jnp.log(P_FIXED), **kw)))
    for pos in range(3):
        counts = np.bincount(np.asarray(out.tokens[:, pos]), minlength=P_FIXED.size)
        stat, threshold = _chi2(counts, target)
        assert stat <= threshold, (kw, pos, stat, threshold)
    np.testing.assert_allclose(out.log_prob, np.log(P_FIXED)[np.asarray(out.tokens)], rtol=1e-5)
    ent = -np.sum(np.where(target > 0, target * np.log(np.where(target > 0, target, 1)), 0))
    np.testing.assert_allclose(out.entropy, ent, rtol=1e-5)
    assert np.all(np.asarray(out.state) == 2 + 3)  # every prompt and new token was fed in


def test_a_wrong_sampler_fails_the_frequency_test():
    # drawing from softmax(logits / T) twice tempered (T² instead of T) is off by a visible amount
    n = 20000
    out = _draw(_fixed_step, jnp.zeros((), jnp.int32), jnp.array([0]), 1, n, temperature=0.6 ** 2)
    counts = np.bincount(np.asarray(out.tokens[:, 0]), minlength=P_FIXED.size)
    target = np.asarray(jax.nn.softmax(jnp.log(P_FIXED) / 0.6))
    stat, threshold = _chi2(counts, target)
    assert stat > 10 * threshold


TRANS = np.array([[0.1, 0.6, 0.3], [0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])


def _markov_step(state, token):
    return state, jnp.log(jnp.asarray(TRANS, jnp.float32))[token]


def test_sample_feeds_each_token_back_markov_chain():
    n = 20000
    out = _draw(_markov_step, (), jnp.array([1, 2]), 2, n)
    x1, x2 = np.asarray(out.tokens).T
    joint = np.zeros((3, 3))
    np.add.at(joint, (x1, x2), 1)
    stat, threshold = _chi2(joint, TRANS[2][:, None] * TRANS)  # prompt ends in token 2
    assert stat <= threshold


def test_greedy_is_deterministic_and_follows_the_argmax():
    out = _draw(_markov_step, (), jnp.array([0]), 6, 8, greedy=True)
    assert np.all(np.asarray(out.tokens) == [1, 0, 1, 0, 1, 0])
    assert np.all(np.asarray(out.entropy) == 0)
    np.testing.assert_allclose(out.log_prob[0], np.log([0.6, 0.7, 0.6, 0.7, 0.6, 0.7]), rtol=1e-6)


def test_second_call_and_new_temperature_top_k_top_p_do_not_recompile():
    key = jax.random.key(1)
    sampling.sample(key, _markov_step, (), jnp.array([0]), 4, temperature=0.5, top_k=2, top_p=0.9)
    size = sampling._decode_jit._cache_size()
    sampling.sample(key, _markov_step, (), jnp.array([2]), 4, temperature=0.9, top_k=3, top_p=0.5)
    assert sampling._decode_jit._cache_size() == size


def test_filter_logits_under_jit_with_traced_top_k_and_top_p():
    logits = jnp.asarray(rng.normal(size=(5, 9)), jnp.float32)
    f = jax.jit(lambda z, k, p: sampling.filter_logits(z, top_k=k, top_p=p))
    for k, p in ((3, 0.7), (9, 1.0), (1, 0.2)):
        np.testing.assert_array_equal(f(logits, k, p),
                                      sampling.filter_logits(logits, top_k=k, top_p=p))


@pytest.mark.parametrize("kw, match", [
    (dict(temperature=0.0), "greedy=True"), (dict(temperature=-1.0), "greedy=True"),
    (dict(temperature=float("nan")), "temperature"), (dict(top_k=0), "top_k"),
    (dict(top_k=2.5), "top_k"), (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p"),
    (dict(prompt=[0, 3]), "outside the vocabulary"), (dict(prompt=[-1]), "outside the vocabulary"),
    (dict(prompt=[]), "non-empty"), (dict(prompt=[0.5]), "integer"),
    (dict(num_tokens=0), "num_tokens")])
def test_bad_input_raises(kw, match):
    args = dict(prompt=[0, 1], num_tokens=3)
    args.update(kw)
    prompt, num_tokens = jnp.asarray(args.pop("prompt")), args.pop("num_tokens")
    with pytest.raises(ValueError, match=match):
        sampling.sample(jax.random.key(0), _markov_step, (), prompt, num_tokens, **args)
    if set(kw) <= {"temperature", "top_k", "top_p"}:
        with pytest.raises(ValueError, match=match):
            sampling.filter_logits(jnp.zeros(3), **kw)
