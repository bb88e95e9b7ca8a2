#!/usr/bin/env python3
"""Golden fixtures for ESAM (Du et al., ICLR 2022, reference dydjw9/Efficient_SAM) and SSAM-D (SSAM with a
dynamic mask; Mi et al., NeurIPS 2022, reference class SSAMD in Mi-Peng/Sparse-Sharpness-Aware-Minimization),
computed with JAX (CPU, float64).

Regenerate (from the repository root):

    python3 tests/golden/make_esam_ssamd_fixtures.py

Writes tests/golden/esam_ssamd.json. The output is deterministic: a rerun writes the same bytes.

Helpers are imported, not repeated: MLP, init, batches, loss, PyTorch SGD, fd_check, relu_margin and the JSON
writer from make_fixtures.py; the shared-input loader, the gradient oracle and enc14 from
make_sam_variant_fixtures.py; plain_sam (xi = 1e-7), enc_mask and dec from make_ssam_fixtures.py. 4 steps per
case, step t uses batch t mod 3 (B = 8 rows), base optimizer PyTorch SGD (lr 0.1, momentum 0.9; esam_b and
ssamd_b add weight decay 5e-4, applied at the restored w).

Shared hash (all on u32, wrapping): pcg(v): state = v·747796405 + 2891336453;
word = ((state >> ((state >> 28) + 4)) ^ state)·277803737; return (word >> 22) ^ word (shaders/dropout.wgsl).
stream(salt, seed, t) = pcg(pcg(seed ^ salt) + t). Parameter index p: position in the concatenation of all
tensors flattened row-major in param_order (0 … N−1, N = 670); tensor index j: position in param_order.
Top-k everywhere: the k largest values, equal values to the lower index.

ESAM, hyper {rho, beta, gamma, seed}; step t:
- g0 = ∇ mean CE(w) over the batch; l_before[r] = per-row CE at w.
- keep flag M_j: t = 0 keeps every tensor; t ≥ 1: bits = pcg(stream(0x4553414D, seed, t) + j),
  u = (bits >> 8)/2^24, kept iff u < beta.
- n = L2 norm of g0 over the kept tensors; eps = (rho/beta)·M⊙g0/(n + 1e-7) (0 on dropped tensors).
- l_after[r] = per-row CE at w + eps; s_r = l_after[r] − l_before[r]; kk = max(1, floor(gamma·B));
  S = top kk rows of s (listed ascending). g1 = ∇ of the mean CE over the rows of S at w + eps.
- SGD steps from the restored w with g1. passes = 1 + kk/B.
SSAM-D, hyper {rho, sparsity s, drop_rate dr0, update_freq k, total_steps T, seed}; L = N − ceil(N·s):
- initial mask: top L of score(p) = ((pcg(stream(0x53534449, seed, 0) + p) >> 8) + 1)/2^24.
- every step: g0 at w; eps = rho·(M⊙g0)/(‖g0‖ + 1e-7), ‖g0‖ over the full unmasked g0; g1 at w + eps;
  SGD from the restored w with g1.
- if t % k == 0, after the perturbation (the new mask is used from step t+1): dr = dr0·(1 + cos(π·t/T))/2,
  keep_live = max(floor(L·(1 − dr)), 2L − N), grow = L − keep_live; D = top keep_live of
  d(p) = (|g0(p)| + 1e-7)·M_old(p); G = top grow of u(p) = ((pcg(stream(0x53534447, seed, t) + p) >> 8) + 1)/2^24
  · (1 − M_old(p)); M_new = 1 on D ∪ G.

JSON: top level {generator, sizes, param_order, n_steps, init, batches, cases} as in ssam.json. A case is
{name, variant ("esam" | "ssamd"), hyper, optimizer, reduces_to (null or {kind: "sam", rho, xi: 1e-7}), n_params,
steps}; SSAM-D cases add live (L) and initial_mask (the mask step 0 uses) before steps. ESAM step: {batch,
loss (mean CE at w_t), kept_tensors ([0/1] per tensor), selected_rows (S), passes, params (after the step)}.
SSAM-D step: {batch, refresh, keep_live, grow (both null without a refresh), loss, grad_norm (‖g0‖), sam_loss
(L(w_t + eps)), mask (in effect for step t+1, after this step's refresh), params}. Masks are
{name: {shape, data: [0/1 ints]}}; params are rounded to 14 significant digits.

Checks (the script fails if any does not hold):
- every jax.grad result passes make_fixtures.fd_check, and every ReLU pre-activation at every point where a
  loss is evaluated (w, w + eps) has |z| > 1e-5 (make_fixtures.relu_margin);
- the vectorised u32 hash equals a scalar Python-int implementation at every index used;
- per-row CE averages to the oracle's loss (1e-15);
- no tie or near-tie at any selection boundary: the integer scores are strictly ordered at the boundary; for
  s_r and d(p) the k-th and (k+1)-th values have relative gap > 1e-4 (and s_r an absolute gap > 1e-5, since it
  is a difference of two O(1) losses in f32); |u − beta| > 1e-6 for every ESAM keep flag;
- N·s, gamma·B and L·(1 − dr) (where it decides keep_live) are integers only if f32-exact, otherwise more than
  1e-3 from an integer, so f32 rounds them the same way;
- SSAM-D: |M_new| = L, D and G disjoint, every refresh changes the mask of ssamd and ssamd_b;
- ESAM: some step drops a tensor, the kept sets differ between steps, S is not always the first kk rows;
- esam_neutral (beta = gamma = 1) and ssamd_dense (s = 0) reproduce plain SAM with xi = 1e-7
  (make_ssam_fixtures.plain_sam) to 1e-12, which is > 1e-10 away from SAM with xi = 1e-12;
- after the last step each non-neutral case differs from its neutral case by > 1e-4, and ablations (ESAM:
  all rows / all tensors / eps scaled by rho, not rho/beta; SSAM-D: no refresh / new mask used in its own step)
  each move the result by > 1e-4, so the f32 test sees every part of the rule.
"""

import math
import os
import platform
import sys
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (sets jax_enable_x64 and the CPU platform on import)
import make_sam_variant_fixtures as sv  # noqa: E402
import make_ssam_fixtures as ss  # noqa: E402  (plain_sam, enc_mask, dec)
import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402

assert jax.config.read("jax_enable_x64"), "make_fixtures must enable float64"

GENERATOR = (
    f"tests/golden/make_esam_ssamd_fixtures.py (helpers from make_fixtures.py, make_sam_variant_fixtures.py and "
    f"make_ssam_fixtures.py); jax {jax.__version__}; jaxlib {jaxlib.__version__}; numpy {np.__version__}; "
    f"python {platform.python_version()}; float64 cpu"
)

N_STEPS = sv.N_STEPS  # 4
XI = 1e-7  # norm epsilon of both perturbations
NEUTRAL_TOL, MATTERS_TOL = sv.NEUTRAL_TOL, sv.MATTERS_TOL  # 1e-12, 1e-4
MIN_REL_GAP = 1e-4  # at every float selection boundary
MIN_ABS_GAP_SHARP = 1e-5  # s_r = l_after − l_before: f32 loses ~1e-6 absolute on each O(1) loss
N_PARAMS = ss.N_PARAMS  # 670
OPT = sv.OPT  # SGD lr 0.1, momentum 0.9
OPT_WD = mf.opt_spec("sgd", 0.1, momentum=0.9, weight_decay=5e-4)
SALT_ESAM, SALT_INIT, SALT_GROW = 0x4553414D, 0x53534449, 0x53534447  # "ESAM", "SSDI", "SSDG"
M32 = 0xFFFFFFFF
GAPS = {}  # per kind of float boundary: (smallest relative gap, smallest absolute gap), printed

ESAM_CASES = [
    ("esam", {"rho": 0.05, "beta": 0.5, "gamma": 0.5, "seed": 7}, OPT, None),
    ("esam_b", {"rho": 0.1, "beta": 0.6, "gamma": 0.75, "seed": 11}, OPT_WD, None),
    ("esam_neutral", {"rho": 0.05, "beta": 1.0, "gamma": 1.0, "seed": 7}, OPT, {"kind": "sam", "rho": 0.05, "xi": XI}),
]
# ssamd_b: s = 0.25, not 0.3: N·0.3 = 201 exactly, so ceil(N·s) is 201 in f64 but 202 with s rounded to f32.
# Seeds: ssamd 11, ssamd_b 7. The other way round (ssamd 7, ssamd_b 11) also passes every check, but the smallest
# death-score gap of ssamd falls to 3.7e-4 and the ReLU margin of ssamd_b to 2.4e-5; with these it is 1.2e-3 and
# 1.84e-4 (the floor of the unperturbed trajectory).
SSAMD_CASES = [
    ("ssamd", {"rho": 0.05, "sparsity": 0.5, "drop_rate": 0.5, "update_freq": 2, "total_steps": 4, "seed": 11}, OPT, None),
    ("ssamd_b", {"rho": 0.1, "sparsity": 0.25, "drop_rate": 0.8, "update_freq": 1, "total_steps": 4, "seed": 7}, OPT_WD, None),
    ("ssamd_dense", {"rho": 0.05, "sparsity": 0.0, "drop_rate": 0.5, "update_freq": 2, "total_steps": 4, "seed": 11}, OPT,
     {"kind": "sam", "rho": 0.05, "xi": XI}),
]

# ---------------------------------------------------------------------------------------------------------
# hash, top-k and rounding helpers
# ---------------------------------------------------------------------------------------------------------


def pcg(v):
    """Scalar reference on Python ints (explicit masking)."""
    state = (v * 747796405 + 2891336453) & M32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & M32
    return (word >> 22) ^ word


def stream(salt, seed, t):
    return pcg((pcg((seed ^ salt) & M32) + t) & M32)


def pcg_np(v):
    """Vectorised on uint32 (numpy wraps); checked against pcg() wherever used."""
    v = np.asarray(v, dtype=np.uint32)
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def hashed(salt, seed, t, n):
    """pcg(stream(salt, seed, t) + i) for i < n, as int64."""
    base = stream(salt, seed, t)
    out = pcg_np((base + np.arange(n, dtype=np.uint64)) & M32).astype(np.int64)
    assert all(int(out[i]) == pcg((base + i) & M32) for i in range(n))
    return out


def score24(salt, seed, t, n):
    """The integer numerator ((bits >> 8) + 1) of a score in (0, 1]: score = numerator/2^24 (exact in f32)."""
    return (hashed(salt, seed, t, n) >> 8) + 1


def top_k(vals, k, kind, integer=False, min_abs=0.0):
    """Boolean mask of the k largest values (ties to the lower index), asserting a clear boundary."""
    vals = np.asarray(vals)
    n = vals.size
    assert 0 <= k <= n
    order = np.argsort(-vals, kind="stable")  # stable: among equal values, the lower index first
    sel = np.zeros(n, dtype=bool)
    sel[order[:k]] = True
    if 0 < k < n:
        a, b = vals[order[k - 1]], vals[order[k]]
        assert a > b, f"{kind}: tie at the top-{k} boundary ({a!r})"
        if not integer:
            gap = float((a - b) / max(abs(a), abs(b)))
            assert gap > MIN_REL_GAP and a - b > min_abs, f"{kind}: boundary too close for f32: {a!r} vs {b!r}"
            old = GAPS.get(kind, (math.inf, math.inf))
            GAPS[kind] = (min(old[0], gap), min(old[1], float(a - b)))
    return sel


def f32_exact(v):
    return float(np.float32(v)) == v


def robust(x, exact_ok, what):
    """x is about to be floored/ceiled: it must be an exact integer that f32 also gets exactly (exact_ok),
    or more than 1e-3 from any integer (so the f32 evaluation rounds the same way)."""
    d = abs(x - round(x))
    assert d > 1e-3 or (d == 0 and exact_ok), f"{what} = {x!r} is too close to an integer"
    return x


def flat(ts):
    return np.concatenate([t.ravel() for t in ts])


def unflat(v, like):
    out, off = [], 0
    for t in like:
        out.append(v[off : off + t.size].reshape(t.shape))
        off += t.size
    assert off == v.size
    return out


def row_ce(ws, x, y):
    """Per-row cross-entropy (no reduction) of the MLP at ws."""
    logp = jax.nn.log_softmax(mf.mlp_forward([jnp.asarray(w) for w in ws], jnp.asarray(x)), axis=-1)
    nll = -jnp.take_along_axis(logp, jnp.asarray(y, dtype=jnp.int32)[:, None], axis=-1)[:, 0]
    return np.asarray(nll, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------
# ESAM
# ---------------------------------------------------------------------------------------------------------


class ESAM(sv.Variant):
    """ablate (only for the "fixture sees it" checks): all_rows, all_tensors, rho_unscaled."""

    ablate = None

    def kept(self, n_tensors):
        if self.t == 0 or self.ablate == "all_tensors":
            return [1] * n_tensors
        beta = self.hp["beta"]
        u = (hashed(SALT_ESAM, self.hp["seed"], self.t, n_tensors) >> 8) / 2.0**24  # exact
        assert np.all(np.abs(u - beta) > 1e-6), f"keep flag at the beta boundary: {u} vs {beta}"
        return [int(v < beta) for v in u]

    def step(self, ws, oracle):
        hp, x, y, B = self.hp, oracle.x, oracle.y, oracle.rows()
        L0, g0 = oracle(ws, "g0")
        l_before = row_ce(ws, x, y)
        assert abs(float(np.mean(l_before)) - L0) <= 1e-15
        M = self.kept(len(ws))
        n = sv.vnorm([g for g, m in zip(g0, M) if m])
        scale = (hp["rho"] if self.ablate == "rho_unscaled" else hp["rho"] / hp["beta"]) / (n + XI)
        eps = [m * (scale * g) for m, g in zip(M, g0)]  # m = 0 gives exact zeros
        wp = sv.vadd(ws, eps)
        mf.relu_margin(wp, x)  # l_after is a forward pass over all rows at w + eps
        sharp = row_ce(wp, x, y) - l_before
        g = 1.0 if self.ablate == "all_rows" else hp["gamma"]
        kk = max(1, math.floor(robust(g * B, f32_exact(g), "gamma·B")))
        S = [int(r) for r in np.flatnonzero(top_k(sharp, kk, "esam row sharpness", min_abs=MIN_ABS_GAP_SHARP))]
        sub = sv.Oracle(x[S], [y[r] for r in S], f"{oracle.label} rows {S}")
        _, g1 = sub(wp, "g1")
        assert sub.calls == 1 and oracle.calls == 1
        self.S.update(L0=L0, kept=M, rows=S, passes=1 + Fraction(kk, B))
        return self.optim.step(ws, g1)


def run(cls, name, hyper, opt, init, batches, ablate=None):
    ws = sv.vcopy(init)
    V = cls(hyper, opt, ws)
    V.ablate = ablate
    out, traj = [], []
    for t in range(N_STEPS):
        b = t % len(batches)
        V.t = t
        ws = V.step(ws, sv.Oracle(*batches[b], f"{name} step {t}"))
        out.append((b, dict(V.S)))
        traj.append(ws)
    return out, traj


def esam_steps(recs, traj):
    steps = []
    for (b, S), ws in zip(recs, traj):
        p = S["passes"]
        steps.append({
            "batch": b,
            "loss": S["L0"],
            "kept_tensors": S["kept"],
            "selected_rows": S["rows"],
            "passes": int(p) if p.denominator == 1 else float(p),
            "params": {n: sv.enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)},
        })
    return steps


# ---------------------------------------------------------------------------------------------------------
# SSAM-D
# ---------------------------------------------------------------------------------------------------------


class SSAMD(sv.Variant):
    """ablate: static (never refresh), early (the refreshed mask already perturbs its own step)."""

    ablate = None

    def __init__(self, hp, opt, ws):
        super().__init__(hp, opt, ws)
        self.N = sum(w.size for w in ws)
        s = hp["sparsity"]
        self.L = self.N - math.ceil(robust(self.N * s, f32_exact(s), "N·s"))
        assert 0 < self.L <= self.N
        self.M = top_k(score24(SALT_INIT, hp["seed"], 0, self.N), self.L, "ssamd init score", integer=True)
        self.initial = self.M.copy()

    def refresh(self, g0flat):
        hp, t, N, L = self.hp, self.t, self.N, self.L
        dr = hp["drop_rate"] * (1.0 + math.cos(math.pi * t / hp["total_steps"])) / 2.0
        x = L * (1.0 - dr)
        if math.floor(x) + 1 > 2 * L - N:  # otherwise the clamp decides, whatever f32 makes of floor(x)
            robust(x, False, "L·(1 − dr)")
        keep_live = max(math.floor(x), 2 * L - N)
        grow = L - keep_live
        M_old = self.M.astype(np.float64)
        D = top_k((np.abs(g0flat) + 1e-7) * M_old, keep_live, "ssamd death score")
        u = score24(SALT_GROW, hp["seed"], t, N) * (1 - self.M.astype(np.int64))  # integer numerators
        G = top_k(u, grow, "ssamd growth score", integer=True)
        assert not np.any(D & G) and not np.any(D & ~self.M) and not np.any(G & self.M)
        M_new = D | G
        assert int(M_new.sum()) == L
        self.S.update(keep_live=keep_live, grow=grow, changed=int(np.sum(M_new != self.M)))
        self.M = M_new

    def step(self, ws, oracle):
        hp = self.hp
        L0, g0 = oracle(ws, "g0")
        is_refresh = self.t % hp["update_freq"] == 0 and self.ablate != "static"
        self.S.update(refresh=is_refresh, keep_live=None, grow=None, changed=0)
        if is_refresh and self.ablate == "early":
            self.refresh(flat(g0))
        scale = hp["rho"] / (sv.vnorm(g0) + XI)  # norm of the full, unmasked g0
        eps = unflat(self.M * (scale * flat(g0)), ws)
        L1, g1 = oracle(sv.vadd(ws, eps), "g1")
        if is_refresh and self.ablate != "early":
            self.refresh(flat(g0))  # the update below still uses g1 from the old mask
        assert oracle.calls == 2
        self.S.update(L0=L0, g0_norm=sv.vnorm(g0), L1=L1, mask=unflat(self.M.astype(np.float64), ws))
        return self.optim.step(ws, g1)


def ssamd_steps(recs, traj):
    steps = []
    for (b, S), ws in zip(recs, traj):
        steps.append({
            "batch": b,
            "refresh": S["refresh"],
            "keep_live": S["keep_live"],
            "grow": S["grow"],
            "loss": S["L0"],
            "grad_norm": S["g0_norm"],
            "sam_loss": S["L1"],
            "mask": {n: ss.enc_mask(m) for n, m in zip(mf.PARAM_ORDER, S["mask"])},
            "params": {n: sv.enc14(w) for n, w in zip(mf.PARAM_ORDER, ws)},
        })
    return steps


# ---------------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------------


def check_neutral(name, reduces_to, recs, traj, init, batches4):
    rc = ss.plain_sam(reduces_to["rho"], reduces_to["xi"], init, batches4)
    for t in range(N_STEPS):
        err = sv.max_abs_diff(traj[t], ss.dec(rc["steps"][t]["params"]))
        assert err <= NEUTRAL_TOL, f"{name} step {t}: differs from SAM(xi = {XI}) by {err:.3e}"
        assert abs(recs[t][1]["L0"] - rc["steps"][t]["loss"]) <= NEUTRAL_TOL, (name, t)
    rc12 = mf.run_case("plain_sam_xi_1e-12", OPT, mf.sam_spec("sam", rho=reduces_to["rho"]), 0.0, init, batches4)
    d12 = sv.max_abs_diff(traj[-1], ss.dec(rc12["steps"][-1]["params"]))
    print(f"{name:>14}: = SAM(xi = 1e-7) to 1e-12; SAM(xi = 1e-7) vs SAM(xi = 1e-12) after {N_STEPS} steps: {d12:.3e}")
    assert d12 > 100 * NEUTRAL_TOL


def matters(label, a, b):
    diff = sv.max_abs_diff(a[-1], b[-1])
    print(f"{label}: max |Δw| after {N_STEPS} steps = {diff:.3e}")
    assert diff > MATTERS_TOL, label


def main():
    init, batches = sv.load_shared_inputs()
    assert sum(w.size for w in init) == N_PARAMS == 670
    batches4 = [batches[t % len(batches)] for t in range(N_STEPS)]
    cases, trajs = [], {}

    for name, hyper, opt, reduces_to in ESAM_CASES:
        recs, traj = run(ESAM, name, hyper, opt, init, batches)
        trajs[name] = traj
        for t, (_, S) in enumerate(recs):
            print(f"{name:>14}: step {t} kept tensors {S['kept']}, rows {S['rows']}")
        if reduces_to is None:
            later = [tuple(S["kept"]) for _, S in recs[1:]]
            assert any(0 in k for k in later), f"{name}: no tensor is ever dropped"
            assert len(set(later)) > 1, f"{name}: every step drops the same tensors"
            assert all(any(k) for k in later), f"{name}: a step drops every tensor (eps = 0, all s_r tie)"
            kk = len(recs[0][1]["rows"])
            assert any(S["rows"] != list(range(kk)) for _, S in recs), f"{name}: S is always the first rows"
        else:
            assert all(S["kept"] == [1] * 6 and S["rows"] == list(range(mf.BATCH)) for _, S in recs)
            check_neutral(name, reduces_to, recs, traj, init, batches4)
        cases.append({"name": name, "variant": "esam", "hyper": hyper, "optimizer": opt, "reduces_to": reduces_to,
                      "n_params": N_PARAMS, "steps": esam_steps(recs, traj)})

    for name, hyper, opt, reduces_to in SSAMD_CASES:
        recs, traj = run(SSAMD, name, hyper, opt, init, batches)
        trajs[name] = traj
        V = SSAMD(hyper, opt, init)  # only for L and the initial mask (a pure function of the hyperparameters)
        for t, (_, S) in enumerate(recs):
            if S["refresh"]:
                print(f"{name:>14}: step {t} keep_live {S['keep_live']} grow {S['grow']}, mask changed in {S['changed']} entries")
                assert S["changed"] > 0 or reduces_to is not None, f"{name} step {t}: the refresh left the mask as it was"
        if reduces_to is not None:
            assert V.L == N_PARAMS and all(np.all(m == 1.0) for _, S in recs for m in S["mask"])
            check_neutral(name, reduces_to, recs, traj, init, batches4)
        cases.append({
            "name": name, "variant": "ssamd", "hyper": hyper, "optimizer": opt, "reduces_to": reduces_to,
            "n_params": N_PARAMS, "live": V.L,
            "initial_mask": {n: ss.enc_mask(m) for n, m in zip(mf.PARAM_ORDER, unflat(V.initial.astype(np.float64), init))},
            "steps": ssamd_steps(recs, traj),
        })

    # the fixture must see every part of each rule. The printed gaps and ReLU margin are those of the fixture
    # cases, taken before the ablation runs (which are checked the same way but are not written).
    gaps, margin = dict(GAPS), mf.MARGIN[0]
    for name in ("esam", "esam_b"):
        matters(f"{name:>14} vs esam_neutral", trajs[name], trajs["esam_neutral"])
    for name, hyper, opt, _ in ESAM_CASES[:2]:
        for ab in ("all_rows", "all_tensors", "rho_unscaled"):
            matters(f"{name:>14} ablation {ab}", trajs[name], run(ESAM, f"{name} {ab}", hyper, opt, init, batches, ab)[1])
    for name in ("ssamd", "ssamd_b"):
        matters(f"{name:>14} vs ssamd_dense", trajs[name], trajs["ssamd_dense"])
    for name, hyper, opt, _ in SSAMD_CASES[:2]:
        for ab in ("static", "early"):
            matters(f"{name:>14} ablation {ab}", trajs[name], run(SSAMD, f"{name} {ab}", hyper, opt, init, batches, ab)[1])

    out = {
        "generator": GENERATOR,
        "sizes": mf.SIZES,
        "param_order": mf.PARAM_ORDER,
        "n_steps": N_STEPS,
        "init": {n: mf.enc(w) for n, w in zip(mf.PARAM_ORDER, init)},
        "batches": [{"x": mf.enc(x), "y": y} for (x, y) in batches],
        "cases": cases,
    }
    mf.write("esam_ssamd.json", out)
    size = os.path.getsize(os.path.join(HERE, "esam_ssamd.json"))
    assert size < 600_000, f"esam_ssamd.json is {size} bytes"
    for kind, (rel, ab) in sorted(gaps.items()):
        print(f"smallest gap at a {kind} boundary: relative {rel:.3e}, absolute {ab:.3e}")
    print(f"finite-difference checks passed: {mf.FD_COUNT}")
    print(f"min |ReLU pre-activation| over the fixture cases: {margin:.3e} (ablations included: {mf.MARGIN[0]:.3e})")
    print(GENERATOR)


if __name__ == "__main__":
    sys.exit(main())
