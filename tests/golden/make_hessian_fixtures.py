#!/usr/bin/env python3
"""Golden fixtures for the sharpness instruments (src/sharpness), computed with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_hessian_fixtures.py

Writes tests/golden/hessian.json. The output is deterministic: a rerun writes the same bytes.

The tensor encoding, the f32 rounding, the cross-entropy, the MLP forward, the finite-difference and
ReLU-margin checks and the JSON writer come from make_fixtures.py; the shared MLP init and batches (asserted
to be those of mlp_steps.json) from make_sam_variant_fixtures.load_shared_inputs. Nothing is repeated here.

Top level: {"generator", "models": [linear, mlp]}. Each model: {"name", "sizes", "param_order", "params",
"batch": {"x", "y"}, "loss", "accuracy", "eigenvalues", "trace", "frobenius", "hvp", "worst_case",
"interpolation"}.

- linear: one Linear(6, 3) ("0.weight" [3,6], "0.bias" [3]), weights uniform(±1/√6) and a 16-row batch
  (x standard normal, y in 0..2), all seeded numpy draws rounded to f32 (seed 4004).
- mlp: the 20-16-12-10 ReLU MLP of mlp_steps.json at its `init`, on batch 0 (8 rows).

Loss L(w) = mean cross-entropy over the rows (no label smoothing); accuracy = fraction of rows whose
first maximal logit is the label. Everything below is float64 on the flat vector w (the tensors of
param_order, row-major, concatenated):

- H = jax.hessian(L) on the flat vector, symmetrised (H + Hᵀ)/2. "eigenvalues": the 3 eigenvalues of H
  (numpy.linalg.eigvalsh) largest in |λ|, sorted by |λ| descending; "trace" tr(H); "frobenius" ‖H‖_F.
- "hvp": 3 cases {"v", "hv"}; v seeded standard normal per tensor rounded to f32 (seed [5005, model, k]);
  hv = H·v exact, from jax.jvp of jax.grad.
- "worst_case": for rho in [0.05, 0.2], steps in [1, 3], plain then adaptive (eta = 0.01):
  T = 1 (plain) or |w| + eta elementwise on every parameter (adaptive); u = 0; `steps` times:
  g = ∇L(w + T⊙u); s = T⊙g; u ← u + rho·s/‖s‖; if ‖u‖ > rho: u ← u·rho/‖u‖. Then
  "sharpness" = L(w + T⊙u) − L(w). Entries {"rho", "steps", "sharpness"} (+ "eta" when adaptive).
- "interpolation": "other" w_b = f32(w + 0.3·d), d per tensor = n·rms(w_tensor)/rms(n), n seeded standard
  normal rounded to f32 (seed [6006, model]); w_b itself is rounded to f32 so the f32 side reads exactly
  these numbers. "points": {"t", "loss", "accuracy"} at (1−t)·w + t·w_b, t in [-0.5, 0, 0.25, 0.5, 1, 1.5].

Checks (the script fails if any does not hold):

- the dense Hessian is symmetric to 1e-12 (absolute) and Σλ = tr(H) to 1e-10;
- every hv equals the dense H @ v to 1e-10, and the float64 central difference of gradients with the
  Rust default step h = 1e-3·‖w‖/√P along v/‖v‖ agrees with it to 1e-6 relative (for the MLP the ReLU
  pattern at w ± h·v/‖v‖ equals the one at w);
- every jax.grad result (at w and at every ascent point) passes make_fixtures.fd_check;
- MLP: every ReLU pre-activation at w has |z| > 1e-4 (printed), and every ascent point and final
  worst-case point has |z| > 1e-5 (make_fixtures.relu_margin; no rho had to be changed);
- wherever an accuracy is written, the top logit of every row beats the runner-up by more than 1e-4, so
  f32 rounding cannot change the argmax;
- the relative eigengap (|λ1| − |λ2|)/|λ1| (power iteration converges at rate |λ2/λ1|) is printed.

Values (printed on every run). linear: λ = [0.8139, 0.6727, 0.6295], tr 4.5925, gap 0.174.
mlp: λ = [0.7730, −0.7063, 0.7041], tr 1.7763, gap 0.086 (|λ2/λ1| = 0.914, so power iteration needs
many products: 0.914^20 ≈ 0.17); λ2 is negative, and |λ2| and |λ3| differ by only 0.3 %, so a deflated
power iteration cannot separate them; compare the second and third values only as a set, or loosely.
The MLP's accuracy at w is 0 (0.125 along the interpolation for t ≥ 0.5); min ReLU margin at w 1.84e-4,
over every ascent and final worst-case point 1.21e-4.
"""

import math
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (sets jax_enable_x64 and the CPU platform on import)
import make_sam_variant_fixtures as sv  # noqa: E402
import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402

assert jax.config.read("jax_enable_x64"), "make_fixtures must enable float64"

GENERATOR = (
    f"tests/golden/make_hessian_fixtures.py (helpers from make_fixtures.py and make_sam_variant_fixtures.py); "
    f"jax {jax.__version__}; jaxlib {jaxlib.__version__}; numpy {np.__version__}; "
    f"python {platform.python_version()}; float64 cpu"
)

TOP, RHOS, STEPS, ETA, WB_SCALE, LINEAR_ROWS = 3, [0.05, 0.2], [1, 3], 0.01, 0.3, 16
TS = [-0.5, 0.0, 0.25, 0.5, 1.0, 1.5]
MIN_MARGIN_AT_W = MIN_LOGIT_GAP = 1e-4


def linear_forward(ws, x):
    w, b = ws
    return x @ w.T + b


def make_linear():
    rng = np.random.default_rng(4004)
    bound = 1.0 / math.sqrt(6)
    ws = [mf.f32(rng.uniform(-bound, bound, size=(3, 6))), mf.f32(rng.uniform(-bound, bound, size=(3,)))]
    x = mf.normal(rng, (LINEAR_ROWS, 6))
    y = [int(v) for v in rng.integers(0, 3, size=LINEAR_ROWS)]
    return "linear", [6, 3], ["0.weight", "0.bias"], ws, x, y, linear_forward, False


def make_mlp():
    init, batches = sv.load_shared_inputs()
    x, y = batches[0]
    return "mlp", mf.SIZES, mf.PARAM_ORDER, init, x, y, mf.mlp_forward, True


class Model:
    def __init__(self, name, sizes, order, ws, x, y, forward, relu):
        self.name, self.sizes, self.order, self.ws, self.x, self.y = name, sizes, order, ws, x, y
        self.forward, self.relu = forward, relu
        self.shapes = [w.shape for w in ws]
        self.lab = jnp.asarray(y, dtype=jnp.int32)
        self.w = self.flat(ws)

    def flat(self, ts):
        return np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in ts])

    def split(self, v):
        out, off = [], 0
        for s in self.shapes:
            n = int(np.prod(s))
            out.append(v[off : off + n].reshape(s))
            off += n
        assert off == v.shape[0]
        return out

    def loss(self, v):
        return mf.ce_loss(self.forward(self.split(jnp.asarray(v)), jnp.asarray(self.x)), self.lab, 0.0)

    def grad(self, v, label):
        g = np.asarray(jax.grad(self.loss)(v), dtype=np.float64)
        mf.fd_check(lambda a: self.loss(a[0]), [np.asarray(v, dtype=np.float64)], [g], f"{self.name} {label}")
        if self.relu:
            mf.relu_margin(self.split(v), self.x)
        return g

    def loss_acc(self, v):
        logits = np.asarray(self.forward(self.split(v), self.x), dtype=np.float64)
        top2 = np.sort(logits, axis=1)[:, -2:]
        gap = float(np.min(top2[:, 1] - top2[:, 0]))
        assert gap > MIN_LOGIT_GAP, f"{self.name}: argmax near-tie ({gap:.3e}), f32 could flip accuracy"
        acc = float(np.mean(np.argmax(logits, axis=1) == np.asarray(self.y)))
        return float(self.loss(v)), acc

    def pattern(self, v):
        w0, b0, w1, b1 = self.split(v)[:4]
        z1 = self.x @ w0.T + b0
        z2 = np.maximum(z1, 0.0) @ w1.T + b1
        return np.concatenate([(z1 > 0).ravel(), (z2 > 0).ravel()])

    def enc(self, v):
        return {n: mf.enc(t) for n, t in zip(self.order, self.split(v))}


def worst_case(m, rho, steps, eta):
    w = m.w
    T = np.ones_like(w) if eta is None else np.abs(w) + eta
    u = np.zeros_like(w)
    for i in range(steps):
        g = m.grad(w + T * u, f"ascent rho {rho} steps {steps} eta {eta} iter {i}")
        s = T * g
        u = u + rho * s / np.linalg.norm(s)
        nu = np.linalg.norm(u)
        if nu > rho:
            u = u * (rho / nu)
    end = w + T * u
    if m.relu:
        mf.relu_margin(m.split(end), m.x)
    out = {"rho": rho, "steps": steps} if eta is None else {"rho": rho, "steps": steps, "eta": eta}
    return dict(out, sharpness=float(m.loss(end)) - float(m.loss(w)))


def build(idx, spec):
    m = Model(*spec)
    w = m.w
    P = w.size
    if m.relu:
        mf.MARGIN[0] = math.inf
        mf.relu_margin(m.ws, m.x)
        margin_w = mf.MARGIN[0]
        assert margin_w > MIN_MARGIN_AT_W, f"ReLU margin at w {margin_w:.3e}"
        print(f"{m.name}: min |ReLU pre-activation| at w = {margin_w:.3e}")
    loss, acc = m.loss_acc(w)
    m.grad(w, "g at w")

    H = np.asarray(jax.hessian(m.loss)(w), dtype=np.float64)
    asym = float(np.max(np.abs(H - H.T)))
    assert asym <= 1e-12, f"{m.name}: Hessian asymmetric by {asym:.3e}"
    H = 0.5 * (H + H.T)
    ev = np.linalg.eigvalsh(H)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    top = [float(v) for v in ev[:TOP]]
    trace, frob = float(np.trace(H)), float(np.linalg.norm(H))
    assert abs(float(np.sum(ev)) - trace) <= 1e-10
    gap = (abs(top[0]) - abs(top[1])) / abs(top[0])
    gap23 = (abs(top[1]) - abs(top[2])) / abs(top[1])
    print(f"{m.name}: P = {P}, loss {loss:.6f}, acc {acc}, eigenvalues {top}, trace {trace:.6f}, "
          f"frobenius {frob:.6f}, eigengap (|l1|-|l2|)/|l1| = {gap:.4f} (|l2/l1| = {abs(top[1] / top[0]):.4f}), "
          f"(|l2|-|l3|)/|l2| = {gap23:.4f}")

    h = max(1e-3 * float(np.linalg.norm(w)) / math.sqrt(P), 1e-6)  # the Rust default HVP step
    gradfn = jax.grad(m.loss)
    hvps = []
    for k in range(3):
        rng = np.random.default_rng([5005, idx, k])
        v = m.flat([mf.normal(rng, s) for s in m.shapes])
        hv = np.asarray(jax.jvp(gradfn, (w,), (v,))[1], dtype=np.float64)
        err = float(np.max(np.abs(hv - H @ v)))
        assert err <= 1e-10, f"{m.name} hvp {k}: jvp vs dense {err:.3e}"
        vn = np.linalg.norm(v)
        vh = v / vn
        if m.relu:
            p0 = m.pattern(w)
            for sgn in (1.0, -1.0):
                assert np.array_equal(m.pattern(w + sgn * h * vh), p0), f"{m.name} hvp {k}: FD step crosses a kink"
        fd = (np.asarray(gradfn(w + h * vh)) - np.asarray(gradfn(w - h * vh))) / (2 * h) * vn
        rel = float(np.linalg.norm(fd - hv) / np.linalg.norm(hv))
        assert rel <= 1e-6, f"{m.name} hvp {k}: central difference off by {rel:.3e}"
        print(f"{m.name} hvp {k}: |jvp - H@v| = {err:.1e}, central difference (h = {h:.3e}) rel. err {rel:.1e}")
        hvps.append({"v": m.enc(v), "hv": m.enc(hv)})

    wc = [worst_case(m, rho, steps, eta) for eta in (None, ETA) for rho in RHOS for steps in STEPS]
    for c in wc:
        print(f"{m.name} worst case {c}")
    if m.relu:
        print(f"{m.name}: min |ReLU pre-activation| over w and every ascent / final point = {mf.MARGIN[0]:.3e}")

    rng = np.random.default_rng([6006, idx])
    other = []
    for t in m.ws:
        n = mf.normal(rng, t.shape)
        d = n * (math.sqrt(float(np.mean(t * t))) / math.sqrt(float(np.mean(n * n))))
        other.append(mf.f32(t + WB_SCALE * d))
    wb = m.flat(other)
    points = [dict(zip(("t", "loss", "accuracy"), (t, *m.loss_acc((1.0 - t) * w + t * wb)))) for t in TS]
    assert points[1]["loss"] == loss
    print(f"{m.name} interpolation {[(p['t'], round(p['loss'], 6), p['accuracy']) for p in points]}")

    return {
        "name": m.name,
        "sizes": m.sizes,
        "param_order": m.order,
        "params": m.enc(w),
        "batch": {"x": mf.enc(m.x), "y": m.y},
        "loss": loss,
        "accuracy": acc,
        "eigenvalues": top,
        "trace": trace,
        "frobenius": frob,
        "hvp": hvps,
        "worst_case": wc,
        "interpolation": {"other": m.enc(wb), "points": points},
    }


def main():
    mf.MARGIN[0] = math.inf
    models = [build(i, spec) for i, spec in enumerate([make_linear(), make_mlp()])]
    mf.write("hessian.json", {"generator": GENERATOR, "models": models})
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
