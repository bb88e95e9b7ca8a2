#!/usr/bin/env python3
"""Golden fixtures for R-SAM (random smoothing SAM) and μP² layer-wise perturbation scaling, computed
with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_rsam_mup2_fixtures.py

Writes tests/golden/rsam_mup2.json. The output is deterministic: a rerun writes the same bytes.

The network, the initial weights, the 3 batches, the loss, PyTorch SGD, the finite-difference check of
every jax.grad result, the ReLU-margin check, plain SAM (run_case) and the JSON writer come from
make_fixtures.py; the shared-input loader (which asserts that init and batches are those of
mlp_steps.json), the gradient oracle, the 14-digit encoding of the per-step params and the vector
helpers come from make_sam_variant_fixtures.py. Nothing of them is repeated here.

Every case runs 4 steps, step t uses batch t mod 3, and the base optimizer is PyTorch SGD (lr 0.1,
momentum 0.9); the `_b` cases add weight decay 5e-4, coupled in SGD at the restored weights w.
Parameter index p counts over all tensors flattened row-major and concatenated in param_order (0..669).

Shared integer hash (unsigned 32-bit arithmetic, every result wraps mod 2^32; the PCG hash of
shaders/dropout.wgsl and shaders/batch.wgsl):
    pcg(v): state = v·747796405 + 2891336453
            word  = ((state >> ((state >> 28) + 4)) ^ state) · 277803737
            return (word >> 22) ^ word
    stream(salt, seed, t) = pcg(pcg(seed ^ salt) + t)

A) R-SAM (Liu et al., NeurIPS 2022; official code RSAM-Optimizer/R-SAM vit_jax/train.py).
   hyper {rho, sigma, lmbda, seed}. Step t:
   - z(p), standard normal by Marsaglia's polar method (no trigonometry: WGSL allows cos an absolute
     error of 2^-11): base = stream(0x5253414D, seed, t); source = pcg(base + p); for k = 0, 1, ...:
     v1 = 2·u(pcg(source + 2k)) − 1, v2 = 2·u(pcg(source + 2k + 1)) − 1 with u(b) = (b >> 8)/2^24
     (u32 wraps), s = v1² + v2²; the first k with 0 < s < 1 gives z = v1·sqrt(−2 ln s / s).
   - filter-wise noise δ0 from the current weights w: for a tensor with ≥ 2 dims, row j (shape[0] rows,
     each contiguous) gets δ0 = sigma·‖w_row j‖₂·z; a 1-D tensor (bias) gets δ0 = sigma·(‖w_tensor‖₂ + 1e-16)·z.
   - g0 = ∇L(w + δ0); `loss` = L(w + δ0) (R-SAM's pass-1 loss).
   - δ1 = lmbda·g0 + δ0; ε = rho·δ1/(‖δ1‖₂ + 1e-12) (global norm over all parameters).
   - g1 = ∇L(w + ε) (δ0 is NOT added); w is restored and SGD steps from w with g1.
   sigma = 0 gives δ0 = 0 and ε = rho·g0/(‖g0‖ + 1e-12/lmbda): plain SAM up to ξ.

B) μP² layer-wise perturbation scaling (Haas et al., NeurIPS 2024), as samlab implements it (global
   scale ρ·m^{−d} with d = −1/2 and layer scales m^{−d_l}). hyper {rho, base_width}.
   - width n = the first hidden layer's size (16); m = n/base_width.
   - d_l: 0.weight (first layer) input-like −1/2; 4.weight (last layer) output-like +3/2; 2.weight (any
     other weight) hidden +1/2; every bias (1-D tensor) input-like −1/2.
   - norm weight a_l = m^(−d_l); direction scale s_l = m^(1/2 − d_l) (input m, hidden 1, output 1/m),
     both float64 `m ** x`.
   - g0 = ∇L(w); N = sqrt(Σ_l a_l²·‖g0_l‖²); ε_l = rho·s_l·g0_l/(N + 1e-12); g1 = ∇L(w + ε); SGD from w with g1.
   base_width = n gives m = 1, a_l = s_l = 1: plain SAM (ξ 1e-12).

JSON: top level {generator, sizes, param_order, n_steps, init, batches, cases}. A case is {name,
variant ("rsam" | "mup2"), hyper, optimizer, reduces_to (null, or {"kind": "sam", "rho"} for the neutral
cases), steps}. A step is {batch, loss, sam_loss (L(w + ε)), noise_norm (rsam: ‖δ0‖₂) | passes (mup2: 2),
params (weights after the step, 14 significant digits)}. R-SAM's `loss` is L(w + δ0); μP²'s is L(w).

Checks performed here (the script fails if any does not hold):
- every jax.grad result matches a central finite difference (make_fixtures.fd_check), and every ReLU
  pre-activation at every point a gradient is taken has |z| > 1e-5 (make_fixtures.relu_margin);
- the hash runs on Python ints (exact u32 wrap),
  no polar draw lies within 1e-6 of its accept/reject boundary, and the noise of every step is nonzero for sigma > 0 (exactly 0 for sigma = 0);
- each rule makes exactly 2 full-batch passes per step;
- rsam_neutral and mup2_neutral reproduce plain SAM (ξ 1e-12, make_fixtures.run_case) to 1e-12 in every
  parameter after every step, and in loss and sam_loss;
- rsam and mup2 differ from that SAM trajectory by more than 1e-4 after the last step (the noise and the
  layer scales matter: 3.6e-3 and 1.9e-2);
- the file is under 400 KB.
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
import jaxlib  # noqa: E402

assert jax.config.read("jax_enable_x64"), "make_fixtures must enable float64"

GENERATOR = (
    f"tests/golden/make_rsam_mup2_fixtures.py (helpers from make_fixtures.py and make_sam_variant_fixtures.py); "
    f"jax {jax.__version__}; jaxlib {jaxlib.__version__}; numpy {np.__version__}; "
    f"python {platform.python_version()}; float64 cpu"
)

N_STEPS = sv.N_STEPS  # 4
XI = 1e-12  # norm epsilon of ε in both rules
BIAS_NORM_EPS = 1e-16  # added to a bias tensor's norm in R-SAM's filter-wise noise
NEUTRAL_TOL = sv.NEUTRAL_TOL  # 1e-12
MATTERS_TOL = sv.MATTERS_TOL  # 1e-4
OPT = sv.OPT  # SGD lr 0.1, momentum 0.9, no weight decay
OPT_WD = mf.opt_spec("sgd", 0.1, momentum=0.9, weight_decay=5e-4)
RSAM_SALT = 0x5253414D  # "RSAM"
U32 = 0xFFFFFFFF
NEUTRAL = {"kind": "sam", "rho": 0.05}

# (name, variant, hyper, optimizer, reduces_to). The smallest ReLU margin, 4.3e-5, is rsam_b's at step 2 at
# w + δ0 (the others stay >= 1.1e-4); computing z in float32 instead moves that pre-activation by < 1e-9.
CASES = [
    ("rsam", "rsam", {"rho": 0.05, "sigma": 0.01, "lmbda": 2.0, "seed": 7}, OPT, None),
    ("rsam_b", "rsam", {"rho": 0.1, "sigma": 0.02, "lmbda": 1.0, "seed": 11}, OPT_WD, None),
    ("rsam_neutral", "rsam", {"rho": 0.05, "sigma": 0.0, "lmbda": 2.0, "seed": 7}, OPT, NEUTRAL),
    ("mup2", "mup2", {"rho": 0.05, "base_width": 4}, OPT, None),
    ("mup2_b", "mup2", {"rho": 0.1, "base_width": 32}, OPT_WD, None),
    ("mup2_neutral", "mup2", {"rho": 0.05, "base_width": 16}, OPT, NEUTRAL),
]

# --------------------------------------------------------------------------------------------
# the hash and the Gaussian noise
# --------------------------------------------------------------------------------------------


def pcg(v):
    """The PCG hash on u32. Works on Python ints and on np.uint64 arrays alike: every operand stays
    below 2^63 before the mask, so the explicit `& U32` is exactly the u32 wrap."""
    state = (v * 747796405 + 2891336453) & U32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & U32
    return (word >> 22) ^ word


def stream(salt, seed, t):
    return pcg((pcg((seed ^ salt) & U32) + t) & U32)


def polar_normal(source):
    """One standard normal from a parameter's source hash (Marsaglia's polar method). Every accepted
    s is asserted to be away from the accept/reject boundaries, so f32 on the GPU decides the same."""
    for k in range(64):
        v1 = 2.0 * ((pcg((source + 2 * k) & U32) >> 8) / 2.0**24) - 1.0
        v2 = 2.0 * ((pcg((source + 2 * k + 1) & U32) >> 8) / 2.0**24) - 1.0
        s = v1 * v1 + v2 * v2
        assert abs(s - 1.0) > 1e-6 and (s == 0.0 or s > 1e-6), "draw too close to the boundary"
        if 0.0 < s < 1.0:
            return v1 * math.sqrt(-2.0 * math.log(s) / s)
    raise AssertionError("64 rejections in a row")


def gaussian(seed, t, n):
    """z(p) for p = 0..n−1 at step t."""
    base = stream(RSAM_SALT, seed, t)
    z = np.array([polar_normal(pcg((base + p) & U32)) for p in range(n)])
    assert np.all(np.isfinite(z))
    return z


def split(flat, like):
    """Cut a flat vector (param order, row-major) into tensors shaped like `like`."""
    out, off = [], 0
    for w in like:
        out.append(flat[off : off + w.size].reshape(w.shape))
        off += w.size
    assert off == flat.size
    return out


def filter_noise(ws, sigma, z):
    """δ0: each row of a matrix scaled by that row's norm, a bias by its tensor norm (+1e-16)."""
    out = []
    for w, zi in zip(ws, split(z, ws)):
        if w.ndim >= 2:
            r = np.sqrt(np.sum(w.reshape(w.shape[0], -1) ** 2, axis=1)).reshape((-1,) + (1,) * (w.ndim - 1))
        else:
            r = math.sqrt(float(np.sum(w * w))) + BIAS_NORM_EPS
        out.append(sigma * r * zi)
    return out


# --------------------------------------------------------------------------------------------
# the two rules
# --------------------------------------------------------------------------------------------


class RSAM(sv.Variant):
    def step(self, ws, oracle):
        h = self.hp
        z = gaussian(h["seed"], self.t, sum(w.size for w in ws))
        d0 = filter_noise(ws, h["sigma"], z)
        L0, g0 = oracle(sv.vadd(ws, d0), "g0 at w + delta0")
        d1 = sv.vadd(d0, g0, h["lmbda"])
        eps = sv.vscale(d1, h["rho"] / (sv.vnorm(d1) + XI))
        L1, g1 = oracle(sv.vadd(ws, eps), "g1 at w + eps")  # from w, not from w + δ0
        self.S.update(loss=L0, sam_loss=L1, noise_norm=sv.vnorm(d0))
        return self.optim.step(ws, g1)


def mup2_exponents():
    """d_l per tensor: first weight input-like, last weight output-like, other weights hidden, biases input-like."""
    weights = [n for n in mf.PARAM_ORDER if n.endswith(".weight")]
    d = []
    for n in mf.PARAM_ORDER:
        if not n.endswith(".weight"):
            d.append(-0.5)
        elif n == weights[0]:
            d.append(-0.5)
        elif n == weights[-1]:
            d.append(1.5)
        else:
            d.append(0.5)
    return d


class MuP2(sv.Variant):
    def step(self, ws, oracle):
        m = mf.SIZES[1] / self.hp["base_width"]  # width = the first hidden layer's size
        d = mup2_exponents()
        a = [m ** (-dl) for dl in d]
        s = [m ** (0.5 - dl) for dl in d]
        L0, g0 = oracle(ws, "g0")
        N = math.sqrt(sum(al * al * float(np.sum(g * g)) for al, g in zip(a, g0)))
        eps = [self.hp["rho"] * sl * g / (N + XI) for sl, g in zip(s, g0)]
        L1, g1 = oracle(sv.vadd(ws, eps), "g1")
        self.S.update(loss=L0, sam_loss=L1, scales=s)
        return self.optim.step(ws, g1)


VARIANTS = {"rsam": RSAM, "mup2": MuP2}


def run(name, variant, hyper, opt, init, batches):
    ws = sv.vcopy(init)
    V = VARIANTS[variant](hyper, opt, ws)
    steps, traj = [], []
    for t in range(N_STEPS):
        b = t % len(batches)
        oracle = sv.Oracle(*batches[b], f"{name} step {t}")
        V.t = t
        ws = V.step(ws, oracle)
        assert oracle.passes() == 2, (name, t, oracle.passes())
        st = {"batch": b, "loss": V.S["loss"], "sam_loss": V.S["sam_loss"]}
        if variant == "rsam":
            st["noise_norm"] = V.S["noise_norm"]
            assert (st["noise_norm"] > 0) == (hyper["sigma"] > 0), (name, t)
        else:
            st["passes"] = 2
        st["params"] = {n: sv.enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)}
        steps.append(st)
        traj.append(ws)
    return steps, traj


def dec(p):
    return [np.asarray(p[n]["data"]).reshape(p[n]["shape"]) for n in mf.PARAM_ORDER]


def main():
    init, batches = sv.load_shared_inputs()
    batches4 = [batches[t % len(batches)] for t in range(N_STEPS)]
    sam = mf.run_case("plain_sam_0.05", OPT, mf.sam_spec("sam", rho=NEUTRAL["rho"]), 0.0, init, batches4)
    sam_traj = [dec(st["params"]) for st in sam["steps"]]

    cases, trajs = [], {}
    for name, variant, hyper, opt, reduces_to in CASES:
        steps, traj = run(name, variant, hyper, opt, init, batches)
        trajs[name] = traj
        if reduces_to is not None:  # neutral setting: plain SAM with the same ρ, SGD and batches
            assert reduces_to == NEUTRAL and hyper["rho"] == NEUTRAL["rho"] and opt == OPT
            for t in range(N_STEPS):
                err = sv.max_abs_diff(traj[t], sam_traj[t])
                assert err <= NEUTRAL_TOL, f"{name} step {t}: differs from SAM by {err:.3e}"
                for k in ("loss", "sam_loss"):
                    assert abs(steps[t][k] - sam["steps"][t][k]) <= NEUTRAL_TOL, (name, t, k)
            print(f"{name:>13}: = SAM(rho {NEUTRAL['rho']}, xi 1e-12) to 1e-12 after every step")
        cases.append(
            {"name": name, "variant": variant, "hyper": hyper, "optimizer": opt, "reduces_to": reduces_to, "steps": steps}
        )

    # the noise and the layer scales must be visible in f32
    for name in ("rsam", "mup2"):
        diff = sv.max_abs_diff(trajs[name][-1], sam_traj[-1])
        print(f"{name:>13}: max |Δw| vs SAM(rho 0.05) after {N_STEPS} steps = {diff:.3e}")
        assert diff > MATTERS_TOL
    for c in cases:
        if c["variant"] == "rsam":
            print(f"{c['name']:>13}: noise_norm per step " + ", ".join(f"{st['noise_norm']:.4e}" for st in c["steps"]))

    out = {
        "generator": GENERATOR,
        "sizes": mf.SIZES,
        "param_order": mf.PARAM_ORDER,
        "n_steps": N_STEPS,
        "init": {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)},
        "batches": [{"x": mf.enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }
    mf.write("rsam_mup2.json", out)
    size = os.path.getsize(os.path.join(HERE, "rsam_mup2.json"))
    assert size < 400_000, f"rsam_mup2.json is {size} bytes"
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(f"min |ReLU pre-activation| over all MLP forward passes: {mf.MARGIN[0]:.3e}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
