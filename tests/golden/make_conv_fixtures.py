#!/usr/bin/env python3
"""Golden fixtures for the convolutional ops of samlab, computed with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_conv_fixtures.py

Generated with: jax 0.10.2, jaxlib 0.10.2, numpy 2.4.6, Python 3.11.7 (CPU, x64 enabled).
The exact versions used are also written into the JSON file as "generator".

Writes tests/golden/conv_ops.json. It has the schema of ops.json, and one extra per-case key
`running` for `batch_norm`. The output is deterministic (the same bytes on every run).

The layout is PyTorch's. Activations are NCHW, and conv weights are OIHW [Cout, Cin, KH, KW]. Output sizes use
floor mode: OH = (H + 2*pad - KH) // stride + 1.

The finite-difference check, the f32 rounding of inputs, the tensor encoding and the JSON layout are
imported from make_fixtures.py (same directory). All inputs are seeded numpy draws rounded to float32
and then widened to float64, and all arithmetic is float64. Every gradient comes from jax.grad.

The script asserts each of the following and fails if any does not hold:

- every jax.grad result matches a central finite difference (h = 1e-5) on 3 random elements of each
  input (make_fixtures.fd_check);
- every forward output equals an independent direct-loop numpy implementation to 1e-12. That
  implementation is written from the definitions, with explicit zero padding, window loops, and
  per-channel mean and variance;
- every output shape follows the floor-mode formula above;
- max_pool2d: within every pooling window, the largest element exceeds the runner-up by more than 1e-3.
  No f32 rounding can then move the gradient to another element. Each window's gradient is also
  checked to go to exactly one element, its argmax;
- batch_norm: `running` equals (1 - momentum)*old + momentum*batch_stat, with the unbiased batch
  variance for `var`. The output has per-channel mean beta and biased variance
  gamma^2 * var/(var + eps).

See tests/golden/README.md for the schema and semantics.
"""

import os
import platform
import sys

sys.dont_write_bytecode = True  # importing make_fixtures must not leave a __pycache__ entry behind

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (sets jax_enable_x64 and the CPU platform on import)
import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
from jax import lax  # noqa: E402

assert jax.config.read("jax_enable_x64"), "make_fixtures must enable float64"

GENERATOR = (
    f"tests/golden/make_conv_fixtures.py (helpers from make_fixtures.py); jax {jax.__version__}; "
    f"jaxlib {jaxlib.__version__}; numpy {np.__version__}; python {platform.python_version()}; float64 cpu"
)

FWD_TOL = 1e-12
POOL_TIE_GAP = 1e-3
EPS = 1e-5
MOMENTUM = 0.1

f32 = mf.f32
normal = mf.normal


def out_size(h, k, stride, pad):
    return (h + 2 * pad - k) // stride + 1


# --------------------------------------------------------------------------------------------
# JAX reference ops (these are differentiated)
# --------------------------------------------------------------------------------------------


def jax_conv2d(x, w, b, stride, pad):
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=(stride, stride),
        padding=[(pad, pad), (pad, pad)],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def jax_max_pool2d(x, k, stride):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, k, k), (1, 1, stride, stride), "VALID")


def jax_avg_pool2d(x, k, stride):
    return lax.reduce_window(x, 0.0, lax.add, (1, 1, k, k), (1, 1, stride, stride), "VALID") / float(k * k)


def bn_axes(ndim):
    return tuple(i for i in range(ndim) if i != 1)


def bshape(ndim, c):
    """Shape that broadcasts a per-channel vector against an [N, C, ...] tensor."""
    return (1, c) + (1,) * (ndim - 2)


def jax_batch_norm_train(x, gamma, beta, eps):
    axes = bn_axes(x.ndim)
    s = bshape(x.ndim, x.shape[1])
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axes, keepdims=True)  # biased
    return gamma.reshape(s) * (x - mean) / jnp.sqrt(var + eps) + beta.reshape(s)


def jax_batch_norm_eval(x, gamma, beta, rmean, rvar, eps):
    s = bshape(x.ndim, x.shape[1])
    return gamma.reshape(s) * (x - rmean.reshape(s)) / jnp.sqrt(rvar.reshape(s) + eps) + beta.reshape(s)


# --------------------------------------------------------------------------------------------
# independent numpy references for the forward values (direct loops from the definitions)
# --------------------------------------------------------------------------------------------


def np_conv2d(x, w, b, stride, pad):
    n, cin, h, wd = x.shape
    cout, cin2, kh, kw = w.shape
    assert cin == cin2
    xp = np.zeros((n, cin, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    oh, ow = out_size(h, kh, stride, pad), out_size(wd, kw, stride, pad)
    y = np.zeros((n, cout, oh, ow))
    for ni in range(n):
        for co in range(cout):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0 if b is None else float(b[co])
                    for ci in range(cin):
                        for u in range(kh):
                            for v in range(kw):
                                acc += xp[ni, ci, i * stride + u, j * stride + v] * w[co, ci, u, v]
                    y[ni, co, i, j] = acc
    return y


def np_pool_windows(x, k, stride):
    """Yields (n, c, i, j, window as a k*k array, row offset, col offset)."""
    n, c, h, wd = x.shape
    oh, ow = out_size(h, k, stride, 0), out_size(wd, k, stride, 0)
    for ni in range(n):
        for ci in range(c):
            for i in range(oh):
                for j in range(ow):
                    yield ni, ci, i, j, x[ni, ci, i * stride : i * stride + k, j * stride : j * stride + k]


def np_pool(x, k, stride, reduce):
    n, c, h, wd = x.shape
    y = np.zeros((n, c, out_size(h, k, stride, 0), out_size(wd, k, stride, 0)))
    for ni, ci, i, j, win in np_pool_windows(x, k, stride):
        assert win.shape == (k, k)
        y[ni, ci, i, j] = reduce(win)
    return y


def np_bn_stats(x):
    """Per-channel mean, biased variance and element count, with explicit loops over channels."""
    c = x.shape[1]
    means, vars_ = np.zeros(c), np.zeros(c)
    for ci in range(c):
        v = np.take(x, ci, axis=1).ravel()
        m = sum(float(t) for t in v) / v.size
        means[ci] = m
        vars_[ci] = sum((float(t) - m) ** 2 for t in v) / v.size
    cnt = x.size // c
    return means, vars_, cnt


def np_bn_apply(x, gamma, beta, mean, var, eps):
    s = bshape(x.ndim, x.shape[1])
    return gamma.reshape(s) * (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + eps) + beta.reshape(s)


def assert_close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= FWD_TOL, f"{what}: max |diff| {err:.3e}"


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------


def distinct_values(rng, shape, step=0.01):
    """A random permutation of the distinct values step*(k - n/2), k = 0..n-1, rounded to f32.

    Any two elements then differ by at least ~step, far more than POOL_TIE_GAP."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n).astype(np.float64) - n / 2.0) * step
    return f32(vals.reshape(shape))


def make_conv_ops():
    cases = []
    seed = [0]

    def rng():
        seed[0] += 1
        return np.random.default_rng([4004, seed[0]])

    def next_seed():
        seed[0] += 1
        return [5005, seed[0]]

    # ---- conv2d ----
    conv_specs = [
        # x shape, w shape, stride, padding, bias
        ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, True),
        ((1, 2, 9, 9), (3, 2, 3, 3), 2, 0, True),
        ((3, 1, 8, 8), (5, 1, 5, 5), 1, 2, True),
        ((2, 4, 5, 7), (2, 4, 2, 3), 2, 1, True),
        ((2, 3, 6, 6), (4, 3, 1, 1), 2, 0, False),
        ((2, 1, 12, 12), (8, 1, 5, 5), 1, 0, True),
    ]
    for xs, ws, stride, pad, bias in conv_specs:
        r = rng()
        fan_in = ws[1] * ws[2] * ws[3]
        x = normal(r, xs)
        w = normal(r, ws, scale=1.0 / np.sqrt(fan_in))
        inputs = {"x": x, "w": w}
        if bias:
            inputs["b"] = normal(r, (ws[0],), scale=0.5)
            fn = lambda x, w, b, s=stride, p=pad: jax_conv2d(x, w, b, s, p)  # noqa: E731
        else:
            fn = lambda x, w, s=stride, p=pad: jax_conv2d(x, w, None, s, p)  # noqa: E731
        params = {"stride": stride, "padding": pad, "bias": bias}
        case = mf.op_case("conv2d", fn, inputs, params, next_seed())
        out = np.asarray(case["output"]["data"]).reshape(case["output"]["shape"])
        expect_shape = [xs[0], ws[0], out_size(xs[2], ws[2], stride, pad), out_size(xs[3], ws[3], stride, pad)]
        assert case["output"]["shape"] == expect_shape, (case["output"]["shape"], expect_shape)
        assert_close(out, np_conv2d(x, w, inputs.get("b"), stride, pad), f"conv2d {xs} {ws}")
        cases.append(case)

    # ---- max_pool2d ----
    for xs, k, stride in [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 5), 2, 2)]:
        r = rng()
        x = distinct_values(r, xs)
        for *_, win in np_pool_windows(x, k, stride):
            top = np.sort(win.ravel())[::-1]
            assert top[0] - top[1] > POOL_TIE_GAP, f"max_pool2d {xs}: tie {top[0]} vs {top[1]}"
        fn = lambda x, k=k, s=stride: jax_max_pool2d(x, k, s)  # noqa: E731
        case = mf.op_case("max_pool2d", fn, {"x": x}, {"kernel": k, "stride": stride}, next_seed())
        out = np.asarray(case["output"]["data"]).reshape(case["output"]["shape"])
        assert case["output"]["shape"] == [xs[0], xs[1], out_size(xs[2], k, stride, 0), out_size(xs[3], k, stride, 0)]
        assert_close(out, np_pool(x, k, stride, np.max), f"max_pool2d {xs}")
        # the gradient routes each window's upstream value to its argmax, and only there
        up = np.asarray(case["upstream"]["data"]).reshape(out.shape)
        g = np.zeros_like(x)
        for ni, ci, i, j, win in np_pool_windows(x, k, stride):
            u, v = np.unravel_index(int(np.argmax(win)), win.shape)
            g[ni, ci, i * stride + u, j * stride + v] += up[ni, ci, i, j]
        gx = np.asarray(case["grads"]["x"]["data"]).reshape(xs)
        assert_close(gx, g, f"max_pool2d {xs} argmax routing")
        cases.append(case)

    # ---- avg_pool2d ----
    for xs, k, stride in [((2, 3, 6, 6), 2, 2), ((1, 2, 5, 4), 3, 1)]:
        r = rng()
        x = normal(r, xs)
        fn = lambda x, k=k, s=stride: jax_avg_pool2d(x, k, s)  # noqa: E731
        case = mf.op_case("avg_pool2d", fn, {"x": x}, {"kernel": k, "stride": stride}, next_seed())
        out = np.asarray(case["output"]["data"]).reshape(case["output"]["shape"])
        assert case["output"]["shape"] == [xs[0], xs[1], out_size(xs[2], k, stride, 0), out_size(xs[3], k, stride, 0)]
        assert_close(out, np_pool(x, k, stride, lambda win: sum(float(t) for t in win.ravel()) / win.size), f"avg_pool2d {xs}")
        cases.append(case)

    # ---- global_avg_pool ----
    r = rng()
    xs = (2, 3, 5, 4)
    x = normal(r, xs)
    case = mf.op_case("global_avg_pool", lambda x: jnp.mean(x, axis=(2, 3)), {"x": x}, {}, next_seed())
    assert case["output"]["shape"] == [2, 3]
    out = np.asarray(case["output"]["data"]).reshape(2, 3)
    ref = np.array([[sum(float(t) for t in x[ni, ci].ravel()) / 20.0 for ci in range(3)] for ni in range(2)])
    assert_close(out, ref, "global_avg_pool")
    cases.append(case)

    # ---- batch_norm (training mode) ----
    def bn_inputs(r, xs):
        c = xs[1]
        # per-channel offset and scale, so the batch statistics are far from 0 and 1
        shift = normal(r, (c,), scale=0.8)
        spread = f32(r.uniform(0.5, 2.0, size=(c,)))
        x = f32(normal(r, xs) * spread.reshape(bshape(len(xs), c)) + shift.reshape(bshape(len(xs), c)))
        gamma = f32(1.0 + 0.3 * r.standard_normal(c))
        beta = normal(r, (c,), scale=0.5)
        rmean = normal(r, (c,), scale=0.5)
        rvar = f32(r.uniform(0.5, 2.0, size=(c,)))
        assert np.all(rvar > 0)
        return x, gamma, beta, rmean, rvar

    for xs in [(4, 3, 5, 5), (2, 2, 3, 3), (1, 3, 4, 4), (8, 5), (6, 4, 1, 1)]:
        r = rng()
        x, gamma, beta, rmean, rvar = bn_inputs(r, xs)
        params = {
            "eps": EPS,
            "momentum": MOMENTUM,
            "running_mean": [float(v) for v in rmean],
            "running_var": [float(v) for v in rvar],
        }
        fn = lambda x, g, b: jax_batch_norm_train(x, g, b, EPS)  # noqa: E731
        case = mf.op_case("batch_norm", fn, {"x": x, "gamma": gamma, "beta": beta}, params, next_seed())
        out = np.asarray(case["output"]["data"]).reshape(xs)
        mean, var, cnt = np_bn_stats(x)
        assert cnt > 1
        assert_close(out, np_bn_apply(x, gamma, beta, mean, var, EPS), f"batch_norm {xs}")
        # output statistics: per-channel mean beta, biased variance gamma^2 var/(var+eps)
        omean, ovar, _ = np_bn_stats(out)
        assert_close(omean, beta, f"batch_norm {xs} output mean")
        assert np.max(np.abs(ovar - gamma**2 * var / (var + EPS))) <= 1e-10, f"batch_norm {xs} output var"
        unbiased = var * cnt / (cnt - 1)
        new_mean = (1.0 - MOMENTUM) * rmean + MOMENTUM * mean
        new_var = (1.0 - MOMENTUM) * rvar + MOMENTUM * unbiased
        # cross-check the unbiased variance with numpy's ddof=1 over all non-channel dims
        moved = np.moveaxis(x, 1, 0).reshape(xs[1], -1)
        assert_close(unbiased, moved.var(axis=1, ddof=1), f"batch_norm {xs} unbiased var")
        assert_close(mean, moved.mean(axis=1), f"batch_norm {xs} mean")
        case["running"] = {"mean": [float(v) for v in new_mean], "var": [float(v) for v in new_var]}
        cases.append(case)

    # ---- batch_norm_eval ----
    for xs in [(3, 3, 4, 4), (5, 6)]:
        r = rng()
        x, gamma, beta, rmean, rvar = bn_inputs(r, xs)
        params = {
            "eps": EPS,
            "momentum": MOMENTUM,
            "running_mean": [float(v) for v in rmean],
            "running_var": [float(v) for v in rvar],
        }
        fn = lambda x, g, b, rm=rmean, rv=rvar: jax_batch_norm_eval(x, g, b, jnp.asarray(rm), jnp.asarray(rv), EPS)  # noqa: E731
        case = mf.op_case("batch_norm_eval", fn, {"x": x, "gamma": gamma, "beta": beta}, params, next_seed())
        out = np.asarray(case["output"]["data"]).reshape(xs)
        assert_close(out, np_bn_apply(x, gamma, beta, rmean, rvar, EPS), f"batch_norm_eval {xs}")
        # d/dx is the constant per-channel factor gamma/sqrt(rvar+eps) times the upstream
        up = np.asarray(case["upstream"]["data"]).reshape(xs)
        gx = np.asarray(case["grads"]["x"]["data"]).reshape(xs)
        s = bshape(len(xs), xs[1])
        assert_close(gx, up * (gamma / np.sqrt(rvar + EPS)).reshape(s), f"batch_norm_eval {xs} dx")
        cases.append(case)

    return {"generator": GENERATOR, "cases": cases}


def main():
    mf.write("conv_ops.json", make_conv_ops())
    size = os.path.getsize(os.path.join(HERE, "conv_ops.json"))
    assert size < 400_000, f"conv_ops.json is {size} bytes"
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
