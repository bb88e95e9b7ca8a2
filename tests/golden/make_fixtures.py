#!/usr/bin/env python3
"""Golden fixtures for samlab, computed with JAX (CPU, float64) as an independent reference.

Regenerate (from the repository root):

    python3 tests/golden/make_fixtures.py

Generated with: jax 0.10.2, jaxlib 0.10.2, numpy 2.4.6, Python 3.11.7 (CPU, x64 enabled).
The exact versions used are also written into every JSON file as "generator".

Writes:
    tests/golden/ops.json        per-op forward values and gradients of sum(output * upstream)
    tests/golden/mlp_steps.json  3 training steps of a 20-16-12-10 MLP for several optimizer / SAM cases

All inputs and initial weights are drawn with seeded numpy generators, rounded to float32 and then
widened to float64, so the f32 Rust side starts from exactly the same numbers. All arithmetic is
float64. Every gradient comes from jax.grad and is checked here against a central finite
difference. Output is deterministic (the same bytes on every run).

See tests/golden/README.md for the schema and semantics.
"""

import json
import math
import os
import platform
import sys

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = (
    f"tests/golden/make_fixtures.py; jax {jax.__version__}; jaxlib {jaxlib.__version__}; "
    f"numpy {np.__version__}; python {platform.python_version()}; float64 cpu"
)

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def f32(a):
    """Round to float32, then widen to float64 (exactly representable in f32)."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def normal(rng, shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def enc(a):
    """Tensor -> {"shape": [...], "data": [row-major floats]}."""
    a = np.asarray(a, dtype=np.float64)
    assert np.all(np.isfinite(a))
    return {"shape": list(a.shape), "data": [float(v) for v in a.ravel()]}


FD_RNG = np.random.default_rng(987654321)  # only used to choose which elements to probe
FD_H = 1e-5
FD_RTOL = 1e-6
FD_ATOL = 1e-10  # floor for elements whose true gradient is (exactly) zero
FD_COUNT = 0


def fd_check(f, args, grads, label):
    """Central finite difference on 3 random elements of each argument's gradient.

    f: scalar function of the list `args` (float64 numpy arrays); grads: jax.grad results.
    """
    global FD_COUNT
    for k, (a, g) in enumerate(zip(args, grads)):
        g = np.asarray(g)
        n = a.size
        idxs = FD_RNG.choice(n, size=min(3, n), replace=False)
        for i in idxs:
            plus = [np.array(x, copy=True) for x in args]
            minus = [np.array(x, copy=True) for x in args]
            plus[k].reshape(-1)[i] += FD_H
            minus[k].reshape(-1)[i] -= FD_H
            fd = (float(f(plus)) - float(f(minus))) / (2 * FD_H)
            an = float(g.reshape(-1)[i])
            err = abs(fd - an)
            tol = FD_RTOL * max(abs(fd), abs(an)) + FD_ATOL
            assert err <= tol, f"FD mismatch {label} arg {k} elem {i}: jax {an!r} fd {fd!r} err {err:.3e}"
            FD_COUNT += 1


def ce_loss(logits, labels, s):
    """Mean over rows of PyTorch F.cross_entropy(logits, labels, label_smoothing=s)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
    smooth = -jnp.mean(logp, axis=-1)
    return jnp.mean((1.0 - s) * nll + s * smooth)


# --------------------------------------------------------------------------------------------
# ops.json
# --------------------------------------------------------------------------------------------


def op_case(name, fn, inputs, params, seed):
    """inputs: dict name -> float64 array (f32-exact). fn(*arrays) -> jnp array."""
    rng = np.random.default_rng(seed)
    names = list(inputs.keys())
    arrs = [inputs[k] for k in names]
    out = np.asarray(fn(*[jnp.asarray(a) for a in arrs]), dtype=np.float64)
    if out.ndim == 0:
        out = out.reshape(1)
    upstream = normal(rng, out.shape)

    def scalar(xs):
        o = fn(*[jnp.asarray(x) for x in xs])
        return jnp.sum(jnp.reshape(o, upstream.shape) * upstream)

    grads = jax.grad(lambda *xs: scalar(list(xs)), argnums=tuple(range(len(arrs))))(*arrs)
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    fd_check(scalar, arrs, grads, f"op {name}")
    return {
        "op": name,
        "params": params,
        "inputs": {k: enc(a) for k, a in zip(names, arrs)},
        "output": enc(out),
        "upstream": enc(upstream),
        "grads": {k: enc(g) for k, g in zip(names, grads)},
    }


def make_ops():
    cases = []
    seed = [0]

    def rng():
        seed[0] += 1
        return np.random.default_rng([1001, seed[0]])

    def next_seed():
        seed[0] += 1
        return [2002, seed[0]]

    for (m, k, n) in [(5, 7, 3), (13, 10, 6)]:
        r = rng()
        a, b = normal(r, (m, k)), normal(r, (k, n))
        cases.append(op_case("matmul", lambda a, b: a @ b, {"a": a, "b": b}, {}, next_seed()))
    for (m, k, n) in [(6, 9, 5), (3, 17, 11)]:
        r = rng()
        a, b = normal(r, (m, k)), normal(r, (n, k))
        cases.append(op_case("matmul_nt", lambda a, b: a @ b.T, {"a": a, "b": b}, {}, next_seed()))
    r = rng()
    a, b = normal(r, (9, 6)), normal(r, (9, 5))
    cases.append(op_case("matmul_tn", lambda a, b: a.T @ b, {"a": a, "b": b}, {}, next_seed()))

    r = rng()
    x, b = normal(r, (5, 7)), normal(r, (7,))
    cases.append(op_case("bias_add", lambda x, b: x + b[None, :], {"x": x, "b": b}, {}, next_seed()))

    r = rng()
    x = normal(r, (4, 9))
    small = np.abs(x) < 0.05
    x = f32(np.where(small, np.where(x < 0, -0.5, 0.5), x))
    assert np.all(np.abs(x) > 1e-3)
    cases.append(op_case("relu", lambda x: jnp.maximum(x, 0.0), {"x": x}, {}, next_seed()))

    r = rng()
    a, b = normal(r, (3, 11)), normal(r, (3, 11))
    cases.append(op_case("add", lambda a, b: a + b, {"a": a, "b": b}, {}, next_seed()))
    r = rng()
    a, b = normal(r, (3, 11)), normal(r, (3, 11))
    cases.append(op_case("mul", lambda a, b: a * b, {"a": a, "b": b}, {}, next_seed()))
    r = rng()
    a = normal(r, (3, 11))
    s = 0.37
    cases.append(op_case("scale", lambda a: a * s, {"a": a}, {"s": s}, next_seed()))

    r = rng()
    a = normal(r, (7, 5))
    cases.append(op_case("sum", lambda a: jnp.sum(a).reshape(1), {"a": a}, {}, next_seed()))
    r = rng()
    a = normal(r, (7, 5))
    cases.append(op_case("mean", lambda a: jnp.mean(a).reshape(1), {"a": a}, {}, next_seed()))

    for (rows, classes, smoothing) in [(6, 10, 0.0), (6, 10, 0.1), (1, 3, 0.0)]:
        r = rng()
        logits = normal(r, (rows, classes), scale=3.0)
        labels = [int(v) for v in r.integers(0, classes, size=rows)]
        correct = int(np.sum(np.argmax(logits, axis=1) == np.asarray(labels)))
        lab = jnp.asarray(labels, dtype=jnp.int32)
        cases.append(
            op_case(
                "cross_entropy",
                lambda lg, lab=lab, s=smoothing: ce_loss(lg, lab, s).reshape(1),
                {"logits": logits},
                {"labels": labels, "label_smoothing": smoothing, "correct": correct},
                next_seed(),
            )
        )
    # make sure the "correct" count is not trivially 0 everywhere
    assert any(c["params"]["correct"] > 0 for c in cases if c["op"] == "cross_entropy")
    return {"generator": GENERATOR, "cases": cases}


# --------------------------------------------------------------------------------------------
# mlp_steps.json
# --------------------------------------------------------------------------------------------

SIZES = [20, 16, 12, 10]
PARAM_ORDER = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
BATCH = 8


def mlp_init(rng):
    p = {}
    for li, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        bound = 1.0 / math.sqrt(fan_in)
        p[f"{2 * li}.weight"] = f32(rng.uniform(-bound, bound, size=(fan_out, fan_in)))
        p[f"{2 * li}.bias"] = f32(rng.uniform(-bound, bound, size=(fan_out,)))
    return [p[k] for k in PARAM_ORDER]


def mlp_forward(ws, x):
    w0, b0, w1, b1, w2, b2 = ws
    h = jnp.maximum(x @ w0.T + b0, 0.0)
    h = jnp.maximum(h @ w1.T + b1, 0.0)
    return h @ w2.T + b2


def make_loss(x, y, s):
    lab = jnp.asarray(y, dtype=jnp.int32)

    def loss(ws):
        return ce_loss(mlp_forward([jnp.asarray(w) for w in ws], x), lab, s)

    return loss


def loss_and_grad(loss, ws, label):
    val, g = jax.value_and_grad(loss)([jnp.asarray(w) for w in ws])
    g = [np.asarray(t, dtype=np.float64) for t in g]
    fd_check(loss, [np.asarray(w, dtype=np.float64) for w in ws], g, label)
    return float(val), g


MARGIN = [math.inf]


def relu_margin(ws, x):
    """Track min |pre-activation| so f32 rounding cannot flip a ReLU relative to this reference."""
    w0, b0, w1, b1, _, _ = ws
    z1 = x @ w0.T + b0
    z2 = np.maximum(z1, 0.0) @ w1.T + b1
    MARGIN[0] = min(MARGIN[0], float(np.abs(z1).min()), float(np.abs(z2).min()))
    assert MARGIN[0] > 1e-5, f"ReLU pre-activation too close to 0: {MARGIN[0]}"


def gnorm(ts):
    return math.sqrt(sum(float(np.sum(t * t)) for t in ts))


def opt_spec(kind, lr, momentum=0.0, nesterov=False, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
    return {
        "kind": kind,
        "lr": lr,
        "momentum": momentum,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
        "betas": list(betas),
        "eps": eps,
    }


def sam_spec(kind, rho=0.0, eta=0.0):
    return {"kind": kind, "rho": rho, "eta": eta}


class Optimizer:
    """PyTorch torch.optim.SGD / Adam / AdamW (defaults: dampening 0, amsgrad False, maximize False)."""

    def __init__(self, spec, ws):
        self.s = spec
        self.t = 0
        self.buf = [None] * len(ws)
        self.m = [np.zeros_like(w) for w in ws]
        self.v = [np.zeros_like(w) for w in ws]

    def step(self, ws, gs):
        s = self.s
        self.t += 1
        lr, wd = s["lr"], s["weight_decay"]
        out = []
        for i, (w, g) in enumerate(zip(ws, gs)):
            if s["kind"] == "sgd":
                d = g + wd * w if wd != 0 else g
                mu = s["momentum"]
                if mu != 0:
                    if self.buf[i] is None:
                        self.buf[i] = np.array(d, copy=True)
                    else:
                        self.buf[i] = mu * self.buf[i] + d
                    d = d + mu * self.buf[i] if s["nesterov"] else self.buf[i]
                out.append(w - lr * d)
            elif s["kind"] in ("adam", "adamw"):
                b1, b2 = s["betas"]
                if s["kind"] == "adamw":
                    w = w * (1.0 - lr * wd)
                elif wd != 0:
                    g = g + wd * w
                self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
                self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g
                bc1 = 1.0 - b1**self.t
                bc2 = 1.0 - b2**self.t
                denom = np.sqrt(self.v[i]) / math.sqrt(bc2) + s["eps"]
                out.append(w - (lr / bc1) * self.m[i] / denom)
            else:
                raise ValueError(s["kind"])
        return out


def sam_scale(kind, eta, ws):
    """Returns (T per tensor, xi)."""
    if kind == "sam":
        return [np.ones_like(w) for w in ws], 1e-12
    if kind == "asam":  # SamsungLabs/ASAM: |w| + eta on params whose name contains "weight"
        return [np.abs(w) + eta if "weight" in n else np.ones_like(w) for n, w in zip(PARAM_ORDER, ws)], 1e-16
    if kind == "asam_davda54":  # davda54/sam adaptive=True: |w| on every tensor
        return [np.abs(w) for w in ws], 1e-12
    raise ValueError(kind)


def run_case(name, opt, sam, smoothing, init, batches):
    ws = [np.array(w, copy=True) for w in init]
    optim = Optimizer(opt, ws)
    steps = []
    for t, (x, y) in enumerate(batches):
        loss = make_loss(x, y, smoothing)
        relu_margin(ws, x)
        L0, g0 = loss_and_grad(loss, ws, f"{name} step {t} g0")
        n0 = gnorm(g0)
        if sam["kind"] == "none":
            g, sam_loss, cos = g0, None, None
        else:
            T, xi = sam_scale(sam["kind"], sam["eta"], ws)
            denom = gnorm([ti * gi for ti, gi in zip(T, g0)]) + xi
            eps = [sam["rho"] * ti * ti * gi / denom for ti, gi in zip(T, g0)]
            wp = [w + e for w, e in zip(ws, eps)]
            relu_margin(wp, x)
            L1, g1 = loss_and_grad(loss, wp, f"{name} step {t} g1")
            n1 = gnorm(g1)
            cos = sum(float(np.sum(a * b)) for a, b in zip(g0, g1)) / (n0 * n1)
            g, sam_loss = g1, L1
            # w is restored exactly: the optimizer below steps from `ws`, which was never modified
        new_ws = optim.step(ws, g)
        if name == "sgd" and t == 0:
            # self-check: plain SGD step 1 is w - 0.1 * g (direct formula, fresh jax.grad)
            gd = jax.grad(loss)([jnp.asarray(w) for w in init])
            for w_new, w_old, gi in zip(new_ws, init, gd):
                np.testing.assert_array_equal(w_new, w_old - 0.1 * np.asarray(gi))
        ws = new_ws
        steps.append(
            {
                "loss": L0,
                "sam_loss": sam_loss,
                "grad_norm": n0,
                "cos": cos,
                "params": {n: enc(w) for n, w in zip(PARAM_ORDER, ws)},
            }
        )
    return {"name": name, "optimizer": opt, "sam": sam, "label_smoothing": smoothing, "steps": steps}


def make_mlp():
    rng = np.random.default_rng(3003)
    init = mlp_init(rng)
    batches = []
    for _ in range(3):
        x = normal(rng, (BATCH, SIZES[0]))
        y = [int(v) for v in rng.integers(0, SIZES[-1], size=BATCH)]
        batches.append((x, y))

    cases_spec = [
        ("sgd", opt_spec("sgd", 0.1), sam_spec("none"), 0.0),
        ("sgd_momentum", opt_spec("sgd", 0.1, momentum=0.9), sam_spec("none"), 0.0),
        ("sgd_nesterov_wd", opt_spec("sgd", 0.05, momentum=0.9, nesterov=True, weight_decay=0.01), sam_spec("none"), 0.0),
        ("adam", opt_spec("adam", 0.01, weight_decay=0.01), sam_spec("none"), 0.0),
        ("adamw", opt_spec("adamw", 0.01, weight_decay=0.1), sam_spec("none"), 0.0),
        ("sam_sgd_momentum", opt_spec("sgd", 0.1, momentum=0.9), sam_spec("sam", rho=0.1), 0.0),
        ("sam_adam", opt_spec("adam", 0.01), sam_spec("sam", rho=0.05), 0.0),
        ("asam_sgd_momentum", opt_spec("sgd", 0.1, momentum=0.9), sam_spec("asam", rho=0.5, eta=0.01), 0.0),
        ("asam_davda54_sgd_momentum", opt_spec("sgd", 0.1, momentum=0.9), sam_spec("asam_davda54", rho=2.0), 0.0),
        (
            "sam_smoothing_nesterov_wd",
            opt_spec("sgd", 0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            sam_spec("sam", rho=0.05),
            0.1,
        ),
    ]
    cases = [run_case(n, o, s, ls, init, batches) for (n, o, s, ls) in cases_spec]

    # sanity: SAM-type cases actually differ from their plain counterpart, and w moved
    for c in cases:
        for st in c["steps"]:
            assert st["grad_norm"] > 0
            if c["sam"]["kind"] != "none":
                assert -1.0 <= st["cos"] <= 1.0

    return {
        "generator": GENERATOR,
        "sizes": SIZES,
        "param_order": PARAM_ORDER,
        "init": {n: enc(w) for n, w in zip(PARAM_ORDER, init)},
        "batches": [{"x": enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }


# --------------------------------------------------------------------------------------------
# output: pretty structure, but numeric arrays on one line (small, diff-friendly, deterministic)
# --------------------------------------------------------------------------------------------


def dumps(obj, indent=0):
    pad = "  " * indent
    pad1 = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ",".join(json.dumps(v) for v in obj) + "]"
        items = [f"{pad1}{dumps(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(obj, float):
        assert math.isfinite(obj)
    return json.dumps(obj)


def write(name, obj):
    path = os.path.join(HERE, name)
    text = dumps(obj) + "\n"
    assert json.loads(text) == obj
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(path)} ({len(text)} bytes)")


def main():
    write("ops.json", make_ops())
    write("mlp_steps.json", make_mlp())
    print(f"finite-difference checks passed: {FD_COUNT}")
    print(f"min |ReLU pre-activation| over all MLP forward passes: {MARGIN[0]:.3e}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
