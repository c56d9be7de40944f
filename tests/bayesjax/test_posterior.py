import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.layers = nnx.List([nnx.Linear(2, 8, rngs=rngs), nnx.Linear(8, 1, rngs=rngs)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


def _data(n=30):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (np.sin(x[:, 0]) + 0.1 * rng.normal(size=n)).astype(np.float32)
    return x, y


def test_nnx_module_and_apply_fn_agree():
    x, y = _data()
    model = MLP(nnx.Rngs(0))
    lik, prior = bj.likelihoods.Gaussian(0.2), bj.priors.Gaussian(1.0)
    post = bj.Posterior(model, lik, prior, x, y)

    def apply_fn(p, xs):
        h = jnp.tanh(xs @ p["layers"][0]["kernel"] + p["layers"][0]["bias"][None, :])
        return h @ p["layers"][1]["kernel"] + p["layers"][1]["bias"][None, :]

    post2 = bj.Posterior.from_apply(apply_fn, post.params, lik, prior, x, y)
    for name in ("log_likelihood", "log_prior", "log_joint"):
        np.testing.assert_allclose(getattr(post, name)(post.params),
                                   getattr(post2, name)(post.params), rtol=1e-5)
    np.testing.assert_allclose(post.predict(post.params), model(x), rtol=1e-6)
    assert post.num_params == 2 * 8 + 8 + 8 + 1


def test_log_joint_is_likelihood_over_temperature_plus_prior():
    x, y = _data()
    post = bj.Posterior(MLP(nnx.Rngs(1)), bj.likelihoods.Gaussian(0.2), bj.priors.Laplace(0.5),
                        x, y, temperature=0.5)
    p = post.params
    np.testing.assert_allclose(post.log_joint(p), post.log_likelihood(p) / 0.5 + post.log_prior(p),
                               rtol=1e-6)
    # the minibatch estimate over all points (B = N) is exact
    np.testing.assert_allclose(post.log_joint_estimate(p, jnp.arange(30)), post.log_joint(p),
                               rtol=1e-5)


def test_posterior_is_a_pytree_for_jit():
    x, y = _data()
    post = bj.Posterior(MLP(nnx.Rngs(0)), bj.likelihoods.Gaussian(0.2), bj.priors.Gaussian(1.0),
                        x, y)
    f = jax.jit(lambda post, p: post.log_joint(p))
    np.testing.assert_allclose(f(post, post.params), post.log_joint(post.params), rtol=1e-6)
    f(post.replace(prior=bj.priors.Gaussian(3.0)), post.params)
    f(bj.Posterior(MLP(nnx.Rngs(5)), bj.likelihoods.Gaussian(0.3), bj.priors.Gaussian(1.0), x, y),
      post.params)
    assert f._cache_size() == 1


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(x=np.full((30, 2), np.nan)), "x contains 60 non-finite"),
        (dict(y=np.r_[np.inf, np.zeros(29)].astype(np.float32)), "y contains 1 non-finite"),
        (dict(y=np.zeros(29, np.float32)), "x has 30 points but y has 29"),
        (dict(x=np.zeros((30, 3), np.float32)), "could not be applied to x of shape"),
        (dict(y=np.zeros((30, 2), np.float32)), r"outputs of shape \(30, 1\) do not match"),
        (dict(temperature=0.0), "temperature must be finite and > 0"),
        (dict(prior=bj.priors.ByPath({"layer.0.kernel": bj.priors.Gaussian(1.0)},
                                     default=bj.priors.Flat())), "match no parameter"),
        (dict(likelihood="gaussian"), "likelihood must be a bayesjax.likelihoods"),
    ],
)
def test_bad_input_raises_before_compiling(change, match):
    x, y = _data()
    args = dict(likelihood=bj.likelihoods.Gaussian(0.2), prior=bj.priors.Gaussian(1.0), x=x, y=y)
    temperature = change.pop("temperature", 1.0)
    args.update(change)
    with pytest.raises((ValueError, TypeError), match=match):
        bj.Posterior(MLP(nnx.Rngs(0)), args["likelihood"], args["prior"], args["x"], args["y"],
                     temperature=temperature)


def test_classification_label_checks():
    x = np.zeros((4, 2), np.float32)
    lin = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="integer class labels"):
        bj.Posterior(lin, bj.likelihoods.Categorical(), bj.priors.Flat(), x, np.zeros(4))
    with pytest.raises(ValueError, match="label 3 out of range for 3"):
        bj.Posterior(lin, bj.likelihoods.Categorical(), bj.priors.Flat(), x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        bj.Posterior(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), bj.likelihoods.Bernoulli(),
                     bj.priors.Flat(), x, np.array([0.0, 1.0, 2.0, 1.0]))
