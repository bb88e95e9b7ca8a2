#!/usr/bin/env python3
"""Golden fixtures for the SAM variants in docs/sam-variants.md, computed with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_sam_variant_fixtures.py

Writes tests/golden/sam_variants.json and tests/golden/sampa.json (SAMPa, kept in its own file so that
sam_variants.json stays under 1 MB). The output is deterministic: a rerun writes the same bytes.

The network, the initial weights, the batches, the loss, the PyTorch optimizers, the finite-difference
check of every jax.grad result, the ReLU-margin check and the JSON layout are imported from
make_fixtures.py (same directory), so `init` and `batches` are exactly those of mlp_steps.json (this
script asserts that). Every update rule here is written from the description in docs/sam-variants.md,
which names the reference repository and file for each variant.

Each variant runs 4 steps; step t uses batch t mod 3 (the 3 batches of mlp_steps.json, then batch 0
again). Checks performed here (the script fails if any does not hold):

- every jax.grad result matches a central finite difference on 3 random elements per tensor
  (make_fixtures.fd_check), and every ReLU pre-activation at every point a gradient is taken has
  |z| > 1e-5 (make_fixtures.relu_margin);
- every case at its neutral setting reproduces plain SAM (make_fixtures.run_case, `sam` kind) or
  plain SGD (`none` kind) to 1e-12 in every parameter after every step;
- every case at its reference setting differs from that neutral trajectory by more than 1e-4 after the
  last step, so an implementation that ignores the variant fails the f32 test;
- the number of forward+backward passes each rule makes per step equals `passes_per_step` (counted in
  full-batch passes: a pass on a sub-batch of m of the B rows, as m-sharpness makes, counts m/B);
- with an all-zero gradient every variant perturbs by exactly 0 (every point where a gradient is
  requested equals the unperturbed weights bit for bit), produces no NaN/inf, and leaves the weights
  unchanged (3 steps, so that stateful branches such as the F-SAM EMA, LookSAM reuse, MSAM's
  momentum normalisation and S2-SAM's cached gradient are exercised);
- msharp_mB (m = B) reproduces plain SAM, so its parameters are not written a second time: the case names
  the case that holds them ("params_from": "fsam_sigma0"), and the script asserts that the rounded values
  are identical, byte for byte, after every step (this keeps the file under 1 MB);
- for sam_linf, every gradient element is exactly 0 or has |g| > 1e-6, so sign(g) cannot flip in f32.

SAMPa (sampa.json) takes its two gradients on two different batches: G_a on the previous step's batch
(batch (t−1) mod 3; batch 0 at step 0) and g_y on this step's batch (t mod 3). Its ρ = λ = 0 case is
momentum SGD on the lagged batch sequence 0, 0, 1, 2 (not on 0, 1, 2, 0), and the script checks that to 1e-12;
SAMPa has no setting that equals SAM or SGD on the same batches. The finite-difference, ReLU-margin,
pass-count, zero-gradient and "differs from neutral by > 1e-4" checks above apply to it too.
"""

import json
import os
from fractions import Fraction
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (sets jax_enable_x64 and the CPU platform on import)
import numpy as np  # noqa: E402
import jax  # noqa: E402
import jaxlib  # noqa: E402

assert jax.config.read("jax_enable_x64"), "make_fixtures must enable float64"

GENERATOR = (
    f"tests/golden/make_sam_variant_fixtures.py (helpers from make_fixtures.py); jax {jax.__version__}; "
    f"jaxlib {jaxlib.__version__}; numpy {np.__version__}; python {platform.python_version()}; float64 cpu"
)

N_STEPS = 4
XI = 1e-12  # norm epsilon of every reference implementation read (davda54 convention)
NEUTRAL_TOL = 1e-12
MATTERS_TOL = 1e-4
LINF_MIN_ABS_GRAD = 1e-6

# --------------------------------------------------------------------------------------------
# flat-vector helpers (a "vector" is the list of parameter tensors in PARAM_ORDER)
# --------------------------------------------------------------------------------------------


def vdot(a, b):
    return sum(float(np.sum(x * y)) for x, y in zip(a, b))


def vnorm(a):
    return mf.gnorm(a)


def vadd(a, b, s=1.0):
    """a + s*b"""
    return [x + s * y for x, y in zip(a, b)]


def vscale(a, s):
    return [s * x for x in a]


def vcopy(a):
    return [np.array(x, copy=True) for x in a]


def vzeros(a):
    return [np.zeros_like(x) for x in a]


def enc14(a):
    """Like make_fixtures.enc, but every value rounded to 14 significant digits (relative change
    <= 5e-15) to keep the file under 1 MB. Used only for the per-step outputs; init and batches are
    written exactly with make_fixtures.enc."""
    a = np.asarray(a, dtype=np.float64)
    assert np.all(np.isfinite(a))
    return {"shape": list(a.shape), "data": [float(f"{v:.14g}") for v in a.ravel()]}


def max_abs_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


# --------------------------------------------------------------------------------------------
# gradient oracles: each call is one forward+backward pass of the variant and is counted
# --------------------------------------------------------------------------------------------


class Oracle:
    def __init__(self, x, y, label):
        self.x = x
        self.y = y
        self.loss = mf.make_loss(x, y, 0.0)
        self.label = label
        self.calls = 0
        self.sub_rows = 0  # rows of sub-batch passes (m-sharpness), counted as sub_rows/B full passes
        self.points = []

    def __call__(self, ws, what):
        self.calls += 1
        self.points.append(vcopy(ws))
        return self.uncounted(ws, what)

    def uncounted(self, ws, what):
        mf.relu_margin(ws, self.x)
        return mf.loss_and_grad(self.loss, ws, f"{self.label} {what}")

    def rows(self):
        return len(self.y)

    def passes(self):
        return self.calls + Fraction(self.sub_rows, self.rows())

    def sub(self, start, stop):
        """The oracle of the mean loss over rows start … stop−1 of this batch (in order)."""
        return SubOracle(self, Oracle(self.x[start:stop], self.y[start:stop], f"{self.label} rows {start}:{stop}"))


class SubOracle:
    """A gradient on a sub-batch of the parent's rows; it counts (rows/B) of a pass into the parent."""

    def __init__(self, parent, inner):
        self.parent = parent
        self.inner = inner

    def __call__(self, ws, what):
        self.parent.sub_rows += self.inner.rows()
        self.parent.points.append(vcopy(ws))
        return self.inner.uncounted(ws, what)


class ZeroOracle:
    """A loss whose gradient is exactly zero everywhere."""

    def __init__(self, n_rows=mf.BATCH):
        self.n_rows = n_rows
        self.calls = 0
        self.sub_rows = 0
        self.points = []

    def rows(self):
        return self.n_rows

    def passes(self):
        return self.calls + Fraction(self.sub_rows, self.rows())

    def sub(self, start, stop):
        return SubOracle(self, ZeroOracle(stop - start))

    def __call__(self, ws, what):
        self.calls += 1
        self.points.append(vcopy(ws))
        return 0.0, vzeros(ws)

    def uncounted(self, ws, what):
        return 0.0, vzeros(ws)


# --------------------------------------------------------------------------------------------
# the variants (rules: docs/sam-variants.md)
# --------------------------------------------------------------------------------------------


def sam_eps(g, rho):
    """ε = ρ·g/(‖g‖+ξ), the davda54 / reference form used by every L2 variant below."""
    return vscale(g, rho / (vnorm(g) + XI))


class Variant:
    """ws held by the runner are the stored parameters; eval_weights() gives the unperturbed ones."""

    def __init__(self, hp, opt, ws):
        self.hp = hp
        self.opt = opt
        self.optim = mf.Optimizer(opt, ws)
        self.S = {}
        self.t = 0

    def eval_weights(self, ws):
        return ws

    def expected_passes(self, t):
        raise NotImplementedError

    def step(self, ws, oracle):
        raise NotImplementedError


class GSAM(Variant):
    """juntang-zhuang/GSAM gsam/gsam.py (+ scheduler.py ProportionScheduler); big_vision gsam.py."""

    def rho_t(self, lr):
        h = self.hp
        if h["lr_max"] > h["lr_min"]:
            return h["rho_min"] + (h["rho_max"] - h["rho_min"]) * (lr - h["lr_min"]) / (h["lr_max"] - h["lr_min"])
        return h["rho_max"]

    def expected_passes(self, t):
        return 2

    def step(self, ws, oracle):
        _, g0 = oracle(ws, "g0")
        rho = self.rho_t(self.opt["lr"])
        _, g1 = oracle(vadd(ws, sam_eps(g0, rho)), "g1")
        n0, n1 = vnorm(g0), vnorm(g1)
        cosine = vdot(g0, g1) / (n1 * n0 + XI)
        vertical = vadd(g0, g1, -cosine * n0 / (n1 + XI))  # g0 minus its component along g1
        G = vadd(g1, vertical, -self.hp["alpha"])
        # big_vision gsam.py writes the same projection without the ξ terms: g0 − ⟨g0, ĝ1⟩·ĝ1
        if n1 > 0:
            g1_hat = vscale(g1, 1.0 / n1)
            bv = vadd(g1, vadd(g0, g1_hat, -vdot(g0, g1_hat)), -self.hp["alpha"])
            assert max_abs_diff(G, bv) <= 1e-10 * max(1.0, vnorm(G))
        return self.optim.step(ws, G)


class FSAM(Variant):
    """nblt/F-SAM utils.py FriendlySAM."""

    def expected_passes(self, t):
        return 2

    def step(self, ws, oracle):
        _, g0 = oracle(ws, "g0")
        if "m" not in self.S:
            d = g0
            self.S["m"] = vcopy(g0)
        else:
            m = self.S["m"]
            d = vadd(g0, m, -self.hp["sigma"])
            lam = self.hp["lmbda"]
            self.S["m"] = [mi * lam + gi * (1.0 - lam) for mi, gi in zip(m, g0)]
        _, g1 = oracle(vadd(ws, sam_eps(d, self.hp["rho"])), "g1")
        return self.optim.step(ws, g1)


class LookSAM(Variant):
    """MarlonBecker/MSAM optimizer/looksam.py."""

    def expected_passes(self, t):
        return 2 if t % self.hp["k"] == 0 else 1

    def step(self, ws, oracle):
        if self.t % self.hp["k"] == 0:  # refresh (step 0 is one)
            _, g0 = oracle(ws, "g0")
            _, g1 = oracle(vadd(ws, sam_eps(g0, self.hp["rho"])), "g1")
            n0 = vnorm(g0)
            gv = vadd(g1, g0, -vdot(g1, g0) / (n0 * n0 + XI))
            self.S["gv_hat"] = vscale(gv, 1.0 / (vnorm(gv) + XI))
            G = g1
        else:  # reuse: one gradient at w
            _, g = oracle(ws, "g")
            G = vadd(g, self.S["gv_hat"], self.hp["alpha"] * vnorm(g))
        return self.optim.step(ws, G)


class MSAM(Variant):
    """MarlonBecker/MSAM optimizer/msam.py (SGD form). Stored params are w̃ = w − ρ·v/(‖v‖+ξ)."""

    def __init__(self, hp, opt, ws, wd_at_unperturbed=False):
        super().__init__(hp, opt, ws)
        self.wd_at_unperturbed = wd_at_unperturbed  # only for the check that the fixture sees the placement
        assert opt["kind"] == "sgd" and not opt["nesterov"] and opt["momentum"] != 0
        self.S["v"] = vzeros(ws)  # reference initialises the momentum buffer to zeros
        self.S["inv_norm"] = 0.0  # 1/(‖v‖+ξ); 0 before the first step, so step 0 is unperturbed

    def eval_weights(self, ws):
        return vadd(ws, self.S["v"], self.hp["rho"] * self.S["inv_norm"])

    def expected_passes(self, t):
        return 1

    def step(self, ws, oracle):
        rho, lr, mu, wd = self.hp["rho"], self.opt["lr"], self.opt["momentum"], self.opt["weight_decay"]
        _, g = oracle(ws, "g")  # at the stored (perturbed) weights
        v = self.S["v"]
        w = vadd(ws, v, rho * self.S["inv_norm"])  # move back to the unperturbed weights
        d = vadd(g, w if self.wd_at_unperturbed else ws, wd) if wd != 0 else g  # reference: at the stored weights
        v = [mu * vi + di for vi, di in zip(v, d)]
        w_next = vadd(w, v, -lr)
        inv = 1.0 / (vnorm(v) + XI)
        self.S["v"], self.S["inv_norm"] = v, inv
        self.S["eval"] = w_next
        return vadd(w_next, v, -rho * inv)  # ascend along −v again: the new stored weights


class S2SAM(Variant):
    """jjsrf/SSAM-NEURIPS2024 sam.py with v2=True (+ main_prune_train.py train loop)."""

    def expected_passes(self, t):
        return 1

    def step(self, ws, oracle):
        prev = self.S.get("prev")
        point = ws if prev is None else vadd(ws, sam_eps(prev, self.hp["rho"]))
        _, g1 = oracle(point, "g1")
        self.S["prev"] = vcopy(g1)
        return self.optim.step(ws, g1)


class CRSAM(Variant):
    """TrustAIoT/CR-SAM utils/crsam.py (+ crsam_train.py)."""

    def expected_passes(self, t):
        return 3

    def step(self, ws, oracle):
        _, g0 = oracle(ws, "g0")
        eps = sam_eps(g0, self.hp["rho"])
        _, gp = oracle(vadd(ws, eps), "g+")
        _, gm = oracle(vadd(ws, eps, -1.0), "g-")
        gam, beta = self.hp["gamma"], self.hp["beta"]
        G = [p + gam * (p + m - 2 * o) + beta * (p - m) for p, m, o in zip(gp, gm, g0)]
        return self.optim.step(ws, G)


class NStep(Variant):
    """tml-epfl/understanding-sam deep_nets/sam.py perturb_weights_sam / weight_ascent_step."""

    def expected_passes(self, t):
        return self.hp["n"] + 1

    def step(self, ws, oracle):
        rho, alpha = self.hp["rho"], self.hp["alpha"]
        delta = vzeros(ws)
        for i in range(self.hp["n"]):
            _, g = oracle(vadd(ws, delta), f"ascent {i}")
            delta = vadd(delta, g, alpha / (vnorm(g) + XI))
            nd = vnorm(delta)
            if nd > rho:
                delta = vscale(delta, rho / nd)
        _, g1 = oracle(vadd(ws, delta), "g1")
        return self.optim.step(ws, g1)


class SAMLinf(Variant):
    """sam-algorithms.md §2 general p-norm formula at p = ∞ (q = 1): ε = ρ·sign(g0)."""

    def expected_passes(self, t):
        return 2

    def step(self, ws, oracle):
        _, g0 = oracle(ws, "g0")
        if isinstance(oracle, Oracle):
            for gi in g0:
                a = np.abs(gi[gi != 0])
                assert a.size == 0 or float(a.min()) > LINF_MIN_ABS_GRAD, f"sign(g) fragile: {a.min()}"
        eps = [self.hp["rho"] * np.sign(gi) for gi in g0]
        _, g1 = oracle(vadd(ws, eps), "g1")
        return self.optim.step(ws, g1)


class MSharp(Variant):
    """m-sharpness (Foret et al. 2021 §4; Andriushchenko & Flammarion 2022, tml-epfl/understanding-sam
    deep_nets/train.py, --acc_steps = B/m): one SAM perturbation per consecutive sub-batch of m rows."""

    def expected_passes(self, t):
        return 2  # J sub-batches × 2 passes on m rows = 2 full-batch passes

    def step(self, ws, oracle):
        m, B = self.hp["m"], oracle.rows()
        assert isinstance(m, int) and m >= 1 and B % m == 0, f"m = {m} must divide the batch size {B}"
        J = B // m
        total = None
        for j in range(J):
            sub = oracle.sub(j * m, j * m + m)  # rows j·m … j·m+m−1
            _, g0 = sub(ws, f"sub-batch {j} g0")
            _, g1 = sub(vadd(ws, sam_eps(g0, self.hp["rho"])), f"sub-batch {j} g1")
            total = g1 if total is None else vadd(total, g1)
        G = [g / J for g in total]  # mean over the J sub-batches
        return self.optim.step(ws, G)


class SAMPa(Variant):
    """LIONS-EPFL/SAMPa train.py (2-GPU Lightning Fabric loop; rank 0 takes G_a, rank 1 takes g_y).

    State: g_y, the previous step's gradient at y (zeros before step 0, as in the reference), and the
    previous step's batch (the runner passes its oracle). The reference ships g_y to rank 0 inside the
    all-reduced sum and divides it out again ((agg − (1−λ)G_a)/(λ + 1e-15)); here it is kept directly, which
    is the same in exact arithmetic for λ > 0 (see docs/sam-variants.md §10, Quirks)."""

    def __init__(self, hp, opt, ws):
        super().__init__(hp, opt, ws)
        assert opt["kind"] == "sgd" and not opt["nesterov"], "the reference builds y from PyTorch SGD state"
        self.S["gy"] = vzeros(ws)

    def expected_passes(self, t):
        return 2

    def y_point(self, ws):
        """y_{t+1} = x_t − lr·(g_y + μ·buf + wd·x_t); the μ·buf + wd·x_t term only once SGD has a momentum
        buffer (t ≥ 1 and μ ≠ 0), exactly where the reference adds it."""
        lr, mu, wd = self.opt["lr"], self.opt["momentum"], self.opt["weight_decay"]
        gy = self.S["gy"]
        if self.optim.buf[0] is not None:
            d = [g + (wd * w + b * mu) for g, w, b in zip(gy, ws, self.optim.buf)]
        else:
            d = gy
        return vadd(ws, d, -lr)

    def step(self, ws, oracle, prev_oracle):
        lam = self.hp["lmbda"]
        x_tilde = vadd(ws, sam_eps(self.S["gy"], self.hp["rho"]))  # ε = 0 at step 0 (g_y = 0)
        y = self.y_point(ws)  # = x_t at step 0
        _, Ga = prev_oracle(x_tilde, "G_a")  # batch of step t−1 (step 0: its own batch)
        _, gy = oracle(y, "g_y")  # batch of step t; independent of G_a
        G = [(1.0 - lam) * a + lam * b for a, b in zip(Ga, gy)]
        self.S["gy"] = gy
        self.S["y"] = y
        return self.optim.step(ws, G)


VARIANTS = {
    "gsam": GSAM,
    "fsam": FSAM,
    "looksam": LookSAM,
    "msam": MSAM,
    "s2sam": S2SAM,
    "crsam": CRSAM,
    "nstep": NStep,
    "sam_linf": SAMLinf,
    "msharp": MSharp,
}

# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------

OPT = mf.opt_spec("sgd", 0.1, momentum=0.9)
# MSAM brings its own SGD; its reference class defaults are lr 0.1, momentum 0.9, weight decay 1e-2,
# rho 0.3. The weight decay is kept because where it enters (at the stored, perturbed weights) is
# part of the rule; the script checks that the fixture can tell the two placements apart.
OPT_MSAM = mf.opt_spec("sgd", 0.1, momentum=0.9, weight_decay=0.01)


def opt_for(variant):
    return OPT_MSAM if variant == "msam" else OPT


# (name, variant, hyper, reduces_to): reduces_to is None for the reference-setting case and
# ("sam", rho) or ("none", 0) for the neutral case; the neutral case is compared with run_case.
CASES = [
    ("gsam", "gsam", {"rho": 0.1, "rho_max": 0.1, "rho_min": 0.1, "lr_max": 0.1, "lr_min": 0.1, "alpha": 0.2}, None),
    ("gsam_alpha0", "gsam", {"rho": 0.1, "rho_max": 0.1, "rho_min": 0.1, "lr_max": 0.1, "lr_min": 0.1, "alpha": 0.0}, ("sam", 0.1)),
    ("fsam", "fsam", {"rho": 0.2, "sigma": 1.0, "lmbda": 0.95}, None),
    ("fsam_sigma0", "fsam", {"rho": 0.2, "sigma": 0.0, "lmbda": 0.95}, ("sam", 0.2)),
    ("looksam", "looksam", {"rho": 0.3, "k": 2, "alpha": 0.2}, None),
    ("looksam_k1", "looksam", {"rho": 0.3, "k": 1, "alpha": 0.2}, ("sam", 0.3)),
    ("msam", "msam", {"rho": 0.3}, None),
    ("msam_rho0", "msam", {"rho": 0.0}, ("none", 0.0)),
    ("s2sam", "s2sam", {"rho": 0.1}, None),
    ("s2sam_rho0", "s2sam", {"rho": 0.0}, ("none", 0.0)),
    ("crsam", "crsam", {"rho": 0.2, "gamma": 0.1, "beta": 0.01}, None),
    ("crsam_gamma0_beta0", "crsam", {"rho": 0.2, "gamma": 0.0, "beta": 0.0}, ("sam", 0.2)),
    ("nstep", "nstep", {"rho": 0.1, "n": 3, "alpha": 0.1}, None),
    ("nstep_n1", "nstep", {"rho": 0.1, "n": 1, "alpha": 0.1}, ("sam", 0.1)),
    ("sam_linf", "sam_linf", {"rho": 0.005}, None),
    ("sam_linf_rho0", "sam_linf", {"rho": 0.0}, ("none", 0.0)),
    # ρ 0.2, not 0.1: with ρ 0.1 and m = 2 the unperturbed w_3 has a ReLU pre-activation at 8.6e-6
    ("msharp", "msharp", {"rho": 0.2, "m": 2}, None),
    ("msharp_mB", "msharp", {"rho": 0.2, "m": mf.BATCH}, ("sam", 0.2)),
]

# A neutral case whose trajectory is plain SAM with the same ρ and optimizer as an earlier case's need
# not store the parameters again (the file must stay under 1 MB): "params_from" names that case, and
# main() asserts that the rounded parameters are identical, byte for byte, after every step.
PARAMS_FROM = {"msharp_mB": "fsam_sigma0"}


def run_variant(name, variant, hyper, init, batches):
    ws = vcopy(init)
    V = VARIANTS[variant](hyper, opt_for(variant), ws)
    steps, passes, trajectory = [], [], []
    for t in range(N_STEPS):
        b = t % len(batches)
        x, y = batches[b]
        oracle = Oracle(x, y, f"{name} step {t}")
        w_eval = V.eval_weights(ws)
        L0, g0 = oracle.uncounted(w_eval, "L(w_t)")  # fixture fields only, not a pass of the rule
        V.t = t
        ws = V.step(ws, oracle)
        p = oracle.passes()
        assert p == V.expected_passes(t), (name, t, p)
        passes.append(int(p) if p.denominator == 1 else float(p))
        st = {"batch": b, "loss": L0, "grad_norm": vnorm(g0), "params": {n: enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)}}
        if variant == "msam":
            ev = V.S["eval"]
            assert max_abs_diff(ev, V.eval_weights(ws)) < 1e-15
            st["eval_params"] = {n: enc14(w) for n, w in zip(mf.PARAM_ORDER, ev)}
            trajectory.append(ev)
        else:
            trajectory.append(ws)
        steps.append(st)
    return passes, steps, trajectory


# SAMPa: own file, own runner (two batches per step). Optimizer = the reference defaults (SGD lr 0.1,
# momentum 0.9, weight decay 5e-4); ρ 0.1 and λ 0.2 are the reference defaults too.
OPT_SAMPA = mf.opt_spec("sgd", 0.1, momentum=0.9, weight_decay=5e-4)
SAMPA_CASES = [
    ("sampa", {"rho": 0.1, "lmbda": 0.2}, None),
    # ρ = λ = 0: G = ∇L_{B_{t−1}}(x_t), i.e. momentum SGD on the lagged batch sequence 0, 0, 1, 2
    ("sampa_rho0_lmbda0", {"rho": 0.0, "lmbda": 0.0}, ("none", 0.0)),
]


def sampa_batches(t, n_batches):
    """(batch of G_a, batch of g_y) at step t."""
    return (max(t - 1, 0) % n_batches, t % n_batches)


def run_sampa(name, hyper, init, batches, cls=SAMPa, lag=True):
    ws = vcopy(init)
    V = cls(hyper, OPT_SAMPA, ws)
    steps, passes, trajectory = [], [], []
    for t in range(N_STEPS):
        ba, b = sampa_batches(t, len(batches))
        if not lag:  # ablation only: G_a on this step's batch
            ba = b
        oracle = Oracle(*batches[b], f"{name} step {t} batch {b}")
        prev_oracle = Oracle(*batches[ba], f"{name} step {t} batch {ba}")
        L0, g0 = oracle.uncounted(ws, "L(w_t)")  # fixture fields only
        V.t = t
        ws = V.step(ws, oracle, prev_oracle)
        p = oracle.passes() + prev_oracle.passes()
        assert p == V.expected_passes(t), (name, t, p)
        passes.append(int(p))
        steps.append(
            {
                "batch": b,
                "grad_batches": {"G_a": ba, "g_y": b},
                "loss": L0,
                "grad_norm": vnorm(g0),
                "y_params": {n: enc14(w) for n, w in zip(mf.PARAM_ORDER, V.S["y"])},
                "params": {n: enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)},
            }
        )
        trajectory.append(ws)
    return passes, steps, trajectory


def sampa_zero_gradient_check(hyper, init):
    ws = vcopy(init)
    V = SAMPa(hyper, dict(OPT_SAMPA, weight_decay=0.0), ws)
    for t in range(3):
        oracle, prev_oracle = ZeroOracle(), ZeroOracle()
        V.t = t
        new = V.step(ws, oracle, prev_oracle)
        for p in oracle.points + prev_oracle.points:
            for a, b in zip(p, ws):
                assert np.array_equal(a, b), f"sampa: ε != 0 or y != x with a zero gradient (step {t})"
        for a, b in zip(new, init):
            assert np.all(np.isfinite(a)) and np.array_equal(a, b), "sampa: weights moved with a zero gradient"
        for a in V.S["gy"]:
            assert np.all(np.isfinite(a))
        ws = new


def make_sampa(init, batches):
    margin_before, mf.MARGIN[0] = mf.MARGIN[0], float("inf")
    cases, trajs = [], {}
    for name, hyper, reduces_to in SAMPA_CASES:
        passes, steps, traj = run_sampa(name, hyper, init, batches)
        trajs[name] = traj
        case = {
            "name": name,
            "variant": "sampa",
            "hyper": hyper,
            "optimizer": OPT_SAMPA,
            "reduces_to": None,
            "passes_per_step": passes,
            "steps": steps,
        }
        if reduces_to is not None:
            seq = [sampa_batches(t, len(batches))[0] for t in range(N_STEPS)]
            case["reduces_to"] = {"kind": reduces_to[0], "rho": reduces_to[1], "batches": seq}
            rc = mf.run_case(f"plain_{reduces_to[0]}_lagged", OPT_SAMPA, mf.sam_spec(reduces_to[0], rho=reduces_to[1]), 0.0, init, [batches[i] for i in seq])
            for t in range(N_STEPS):
                ref_ws = [np.asarray(rc["steps"][t]["params"][n]["data"]).reshape(rc["steps"][t]["params"][n]["shape"]) for n in mf.PARAM_ORDER]
                err = max_abs_diff(traj[t], ref_ws)
                assert err <= NEUTRAL_TOL, f"{name} step {t}: differs from SGD on the lagged batches by {err:.3e}"
        cases.append(case)

    ref = trajs["sampa"][-1]
    diff = max_abs_diff(ref, trajs["sampa_rho0_lmbda0"][-1])
    print(f"{'sampa':>20}: max |Δw| vs ρ = λ = 0 after {N_STEPS} steps = {diff:.3e}")
    assert diff > MATTERS_TOL
    hyper = SAMPA_CASES[0][1]

    # the fixture must see each part of the rule
    print(f"sampa: min |ReLU pre-activation| over its cases = {mf.MARGIN[0]:.3e}")
    mf.MARGIN[0] = min(mf.MARGIN[0], margin_before)
    ablations = {}
    ablations["G_a on B_t instead of B_{t-1}"] = run_sampa("abl", hyper, init, batches, lag=False)[2][-1]

    class NoMomentumInY(SAMPa):
        def y_point(self, ws):
            return vadd(ws, self.S["gy"], -self.opt["lr"])

    ablations["y = x - lr*g_y (no mu*buf, no wd*x)"] = run_sampa("abl", hyper, init, batches, cls=NoMomentumInY)[2][-1]

    class NoWdInY(SAMPa):
        def y_point(self, ws):
            lr, mu = self.opt["lr"], self.opt["momentum"]
            if self.optim.buf[0] is None:
                return vadd(ws, self.S["gy"], -lr)
            return vadd(ws, [g + mu * b for g, b in zip(self.S["gy"], self.optim.buf)], -lr)

    ablations["no wd*x in y"] = run_sampa("abl", hyper, init, batches, cls=NoWdInY)[2][-1]

    class UngatedY(SAMPa):
        def y_point(self, ws):
            lr, mu, wd = self.opt["lr"], self.opt["momentum"], self.opt["weight_decay"]
            buf = self.optim.buf if self.optim.buf[0] is not None else vzeros(ws)
            return vadd(ws, [g + wd * w + mu * b for g, w, b in zip(self.S["gy"], ws, buf)], -lr)

    ablations["wd*x in y at step 0 too"] = run_sampa("abl", hyper, init, batches, cls=UngatedY)[2][-1]

    class MixFlipped(SAMPa):
        def __init__(self, hp, opt, ws):
            super().__init__(dict(hp, lmbda=1.0 - hp["lmbda"]), opt, ws)

    ablations["lambda <-> 1-lambda"] = run_sampa("abl", hyper, init, batches, cls=MixFlipped)[2][-1]
    for what, w in ablations.items():
        print(f"sampa ablation '{what}': max |Δw| after {N_STEPS} steps = {max_abs_diff(ref, w):.3e}")
    for what in ("G_a on B_t instead of B_{t-1}", "y = x - lr*g_y (no mu*buf, no wd*x)", "lambda <-> 1-lambda"):
        assert max_abs_diff(ref, ablations[what]) > MATTERS_TOL, what

    for _, hyper, _ in SAMPA_CASES:
        sampa_zero_gradient_check(hyper, init)

    return {
        "generator": GENERATOR,
        "sizes": mf.SIZES,
        "param_order": mf.PARAM_ORDER,
        "n_steps": N_STEPS,
        "init": {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)},
        "batches": [{"x": mf.enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }


def zero_gradient_check(variant, hyper, init):
    """With g ≡ 0 every ε must be exactly 0, nothing may become NaN, and w must not move."""
    ws = vcopy(init)
    opt = dict(opt_for(variant), weight_decay=0.0)  # with weight decay w moves (and MSAM's v ≠ 0) by design
    V = VARIANTS[variant](hyper, opt, ws)
    for t in range(3):
        oracle = ZeroOracle()
        w_eval = V.eval_weights(ws)
        V.t = t
        new = V.step(ws, oracle)
        for p in oracle.points:
            for a, b in zip(p, w_eval):
                assert np.array_equal(a, b), f"{variant}: ε != 0 with a zero gradient (step {t})"
        for a in new:
            assert np.all(np.isfinite(a)), f"{variant}: non-finite value with a zero gradient"
        for a, b in zip(V.eval_weights(new), init):
            assert np.array_equal(a, b), f"{variant}: weights moved with a zero gradient"
        if variant == "msam":  # the stored weights equal the unperturbed ones too (v = 0)
            for a, b in zip(new, init):
                assert np.array_equal(a, b)
        for val in V.S.values():
            if isinstance(val, list):
                for a in val:
                    assert np.all(np.isfinite(a)), f"{variant}: non-finite state with a zero gradient"
        ws = new


def load_shared_inputs():
    rng = np.random.default_rng(3003)  # exactly as make_fixtures.make_mlp
    init = mf.mlp_init(rng)
    batches = []
    for _ in range(3):
        x = mf.normal(rng, (mf.BATCH, mf.SIZES[0]))
        y = [int(v) for v in rng.integers(0, mf.SIZES[-1], size=mf.BATCH)]
        batches.append((x, y))
    # they must be the very numbers stored in mlp_steps.json
    with open(os.path.join(HERE, "mlp_steps.json"), encoding="utf-8") as f:
        ref = json.load(f)
    assert ref["init"] == {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)}
    assert ref["batches"] == [{"x": mf.enc(x), "y": y} for (x, y) in batches]
    return init, batches


def main():
    init, batches = load_shared_inputs()
    batches4 = [batches[t % len(batches)] for t in range(N_STEPS)]

    reference = {}  # plain SAM / SGD trajectories for the neutral comparisons
    cases = []
    neutral_traj = {}
    for name, variant, hyper, reduces_to in CASES:
        passes, steps, traj = run_variant(name, variant, hyper, init, batches)
        case = {
            "name": name,
            "variant": variant,
            "hyper": hyper,
            "optimizer": opt_for(variant),
            "reduces_to": None if reduces_to is None else {"kind": reduces_to[0], "rho": reduces_to[1]},
            "passes_per_step": passes,
            "steps": steps,
        }
        if name in PARAMS_FROM:
            src = next(c for c in cases if c["name"] == PARAMS_FROM[name])
            assert src["optimizer"] == case["optimizer"] and src["reduces_to"] == case["reduces_to"]
            for st, src_st in zip(steps, src["steps"]):
                assert st["batch"] == src_st["batch"]
                assert st.pop("params") == src_st["params"], f"{name}: rounded params differ from {src['name']}"
                assert abs(st["loss"] - src_st["loss"]) <= NEUTRAL_TOL
                assert abs(st["grad_norm"] - src_st["grad_norm"]) <= NEUTRAL_TOL
            case = dict(case, params_from=src["name"])
            case["steps"] = case.pop("steps")  # keep "steps" the last key
        if reduces_to is not None:
            key = reduces_to + (json.dumps(opt_for(variant)),)
            if key not in reference:
                rc = mf.run_case(f"plain_{key[0]}_{key[1]}", opt_for(variant), mf.sam_spec(key[0], rho=key[1]), 0.0, init, batches4)
                reference[key] = rc
            rc = reference[key]
            for t in range(N_STEPS):
                ref_ws = [np.asarray(rc["steps"][t]["params"][n]["data"]).reshape(rc["steps"][t]["params"][n]["shape"]) for n in mf.PARAM_ORDER]
                err = max_abs_diff(traj[t], ref_ws)
                assert err <= NEUTRAL_TOL, f"{name} step {t}: neutral setting differs from plain {key} by {err:.3e}"
                assert abs(steps[t]["loss"] - rc["steps"][t]["loss"]) <= NEUTRAL_TOL
                assert abs(steps[t]["grad_norm"] - rc["steps"][t]["grad_norm"]) <= NEUTRAL_TOL
            neutral_traj[variant] = traj
        cases.append(case)

    # every reference-setting case must move away from its neutral trajectory
    for (name, variant, hyper, reduces_to), case in zip(CASES, cases):
        if reduces_to is None:
            last = case["steps"][-1]["eval_params" if variant == "msam" else "params"]
            mine = [np.asarray(last[n]["data"]).reshape(last[n]["shape"]) for n in mf.PARAM_ORDER]
            diff = max_abs_diff(mine, neutral_traj[variant][-1])
            assert diff > MATTERS_TOL, f"{name}: only {diff:.3e} away from its neutral setting"
            print(f"{name:>20}: max |Δw| vs neutral after {N_STEPS} steps = {diff:.3e}")

    # MSAM: the fixture must tell weight decay at the stored weights from weight decay at w
    msam_hyper = next(h for n, v, h, r in CASES if v == "msam" and r is None)
    ws = vcopy(init)
    alt = MSAM(msam_hyper, OPT_MSAM, ws, wd_at_unperturbed=True)
    for t in range(N_STEPS):
        x, y = batches[t % len(batches)]
        ws = alt.step(ws, Oracle(x, y, f"msam wd-at-w step {t}"))
    msam_case = next(c for c in cases if c["name"] == "msam")
    last = msam_case["steps"][-1]["eval_params"]
    diff = max_abs_diff([np.asarray(last[n]["data"]).reshape(last[n]["shape"]) for n in mf.PARAM_ORDER], alt.S["eval"])
    print(f"msam: weight decay at w instead of at the stored weights moves the result by {diff:.3e}")
    assert diff > 1e-5

    for name, variant, hyper, _ in CASES:
        zero_gradient_check(variant, hyper, init)

    out = {
        "generator": GENERATOR,
        "sizes": mf.SIZES,
        "param_order": mf.PARAM_ORDER,
        "n_steps": N_STEPS,
        "init": {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)},
        "batches": [{"x": mf.enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }
    mf.write("sam_variants.json", out)
    size = os.path.getsize(os.path.join(HERE, "sam_variants.json"))
    assert size < 1_000_000, f"sam_variants.json is {size} bytes"
    mf.write("sampa.json", make_sampa(init, batches))
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(f"min |ReLU pre-activation| over all MLP forward passes: {mf.MARGIN[0]:.3e}")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
