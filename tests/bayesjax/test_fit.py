import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import bayesjax as bj
from bayesjax.fit import _fit

rng = np.random.default_rng(0)
N, D = 60, 4
X = rng.normal(size=(N, D))
W_TRUE = np.array([1.5, -2.0, 0.0, 0.3])
Y = X @ W_TRUE + 0.5 * rng.normal(size=N)
NOISE, SCALE = 0.5, 0.2


def linear(p, x):
    return x @ p["w"]


def _post(prior):
    return bj.Posterior.from_apply(linear, {"w": jnp.zeros(D)}, bj.likelihoods.Gaussian(NOISE),
                                   prior, X, Y)


def _lipschitz():
    """L of the gradient of the per-datum objective ||y - Xw||^2 / (2 sigma^2 N)."""
    return np.linalg.eigvalsh(X.T @ X).max() / (NOISE**2 * N)


def test_map_gaussian_prior_equals_ridge_closed_form(x64):
    res = bj.fit_map(jax.random.key(0), _post(bj.priors.Gaussian(SCALE)),
                     optax.sgd(1.0 / _lipschitz()), num_steps=3000)
    ridge = np.linalg.solve(X.T @ X + (NOISE**2 / SCALE**2) * np.eye(D), X.T @ Y)
    np.testing.assert_allclose(res.params["w"], ridge, rtol=1e-10, atol=1e-12)
    assert float(res.grad_norm) < 1e-10
    expected_lj = (-0.5 * np.sum((Y - X @ ridge) ** 2) / NOISE**2
                   - N * np.log(NOISE * np.sqrt(2 * np.pi))
                   - 0.5 * np.sum(ridge**2) / SCALE**2 - D * np.log(SCALE * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(res.log_joint, expected_lj, rtol=1e-12)


def test_default_optimizer_reaches_ridge(x64):
    res = bj.fit_map(jax.random.key(0), _post(bj.priors.Gaussian(SCALE)), num_steps=3000,
                     learning_rate=0.05)
    ridge = np.linalg.solve(X.T @ X + (NOISE**2 / SCALE**2) * np.eye(D), X.T @ Y)
    np.testing.assert_allclose(res.params["w"], ridge, atol=1e-6)


def test_mle_equals_least_squares(x64):
    res = bj.fit_mle(jax.random.key(0), _post(bj.priors.Gaussian(SCALE)),
                     optax.sgd(1.0 / _lipschitz()), num_steps=3000)
    np.testing.assert_allclose(res.params["w"], np.linalg.lstsq(X, Y, rcond=None)[0], rtol=1e-10)


def test_map_laplace_prior_gives_exact_zeros_equal_to_lasso(x64):
    from sklearn.linear_model import Lasso

    b = 0.02
    res = bj.fit_map(jax.random.key(0), _post(bj.priors.Laplace(b)), num_steps=5000,
                     learning_rate=1.0 / _lipschitz())
    # -log joint ∝ ||y - Xw||^2 / (2 sigma^2) + ||w||_1 / b  ==  sklearn's alpha = sigma^2 / (N b)
    lasso = Lasso(alpha=NOISE**2 / (N * b), fit_intercept=False, tol=1e-14, max_iter=10**6)
    ref = lasso.fit(X, Y).coef_
    w = np.asarray(res.params["w"])
    assert (ref == 0).any(), "the test needs a prior strong enough to zero a coefficient"
    np.testing.assert_array_equal(w == 0.0, ref == 0.0)  # exact zeros, not merely small
    np.testing.assert_allclose(w, ref, atol=1e-9)
    assert float(res.grad_norm) < 1e-8


def test_float32_laplace_fit_has_exact_zeros():
    res = bj.fit_map(jax.random.key(0), _post(bj.priors.Laplace(0.02)), num_steps=2000,
                     learning_rate=0.5 / _lipschitz())
    assert res.params["w"].dtype == jnp.float32
    assert int(jnp.sum(res.params["w"] == 0.0)) >= 1


def test_second_call_does_not_recompile():
    post = _post(bj.priors.Gaussian(SCALE))
    bj.fit_map(jax.random.key(0), post, num_steps=50)
    before = _fit._cache_size()
    bj.fit_map(jax.random.key(1), post.replace(prior=bj.priors.Gaussian(0.7)), num_steps=50)
    bj.fit_map(jax.random.key(2), post, num_steps=50)
    assert _fit._cache_size() == before


def test_minibatch_sgd_lands_near_the_map(x64):
    post = _post(bj.priors.Gaussian(SCALE))
    res = bj.fit_map(jax.random.key(3), post, num_steps=4000, batch_size=10, learning_rate=0.05)
    ridge = np.linalg.solve(X.T @ X + (NOISE**2 / SCALE**2) * np.eye(D), X.T @ Y)
    # cosine decay to 1% of the rate: the remaining SGD noise is small against |w| ~ 1
    np.testing.assert_allclose(res.params["w"], ridge, atol=0.02)
    assert res.losses.shape == (4000,)


def test_objective_is_the_posteriors_own_estimate_over_n(x64):
    """One scaling convention: the fit's loss is ``-log_joint / N`` (full batch) and
    ``-log_joint_estimate / N`` (minibatch), with the Posterior's own N/B."""
    post = _post(bj.priors.Gaussian(SCALE)).replace(temperature=0.5)
    w0 = {"w": jnp.asarray(W_TRUE)}
    full = bj.fit_map(jax.random.key(0), post, optax.sgd(0.0), num_steps=2, init_params=w0)
    np.testing.assert_allclose(full.losses, -post.log_joint(w0) / N, rtol=1e-13)
    res = bj.fit_map(jax.random.key(4), post, optax.sgd(0.0), num_steps=3, batch_size=7,
                     init_params=w0)
    # the minibatch of step t, drawn as _fit draws it
    idx = [jax.random.randint(k, (7,), 0, N) for k in jax.random.split(jax.random.key(4), 3)]
    np.testing.assert_allclose(res.losses, [-post.log_joint_estimate(w0, i) / N for i in idx],
                               rtol=1e-13)
    # and the estimate is the Posterior's: (N/B) Σ_batch, exact on the whole data set
    everything = jnp.arange(N)
    np.testing.assert_allclose(post.log_likelihood_estimate(w0, everything),
                               post.log_likelihood(w0), rtol=1e-13)
    np.testing.assert_allclose(post.log_joint_estimate(w0, idx[0]),
                               post.log_likelihood_estimate(w0, idx[0]) / 0.5
                               + post.log_prior(w0), rtol=1e-13)


def test_user_nnx_loop_with_penalty_over_n_reaches_fit_map():
    """The README's recipe: a mean loss + prior.penalty(nnx.state(model, nnx.Param)) / N."""
    x = X.astype(np.float32)
    y = Y.astype(np.float32)
    prior = bj.priors.Gaussian(SCALE)
    model = nnx.Linear(D, 1, use_bias=False, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(optax.cosine_decay_schedule(0.05, 3000, 0.01)),
                        wrt=nnx.Param)

    @nnx.jit
    def train_step(model, opt):
        def loss_fn(model):
            mse = jnp.mean(jnp.square(model(x)[:, 0] - y)) / (2 * NOISE**2)
            return mse + prior.penalty(nnx.state(model, nnx.Param)) / N
        opt.update(model, nnx.grad(loss_fn)(model))

    with jax.numpy_dtype_promotion("standard"):  # optax's adam raises a float to its int count
        for _ in range(3000):
            train_step(model, opt)
    post = bj.Posterior(nnx.Linear(D, 1, use_bias=False, rngs=nnx.Rngs(0)),
                        bj.likelihoods.Gaussian(NOISE), prior, x, y)
    ref = bj.fit_map(jax.random.key(0), post, num_steps=3000, learning_rate=0.05)
    np.testing.assert_allclose(model.kernel[...], ref.params["kernel"], atol=2e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_steps=0), "num_steps must be an integer >= 1"),
        (dict(batch_size=0), "batch_size must be an integer >= 1"),
        (dict(batch_size=N + 1), "exceeds the 60 data points"),
        (dict(learning_rate=-1.0), "learning_rate must be finite and > 0"),
        (dict(init_params={"v": jnp.zeros(D)}),
         r"fit_map: init_params must have the structure and shapes of post.params \(paths \['w'\]"),
        (dict(init_params={"w": jnp.zeros(D + 1)}), "init_params must have the structure"),
        (dict(optimizer="adam"), "optimizer must be an optax.GradientTransformation"),
    ],
)
def test_bad_fit_arguments_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bj.fit_map(jax.random.key(0), _post(bj.priors.Gaussian(1.0)), **kwargs)


def test_divergence_warns():
    with pytest.warns(RuntimeWarning, match="diverged"):
        bj.fit_map(jax.random.key(0), _post(bj.priors.Gaussian(1.0)), optax.sgd(1e3),
                   num_steps=200)


def test_fit_map_vmaps_over_data_sets_and_matches_separate_fits():
    """A sweep over training sets is one ``vmap`` of ``fit_map`` (DESIGN: sweeps are vmaps)."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(4, 30, 3)).astype(np.float32)
    ys = (xs @ np.array([1.0, -1.0, 0.5], np.float32) + 0.3 * rng.normal(size=(4, 30)) > 0)
    ys = ys.astype(np.float32)

    def apply_fn(p, x):
        return x @ p["w"] + p["b"]

    post = bj.Posterior.from_apply(apply_fn, {"w": jnp.zeros(3), "b": jnp.zeros(())},
                                   bj.likelihoods.Bernoulli(), bj.priors.Gaussian(1.0),
                                   xs[0], ys[0])

    def fit(x, y):
        return bj.fit_map(jax.random.key(0), post.replace(x=x, y=y), num_steps=300).params

    swept = jax.vmap(fit)(xs, ys)
    for i in (0, 3):
        one = fit(xs[i], ys[i])
        np.testing.assert_allclose(swept["w"][i], one["w"], rtol=1e-5, atol=1e-6)
    assert swept["w"].shape == (4, 3)
