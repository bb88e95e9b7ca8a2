#!/usr/bin/env python3
"""Golden fixtures for SSAM with a Fisher mask (SSAM-F; Mi et al., NeurIPS 2022, reference
Mi-Peng/Sparse-Sharpness-Aware-Minimization), computed with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_ssam_fixtures.py

Writes tests/golden/ssam.json. The output is deterministic: a rerun writes the same bytes.

The network, the initial weights, the 3 batches, the loss, PyTorch SGD, the finite-difference check
of every jax.grad result, the ReLU-margin check and the JSON writer come from make_fixtures.py; the
shared-input loader (which asserts that init and batches are those of mlp_steps.json), the gradient
oracle (Oracle, and its per-row sub-oracles), the 14-digit encoding of the per-step outputs and the
optimizer dict come from make_sam_variant_fixtures.py. Nothing of them is repeated here.

Rule (as samlab implements it). Hyperparameters: rho, sparsity s in [0, 1), num_samples N_s, update_freq k
(in steps). Step t uses batch t mod 3; 4 steps.

- On a refresh step (t % k == 0; step 0 always is one), before the SAM step:
  F = sum_{i < N_s} (grad l_i(w_t))^2 elementwise, where l_i is the cross-entropy of row i alone of this
  step's batch (a 1-row batch, so its mean is that row's loss), at the unperturbed weights w_t.
  P = number of parameters (all tensors, biases included), keep = floor((1 - s)·P + 1/2), and the mask M
  is 1 on the `keep` entries with the largest F (over all tensors together), 0 elsewhere. The mask is
  kept until the next refresh step.
- SAM step: g0 = grad L_B(w); eps = M * rho·g0/(||g0|| + 1e-7) with ||g0|| the global L2 norm of the
  full, unmasked g0; g1 = grad L_B(w + eps); w is restored and the base optimizer (PyTorch SGD) steps
  from w with g1 (weight decay, if any, only there: davda54 semantics).

Checks performed here (the script fails if any does not hold):

- every jax.grad result, the per-row Fisher gradients included, matches a central finite difference
  (make_fixtures.fd_check), and every ReLU pre-activation at every point a gradient is taken has
  |z| > 1e-5 (make_fixtures.relu_margin);
- (1 - s)·P is not within 1e-6 of a half-integer, so the rounding of `keep` is unambiguous;
- at every refresh step with keep < P, the keep-th largest F is strictly greater than the (keep+1)-th
  (no tie at the mask boundary), and the relative gap is larger than MIN_REL_GAP so that f32 cannot
  reorder them;
- at every refresh step F equals (to 1e-15 relative) the same sum with the per-row gradients taken by one
  jax.vmap over the rows instead of one 1-row oracle per row;
- the number of full-batch passes per step is 2 and the Fisher rows are N_s on refresh steps, 0 otherwise;
- ssam_dense (s = 0) reproduces plain SAM with xi = 1e-7 (make_fixtures.run_case) to 1e-12 in every
  parameter, loss, grad_norm and sam_loss after every step; the distance of that trajectory from
  SAM with xi = 1e-12 is printed and asserted to exceed 1e-10 (it is 6.8e-10, so the check sees xi);
- ssam, ssam_refresh and ssam_sparse differ from ssam_dense by more than 1e-4 after the last step, and
  ssam_refresh differs from ssam by more than 1e-4 (so the step-2 refresh matters);
- with an all-zero gradient (3 steps, k = 2, so both the refresh and the reuse branch run) the mask
  computation and eps produce no NaN/inf, eps is exactly 0 (every point where a gradient is requested
  equals w bit for bit) and w does not move. All F are then 0 and tie, so the no-tie assertion is
  not applied there (the mask is arbitrary but irrelevant since eps = M * 0).
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
    f"tests/golden/make_ssam_fixtures.py (helpers from make_fixtures.py and make_sam_variant_fixtures.py); "
    f"jax {jax.__version__}; jaxlib {jaxlib.__version__}; numpy {np.__version__}; "
    f"python {platform.python_version()}; float64 cpu"
)

N_STEPS = sv.N_STEPS  # 4
XI = 1e-7  # norm epsilon of the SSAM perturbation (samlab)
NEUTRAL_TOL = sv.NEUTRAL_TOL  # 1e-12
MATTERS_TOL = sv.MATTERS_TOL  # 1e-4
MIN_REL_GAP = 1e-4  # (F_keep − F_keep+1) / F_keep at every mask boundary; f32 F is good to ~1e-6 relative
OPT = sv.OPT  # SGD lr 0.1, momentum 0.9, no weight decay: the optimizer of the SAM-neutral cases there
N_PARAMS = sum(o * i + o for i, o in zip(mf.SIZES[:-1], mf.SIZES[1:]))  # weights and biases: 670

# (name, hyper, reduces_to). ssam and ssam_refresh use N_s = 5, not 4: with N_s = 4 (s = 0.5) the ReLU
# margin falls to 1.2e-5 (ssam, step 3) and 7.7e-6 < 1e-5 (ssam_refresh, step 3); with N_s = 5 it stays at
# 1.84e-4 (the floor of the unperturbed trajectory) and the mask boundaries have relative gaps 2.7e-2 and 9.1e-3.
CASES = [
    ("ssam", {"rho": 0.05, "sparsity": 0.5, "num_samples": 5, "update_freq": 100}, None),
    ("ssam_refresh", {"rho": 0.05, "sparsity": 0.5, "num_samples": 5, "update_freq": 2}, None),
    ("ssam_dense", {"rho": 0.05, "sparsity": 0.0, "num_samples": 4, "update_freq": 100}, {"kind": "sam", "rho": 0.05, "xi": XI}),
    ("ssam_sparse", {"rho": 0.05, "sparsity": 0.9, "num_samples": 8, "update_freq": 100}, None),
]


def keep_count(sparsity, n):
    x = (1.0 - sparsity) * n
    assert abs(x - math.floor(x) - 0.5) > 1e-6, f"(1-s)·P = {x!r} is (nearly) a half-integer"
    return int(math.floor(x + 0.5))


def fisher_mask(F, keep, strict):
    """M = 1 on the `keep` largest entries of F (all tensors flattened in param order, concatenated).

    strict: assert that the boundary is not a tie (and has a relative gap > MIN_REL_GAP).
    Returns (mask tensors, boundary (F_keep, F_keep+1) or None when keep == P)."""
    flat = np.concatenate([f.ravel() for f in F])
    assert np.all(np.isfinite(flat))
    n = flat.size
    assert 0 < keep <= n
    order = np.argsort(-flat, kind="stable")
    m = np.zeros(n)
    m[order[:keep]] = 1.0
    boundary = None
    if keep < n:
        a, b = float(flat[order[keep - 1]]), float(flat[order[keep]])
        boundary = (a, b)
        if strict:
            assert a > b, f"tie at the mask boundary: F_keep = {a!r}, F_keep+1 = {b!r}"
            assert (a - b) / a > MIN_REL_GAP, f"mask boundary too close for f32: {a!r} vs {b!r}"
    masks, off = [], 0
    for f in F:
        masks.append(m[off : off + f.size].reshape(f.shape))
        off += f.size
    assert off == n
    return masks, boundary


def fisher_vmap(ws, x, y):
    """Σ_i (∇ℓ_i)² with the per-row gradients from jax.vmap of make_fixtures' loss on a 1-row batch."""
    wj = [jnp.asarray(w) for w in ws]

    def row_loss(w, xi, yi):
        return mf.ce_loss(mf.mlp_forward(w, xi[None, :]), yi[None], 0.0)

    G = jax.vmap(jax.grad(row_loss), in_axes=(None, 0, 0))(wj, jnp.asarray(x), jnp.asarray(y, dtype=jnp.int32))
    return [np.sum(np.asarray(g, dtype=np.float64) ** 2, axis=0) for g in G]


class SSAM(sv.Variant):
    """One SSAM-F step per call; the oracle gives full-batch gradients, oracle.sub(i, i+1) row i's."""

    def __init__(self, hp, opt, ws):
        super().__init__(hp, opt, ws)
        self.keep = keep_count(hp["sparsity"], sum(w.size for w in ws))

    def refresh(self, t):
        return t % self.hp["update_freq"] == 0

    def step(self, ws, oracle):
        strict = isinstance(oracle, sv.Oracle)
        self.S["fisher_rows"] = 0
        self.S["boundary"] = None
        if self.refresh(self.t):
            ns = self.hp["num_samples"]
            assert ns <= oracle.rows()
            F = sv.vzeros(ws)
            for i in range(ns):
                _, gi = oracle.sub(i, i + 1)(ws, f"fisher row {i}")
                F = [f + g * g for f, g in zip(F, gi)]
            if strict:  # the same F from one jax.vmap over the N_s rows (independent of the per-row oracles)
                Fv = fisher_vmap(ws, oracle.x[:ns], oracle.y[:ns])
                assert sv.max_abs_diff(F, Fv) <= 1e-15 * max(1.0, max(float(f.max()) for f in F))
            self.S["mask"], self.S["boundary"] = fisher_mask(F, self.keep, strict)
            self.S["fisher_rows"] = ns
        M = self.S["mask"]
        L0, g0 = oracle(ws, "g0")
        scale = self.hp["rho"] / (sv.vnorm(g0) + XI)
        eps = [m * (scale * g) for m, g in zip(M, g0)]
        L1, g1 = oracle(sv.vadd(ws, eps), "g1")
        self.S["L0"], self.S["g0_norm"], self.S["L1"] = L0, sv.vnorm(g0), L1
        return self.optim.step(ws, g1)


def enc_mask(m):
    assert np.all((m == 0.0) | (m == 1.0))
    return {"shape": list(m.shape), "data": [int(v) for v in m.ravel()]}


def run_ssam(name, hyper, init, batches):
    ws = sv.vcopy(init)
    V = SSAM(hyper, OPT, ws)
    steps, passes, traj = [], [], []
    for t in range(N_STEPS):
        b = t % len(batches)
        x, y = batches[b]
        oracle = sv.Oracle(x, y, f"{name} step {t}")
        V.t = t
        ws = V.step(ws, oracle)
        refresh = V.refresh(t)
        assert oracle.calls == 2, (name, t, oracle.calls)
        assert oracle.sub_rows == V.S["fisher_rows"] == (hyper["num_samples"] if refresh else 0), (name, t)
        passes.append(2)
        st = {
            "batch": b,
            "refresh": refresh,
            "fisher_rows": V.S["fisher_rows"],
            "loss": V.S["L0"],
            "grad_norm": V.S["g0_norm"],
            "sam_loss": V.S["L1"],
        }
        if refresh:
            st["mask_boundary"] = None if V.S["boundary"] is None else list(V.S["boundary"])
            st["mask"] = {n: enc_mask(m) for n, m in zip(mf.PARAM_ORDER, V.S["mask"])}
            assert sum(int(m.sum()) for m in V.S["mask"]) == V.keep
        st["params"] = {n: sv.enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)}
        steps.append(st)
        traj.append(ws)
    return V.keep, passes, steps, traj


def plain_sam(rho, xi, init, batches4):
    """make_fixtures.run_case with `sam` kind, T = 1 and the given xi (run_case hard-codes 1e-12 through
    sam_scale; it is swapped for the duration of the call)."""
    orig = mf.sam_scale

    def patched(kind, eta, ws):
        T, _ = orig(kind, eta, ws)
        assert kind == "sam"
        return T, xi

    mf.sam_scale = patched
    try:
        return mf.run_case(f"plain_sam_xi_{xi:g}", OPT, mf.sam_spec("sam", rho=rho), 0.0, init, batches4)
    finally:
        mf.sam_scale = orig


def dec(p):
    return [np.asarray(p[n]["data"]).reshape(p[n]["shape"]) for n in mf.PARAM_ORDER]


def zero_gradient_check(hyper, init):
    ws = sv.vcopy(init)
    V = SSAM(dict(hyper, update_freq=2), dict(OPT, weight_decay=0.0), ws)
    for t in range(3):
        oracle = sv.ZeroOracle()
        V.t = t
        new = V.step(ws, oracle)
        assert oracle.calls == 2
        for p in oracle.points:
            for a, b in zip(p, ws):
                assert np.array_equal(a, b), f"ssam: eps != 0 with a zero gradient (step {t})"
        for a in V.S["mask"]:
            assert np.all(np.isfinite(a))
        assert sum(int(m.sum()) for m in V.S["mask"]) == V.keep
        for a, b in zip(new, init):
            assert np.all(np.isfinite(a)) and np.array_equal(a, b), "ssam: weights moved with a zero gradient"
        assert math.isfinite(V.S["g0_norm"]) and V.S["g0_norm"] == 0.0
        ws = new


def main():
    init, batches = sv.load_shared_inputs()
    assert sum(w.size for w in init) == N_PARAMS == 670
    batches4 = [batches[t % len(batches)] for t in range(N_STEPS)]

    cases, trajs = [], {}
    for name, hyper, reduces_to in CASES:
        keep, passes, steps, traj = run_ssam(name, hyper, init, batches)
        trajs[name] = traj
        case = {
            "name": name,
            "variant": "ssam",
            "hyper": hyper,
            "optimizer": OPT,
            "reduces_to": reduces_to,
            "n_params": N_PARAMS,
            "keep": keep,
            "passes_per_step": passes,
            "steps": steps,
        }
        for st in steps:
            if st["refresh"] and st["mask_boundary"] is not None:
                a, b = st["mask_boundary"]
                print(f"{name:>14}: step {steps.index(st)} keep {keep}/{N_PARAMS}, F boundary {a:.6e} > {b:.6e} (rel gap {(a - b) / a:.3e})")
        if reduces_to is not None:
            assert keep == N_PARAMS
            rc = plain_sam(reduces_to["rho"], reduces_to["xi"], init, batches4)
            rc12 = mf.run_case("plain_sam_xi_1e-12", OPT, mf.sam_spec("sam", rho=reduces_to["rho"]), 0.0, init, batches4)
            for t in range(N_STEPS):
                err = sv.max_abs_diff(traj[t], dec(rc["steps"][t]["params"]))
                assert err <= NEUTRAL_TOL, f"{name} step {t}: differs from SAM(xi = {XI}) by {err:.3e}"
                for k in ("loss", "grad_norm", "sam_loss"):
                    assert abs(steps[t][k] - rc["steps"][t][k]) <= NEUTRAL_TOL, (name, t, k)
            d12 = sv.max_abs_diff(traj[-1], dec(rc12["steps"][-1]["params"]))
            print(f"{name:>14}: = SAM(xi = 1e-7) to 1e-12; SAM(xi = 1e-7) vs SAM(xi = 1e-12) after {N_STEPS} steps: {d12:.3e}")
            assert d12 > 100 * NEUTRAL_TOL
        cases.append(case)

    dense = trajs["ssam_dense"][-1]
    for name in ("ssam", "ssam_refresh", "ssam_sparse"):
        diff = sv.max_abs_diff(trajs[name][-1], dense)
        print(f"{name:>14}: max |Δw| vs ssam_dense after {N_STEPS} steps = {diff:.3e}")
        assert diff > MATTERS_TOL
    diff = sv.max_abs_diff(trajs["ssam_refresh"][-1], trajs["ssam"][-1])
    print(f"  ssam_refresh: max |Δw| vs ssam (no refresh at step 2) after {N_STEPS} steps = {diff:.3e}")
    assert diff > MATTERS_TOL
    m0 = cases[0]["steps"][0]["mask"]
    m2 = cases[1]["steps"][2]["mask"]
    changed = sum(a != b for n in mf.PARAM_ORDER for a, b in zip(m0[n]["data"], m2[n]["data"]))
    print(f"  ssam_refresh: the step-2 mask differs from the step-0 mask in {changed} entries")
    assert changed > 0

    for _, hyper, _ in CASES:
        zero_gradient_check(hyper, init)

    out = {
        "generator": GENERATOR,
        "sizes": mf.SIZES,
        "param_order": mf.PARAM_ORDER,
        "n_steps": N_STEPS,
        "init": {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)},
        "batches": [{"x": mf.enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }
    mf.write("ssam.json", out)
    size = os.path.getsize(os.path.join(HERE, "ssam.json"))
    assert size < 400_000, f"ssam.json is {size} bytes"
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(f"min |ReLU pre-activation| over all MLP forward passes: {mf.MARGIN[0]:.3e}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
